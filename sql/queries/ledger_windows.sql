-- The same windows computed from the ledger, to check the aggregates against.
SELECT
    customer_id,
    agent_id,
    category,
    window_start,
    cost,
    events,
    quantity
FROM
(
    SELECT customer_id, agent_id, kind AS category,
           toDateTime(toStartOfInterval(occurred_at, toIntervalSecond({size:UInt32})), 'UTC') AS window_start,
           sum(cost) AS cost, countIf(corrects = '') AS events, sum(quantity) AS quantity
    FROM ledger FINAL
    GROUP BY customer_id, agent_id, category, window_start
    UNION ALL
    SELECT customer_id, '*' AS agent_id, kind AS category,
           toDateTime(toStartOfInterval(occurred_at, toIntervalSecond({size:UInt32})), 'UTC') AS window_start,
           sum(cost) AS cost, countIf(corrects = '') AS events, sum(quantity) AS quantity
    FROM ledger FINAL
    GROUP BY customer_id, category, window_start
)
ORDER BY customer_id, agent_id, category, window_start
