-- Spend on one model from the start of the day and of the month, through the day of a moment,
-- from the daily rollup by SKU (meter_days): whole days, as the model series has them.
SELECT
    toDecimal128(sumIf(cost, day = toDate({day:DateTime('UTC')})), 12)  AS today,
    toDecimal128(sum(cost), 12)                                        AS month
FROM meter_days
WHERE day >= toDate({month:DateTime('UTC')})
  AND day <= toDate({day:DateTime('UTC')})
  AND ({customer:String} = '' OR customer_id = {customer:String})
  AND ({category:String} = '' OR kind = {category:String})
  AND sku = {model:String}
