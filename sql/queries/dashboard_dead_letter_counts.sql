-- Dead letters per code, of every customer or of one (its messages' key). '' means every.
SELECT
    error_code,
    count()         AS letters,
    max(failed_at)  AS latest
FROM dead_letters FINAL
WHERE ({customer:String} = '' OR message_key = {customer:String})
GROUP BY error_code
ORDER BY letters DESC, error_code
