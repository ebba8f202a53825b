-- The dashboard's time series: cost per window of one size over [from, to), per group.
-- Per-customer rollups (agent_id = '*') answer customer and category views; agent rows
-- answer the agent view and any agent filter, so nothing is counted twice.
-- An empty filter parameter means "every".
SELECT
    multiIf({group:String} = 'customer', customer_id,
            {group:String} = 'agent', agent_id,
            category)                 AS series,
    window_start,
    sum(cost)                         AS cost
FROM cost_windows FINAL
WHERE window_size = {size:UInt32}
  AND window_start >= {from:DateTime('UTC')}
  AND window_start <  {to:DateTime('UTC')}
  AND (agent_id = '*') = {rollup:Bool}
  AND ({customer:String} = '' OR customer_id = {customer:String})
  AND ({agent:String} = '' OR agent_id = {agent:String})
  AND ({category:String} = '' OR category = {category:String})
GROUP BY series, window_start
ORDER BY series, window_start
