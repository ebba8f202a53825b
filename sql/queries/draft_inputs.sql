-- Everything a draft invoice of {customer} for {period} reads besides meter
-- values, in one round trip (billing/invoices.py draft): the customer's
-- subscriptions (billing_subscriptions.sql), what finalized invoices before
-- the period billed (billed_charges.sql, for adjustments), and the credit
-- balance before this invoice: grants made before {period_end} (the day
-- after the period) less the credits finalized invoices of other periods
-- have drawn down.
SELECT
    (SELECT groupArray((customer_id, starts_on, plan, version, seats)) FROM ($subscriptions)) AS subscriptions,
    (SELECT groupArray((for_period, charge_key, description, quantity, amount)) FROM ($billed)) AS billed,
    (
        SELECT sum(amount)
        FROM credit_grants FINAL
        WHERE customer_id = {customer:String} AND granted_on < {period_end:Date}
    )
    -
    (
        SELECT sum(credits_applied)
        FROM invoices FINAL
        WHERE customer_id = {customer:String} AND period != {period:String}
    ) AS balance
