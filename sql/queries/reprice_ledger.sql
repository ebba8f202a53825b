-- The counted usage a reprice covers: every original row (not a correction)
-- in [from, to), optionally of one customer and one model (as priced or as
-- sent), with the cost it carries today: its own plus every correction made
-- to it since (a correction repeats its original's occurred_at).
SELECT
    u.event_id, u.occurred_at, u.customer_id, u.agent_id, u.user_id, u.task_id, u.request_id,
    u.kind, u.provider, u.sku, u.model_sent, u.service_tier, u.batch, u.quantity,
    u.input_tokens, u.cached_input_tokens, u.cache_write_tokens, u.output_tokens, u.reasoning_tokens,
    u.input_audio_tokens, u.cached_audio_input_tokens, u.output_audio_tokens,
    u.input_image_tokens, u.cached_image_input_tokens, u.output_image_tokens,
    u.attributes, u.cost + ifNull(c.corrected, toDecimal128(0, 12)) AS cost
FROM
(
    -- ALIAS columns, which * leaves out: event_id (015), the price, quantity and cost (025)
    SELECT *, event_id, kind, provider, sku, quantity, cost FROM ledger FINAL
    WHERE occurred_at >= {from:DateTime64(6, 'UTC')}
      AND occurred_at <  {to:DateTime64(6, 'UTC')}
      AND corrects = ''
      AND ({customer:String} = '' OR customer_id = {customer:String})
      AND ({model:String} = '' OR sku = {model:String} OR model_sent = {model:String})
) AS u
LEFT JOIN
(
    SELECT customer_id, corrects, sum(cost) AS corrected
    FROM ledger FINAL
    WHERE occurred_at >= {from:DateTime64(6, 'UTC')}
      AND occurred_at <  {to:DateTime64(6, 'UTC')}
      AND corrects != ''
    GROUP BY customer_id, corrects
) AS c ON c.customer_id = u.customer_id AND c.corrects = u.event_id
ORDER BY u.customer_id, u.occurred_at, u.event_id
SETTINGS join_use_nulls = 1
