-- The costliest customers ({group} = 'customer') or customer × agent pairs ({group} = 'agent')
-- over [from, to), from 1-hour windows: rollups unless an agent is asked for.
SELECT
    customer_id,
    if({group:String} = 'agent', agent_id, '')  AS agent,
    sum(cost)                                   AS cost,
    sum(events)                                 AS events
FROM cost_windows FINAL
WHERE window_size = 3600
  AND window_start >= {from:DateTime('UTC')}
  AND window_start <  {to:DateTime('UTC')}
  AND (agent_id = '*') = {rollup:Bool}
  AND ({customer:String} = '' OR customer_id = {customer:String})
  AND ({agent:String} = '' OR agent_id = {agent:String})
  AND ({category:String} = '' OR category = {category:String})
GROUP BY customer_id, agent
ORDER BY cost DESC, customer_id, agent
LIMIT {limit:UInt32}
