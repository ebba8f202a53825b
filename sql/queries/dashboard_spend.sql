-- Spend from the start of the day and of the month up to a moment, from 1-hour rollups
-- (days and months start on an hour, so no window straddles either start).
SELECT
    sumIf(cost, window_start >= {day:DateTime('UTC')})  AS today,
    sum(cost)                                           AS month
FROM cost_windows FINAL
WHERE window_size = 3600
  AND window_start >= {month:DateTime('UTC')}
  AND window_start <  {at:DateTime('UTC')}
  AND (agent_id = '*') = {rollup:Bool}
  AND ({customer:String} = '' OR customer_id = {customer:String})
  AND ({agent:String} = '' OR agent_id = {agent:String})
  AND ({category:String} = '' OR category = {category:String})
