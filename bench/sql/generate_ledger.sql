-- Rows [first, first + count) of a synthetic ledger of {rows} events over
-- three months (Sep-Nov 2026), run in chunks so no statement runs for long:
-- 1,000 customers skewed towards low ids (a cube of a uniform), 50 agents,
-- the usual kind mix, costs up to $0.1 per event.
INSERT INTO ledger (event_id, occurred_at, customer_id, agent_id, kind, provider, sku, unit,
                    quantity, input_tokens, output_tokens, cost, currency, price_version,
                    source_partition, source_offset, ingested_at)
SELECT
    toString(generateUUIDv4(number)),
    -- spread evenly over 90 days (7,776,000 s); seconds keep the product in UInt64
    toDateTime64('2026-09-01 00:00:00', 6, 'UTC')
        + toIntervalSecond(intDiv(number * 7776000, {rows:UInt64})),
    concat('cust-', leftPad(toString(toUInt32(pow(randCanonical(), 3) * 1000)), 4, '0')),
    concat('agent-', toString(rand(1) % 50)),
    ['llm', 'llm', 'llm', 'tool', 'embedding', 'vector_query', 'outcome', 'compute'][rand(2) % 8 + 1],
    'openai',
    ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4'][rand(3) % 3 + 1],
    'tokens',
    toDecimal128(rand(4) % 20000, 12),
    rand(5) % 18000,
    rand(6) % 2000,
    toDecimal128(rand(7) % 100000, 12) / 1000000,
    'USD',
    '2024-10-01-list',
    number % 8,
    number,
    now64(3)
FROM numbers({first:UInt64}, {count:UInt64})
