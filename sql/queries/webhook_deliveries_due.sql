-- Deliveries whose next attempt is due, oldest first (costline/webhooks/deliveries.py).
SELECT endpoint_id, alert_id, body, status, attempts, last_error, queued_at, next_attempt_at
FROM webhook_deliveries FINAL
WHERE status = 'pending' AND next_attempt_at <= {now:DateTime64(3, 'UTC')}
ORDER BY next_attempt_at, endpoint_id, alert_id
LIMIT {limit:UInt32}
