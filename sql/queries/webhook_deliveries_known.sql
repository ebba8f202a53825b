-- Which of these alerts already have a delivery queued (a re-read of the topic queues nothing twice).
SELECT DISTINCT alert_id
FROM webhook_deliveries
WHERE alert_id IN {alert_ids:Array(String)}
