-- Unit economics over [from, to): cost and tasks per customer and agent, and
-- per customer (the rows where agent_id IS NULL; a task can span agents, so a
-- customer's distinct tasks are not the sum of its agents'). A task is a
-- distinct non-empty task_id; it succeeded when one of its outcome events has
-- success = true. task_cost is the cost of every event that carries a task_id
-- (first attempts, retries, failed tasks and human review alike), which cost
-- per successful task divides by the successes.
-- (total_cost is not aliased as cost: the alias would shadow the column in sumIf.)
SELECT
    customer_id,
    agent_id,
    sum(cost)                                                              AS total_cost,
    uniqExactIf(task_id, task_id != '')                                    AS tasks,
    uniqExactIf(task_id, task_id != '' AND kind = 'outcome' AND success)   AS successful_tasks,
    sumIf(cost, task_id != '')                                             AS task_cost
FROM ledger FINAL
WHERE occurred_at >= {from:DateTime64(6, 'UTC')}
  AND occurred_at <  {to:DateTime64(6, 'UTC')}
GROUP BY customer_id, agent_id WITH ROLLUP
HAVING customer_id IS NOT NULL
ORDER BY customer_id, agent_id NULLS FIRST
SETTINGS group_by_use_nulls = 1
