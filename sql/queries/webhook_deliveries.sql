-- Deliveries for `costline webhooks deliveries`, newest first; status '' for all.
SELECT endpoint_id, alert_id, body, status, attempts, last_error, queued_at, next_attempt_at
FROM webhook_deliveries FINAL
WHERE ({status:String} = '' OR status = {status:String})
  AND ({alert_id:String} = '' OR alert_id = {alert_id:String})
ORDER BY queued_at DESC, endpoint_id, alert_id
LIMIT {limit:UInt32}
