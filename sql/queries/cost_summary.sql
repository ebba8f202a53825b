-- Every customer's cost per agent and category over [from, to).
SELECT
    customer_id,
    agent_id,
    kind          AS category,
    sum(cost)     AS cost,
    countIf(corrects = '') AS events,
    sum(quantity) AS quantity,
    any(unit)     AS unit
FROM ledger FINAL
WHERE occurred_at >= {from:DateTime64(6, 'UTC')}
  AND occurred_at <  {to:DateTime64(6, 'UTC')}
GROUP BY customer_id, agent_id, category
ORDER BY customer_id, agent_id, category
