-- Subscriptions in start order: one customer's, or everyone's when {customer} is ''.
SELECT customer_id, starts_on, plan, version, seats
FROM subscriptions FINAL
WHERE {customer:String} = '' OR customer_id = {customer:String}
ORDER BY customer_id, starts_on
