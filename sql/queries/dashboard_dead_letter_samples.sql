-- The newest few dead letters of each code, their payload cut short for the page.
SELECT
    error_code,
    failed_at,
    message_key,
    reason,
    substring(payload, 1, {payload_chars:UInt32})  AS payload
FROM dead_letters FINAL
WHERE ({customer:String} = '' OR message_key = {customer:String})
ORDER BY error_code, failed_at DESC, source_partition, source_offset, source_index
LIMIT {per_code:UInt32} BY error_code
