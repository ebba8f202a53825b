-- The newest snapshot of the given windows, for late events whose window
-- has left worker state. $aggregate_columns is filled in by the sink from
-- streams.aggregation.AGGREGATE_COLUMNS (the window model's fields, in
-- order), so a new counter needs no edit here.
SELECT
    customer_id, agent_id, category, window_size, toUnixTimestamp(window_start),
    $aggregate_columns
FROM cost_windows FINAL
WHERE (customer_id, agent_id, category, window_size, window_start)
      IN {keys:Array(Tuple(String, String, String, UInt32, DateTime('UTC')))}
