-- meter_days in granules of 256 rows instead of 8,192. A customer-month is
-- a few hundred rows, but a read decompresses whole granules, and every
-- row carries unique-count states (up to hundreds of ids each): at 30M
-- ledger rows the busiest customer's October read 24,576 rows of states to
-- use 448. With 256-row granules it reads under a thousand (bench/RESULTS.md).
-- The granule size of a table is fixed when it is created, so a new table
-- takes meter_days' place.
--
-- Swap first, copy after: from the swap on, the view on ledger writes to
-- the new (empty) table, and the copy adds the old rows to it. Sums and
-- states add up, so a worker writing meanwhile loses nothing and nothing
-- counts twice; a draft computed during the copy may show less usage, so
-- do not finalize invoices while migrating. The CREATE has no IF NOT
-- EXISTS on purpose: if the copy fails, this migration stops at its first
-- statement when run again instead of swapping the tables back; finish by
-- hand with the two last statements.
CREATE TABLE meter_days_017
(
    customer_id         LowCardinality(String),
    day                 Date,
    kind                LowCardinality(String),
    provider            LowCardinality(String),
    sku                 LowCardinality(String),
    outcome_type        LowCardinality(String),
    success             Bool,
    events              SimpleAggregateFunction(sum, UInt64),
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
ORDER BY (customer_id, day, kind, provider, sku, outcome_type, success)
SETTINGS index_granularity = 256;

EXCHANGE TABLES meter_days AND meter_days_017;

INSERT INTO meter_days SELECT * FROM meter_days_017
SETTINGS max_partitions_per_insert_block = 0;

DROP TABLE meter_days_017
