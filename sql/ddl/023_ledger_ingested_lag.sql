-- The ingestion time kept as a lag after occurred_at (issue #12: ledger bytes
-- per row), chosen on the generated ledger (python -m bench.ledger_bytes;
-- figures in bench/RESULTS.md, sessions 10 and 11).
--
-- ingested_at is a batch's write time, a second or two after each event's
-- occurred_at. Stored on its own, every codec also stores again how times
-- rise from row to row, which occurred_at holds already (Delta, T64, ZSTD:
-- 2.80 bytes a row, and no codec got near 1.5). Kept as the milliseconds
-- from occurred_at's millisecond to it, a few small integers that T64 crops
-- and ZSTD packs: about 1.4 bytes a row. Int64: a backfill may be written
-- months after its events, and a clock ahead gives a negative lag.
--
-- Writers insert the time into ingested_at_sent, an EPHEMERAL column (never
-- stored) that ingested_lag_ms is computed from, as 015 did for event ids;
-- ClickHouse inserts into no ALIAS column, so the worker's insert names this
-- column instead of ingested_at. Readers, the event_ids view (008) and the
-- minmax index read ingested_at, an ALIAS giving the time back exactly, to
-- the millisecond as DateTime64(3) held it: occurred_at's millisecond is
-- taken the same way both ways, so the sum is the time as sent. A writer
-- naming no time gets 1970-01-01 00:00:00.000, as ingested_at had no DEFAULT.
--
-- ALTER cannot turn the stored column into the ALIAS in one step (the lag's
-- DEFAULT reads the column it replaces: a cycle), and several steps would
-- leave readers and the event_ids view a ledger with no ingested_at between
-- them. So as in 015 and 018 the rows are copied into ledger_023 and the two
-- tables swapped atomically (EXCHANGE TABLES): the views on ledger follow
-- the name, the copy feeds none of them, and rows a running worker wrote to
-- the old table during the copy are copied once more after the swap (those
-- not yet in the new one, by Kafka position); meter_days' overlap check
-- (016) sees them as a replay, so nothing is counted twice. A
-- worker of before this migration names ingested_at, which the swap leaves
-- no insert can name: its stream waits for the operator with the batch
-- uncommitted (a schema error, streams/sinks/errors.py), so stop workers,
-- migrate, then start the new ones. The copy takes the id's stored halves as
-- they are, so no id is parsed again. Copying takes about a minute per 10M
-- rows here.
CREATE TABLE ledger_023
(
    event_id_sent             String EPHEMERAL,
    occurred_at               DateTime64(6, 'UTC') CODEC(Delta, ZSTD(3)),
    -- The id's UUID in two halves (018): the high one less the event's millisecond.
    event_uuid_high           Int64 DEFAULT
                              reinterpretAsInt64(reinterpretAsUInt64(reverse(substring(
                                  UUIDStringToNum(toString(toUUIDOrZero(event_id_sent))), 1, 8))))
                              - reinterpretAsInt64(bitShiftLeft(toUInt64(toUnixTimestamp64Milli(occurred_at)), 16))
                              CODEC(T64, ZSTD(3)),
    event_uuid_low            UInt64 DEFAULT
                              reinterpretAsUInt64(reverse(substring(UUIDStringToNum(toString(toUUIDOrZero(event_id_sent))), 9, 8)))
                              CODEC(T64, ZSTD(1)),
    event_uuid                UUID ALIAS toUUID(UUIDNumToString(toFixedString(unhex(concat(
                                  leftPad(hex(reinterpretAsUInt64(event_uuid_high + reinterpretAsInt64(
                                      bitShiftLeft(toUInt64(toUnixTimestamp64Milli(occurred_at)), 16)))), 16, '0'),
                                  leftPad(hex(event_uuid_low), 16, '0'))), 16))),
    event_id_other            String DEFAULT if(toString(toUUIDOrZero(event_id_sent)) = event_id_sent, '', event_id_sent)
                              CODEC(ZSTD(3)),
    event_id                  String ALIAS if(event_id_other = '', toString(event_uuid), event_id_other),
    customer_id               LowCardinality(String),
    agent_id                  LowCardinality(String) CODEC(ZSTD(1)),
    user_id                   LowCardinality(String) DEFAULT '' CODEC(ZSTD(1)),
    task_id                   String DEFAULT '' CODEC(ZSTD(9)),
    request_id                String DEFAULT '' CODEC(ZSTD(3)),
    kind                      LowCardinality(String) CODEC(ZSTD(1)),
    provider                  LowCardinality(String) CODEC(ZSTD(1)),
    sku                       LowCardinality(String) CODEC(ZSTD(1)),
    model_sent                LowCardinality(String) DEFAULT '' CODEC(ZSTD(1)),
    unit                      LowCardinality(String) CODEC(ZSTD(1)),
    quantity                  Decimal(38, 12) CODEC(GCD, ZSTD(1)),
    input_tokens              UInt64 CODEC(T64, ZSTD(1)),
    cached_input_tokens       UInt64 CODEC(T64, ZSTD(1)),
    cache_write_tokens        UInt64 CODEC(T64, ZSTD(1)),
    output_tokens             UInt64 CODEC(T64, ZSTD(1)),
    reasoning_tokens          UInt64 CODEC(T64, ZSTD(1)),
    batch                     Bool,
    service_tier              LowCardinality(String) DEFAULT '',
    cost                      Decimal(38, 12) CODEC(GCD, ZSTD(1)),
    currency                  LowCardinality(String),
    price_version             LowCardinality(String) CODEC(ZSTD(1)),
    outcome_type              LowCardinality(String),
    outcome_value             Nullable(Decimal(38, 12)) CODEC(ZSTD(3)),
    success                   Bool,
    attributes                Map(String, String) CODEC(ZSTD(3)),
    source_partition          UInt16,
    source_offset             UInt64 CODEC(Delta, T64, ZSTD(3)),
    source_index              UInt16 DEFAULT 0 CODEC(T64, ZSTD(1)),
    ingested_at_sent          DateTime64(3, 'UTC') EPHEMERAL,
    ingested_lag_ms           Int64 DEFAULT toUnixTimestamp64Milli(ingested_at_sent) - toUnixTimestamp64Milli(occurred_at)
                              CODEC(T64, ZSTD(1)),
    ingested_at               DateTime64(3, 'UTC') ALIAS
                              fromUnixTimestamp64Milli(toUnixTimestamp64Milli(occurred_at) + ingested_lag_ms, 'UTC'),
    corrects                  String DEFAULT '' CODEC(ZSTD(3)),
    reprice_run               LowCardinality(String) DEFAULT '',
    input_audio_tokens        UInt64 DEFAULT 0 CODEC(T64, ZSTD(1)),
    cached_audio_input_tokens UInt64 DEFAULT 0 CODEC(T64, ZSTD(1)),
    output_audio_tokens       UInt64 DEFAULT 0 CODEC(T64, ZSTD(1)),
    input_image_tokens        UInt64 DEFAULT 0 CODEC(T64, ZSTD(1)),
    cached_image_input_tokens UInt64 DEFAULT 0 CODEC(T64, ZSTD(1)),
    output_image_tokens       UInt64 DEFAULT 0 CODEC(T64, ZSTD(1)),
    -- Rebuilding a partition's dedup window reads recent rows by ingestion time.
    INDEX ingested_at_idx ingested_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (customer_id, occurred_at, event_uuid_high, event_uuid_low, event_id_other);

INSERT INTO ledger_023
    (event_uuid_high, event_uuid_low, event_id_other, occurred_at, customer_id, agent_id, user_id, task_id,
     request_id, kind, provider, sku, model_sent, unit, quantity, input_tokens, cached_input_tokens,
     cache_write_tokens, output_tokens, reasoning_tokens, batch, service_tier, cost, currency, price_version,
     outcome_type, outcome_value, success, attributes, source_partition, source_offset, source_index,
     ingested_at_sent, corrects, reprice_run, input_audio_tokens, cached_audio_input_tokens,
     output_audio_tokens, input_image_tokens, cached_image_input_tokens, output_image_tokens)
SELECT
    event_uuid_high, event_uuid_low, event_id_other, occurred_at, customer_id, agent_id, user_id, task_id,
    request_id, kind, provider, sku, model_sent, unit, quantity, input_tokens, cached_input_tokens,
    cache_write_tokens, output_tokens, reasoning_tokens, batch, service_tier, cost, currency, price_version,
    outcome_type, outcome_value, success, attributes, source_partition, source_offset, source_index,
    ingested_at, corrects, reprice_run, input_audio_tokens, cached_audio_input_tokens,
    output_audio_tokens, input_image_tokens, cached_image_input_tokens, output_image_tokens
FROM ledger
SETTINGS max_partitions_per_insert_block = 0;

EXCHANGE TABLES ledger AND ledger_023;

-- What a running worker wrote to the old table while it was copied.
INSERT INTO ledger
    (event_uuid_high, event_uuid_low, event_id_other, occurred_at, customer_id, agent_id, user_id, task_id,
     request_id, kind, provider, sku, model_sent, unit, quantity, input_tokens, cached_input_tokens,
     cache_write_tokens, output_tokens, reasoning_tokens, batch, service_tier, cost, currency, price_version,
     outcome_type, outcome_value, success, attributes, source_partition, source_offset, source_index,
     ingested_at_sent, corrects, reprice_run, input_audio_tokens, cached_audio_input_tokens,
     output_audio_tokens, input_image_tokens, cached_image_input_tokens, output_image_tokens)
SELECT
    event_uuid_high, event_uuid_low, event_id_other, occurred_at, customer_id, agent_id, user_id, task_id,
    request_id, kind, provider, sku, model_sent, unit, quantity, input_tokens, cached_input_tokens,
    cache_write_tokens, output_tokens, reasoning_tokens, batch, service_tier, cost, currency, price_version,
    outcome_type, outcome_value, success, attributes, source_partition, source_offset, source_index,
    ingested_at, corrects, reprice_run, input_audio_tokens, cached_audio_input_tokens,
    output_audio_tokens, input_image_tokens, cached_image_input_tokens, output_image_tokens
FROM ledger_023
WHERE ingested_at >= (SELECT max(ingested_at) - INTERVAL 1 MINUTE FROM ledger)
  AND (customer_id, event_id, source_partition, source_offset, source_index) NOT IN (
        SELECT customer_id, event_id, source_partition, source_offset, source_index
        FROM ledger
        WHERE ingested_at >= (SELECT max(ingested_at) - INTERVAL 1 MINUTE FROM ledger)
      )
SETTINGS max_partitions_per_insert_block = 0;

DROP TABLE ledger_023
