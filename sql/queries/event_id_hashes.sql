-- The ids one source partition counted since a time, hashed as the worker
-- hashes them (streams.dedup.id_hashes), to rebuild its dedup filter: 12
-- bytes a row in RowBinary. Daily partitions skip the days before `since`.
SELECT
    xxHash64(concat(customer_id, '\0', event_id)) AS id_hash,
    toUInt32(toUnixTimestamp(ingested_at)) AS counted_at
FROM event_ids
WHERE source_partition = {partition:UInt16}
  AND ingested_at >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')
