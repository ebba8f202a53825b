-- Where each candidate (customer, event_id) was counted, in the last 36 days
-- (the TTL of event_ids). `candidates` is sent with the query as external
-- data, so a batch needs one query however many ids it asks about. Each
-- candidate is turned into the form event_ids stores (027): its UUID's
-- halves, and the id itself unless it is a UUID in canonical form, so the
-- lookup goes by the sorting key and an upper-case UUID or a non-UUID id is
-- found as exactly that id.
SELECT
    customer_id,
    event_id,
    source_partition,
    source_offset,
    source_index,
    toUnixTimestamp64Milli(ingested_at),
    toUnixTimestamp64Micro(occurred_at)
FROM event_ids
WHERE (customer_id, uuid_high, uuid_low, event_id_other) IN (
    SELECT
        customer_id,
        toUInt64(bitShiftRight(toUInt128(uuid), 64)),
        toUInt64(toUInt128(uuid)),
        if(toString(uuid) = event_id, '', event_id)
    FROM (SELECT customer_id, event_id, toUUIDOrZero(event_id) AS uuid FROM candidates)
)
