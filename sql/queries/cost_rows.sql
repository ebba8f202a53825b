-- Costs over [from, to), summed per the grouping asked for, a page at a time.
--
-- Each grouping column reads '' (the window: the epoch) when not grouped by,
-- so rows fold into one group per asked combination; a filter of '' is no
-- filter. The sort key is the four group columns, and a page starts after
-- the {after_*} key (the previous page's last row): keyset, not OFFSET.
SELECT
    if({by_customer:Bool}, toString(customer_id), '')  AS customer,
    if({by_agent:Bool}, toString(agent_id), '')        AS agent,
    if({by_category:Bool}, toString(kind), '')         AS category,
    if({by_window:Bool},
       toStartOfInterval(occurred_at, toIntervalSecond({window_s:UInt32}), 'UTC'),
       toDateTime(0, 'UTC'))                           AS window_start,
    sum(cost)                                          AS cost,
    countIf(corrects = '')                             AS events,  -- corrections change cost, not counts
    sum(quantity)                                      AS quantity,
    if(uniqExact(unit) = 1, any(unit), 'mixed')        AS unit
FROM ledger FINAL
WHERE occurred_at >= {from:DateTime64(6, 'UTC')}
  AND occurred_at <  {to:DateTime64(6, 'UTC')}
  AND ({customer:String} = '' OR customer_id = {customer:String})
  AND ({agent:String} = '' OR agent_id = {agent:String})
  AND ({category:String} = '' OR kind = {category:String})
GROUP BY customer, agent, category, window_start
HAVING (customer, agent, category, window_start)
     > ({after_customer:String}, {after_agent:String}, {after_category:String},
        {after_window:DateTime('UTC')})
    OR NOT {paged:Bool}
ORDER BY customer, agent, category, window_start
LIMIT {limit:UInt64}
