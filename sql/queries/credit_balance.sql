-- A customer's credit balance before {period}'s invoice, in one round trip:
-- the prepaid grants made before {before} (the day after the period), less
-- the credits that finalized invoices of other periods have drawn down.
SELECT
    (
        SELECT sum(amount)
        FROM credit_grants FINAL
        WHERE customer_id = {customer:String} AND granted_on < {before:Date}
    )
    -
    (
        SELECT sum(credits_applied)
        FROM invoices FINAL
        WHERE customer_id = {customer:String} AND period != {period:String}
    ) AS balance
