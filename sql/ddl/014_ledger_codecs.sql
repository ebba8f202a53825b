-- Compression codecs for the ledger, chosen column by column on a generated
-- ledger shaped like the workload (bench/ledger_size.py; figures in
-- bench/RESULTS.md). Codecs only: no column changes type, so nothing that
-- writes or reads the ledger changes. Parts written before this migration
-- keep LZ4 until a merge rewrites them.
--
-- Rows are in (customer_id, occurred_at, event_id) order, so within a
-- customer times and Kafka offsets rise: Delta turns them into small
-- steps and ZSTD packs the steps. Token counts and indexes are small
-- integers in wide types: T64 crops the unused high bytes. Money is
-- Decimal(38, 12) (16 bytes) holding values far below 2^64 pico-dollars:
-- ZSTD finds the zero bytes. Ids are text: ZSTD.
ALTER TABLE ledger MODIFY COLUMN event_id String CODEC(ZSTD(3));
ALTER TABLE ledger MODIFY COLUMN occurred_at DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1));
ALTER TABLE ledger MODIFY COLUMN ingested_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1));
ALTER TABLE ledger MODIFY COLUMN user_id String DEFAULT '' CODEC(ZSTD(3));
ALTER TABLE ledger MODIFY COLUMN task_id String DEFAULT '' CODEC(ZSTD(3));
ALTER TABLE ledger MODIFY COLUMN request_id String DEFAULT '' CODEC(ZSTD(3));
ALTER TABLE ledger MODIFY COLUMN corrects String DEFAULT '' CODEC(ZSTD(3));
ALTER TABLE ledger MODIFY COLUMN quantity Decimal(38, 12) CODEC(ZSTD(3));
ALTER TABLE ledger MODIFY COLUMN cost Decimal(38, 12) CODEC(ZSTD(3));
ALTER TABLE ledger MODIFY COLUMN outcome_value Nullable(Decimal(38, 12)) CODEC(ZSTD(3));
ALTER TABLE ledger MODIFY COLUMN input_tokens UInt64 CODEC(T64, ZSTD(1));
ALTER TABLE ledger MODIFY COLUMN cached_input_tokens UInt64 CODEC(T64, ZSTD(1));
ALTER TABLE ledger MODIFY COLUMN output_tokens UInt64 CODEC(T64, ZSTD(1));
ALTER TABLE ledger MODIFY COLUMN source_offset UInt64 CODEC(Delta, ZSTD(1));
ALTER TABLE ledger MODIFY COLUMN source_index UInt16 DEFAULT 0 CODEC(T64, ZSTD(1));
ALTER TABLE ledger MODIFY COLUMN agent_id LowCardinality(String) CODEC(ZSTD(1));
ALTER TABLE ledger MODIFY COLUMN kind LowCardinality(String) CODEC(ZSTD(1));
ALTER TABLE ledger MODIFY COLUMN provider LowCardinality(String) CODEC(ZSTD(1));
ALTER TABLE ledger MODIFY COLUMN sku LowCardinality(String) CODEC(ZSTD(1));
ALTER TABLE ledger MODIFY COLUMN unit LowCardinality(String) CODEC(ZSTD(1));
ALTER TABLE ledger MODIFY COLUMN price_version LowCardinality(String) CODEC(ZSTD(1))
