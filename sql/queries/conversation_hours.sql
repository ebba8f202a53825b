-- Conversations over [from, to) by the UTC hour each started in: how many
-- started that hour, and the direct cost of all their events (whenever in the
-- range those happened). A conversation is a distinct (customer_id, task_id)
-- with a non-empty task_id; it starts at its first event in the range. Only
-- hours in which a conversation started appear, which is what amortizing
-- infrastructure cost per hour over that hour's conversations needs.
SELECT
    hour,
    count()     AS conversations,
    sum(direct) AS direct_cost
FROM
(
    SELECT
        customer_id,
        task_id,
        toStartOfHour(min(occurred_at)) AS hour,
        sum(cost)                       AS direct
    FROM ledger FINAL
    WHERE occurred_at >= {from:DateTime64(6, 'UTC')}
      AND occurred_at <  {to:DateTime64(6, 'UTC')}
      AND task_id != ''
    GROUP BY customer_id, task_id
)
GROUP BY hour
ORDER BY hour
