-- One meter's value in meter_days_totals.sql: ``aggregate`` is sumIf for a
-- sum, count or cost column, uniqExactIfMergeIf for an id state (the days'
-- exact states merged, so an id is counted once over the range). The column
-- is one of meter_days', chosen by billing/meters.py; an empty list matches
-- everything, success < 0 matches both outcomes, as in meter_usage.sql.
toDecimal128(
    $aggregate(
        {column_$i:Identifier},
        (empty({kinds_$i:Array(String)})            OR has({kinds_$i:Array(String)}, kind))
        AND (empty({skus_$i:Array(String)})         OR has({skus_$i:Array(String)}, sku))
        AND (empty({providers_$i:Array(String)})    OR has({providers_$i:Array(String)}, provider))
        AND (empty({outcome_types_$i:Array(String)}) OR has({outcome_types_$i:Array(String)}, outcome_type))
        AND ({success_$i:Int8} < 0 OR toInt8(success) = {success_$i:Int8})
    ),
    12
) AS value_$i
