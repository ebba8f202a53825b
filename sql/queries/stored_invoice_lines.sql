-- The lines of a customer's finalized invoice for {period}, in order.
SELECT charge_key, kind, description, quantity, unit_price, exact, meter, included, detail, adjusts_period
FROM invoice_lines FINAL
WHERE customer_id = {customer:String} AND period = {period:String}
ORDER BY line_no
