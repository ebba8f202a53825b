-- Webhook endpoints and the delivery of each alert to each of them
-- (costline/webhooks/). The sender needs an endpoint's signing secret in
-- the clear (an HMAC key cannot be hashed away), as Stripe and Lago keep
-- theirs: whoever can read this table can sign as Costline.
--
-- Neither table is updated in place: a change writes the row again with a
-- higher version and readers take the newest (FINAL).
CREATE TABLE IF NOT EXISTS webhook_endpoints
(
    endpoint_id  String,
    url          String,
    secret       String,
    customer_id  String,  -- '' = alerts of every customer
    description  String,
    created_at   DateTime64(3, 'UTC'),
    removed_at   Nullable(DateTime64(3, 'UTC')),
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY endpoint_id;

-- One row per (endpoint, alert): queued when the alert is read from its
-- topic, then rewritten after every attempt. The body is kept as it was
-- read, so every attempt sends (and signs) the same bytes.
CREATE TABLE IF NOT EXISTS webhook_deliveries
(
    endpoint_id      String,
    alert_id         String,
    body             String,
    status           LowCardinality(String),
    attempts         UInt32,
    last_error       String,
    queued_at        DateTime64(3, 'UTC'),
    next_attempt_at  DateTime64(3, 'UTC'),
    updated_at       DateTime64(3, 'UTC'),
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (endpoint_id, alert_id);
