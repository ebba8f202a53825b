-- One dead letter, with its whole payload, by where it came from.
SELECT
    failed_at,
    error_code,
    reason,
    source_topic,
    source_partition,
    source_offset,
    source_index,
    message_key,
    JSONExtractString(payload, 'customer_id') AS customer,
    length(payload)                           AS payload_bytes,
    payload
FROM dead_letters FINAL
WHERE source_topic = {topic:String}
  AND source_partition = {partition:UInt16}
  AND source_offset = {offset:UInt64}
  AND source_index = {index:UInt32}
