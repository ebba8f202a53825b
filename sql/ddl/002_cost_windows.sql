-- Tumbling-window aggregates per (customer, agent, category), and per
-- (customer, category) with agent_id = '*', as computed by the worker.
--
-- Each row is a snapshot of the window's running totals. The worker upserts
-- a window every time it changes; version is the highest source offset
-- folded into it, so ReplacingMergeTree(version) keeps the newest snapshot
-- and a replayed batch rewrites an identical row. Read with FINAL.
CREATE TABLE IF NOT EXISTS cost_windows
(
    customer_id         LowCardinality(String),
    window_size         UInt32,
    window_start        DateTime('UTC'),
    agent_id            LowCardinality(String),
    category            LowCardinality(String),
    cost                Decimal(38, 12),
    events              UInt64,
    quantity            Decimal(38, 12),
    input_tokens        UInt64,
    cached_input_tokens UInt64,
    cache_write_tokens  UInt64,
    output_tokens       UInt64,
    reasoning_tokens    UInt64,
    outcome_value       Decimal(38, 12),
    failed_outcomes     UInt64,
    source_partition    UInt16,
    version             UInt64,
    updated_at          DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (customer_id, window_size, window_start, agent_id, category);
