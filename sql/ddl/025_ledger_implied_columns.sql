-- What a row's other columns imply is no longer stored again, and its cost
-- takes eight bytes (issue #12: ledger bytes per row), chosen on the
-- generated ledger (python -m bench.ledger_bytes; figures in
-- bench/RESULTS.md, session 13).
--
-- The price: kind, provider, sku, unit and price_version follow from the
-- price an event was priced by, a few dozen combinations, yet each was a
-- LowCardinality column of its own, so every row stored five dictionary
-- positions (1.7 bytes a row, 1.3 of them for what sku implies). They are
-- now one LowCardinality column, price_key, the five joined by the unit
-- separator (\x1f), and the five names are ALIAS columns that take their
-- part back: substringIndex on a LowCardinality column runs once per
-- dictionary entry, not per row, and keeps the type, so readers, billing,
-- the views (meter_days groups by kind, provider, sku) and every filter see
-- the same names, types and values. No part holds the separator: kinds are
-- the contract's, the rest are identifiers and catalog names with no
-- control character (schemas.events.Identifier, schemas.prices), and the
-- price_parts constraint refuses a row that would split otherwise, so the
-- key always gives back exactly what was written.
--
-- The quantity: an LLM call's is its input plus output tokens
-- (streams.pricing), stored a second time. quantity_rest keeps the quantity
-- less those two counts: 0 on a model call, the quantity itself on any
-- other kind (no tokens), exact for every row whatever it holds, and
-- quantity is an ALIAS adding them back (1.58 -> 0.86 bytes a row).
--
-- The cost: a Decimal(38, 12) is 16 bytes of picos, but a row's cost fits
-- an Int64 of picos (up to 9.2 million dollars an event) all but always.
-- cost_pico keeps those, where T64 crops the unused high bits before ZSTD;
-- cost_over keeps, exactly, a cost past Int64 (cost_pico 0 then), and is 0
-- on every other row, so the part stores it sparse (024's setting): almost
-- nothing. cost is an ALIAS of their sum, Decimal(38, 12) as before, exact
-- for any value the type holds (schemas/money.py).
--
-- Writers insert into EPHEMERAL columns, as 015 and 023 did: kind_sent,
-- provider_sent, sku_sent, unit_sent, price_version_sent, quantity_sent and
-- cost_sent, of the old columns' types, which the stored columns' DEFAULTs
-- read; ClickHouse refuses an INSERT that names an ALIAS column. A writer
-- naming none of them gets '' and 0, as before. The sorting key, the index
-- and 024's settings are unchanged (no key column is among these).
--
-- ALTER cannot turn a stored column into an ALIAS of another it feeds, so
-- as in 015, 018 and 023 the rows are copied into ledger_025 and the two
-- tables swapped atomically (EXCHANGE TABLES): the views on ledger follow
-- the name and the copy feeds none of them. Rows a running worker wrote to
-- the old table during the copy are copied once more after the swap (those
-- not yet in the new one, by Kafka position), and meter_days' overlap check
-- (016) sees them as a replay. A worker of before this migration names kind,
-- quantity and cost, which no insert can name after the swap: its stream
-- waits for the operator with the batch uncommitted (a schema error,
-- streams/sinks/errors.py), so stop workers, migrate, then start the new
-- ones. The copy takes the stored lag and id halves as they are. Copying
-- takes about three minutes per 10M rows on this shared box.
CREATE TABLE ledger_025
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
    kind_sent                 LowCardinality(String) EPHEMERAL,
    provider_sent             LowCardinality(String) EPHEMERAL,
    sku_sent                  LowCardinality(String) EPHEMERAL,
    unit_sent                 LowCardinality(String) EPHEMERAL,
    price_version_sent        LowCardinality(String) EPHEMERAL,
    price_key                 LowCardinality(String) DEFAULT
                              concat(kind_sent, '\x1f', provider_sent, '\x1f', sku_sent, '\x1f', unit_sent, '\x1f',
                                     price_version_sent)
                              CODEC(ZSTD(1)),
    kind                      LowCardinality(String) ALIAS substringIndex(price_key, '\x1f', 1),
    provider                  LowCardinality(String) ALIAS substringIndex(substringIndex(price_key, '\x1f', 2), '\x1f', -1),
    sku                       LowCardinality(String) ALIAS substringIndex(substringIndex(price_key, '\x1f', 3), '\x1f', -1),
    model_sent                LowCardinality(String) DEFAULT '' CODEC(ZSTD(1)),
    unit                      LowCardinality(String) ALIAS substringIndex(substringIndex(price_key, '\x1f', 4), '\x1f', -1),
    input_tokens              UInt64 CODEC(T64, ZSTD(1)),
    cached_input_tokens       UInt64 CODEC(T64, ZSTD(1)),
    cache_write_tokens        UInt64 CODEC(T64, ZSTD(1)),
    output_tokens             UInt64 CODEC(T64, ZSTD(1)),
    reasoning_tokens          UInt64 CODEC(T64, ZSTD(1)),
    quantity_sent             Decimal(38, 12) EPHEMERAL,
    quantity_rest             Decimal(38, 12) DEFAULT
                              quantity_sent - toDecimal128(input_tokens, 0) - toDecimal128(output_tokens, 0)
                              CODEC(GCD, ZSTD(1)),
    -- The two counts added as UInt128 (no sum of UInt64s overflows it), then made a Decimal once.
    quantity                  Decimal(38, 12) ALIAS
                              quantity_rest + toDecimal128(toUInt128(input_tokens) + output_tokens, 0),
    batch                     Bool,
    service_tier              LowCardinality(String) DEFAULT '',
    cost_sent                 Decimal(38, 12) EPHEMERAL,
    -- The cost's picos are the Decimal's own integer: reinterpreted, never multiplied, so nothing overflows.
    cost_pico                 Int64 DEFAULT
                              if(reinterpretAsInt128(cost_sent) BETWEEN -9223372036854775808 AND 9223372036854775807,
                                 toInt64(reinterpretAsInt128(cost_sent)), 0)
                              CODEC(GCD, T64, ZSTD(1)),
    cost_over                 Decimal(38, 12) DEFAULT
                              if(reinterpretAsInt128(cost_sent) BETWEEN -9223372036854775808 AND 9223372036854775807,
                                 toDecimal128(0, 12), cost_sent)
                              CODEC(ZSTD(1)),
    cost                      Decimal(38, 12) ALIAS
                              cost_over + toDecimal128(cost_pico, 0) * toDecimal128('0.000000000001', 12),
    currency                  LowCardinality(String),
    price_version             LowCardinality(String) ALIAS substringIndex(price_key, '\x1f', -1),
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
    INDEX ingested_at_idx ingested_at TYPE minmax GRANULARITY 1,
    -- Each part of the key is between separators, so the ALIAS columns give back what was written.
    CONSTRAINT price_parts CHECK countSubstrings(price_key, '\x1f') = 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (customer_id, occurred_at, event_uuid_high, event_uuid_low, event_id_other)
SETTINGS ratio_of_defaults_for_sparse_serialization = 0.5, min_compress_block_size = 262144;

INSERT INTO ledger_025
    (event_uuid_high, event_uuid_low, event_id_other, occurred_at, customer_id, agent_id, user_id, task_id,
     request_id, kind_sent, provider_sent, sku_sent, model_sent, unit_sent, quantity_sent, input_tokens,
     cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, batch, service_tier, cost_sent,
     currency, price_version_sent, outcome_type, outcome_value, success, attributes, source_partition,
     source_offset, source_index, ingested_lag_ms, corrects, reprice_run, input_audio_tokens,
     cached_audio_input_tokens, output_audio_tokens, input_image_tokens, cached_image_input_tokens,
     output_image_tokens)
SELECT
    event_uuid_high, event_uuid_low, event_id_other, occurred_at, customer_id, agent_id, user_id, task_id,
    request_id, kind, provider, sku, model_sent, unit, quantity, input_tokens,
    cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, batch, service_tier, cost,
    currency, price_version, outcome_type, outcome_value, success, attributes, source_partition,
    source_offset, source_index, ingested_lag_ms, corrects, reprice_run, input_audio_tokens,
    cached_audio_input_tokens, output_audio_tokens, input_image_tokens, cached_image_input_tokens,
    output_image_tokens
FROM ledger
SETTINGS max_partitions_per_insert_block = 0;

EXCHANGE TABLES ledger AND ledger_025;

-- What a running worker wrote to the old table while it was copied.
INSERT INTO ledger
    (event_uuid_high, event_uuid_low, event_id_other, occurred_at, customer_id, agent_id, user_id, task_id,
     request_id, kind_sent, provider_sent, sku_sent, model_sent, unit_sent, quantity_sent, input_tokens,
     cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, batch, service_tier, cost_sent,
     currency, price_version_sent, outcome_type, outcome_value, success, attributes, source_partition,
     source_offset, source_index, ingested_lag_ms, corrects, reprice_run, input_audio_tokens,
     cached_audio_input_tokens, output_audio_tokens, input_image_tokens, cached_image_input_tokens,
     output_image_tokens)
SELECT
    event_uuid_high, event_uuid_low, event_id_other, occurred_at, customer_id, agent_id, user_id, task_id,
    request_id, kind, provider, sku, model_sent, unit, quantity, input_tokens,
    cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, batch, service_tier, cost,
    currency, price_version, outcome_type, outcome_value, success, attributes, source_partition,
    source_offset, source_index, ingested_lag_ms, corrects, reprice_run, input_audio_tokens,
    cached_audio_input_tokens, output_audio_tokens, input_image_tokens, cached_image_input_tokens,
    output_image_tokens
FROM ledger_025
WHERE ingested_at >= (SELECT max(ingested_at) - INTERVAL 1 MINUTE FROM ledger)
  AND (customer_id, event_id, source_partition, source_offset, source_index) NOT IN (
        SELECT customer_id, event_id, source_partition, source_offset, source_index
        FROM ledger
        WHERE ingested_at >= (SELECT max(ingested_at) - INTERVAL 1 MINUTE FROM ledger)
      )
SETTINGS max_partitions_per_insert_block = 0;

DROP TABLE ledger_025
