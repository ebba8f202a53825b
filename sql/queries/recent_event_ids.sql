-- Event ids one source partition counted within the dedup window, below
-- the offset a (re)assigned partition resumes from. The minmax index on
-- ingested_at skips the parts written before the window.
SELECT event_id
FROM ledger
WHERE source_partition = {partition:UInt16}
  AND source_offset < {below_offset:UInt64}
  AND ingested_at >= now64(3) - toIntervalMillisecond({window_ms:UInt64})
