"""Peers measured in the same run as Costline, on the same events, each in its own database.

``clickhouse_native``: ClickHouse's own Kafka engine and materialized views.
``quix``: the idiomatic quixstreams pipeline (bench-only dependency, ``.[bench]``).
"""
