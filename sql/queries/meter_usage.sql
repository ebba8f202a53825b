-- One meter over [from, to): a value per customer and UTC day, and each
-- customer's value for the whole range (the rows where day IS NULL; a unique
-- count over a month is not the sum of its days). The meter is data, so its
-- filter and aggregation arrive as bound parameters; an empty list matches
-- everything, success < 0 matches both outcomes.
SELECT
    customer_id,
    toDate(occurred_at) AS day,
    multiIf(
        {aggregation:String} = 'count',        toDecimal128(countIf(corrects = ''), 12),
        {aggregation:String} = 'cost',         sum(cost),
        {aggregation:String} = 'unique_count', toDecimal128(uniqExactIf(ident, ident != ''), 12),
        sum(number)
    ) AS value
FROM
(
    SELECT
        customer_id,
        occurred_at,
        cost,
        corrects,  -- a correction's row changes cost, never a count
        multiIf(
            {field:String} = 'user_id',    user_id,
            {field:String} = 'task_id',    task_id,
            {field:String} = 'agent_id',   toString(agent_id),
            {field:String} = 'request_id', request_id,
            ''
        ) AS ident,
        multiIf(
            {field:String} = 'quantity',            quantity,
            {field:String} = 'outcome_value',       ifNull(outcome_value, toDecimal128(0, 12)),
            {field:String} = 'input_tokens',        toDecimal128(input_tokens, 12),
            {field:String} = 'cached_input_tokens', toDecimal128(cached_input_tokens, 12),
            {field:String} = 'cache_write_tokens',  toDecimal128(cache_write_tokens, 12),
            {field:String} = 'output_tokens',       toDecimal128(output_tokens, 12),
            {field:String} = 'reasoning_tokens',    toDecimal128(reasoning_tokens, 12),
            toDecimal128(0, 12)
        ) AS number
    FROM ledger FINAL
    WHERE occurred_at >= {from:DateTime64(6, 'UTC')}
      AND occurred_at <  {to:DateTime64(6, 'UTC')}
      AND (empty({customers:Array(String)})     OR has({customers:Array(String)}, customer_id))
      AND (empty({kinds:Array(String)})         OR has({kinds:Array(String)}, kind))
      AND (empty({skus:Array(String)})          OR has({skus:Array(String)}, sku))
      AND (empty({providers:Array(String)})     OR has({providers:Array(String)}, provider))
      AND (empty({outcome_types:Array(String)}) OR has({outcome_types:Array(String)}, outcome_type))
      AND ({success:Int8} < 0 OR toInt8(success) = {success:Int8})
      AND arrayAll(
            (k, v) -> attributes[k] = v,
            mapKeys({attributes:Map(String, String)}),
            mapValues({attributes:Map(String, String)})
          )
)
GROUP BY customer_id, day WITH ROLLUP
HAVING customer_id IS NOT NULL
ORDER BY customer_id, day NULLS LAST
SETTINGS group_by_use_nulls = 1
