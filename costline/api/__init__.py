"""``costline api``: the HTTP service in front of Kafka (ingest, health, metrics)."""
