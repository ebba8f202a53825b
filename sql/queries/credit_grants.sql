-- A customer's prepaid credit grants made before {before}.
SELECT grant_id, amount, granted_on
FROM credit_grants FINAL
WHERE customer_id = {customer:String} AND granted_on < {before:Date}
ORDER BY granted_on, grant_id
