-- The customers that spent most on one model over the whole days in [from, to) (meter_days).
SELECT
    customer_id,
    ''                           AS agent,
    toDecimal128(sum(cost), 12)  AS cost,
    sum(events)                  AS events
FROM meter_days
WHERE day >= toDate({from:DateTime('UTC')})
  AND day <  toDate({to:DateTime('UTC')})
  AND ({customer:String} = '' OR customer_id = {customer:String})
  AND ({category:String} = '' OR kind = {category:String})
  AND sku = {model:String}
GROUP BY customer_id
ORDER BY cost DESC, customer_id
LIMIT {limit:UInt32}
