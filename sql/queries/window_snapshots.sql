-- The newest snapshot of the given windows, for late events whose window
-- has left worker state.
SELECT
    customer_id, agent_id, category, window_size, toUnixTimestamp(window_start),
    cost, events, quantity, input_tokens, cached_input_tokens, cache_write_tokens,
    output_tokens, reasoning_tokens, outcome_value, failed_outcomes, version, source_partition
FROM cost_windows FINAL
WHERE (customer_id, agent_id, category, window_size, window_start)
      IN {keys:Array(Tuple(String, String, String, UInt32, DateTime('UTC')))}
