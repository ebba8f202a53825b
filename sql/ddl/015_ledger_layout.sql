-- The ledger laid out again for size (issue #12): an event id that parses
-- as a UUID is kept as 16 bytes instead of 36 characters, with codecs
-- chosen column by column on the generated ledger (bench/run.py --phases
-- size; figures in bench/RESULTS.md).
--
-- Event ids: writers insert the id as sent into event_id_sent, an EPHEMERAL
-- column (never stored). event_uuid keeps it when it is a UUID in canonical
-- form (lowercase, dashes), the usual SDK id; event_id_other keeps every
-- other id exactly as sent ('' for canonical UUIDs), so nothing is lost and
-- an upper-case UUID stays distinct from its lower-case twin. Readers, and
-- the views on ledger (event_ids, meter_days), read event_id, an ALIAS that
-- gives back the id as sent. The sorting key ends with both columns, so a
-- row written twice still collapses onto one.
--
-- Codecs: a random UUID does not compress (NONE). Times and offsets rise
-- within a customer: Delta, then ZSTD(3), which beat DoubleDelta and
-- ZSTD(1) on them. Money and quantities stay Decimal(38, 12), exact as
-- every reader sums them; ZSTD finds their zero bytes. Task ids share long
-- prefixes: ZSTD(9).
--
-- The table cannot change its sorting key in place, so the rows are copied
-- into ledger_015 and the two swapped atomically (EXCHANGE TABLES). The
-- materialized views on ledger follow the name, so they fire on the new
-- table from the swap on, and the copy itself feeds none of them. Rows a
-- running worker wrote to the old table during the copy are copied once
-- more after the swap (those not yet in the new one, by Kafka position);
-- meter_days' overlap check (016) sees them as a replay, so nothing is
-- counted twice. Stop workers before migrating all the same: it is quicker.
CREATE TABLE IF NOT EXISTS ledger_015
(
    event_id_sent             String EPHEMERAL,
    event_uuid                UUID DEFAULT toUUIDOrZero(event_id_sent) CODEC(NONE),
    event_id_other            String DEFAULT if(toString(event_uuid) = event_id_sent, '', event_id_sent)
                              CODEC(ZSTD(3)),
    event_id                  String ALIAS if(event_id_other = '', toString(event_uuid), event_id_other),
    occurred_at               DateTime64(6, 'UTC') CODEC(Delta, ZSTD(3)),
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
ORDER BY (customer_id, occurred_at, event_uuid, event_id_other);

INSERT INTO ledger_015
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

EXCHANGE TABLES ledger AND ledger_015;

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
FROM ledger_015
WHERE ingested_at >= (SELECT max(ingested_at) - INTERVAL 1 MINUTE FROM ledger)
  AND (customer_id, event_id, source_partition, source_offset, source_index) NOT IN (
        SELECT customer_id, event_id, source_partition, source_offset, source_index
        FROM ledger
        WHERE ingested_at >= (SELECT max(ingested_at) - INTERVAL 1 MINUTE FROM ledger)
      )
SETTINGS max_partitions_per_insert_block = 0;

DROP TABLE ledger_015
