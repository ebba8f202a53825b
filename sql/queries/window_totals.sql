-- Window aggregates of one size, newest snapshot of each window.
SELECT
    customer_id,
    agent_id,
    category,
    window_start,
    cost,
    events,
    quantity
FROM cost_windows FINAL
WHERE window_size = {size:UInt32}
ORDER BY customer_id, agent_id, category, window_start
