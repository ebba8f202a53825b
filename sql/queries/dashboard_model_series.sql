-- The model dimension, from the daily rollup by SKU (meter_days, sql/ddl/016_meter_days.sql):
-- cost per UTC day over the whole days in [from, to), per group. The windows have no model and
-- meter_days has no agent, so a model question is answered in days and never names an agent.
SELECT
    multiIf({group:String} = 'customer', customer_id,
            {group:String} = 'model', sku,
            kind)                               AS series,
    toDateTime(day, 'UTC')                      AS window_start,
    toDecimal128(sum(cost), 12)                 AS cost
FROM meter_days
WHERE day >= toDate({from:DateTime('UTC')})
  AND day <  toDate({to:DateTime('UTC')})
  AND ({customer:String} = '' OR customer_id = {customer:String})
  AND ({category:String} = '' OR kind = {category:String})
  AND ({model:String} = '' OR sku = {model:String})
GROUP BY series, window_start
ORDER BY series, window_start
