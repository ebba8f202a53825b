-- One customer's usage and cost for one period, per agent and category:
-- the benchmark's stand-in for an invoice's read of the ledger (billing
-- reads it with sql/queries/meter_usage.sql). ORDER BY (customer_id,
-- occurred_at, ...) makes this a range read of the customer's granules in
-- one monthly partition.
SELECT
    agent_id,
    kind          AS category,
    count()       AS events,
    sum(quantity) AS quantity,
    sum(cost)     AS cost
FROM ledger FINAL
WHERE customer_id = {customer:String}
  AND occurred_at >= {from:DateTime64(6, 'UTC')}
  AND occurred_at <  {to:DateTime64(6, 'UTC')}
GROUP BY agent_id, category
ORDER BY agent_id, category
