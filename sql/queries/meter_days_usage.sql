-- A sum, count or cost meter over whole UTC days [from_day, to_day) from the
-- daily pre-aggregate (sql/ddl/016_meter_days.sql): a value per customer
-- and day, and each customer's value for the range (day IS NULL), as
-- meter_usage.sql gives them from the ledger. ``column`` is one of
-- meter_days' sum columns, chosen by billing/meters.py, never by a caller.
SELECT
    customer_id,
    day,
    toDecimal128(sum({column:Identifier}), 12) AS value
FROM meter_days
WHERE day >= {from_day:Date}
  AND day <  {to_day:Date}
  AND (empty({customers:Array(String)})     OR has({customers:Array(String)}, customer_id))
  AND (empty({kinds:Array(String)})         OR has({kinds:Array(String)}, kind))
  AND (empty({skus:Array(String)})          OR has({skus:Array(String)}, sku))
  AND (empty({providers:Array(String)})     OR has({providers:Array(String)}, provider))
  AND (empty({outcome_types:Array(String)}) OR has({outcome_types:Array(String)}, outcome_type))
  AND ({success:Int8} < 0 OR toInt8(success) = {success:Int8})
GROUP BY customer_id, day WITH ROLLUP
HAVING customer_id IS NOT NULL
ORDER BY customer_id, day NULLS LAST
SETTINGS group_by_use_nulls = 1
