-- The head of a customer's finalized invoice for {period}; no row when not finalized.
SELECT currency, credits_applied, finalized_at
FROM invoices FINAL
WHERE customer_id = {customer:String} AND period = {period:String}
