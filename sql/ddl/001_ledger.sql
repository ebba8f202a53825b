-- The priced ledger: one row per counted usage event.
--
-- ORDER BY starts with customer_id and occurred_at because every billing
-- question is "this customer, this period". event_id closes the key so a
-- row written twice (a batch replayed after a crash) is collapsed by
-- ReplacingMergeTree; read with FINAL (or GROUP BY event_id) for exact sums.
-- Monthly partitions keep an invoice query to one or two partitions.
CREATE TABLE IF NOT EXISTS ledger
(
    event_id            String,
    occurred_at         DateTime64(6, 'UTC'),
    customer_id         LowCardinality(String),
    agent_id            LowCardinality(String),
    user_id             String DEFAULT '',
    task_id             String DEFAULT '',
    request_id          String DEFAULT '',
    kind                LowCardinality(String),
    provider            LowCardinality(String),
    sku                 LowCardinality(String),
    unit                LowCardinality(String),
    quantity            Decimal(38, 12),
    input_tokens        UInt64,
    cached_input_tokens UInt64,
    cache_write_tokens  UInt64,
    output_tokens       UInt64,
    reasoning_tokens    UInt64,
    batch               Bool,
    cost                Decimal(38, 12),
    currency            LowCardinality(String),
    price_version       LowCardinality(String),
    outcome_type        LowCardinality(String),
    outcome_value       Nullable(Decimal(38, 12)),
    success             Bool,
    attributes          Map(String, String),
    source_partition    UInt16,
    source_offset       UInt64,
    ingested_at         DateTime64(3, 'UTC'),
    -- Rebuilding a partition's dedup window reads recent rows by ingestion time.
    INDEX ingested_at_idx ingested_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (customer_id, occurred_at, event_id);
