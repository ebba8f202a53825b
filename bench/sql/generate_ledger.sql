-- Rows [first, first + count) of a synthetic ledger of {rows} events over
-- three months (Sep-Nov 2026), run in chunks so no statement runs for long,
-- into {table}: a table shaped as ledger with no view on it (bench/run.py
-- moves its partitions into ledger and fills the views' tables after).
-- Shaped like the workload (bench/workload.py) so its bytes per row mean
-- something: 1,000 customers skewed towards low ids (a cube of a uniform),
-- 50 agents, 200 end users a customer, UUID event ids ({ids} = 'v7':
-- time-ordered, the millisecond of occurred_at then random bits, as
-- costline.event_id.new_event_id makes them; 'v4': random), the kind mix
-- with each kind's own SKUs and units, tokens only on model calls, costs to the pico-dollar, a customer's events on the
-- partition its key hashes to, positions rising with time, ingested
-- 0.1-2 s after they occurred (bench/run.py names the
-- columns a writer gives that time in, ingested_at_sent from migration 023 on,
-- and the price, quantity and cost in, kind_sent ... cost_sent from 025 on).
-- Messages and tasks are each one customer's, as the SDK sends them: a
-- customer's events, in order, 100 to a message (bench.workload.pack; a
-- message's events of another customer are dead-lettered as wrong_key), each
-- message at the position of its last event, when it filled and was sent;
-- a task is 40 of a customer's events in a row (a task runs for one
-- customer). Until session 13 a message and a task took 100 and 40
-- consecutive rows of any customers (bench/RESULTS.md, session 13). Both
-- restart at each chunk, as an SDK flushes what it holds.
INSERT INTO {table:Identifier} (event_id_sent, occurred_at, customer_id, agent_id, user_id, task_id, $kind, $provider,
                    $sku, $unit, input_tokens, cached_input_tokens, output_tokens, $quantity, $cost,
                    currency, $price_version, source_partition, source_offset, source_index,
                    $ingested_column)
SELECT
    event_id, occurred_at, customer_id, agent_id, user_id,
    concat('task-', toString(min(number) OVER (PARTITION BY customer_id, intDiv(nth, 40)))) AS task_id,
    kind, provider, sku, unit, input_tokens, cached_input_tokens, output_tokens, quantity, cost, currency,
    price_version, source_partition,
    max(number) OVER (PARTITION BY customer_id, intDiv(nth, 100)) AS source_offset,
    toUInt16(nth % 100) AS source_index,
    ingested_at
FROM
(
    -- each event's place among its customer's in this chunk, from 0
    SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY number) - 1 AS nth
    FROM
    (
        SELECT
            -- v7: the v4 id's last 21 characters keep its variant and random bits
            if({ids:String} = 'v7',
               concat(substring(leftPad(lower(hex(toUnixTimestamp64Milli(occurred_at))), 12, '0') AS millis, 1, 8),
                      '-', substring(millis, 9, 4), '-7', substring(toString(generateUUIDv4(number)) AS random_id, 16)),
               random_id) AS event_id,
            -- spread evenly over 90 days (7,776,000 s), to the microsecond: whole
            -- seconds, then the remainder's microseconds, so no product leaves UInt64
            toDateTime64('2026-09-01 00:00:00', 6, 'UTC')
                + toIntervalSecond(intDiv(number * 7776000, {rows:UInt64}))
                + toIntervalMicrosecond(intDiv((number * 7776000) % {rows:UInt64} * 1000000, {rows:UInt64}))
                AS occurred_at,
            concat('cust-', leftPad(toString(toUInt32(pow(randCanonical(), 3) * 1000)), 4, '0')) AS customer_id,
            concat('agent-', leftPad(toString(toUInt32(pow(randCanonical(1), 2) * 50)), 2, '0')) AS agent_id,
            concat('user-', toString(rand(9) % 200)) AS user_id,
            ['llm', 'llm', 'llm', 'llm', 'llm', 'tool', 'tool', 'embedding', 'vector_query', 'outcome',
             'compute', 'storage'][rand(2) % 12 + 1] AS kind,
            multiIf(kind = 'llm', ['openai', 'openai', 'anthropic', 'anthropic', 'google'][rand(3) % 5 + 1],
                    kind = 'embedding', 'openai', kind = 'vector_query', 'pinecone', kind = 'tool', 'tools',
                    kind IN ('compute', 'storage'), 'aws', '') AS provider,
            multiIf(kind = 'llm', ['openai/gpt-4o', 'openai/gpt-4o-mini', 'anthropic/claude-sonnet-4',
                                   'anthropic/claude-3-5-haiku', 'google/gemini-1.5-pro'][rand(3) % 5 + 1],
                    kind = 'tool', ['perplexity-search', 'tavily-search', 'stripe-lookup', 'twilio-sms'][rand(4) % 4 + 1],
                    kind = 'embedding', 'openai/text-embedding-3-small', kind = 'vector_query', 'pinecone',
                    kind = 'compute', 'fargate-1vcpu-2gb', kind = 'storage', 's3-standard',
                    'ticket_resolved') AS sku,
            multiIf(kind IN ('llm', 'embedding'), 'tokens', kind = 'tool', 'calls', kind = 'vector_query', 'queries',
                    kind = 'compute', 'seconds', kind = 'storage', 'byte_seconds', 'outcomes') AS unit,
            if(kind = 'llm', 500 + rand(5) % 19500, 0) AS input_tokens,
            if(kind = 'llm', rand(6) % (intDiv(input_tokens, 2) + 1), 0) AS cached_input_tokens,
            if(kind = 'llm', 50 + rand(7) % 1950, 0) AS output_tokens,
            toDecimal128(multiIf(kind = 'llm', input_tokens + output_tokens, kind = 'embedding', 100 + rand(8) % 3900,
                                 1 + rand(8) % 5), 12) AS quantity,
            -- integer pico-dollars: model calls up to ~10 cents, the rest a few cents or less
            toDecimal128(multiIf(kind = 'llm', (input_tokens * 2500 + output_tokens * 10000) * 1000,
                                 kind = 'outcome', 0, (rand(10) % 5000000) * 1000), 12) / 1000000000000 AS cost,
            'USD' AS currency,
            if(kind = 'llm', '2024-10-01-list', '2024-01-01-list') AS price_version,
            toUInt16(cityHash64(customer_id) % 8) AS source_partition,
            toDateTime64(occurred_at, 3, 'UTC') + toIntervalMillisecond(100 + rand(11) % 1900) AS ingested_at,
            number
        FROM numbers({first:UInt64}, {count:UInt64})
    )
)
