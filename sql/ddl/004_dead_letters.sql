-- Dead-lettered input, mirrored from the dead-letter topic for querying.
-- The topic stays the source for replays; this table answers "what was
-- rejected, and why" without a Kafka client.
CREATE TABLE IF NOT EXISTS dead_letters
(
    failed_at        DateTime64(3, 'UTC'),
    error_code       LowCardinality(String),
    reason           String,
    source_topic     LowCardinality(String),
    source_partition UInt16,
    source_offset    UInt64,
    message_key      String,
    payload          String
)
ENGINE = ReplacingMergeTree
ORDER BY (source_topic, source_partition, source_offset);
