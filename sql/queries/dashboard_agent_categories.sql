-- Each agent's cost, events and outcome value per category over [from, to), from 1-hour
-- agent windows (agent_id <> '*': the rollups would count each event twice).
SELECT
    customer_id,
    agent_id,
    category,
    sum(cost)             AS cost,
    sum(events)           AS events,
    sum(outcome_value)    AS outcome_value,
    sum(failed_outcomes)  AS failed_outcomes
FROM cost_windows FINAL
WHERE window_size = 3600
  AND window_start >= {from:DateTime('UTC')}
  AND window_start <  {to:DateTime('UTC')}
  AND agent_id != '*'
  AND ({customer:String} = '' OR customer_id = {customer:String})
  AND ({agent:String} = '' OR agent_id = {agent:String})
  AND ({category:String} = '' OR category = {category:String})
GROUP BY customer_id, agent_id, category
ORDER BY customer_id, agent_id, category
