-- Several meters of one customer over whole UTC days [from_day, to_day), in
-- one read of the daily pre-aggregate (sql/ddl/016_meter_days.sql): what a
-- draft invoice needs of a plan segment, in one round trip instead of one
-- per meter. One row: whether some of the customer's days were inserted
-- twice (then the values are not to be used: meter_days would count the
-- replay twice, and billing/meters.py reads the ledger), then one value per
-- meter. ``values`` is meter_days_total.sql once per meter, its parameters
-- suffixed with the meter's place; ``replayed`` is replayed_customers.sql.
SELECT
    (SELECT count() FROM ($replayed)) > 0 AS replayed,
    $values
FROM meter_days
WHERE customer_id = {customer:String}
  AND day >= {from_day:Date}
  AND day <  {to_day:Date}
