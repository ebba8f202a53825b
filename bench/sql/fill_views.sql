-- What the views on ledger (sql/ddl/016_meter_days.sql) would have written
-- for the generated ledger's month {month} (YYYYMM), in one statement each:
-- the same sums and unique-count states as their per-block rows add up to,
-- and one range of positions per customer, day and partition (each position
-- is written once, so no two ranges overlap and billing trusts meter_days).
INSERT INTO meter_days
SELECT
    customer_id, toDate(occurred_at) AS day, kind, provider, sku, outcome_type, success,
    countIf(corrects = ''), sum(cost), sum(quantity), sum(ifNull(outcome_value, toDecimal128(0, 12))),
    sum(input_tokens), sum(cached_input_tokens), sum(cache_write_tokens), sum(output_tokens),
    sum(reasoning_tokens),
    uniqExactIfState(user_id, user_id != ''),
    uniqExactIfState(task_id, task_id != ''),
    uniqExactIfState(toString(agent_id), agent_id != '')
FROM ledger
WHERE toYYYYMM(occurred_at) = {month:UInt32}
GROUP BY customer_id, day, kind, provider, sku, outcome_type, success;

INSERT INTO ledger_inserts
SELECT
    customer_id, toDate(occurred_at) AS day, source_partition,
    min(toUInt128(source_offset) * 65536 + source_index),
    max(toUInt128(source_offset) * 65536 + source_index),
    count()
FROM ledger
WHERE toYYYYMM(occurred_at) = {month:UInt32}
GROUP BY customer_id, day, source_partition
