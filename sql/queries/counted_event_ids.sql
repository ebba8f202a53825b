-- Where each candidate (customer, event_id) was counted, in the last 36 days
-- (the TTL of event_ids). `candidates` is sent with the query as external
-- data, so a batch needs one query however many ids it asks about.
SELECT
    customer_id,
    event_id,
    source_partition,
    source_offset,
    source_index,
    toUnixTimestamp64Milli(ingested_at),
    toUnixTimestamp64Micro(occurred_at)
FROM event_ids
WHERE (customer_id, event_id) IN (SELECT customer_id, event_id FROM candidates)
