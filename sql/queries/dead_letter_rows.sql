-- Dead letters in the order they failed, a page at a time: those after the
-- {after_*} key (the previous page's last letter), filtered by code, time
-- and customer ('' and the epoch: no filter).
--
-- A letter's customer is the customer_id its payload names, when the payload
-- is a JSON object that names one; an undecodable payload has none ('').
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
    length(payload)                           AS payload_bytes
FROM dead_letters FINAL
WHERE ({code:String} = '' OR error_code = {code:String})
  AND failed_at >= {since:DateTime64(3, 'UTC')}
  AND ({customer:String} = '' OR customer = {customer:String})
  AND ((failed_at, source_topic, source_partition, source_offset, source_index)
         > ({after_failed_at:DateTime64(3, 'UTC')}, {after_topic:String}, {after_partition:UInt16},
            {after_offset:UInt64}, {after_index:UInt32})
       OR NOT {paged:Bool})
ORDER BY failed_at, source_topic, source_partition, source_offset, source_index
LIMIT {limit:UInt64}
