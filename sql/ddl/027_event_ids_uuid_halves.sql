-- event_ids keeps the id as the ledger stores it (issue #12: ClickHouse's
-- CPU per event), chosen with python -m bench.event_ids_layout (figures in
-- bench/RESULTS.md, session 24).
--
-- 008 kept each id as its 36 characters. The view then made that text for
-- every ledger row from the UUID's stored halves (the ledger's event_id
-- ALIAS, 018), and every insert and merge sorted and compared strings. Now
-- a UUID id is kept as two UInt64 halves, the high one whole (the ledger's
-- is less the event's millisecond, 018), which the view takes from the
-- ledger's halves with one addition; event_id_other keeps, as in the ledger,
-- every id that is not a UUID in canonical form, exactly as sent ('' for a
-- canonical one), so an upper-case UUID stays distinct from its lower-case
-- twin (015) and a non-UUID id (halves 0) is still found. event_id is an
-- ALIAS giving the id back exactly as sent, so what reads event_ids by that
-- name reads the same ids (the filter rebuild's hashes, event_id_hashes.sql),
-- and a worker of before this migration still finds every id, reading the
-- whole table. The lookup (counted_event_ids.sql) turns its candidates into
-- the stored form instead, so it goes by the sorting key. Granules of 1024
-- rows instead of 256: a merge costs half as much, and a lookup reads a
-- granule or two more per customer (0.12 -> 0.15 CPU-s for 100k new ids).
-- In all about 1 CPU-s less per 1M events, view, merges and lookups.
--
-- The sorting key changes, so as in 015, 018 and 023 the rows are copied into
-- event_ids_027 and the two tables swapped atomically (EXCHANGE TABLES). A
-- view writes into the table of its target's name, so the old view is
-- dropped before the copy and the new one made after the swap; what ledger
-- took meanwhile (from shortly before the newest id copied) is copied from
-- the ledger's stored halves once the new view runs, less the rows copied
-- already. 026's setting is set again on the new table,
-- in its own statement, which a server before 26.1 skips
-- (costline/migrations.py). Migrating 1M ids took 2 s of server CPU here.
CREATE TABLE event_ids_027
(
    customer_id      LowCardinality(String),
    -- The id's UUID, big-endian halves as UInt64 (a non-UUID id: 0 and 0).
    uuid_high        UInt64,
    uuid_low         UInt64,
    event_id_other   String,
    event_id         String ALIAS if(event_id_other = '', toString(reinterpret(
                         bitOr(bitShiftLeft(toUInt128(uuid_low), 64), toUInt128(uuid_high)), 'UUID')),
                         event_id_other),
    occurred_at      DateTime64(6, 'UTC'),
    source_partition UInt16,
    source_offset    UInt64,
    source_index     UInt16,
    ingested_at      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ingested_at)
ORDER BY (customer_id, uuid_high, uuid_low, event_id_other, source_partition, source_offset, source_index)
TTL toDateTime(ingested_at) + INTERVAL 36 DAY
SETTINGS ttl_only_drop_parts = 1, index_granularity = 1024;

DROP VIEW IF EXISTS event_ids_from_ledger;

INSERT INTO event_ids_027
    (customer_id, uuid_high, uuid_low, event_id_other, occurred_at, source_partition, source_offset,
     source_index, ingested_at)
SELECT
    customer_id,
    toUInt64(bitShiftRight(toUInt128(toUUIDOrZero(event_id)), 64)),
    toUInt64(toUInt128(toUUIDOrZero(event_id))),
    if(toString(toUUIDOrZero(event_id)) = event_id, '', event_id),
    occurred_at, source_partition, source_offset, source_index, ingested_at
FROM event_ids
SETTINGS max_partitions_per_insert_block = 0;

EXCHANGE TABLES event_ids AND event_ids_027;

CREATE MATERIALIZED VIEW event_ids_from_ledger TO event_ids AS
SELECT
    customer_id,
    reinterpretAsUInt64(event_uuid_high
        + reinterpretAsInt64(bitShiftLeft(toUInt64(toUnixTimestamp64Milli(occurred_at)), 16))) AS uuid_high,
    event_uuid_low AS uuid_low,
    event_id_other, occurred_at, source_partition, source_offset, source_index, ingested_at
FROM ledger;

-- What ledger took while no view fed event_ids (those rows not copied already).
INSERT INTO event_ids
    (customer_id, uuid_high, uuid_low, event_id_other, occurred_at, source_partition, source_offset,
     source_index, ingested_at)
SELECT *
FROM (
    SELECT
        customer_id,
        reinterpretAsUInt64(event_uuid_high
            + reinterpretAsInt64(bitShiftLeft(toUInt64(toUnixTimestamp64Milli(occurred_at)), 16))) AS uuid_high,
        event_uuid_low AS uuid_low,
        event_id_other, occurred_at, source_partition, source_offset, source_index, ingested_at
    FROM ledger
    WHERE ingested_at >= greatest(
            (SELECT max(ingested_at) - INTERVAL 1 MINUTE FROM event_ids_027),
            now64(3) - INTERVAL 36 DAY)
)
WHERE (customer_id, uuid_high, uuid_low, event_id_other, source_partition, source_offset, source_index)
    NOT IN (
        SELECT customer_id, uuid_high, uuid_low, event_id_other, source_partition, source_offset, source_index
        FROM event_ids
        WHERE ingested_at >= greatest(
                (SELECT max(ingested_at) - INTERVAL 1 MINUTE FROM event_ids_027),
                now64(3) - INTERVAL 36 DAY)
    )
SETTINGS max_partitions_per_insert_block = 0;

DROP TABLE event_ids_027;

ALTER TABLE event_ids MODIFY SETTING materialize_statistics_on_merge = 0
