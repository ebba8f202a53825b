-- One customer's cost over [from, to), per agent, category and hour.
-- The CLI rolls these rows up to the grouping asked for.
SELECT
    agent_id,
    kind                        AS category,
    toStartOfHour(occurred_at)  AS window_start,
    sum(cost)                   AS cost,
    countIf(corrects = '')      AS events,  -- corrections change cost, not counts
    sum(quantity)               AS quantity,
    any(unit)                   AS unit
FROM ledger FINAL
WHERE customer_id = {customer:String}
  AND occurred_at >= {from:DateTime64(6, 'UTC')}
  AND occurred_at <  {to:DateTime64(6, 'UTC')}
GROUP BY agent_id, category, window_start
ORDER BY agent_id, category, window_start
