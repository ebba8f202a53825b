-- Customers with a (day, Kafka partition) in [from_day, to_day) that some
-- ledger rows were inserted into twice: two inserted blocks whose position
-- ranges overlap (ledger_inserts, sql/ddl/016_meter_days.sql). Sorted by
-- first position, any overlap shows between neighbours. meter_days counts
-- such a replay twice, so these customers' meters are read from the ledger.
SELECT DISTINCT customer_id
FROM
(
    SELECT
        customer_id,
        arraySort(groupArray((first_position, last_position))) AS ranges
    FROM ledger_inserts
    WHERE day >= {from_day:Date}
      AND day <  {to_day:Date}
      AND (empty({customers:Array(String)}) OR has({customers:Array(String)}, customer_id))
    GROUP BY customer_id, day, source_partition
    HAVING arrayExists(i -> ranges[i + 1].1 <= ranges[i].2, range(1, length(ranges)))
)
ORDER BY customer_id
