-- Applied reprice runs, newest first.
SELECT run_id, created_at, created_by, reason, from_time, to_time, customer, model,
       corrections, old_cost, new_cost, delta
FROM reprice_runs FINAL
ORDER BY created_at DESC, run_id
