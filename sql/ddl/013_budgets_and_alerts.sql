-- Budgets as loaded (`costline budgets load|set|delete`), for `budgets list`.
-- The compacted budgets topic is what workers apply; this is its record.
-- A deletion is a row with deleted = 1; the newest row of an id wins.
CREATE TABLE IF NOT EXISTS budgets
(
    budget_id   String,
    customer_id String,
    definition  String,
    deleted     UInt8,
    loaded_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY budget_id;

-- Alerts the worker fired or resolved. alert_id is deterministic (schemas/alerts.py):
-- an alert written again after a crash replaces its first row, so FINAL has
-- each alert once. Ordered by customer first, as `alerts list --customer` reads.
CREATE TABLE IF NOT EXISTS alerts
(
    alert_id    String,
    customer_id String,
    budget_id   String,
    rule        LowCardinality(String),
    status      LowCardinality(String),
    occurred_at DateTime64(6, 'UTC'),
    emitted_at  DateTime64(3, 'UTC'),
    payload     String
)
ENGINE = ReplacingMergeTree
ORDER BY (customer_id, alert_id);
