-- What a customer's finalized invoices before {before} billed for each charge
-- of each month: the month's own lines plus the adjustments made for it
-- since. Rating the month again and comparing gives the next adjustments.
SELECT
    if(adjusts_period = '', period, adjusts_period)  AS for_period,
    charge_key,
    argMin(description, adjusts_period != '')        AS description,
    sum(quantity)                                    AS quantity,
    sum(amount)                                      AS amount
FROM invoice_lines FINAL
WHERE customer_id = {customer:String}
  AND period < {before:String}
  -- only lines of invoices that were finalized (the invoice row is written last)
  AND period IN (SELECT period FROM invoices FINAL WHERE customer_id = {customer:String})
GROUP BY for_period, charge_key
ORDER BY for_period, charge_key
