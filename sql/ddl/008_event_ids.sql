-- Every counted (customer, event_id), for dedup by id across restarts and
-- rebalances (streams/dedup.py). Fed from ledger by the materialized view
-- below, so the worker writes nothing extra and the two cannot disagree.
--
-- ORDER BY starts with (customer_id, event_id): the worker asks "where was
-- each of these ids counted" once per batch. The position closes the key so
-- a batch replayed after a crash collapses onto its first attempt. Rows live
-- for the longest horizon (35 days) and a day; daily partitions let the TTL
-- drop whole parts, and let a partition's filter rebuild read only the days
-- of its horizon. Granules of 256 rows: a lookup reads little around each id.
CREATE TABLE IF NOT EXISTS event_ids
(
    customer_id      LowCardinality(String),
    event_id         String,
    occurred_at      DateTime64(6, 'UTC'),
    source_partition UInt16,
    source_offset    UInt64,
    source_index     UInt16,
    ingested_at      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ingested_at)
ORDER BY (customer_id, event_id, source_partition, source_offset, source_index)
TTL toDateTime(ingested_at) + INTERVAL 36 DAY
SETTINGS ttl_only_drop_parts = 1, index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS event_ids_from_ledger TO event_ids AS
SELECT customer_id, event_id, occurred_at, source_partition, source_offset, source_index, ingested_at
FROM ledger;

-- Ids counted before this migration. A row the view also copied meanwhile
-- is the same row, and collapses.
INSERT INTO event_ids
SELECT customer_id, event_id, occurred_at, source_partition, source_offset, source_index, ingested_at
FROM ledger
WHERE ingested_at >= now64(3) - INTERVAL 36 DAY;
