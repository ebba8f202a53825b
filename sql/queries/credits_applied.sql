-- Credits a customer's finalized invoices other than {period}'s have drawn down.
SELECT sum(credits_applied)
FROM invoices FINAL
WHERE customer_id = {customer:String} AND period != {period:String}
