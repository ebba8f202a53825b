-- A customer's cost per calendar month over [from, to), from its 1-hour rollups (agent_id = '*').
SELECT
    toStartOfMonth(window_start)  AS month,
    sum(cost)                     AS cost
FROM cost_windows FINAL
WHERE window_size = 3600
  AND window_start >= {from:DateTime('UTC')}
  AND window_start <  {to:DateTime('UTC')}
  AND agent_id = '*'
  AND customer_id = {customer:String}
GROUP BY month
ORDER BY month
