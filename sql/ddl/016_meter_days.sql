-- Daily meter values, so a draft invoice reads a few hundred rows per
-- customer-month instead of millions of ledger rows (billing/meters.py).
--
-- meter_days: per customer, UTC day and every dimension a meter filter can
-- name except attributes (kind, provider, sku, outcome_type, success), the
-- sums and counts meters add up, and exact unique-count states (uniqExact)
-- of the identifiers worth keeping per day. A request id is unique per call,
-- so its state would be as big as the ledger's: request_id meters, and
-- meters filtering on attributes, read the ledger.
--
-- The view sees every block inserted into ledger, including a batch that a
-- worker writes again after dying before its commit; ledger collapses the
-- copy (ReplacingMergeTree), meter_days would add it twice. So a second
-- view records, for every inserted block, the range of Kafka positions
-- (source_offset, source_index) it wrote per (customer, day, partition) in
-- ledger_inserts. A partition is processed in offset order and positions
-- only grow, so blocks that never overlap wrote every row once, and
-- meter_days is exact for that customer-day; where two blocks' ranges
-- overlap, billing reads the ledger with FINAL as before.
CREATE TABLE IF NOT EXISTS meter_days
(
    customer_id         LowCardinality(String),
    day                 Date,
    kind                LowCardinality(String),
    provider            LowCardinality(String),
    sku                 LowCardinality(String),
    outcome_type        LowCardinality(String),
    success             Bool,
    events              SimpleAggregateFunction(sum, UInt64),  -- usage rows (corrections never count)
    cost                SimpleAggregateFunction(sum, Decimal(38, 12)),
    quantity            SimpleAggregateFunction(sum, Decimal(38, 12)),
    outcome_value       SimpleAggregateFunction(sum, Decimal(38, 12)),
    input_tokens        SimpleAggregateFunction(sum, UInt64),
    cached_input_tokens SimpleAggregateFunction(sum, UInt64),
    cache_write_tokens  SimpleAggregateFunction(sum, UInt64),
    output_tokens       SimpleAggregateFunction(sum, UInt64),
    reasoning_tokens    SimpleAggregateFunction(sum, UInt64),
    user_ids            AggregateFunction(uniqExactIf, String, UInt8),
    task_ids            AggregateFunction(uniqExactIf, String, UInt8),
    agent_ids           AggregateFunction(uniqExactIf, String, UInt8)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (customer_id, day, kind, provider, sku, outcome_type, success);

CREATE MATERIALIZED VIEW IF NOT EXISTS meter_days_from_ledger TO meter_days AS
SELECT
    customer_id, toDate(occurred_at) AS day, kind, provider, sku, outcome_type, success,
    countIf(corrects = '') AS events,
    sum(cost) AS cost,
    sum(quantity) AS quantity,
    sum(ifNull(outcome_value, toDecimal128(0, 12))) AS outcome_value,
    sum(input_tokens) AS input_tokens,
    sum(cached_input_tokens) AS cached_input_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(output_tokens) AS output_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    uniqExactIfState(user_id, user_id != '') AS user_ids,
    uniqExactIfState(task_id, task_id != '') AS task_ids,
    uniqExactIfState(toString(agent_id), agent_id != '') AS agent_ids
FROM ledger
GROUP BY customer_id, day, kind, provider, sku, outcome_type, success;

-- One row per inserted ledger block, customer, day and Kafka partition: the
-- first and last position it wrote (offset * 65536 + index within the
-- message). Ordered so one customer-month is one short range read.
CREATE TABLE IF NOT EXISTS ledger_inserts
(
    customer_id      LowCardinality(String),
    day              Date,
    source_partition UInt16,
    first_position   UInt128,
    last_position    UInt128,
    rows             UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (customer_id, day, source_partition, first_position);

CREATE MATERIALIZED VIEW IF NOT EXISTS ledger_inserts_from_ledger TO ledger_inserts AS
SELECT
    customer_id, toDate(occurred_at) AS day, source_partition,
    min(toUInt128(source_offset) * 65536 + source_index) AS first_position,
    max(toUInt128(source_offset) * 65536 + source_index) AS last_position,
    count() AS rows
FROM ledger
GROUP BY customer_id, day, source_partition;

-- The ledger before this migration, each row once (FINAL). A block the
-- views copied while this ran is also in the backfill: its positions
-- overlap the backfill's range, so billing reads that customer-day from the
-- ledger and nothing is counted twice.
INSERT INTO meter_days
SELECT
    customer_id, toDate(occurred_at) AS day, kind, provider, sku, outcome_type, success,
    countIf(corrects = ''), sum(cost), sum(quantity), sum(ifNull(outcome_value, toDecimal128(0, 12))),
    sum(input_tokens), sum(cached_input_tokens), sum(cache_write_tokens), sum(output_tokens),
    sum(reasoning_tokens),
    uniqExactIfState(user_id, user_id != ''),
    uniqExactIfState(task_id, task_id != ''),
    uniqExactIfState(toString(agent_id), agent_id != '')
FROM ledger FINAL
GROUP BY customer_id, day, kind, provider, sku, outcome_type, success;

INSERT INTO ledger_inserts
SELECT
    customer_id, toDate(occurred_at) AS day, source_partition,
    min(toUInt128(source_offset) * 65536 + source_index),
    max(toUInt128(source_offset) * 65536 + source_index),
    count()
FROM ledger FINAL
GROUP BY customer_id, day, source_partition
