-- Event ids that are UUIDv7 (RFC 9562; what the SDK's new_event_id makes)
-- stored in 9-10 bytes instead of 16 (issue #12: ledger bytes per row).
--
-- A v7 id begins with the millisecond it was made, which is (nearly always)
-- the event's occurred_at, a column the row keeps anyway. ClickHouse lays a
-- UUID out as two little-endian halves, so no codec found that shared prefix
-- (ZSTD(9) on a v7 UUID column: 15.0 bytes a row; bench/RESULTS.md, session
-- 6). The UUID is now kept as its two 64-bit halves, the high one less the
-- event's millisecond in a v7's place: for a v7 id that leaves its version and
-- 12 random bits (T64 and ZSTD: ~1.5 bytes), and the low half's 62 random
-- bits (8 bytes, no codec helps). A random (v4) id keeps 16 bytes, and any
-- other id is kept as before in event_id_other. event_uuid and event_id are
-- ALIAS columns giving back the UUID and the id exactly as sent, so nothing
-- that writes (event_id_sent) or reads (event_id) the ledger changes.
--
-- The sorting key changes, so as in 015 the rows are copied into ledger_018
-- and the two tables swapped atomically (EXCHANGE TABLES): the views on
-- ledger follow the name, the copy feeds none of them, and rows a running
-- worker wrote to the old table during the copy are copied once more after
-- the swap (those not yet in the new one, by Kafka position); meter_days'
-- overlap check (016) sees them as a replay, so nothing is counted twice.
-- Stop workers before migrating all the same: it is quicker. Copying takes
-- about as long as writing the ledger once (minutes per 100M rows).
CREATE TABLE ledger_018
(
    event_id_sent             String EPHEMERAL,
    occurred_at               DateTime64(6, 'UTC') CODEC(Delta, ZSTD(3)),
    -- The id's UUID in two halves (a non-UUID id: the nil UUID, 0 and 0).
    -- High: its first 64 bits less the event's millisecond shifted as in a
    -- UUIDv7, wrapping, so a v7 id keeps only its version and 12 random bits.
    event_uuid_high           Int64 DEFAULT
                              reinterpretAsInt64(reinterpretAsUInt64(reverse(substring(
                                  UUIDStringToNum(toString(toUUIDOrZero(event_id_sent))), 1, 8))))
                              - reinterpretAsInt64(bitShiftLeft(toUInt64(toUnixTimestamp64Milli(occurred_at)), 16))
                              CODEC(T64, ZSTD(3)),
    event_uuid_low            UInt64 DEFAULT
                              reinterpretAsUInt64(reverse(substring(UUIDStringToNum(toString(toUUIDOrZero(event_id_sent))), 9, 8)))
                              CODEC(NONE),
    event_uuid                UUID ALIAS toUUID(UUIDNumToString(toFixedString(unhex(concat(
                                  leftPad(hex(reinterpretAsUInt64(event_uuid_high + reinterpretAsInt64(
                                      bitShiftLeft(toUInt64(toUnixTimestamp64Milli(occurred_at)), 16)))), 16, '0'),
                                  leftPad(hex(event_uuid_low), 16, '0'))), 16))),
    event_id_other            String DEFAULT if(toString(toUUIDOrZero(event_id_sent)) = event_id_sent, '', event_id_sent)
                              CODEC(ZSTD(3)),
    event_id                  String ALIAS if(event_id_other = '', toString(event_uuid), event_id_other),
    customer_id               LowCardinality(String),
    agent_id                  LowCardinality(String) CODEC(ZSTD(1)),
    user_id                   String DEFAULT '' CODEC(ZSTD(3)),
    task_id                   String DEFAULT '' CODEC(ZSTD(9)),
    request_id                String DEFAULT '' CODEC(ZSTD(3)),
    kind                      LowCardinality(String) CODEC(ZSTD(1)),
    provider                  LowCardinality(String) CODEC(ZSTD(1)),
    sku                       LowCardinality(String) CODEC(ZSTD(1)),
    model_sent                LowCardinality(String) DEFAULT '' CODEC(ZSTD(1)),
    unit                      LowCardinality(String) CODEC(ZSTD(1)),
    quantity                  Decimal(38, 12) CODEC(ZSTD(3)),
    input_tokens              UInt64 CODEC(T64, ZSTD(1)),
    cached_input_tokens       UInt64 CODEC(T64, ZSTD(1)),
    cache_write_tokens        UInt64 CODEC(T64, ZSTD(1)),
    output_tokens             UInt64 CODEC(T64, ZSTD(1)),
    reasoning_tokens          UInt64 CODEC(T64, ZSTD(1)),
    batch                     Bool,
    service_tier              LowCardinality(String) DEFAULT '',
    cost                      Decimal(38, 12) CODEC(ZSTD(3)),
    currency                  LowCardinality(String),
    price_version             LowCardinality(String) CODEC(ZSTD(1)),
    outcome_type              LowCardinality(String),
    outcome_value             Nullable(Decimal(38, 12)) CODEC(ZSTD(3)),
    success                   Bool,
    attributes                Map(String, String) CODEC(ZSTD(3)),
    source_partition          UInt16,
    source_offset             UInt64 CODEC(Delta, ZSTD(3)),
    source_index              UInt16 DEFAULT 0 CODEC(T64, ZSTD(1)),
    ingested_at               DateTime64(3, 'UTC') CODEC(Delta, ZSTD(3)),
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

INSERT INTO ledger_018
    (event_id_sent, occurred_at, customer_id, agent_id, user_id, task_id, request_id, kind, provider, sku,
     model_sent, unit, quantity, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
     reasoning_tokens, batch, service_tier, cost, currency, price_version, outcome_type, outcome_value,
     success, attributes, source_partition, source_offset, source_index, ingested_at, corrects, reprice_run,
     input_audio_tokens, cached_audio_input_tokens, output_audio_tokens, input_image_tokens,
     cached_image_input_tokens, output_image_tokens)
SELECT
    event_id, occurred_at, customer_id, agent_id, user_id, task_id, request_id, kind, provider, sku,
    model_sent, unit, quantity, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
    reasoning_tokens, batch, service_tier, cost, currency, price_version, outcome_type, outcome_value,
    success, attributes, source_partition, source_offset, source_index, ingested_at, corrects, reprice_run,
    input_audio_tokens, cached_audio_input_tokens, output_audio_tokens, input_image_tokens,
    cached_image_input_tokens, output_image_tokens
FROM ledger
SETTINGS max_partitions_per_insert_block = 0;

EXCHANGE TABLES ledger AND ledger_018;

-- What a running worker wrote to the old table while it was copied.
INSERT INTO ledger
    (event_id_sent, occurred_at, customer_id, agent_id, user_id, task_id, request_id, kind, provider, sku,
     model_sent, unit, quantity, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
     reasoning_tokens, batch, service_tier, cost, currency, price_version, outcome_type, outcome_value,
     success, attributes, source_partition, source_offset, source_index, ingested_at, corrects, reprice_run,
     input_audio_tokens, cached_audio_input_tokens, output_audio_tokens, input_image_tokens,
     cached_image_input_tokens, output_image_tokens)
SELECT
    event_id, occurred_at, customer_id, agent_id, user_id, task_id, request_id, kind, provider, sku,
    model_sent, unit, quantity, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
    reasoning_tokens, batch, service_tier, cost, currency, price_version, outcome_type, outcome_value,
    success, attributes, source_partition, source_offset, source_index, ingested_at, corrects, reprice_run,
    input_audio_tokens, cached_audio_input_tokens, output_audio_tokens, input_image_tokens,
    cached_image_input_tokens, output_image_tokens
FROM ledger_018
WHERE ingested_at >= (SELECT max(ingested_at) - INTERVAL 1 MINUTE FROM ledger)
  AND (customer_id, event_id, source_partition, source_offset, source_index) NOT IN (
        SELECT customer_id, event_id, source_partition, source_offset, source_index
        FROM ledger
        WHERE ingested_at >= (SELECT max(ingested_at) - INTERVAL 1 MINUTE FROM ledger)
      )
SETTINGS max_partitions_per_insert_block = 0;

DROP TABLE ledger_018
