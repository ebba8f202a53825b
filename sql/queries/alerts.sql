-- Alerts, each once (FINAL keeps one row per deterministic alert id), newest first.
SELECT payload
FROM alerts FINAL
WHERE ({customer:String} = '' OR customer_id = {customer:String})
  AND emitted_at >= {since:DateTime64(3, 'UTC')}
ORDER BY occurred_at DESC, alert_id
LIMIT {limit:UInt32}
