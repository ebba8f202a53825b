-- The ClickHouse-native peer: ClickHouse's Kafka engine reads the usage
-- topic with a consumer group of its own, materialized views price each
-- event by an ASOF JOIN on integer pico-dollar price versions and fold it
-- into hourly windows in a SummingMergeTree. {broker}, {topic} and {group}
-- are filled in by bench/peers/clickhouse_native.py.
CREATE FUNCTION IF NOT EXISTS peer_div_half_even AS (n, d) ->
    intDiv(n, d) + if(2 * (n % d) > d OR (2 * (n % d) = d AND intDiv(n, d) % 2 = 1), 1, 0);

CREATE TABLE peer_prices
(
    sku               String,
    effective_from    DateTime64(6, 'UTC'),
    input_per_token   Int64,   -- pico-dollars a token
    cached_per_token  Int64,
    output_per_token  Int64,
    per_token         Int64,
    per_unit          Int64,   -- a call, a query, a minute
    per_hour          Int64,
    per_gb_month      Int64
)
ENGINE = MergeTree
ORDER BY (sku, effective_from);

CREATE TABLE peer_ledger
(
    event_id    String,
    occurred_at DateTime64(6, 'UTC'),
    customer_id LowCardinality(String),
    agent_id    LowCardinality(String),
    kind        LowCardinality(String),
    sku         LowCardinality(String),
    cost_pico   Int64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (customer_id, occurred_at, event_id);

CREATE TABLE peer_windows
(
    customer_id  LowCardinality(String),
    window_start DateTime('UTC'),
    events       UInt64,
    cost_pico    Int64
)
ENGINE = SummingMergeTree
ORDER BY (customer_id, window_start);

CREATE MATERIALIZED VIEW peer_windows_mv TO peer_windows AS
SELECT customer_id, toStartOfHour(occurred_at) AS window_start, count() AS events, sum(cost_pico) AS cost_pico
FROM peer_ledger
GROUP BY customer_id, window_start;

CREATE TABLE peer_queue
(
    event_id            String,
    occurred_at         DateTime64(6, 'UTC'),
    customer_id         String,
    agent_id            String,
    kind                String,
    provider            String,
    model               String,
    tool                String,
    sku                 String,
    input_tokens        Int64,
    cached_input_tokens Int64,
    output_tokens       Int64,
    tokens              Int64,
    calls               Int64,
    queries             Int64,
    seconds             Decimal(18, 6),
    minutes             Decimal(18, 6),
    bytes               Int64
)
ENGINE = Kafka
SETTINGS kafka_broker_list = '{broker}', kafka_topic_list = '{topic}', kafka_group_name = '{group}',
         kafka_format = 'JSONEachRow', kafka_num_consumers = 1, kafka_max_block_size = 65536,
         kafka_flush_interval_ms = 500,
         input_format_skip_unknown_fields = 1, date_time_input_format = 'best_effort';

CREATE MATERIALIZED VIEW peer_ledger_mv TO peer_ledger AS
SELECT
    e.event_id, e.occurred_at, e.customer_id, e.agent_id, e.kind, e.price_sku AS sku,
    toInt64(multiIf(
        e.kind = 'llm', (e.input_tokens - e.cached_input_tokens) * p.input_per_token
                        + e.cached_input_tokens * p.cached_per_token + e.output_tokens * p.output_per_token,
        e.kind = 'embedding', e.tokens * p.per_token,
        e.kind = 'tool', e.calls * p.per_unit,
        e.kind = 'vector_query', e.queries * p.per_unit,
        e.kind = 'human_review', peer_div_half_even(toInt128(e.minutes * 1000000) * p.per_unit, 1000000),
        e.kind = 'compute', peer_div_half_even(toInt128(e.seconds * 1000000) * p.per_hour, toInt128(3600000000)),
        e.kind = 'storage', peer_div_half_even(
            toInt128(e.bytes) * toInt128(e.seconds * 1000000) * p.per_gb_month,
            toInt128(1000000000) * 2628000 * 1000000),
        0)) AS cost_pico
FROM
(
    SELECT *, multiIf(kind IN ('llm', 'embedding'), model, kind = 'tool', tool,
                      kind = 'vector_query', provider, sku) AS price_sku
    FROM peer_queue
) AS e
ASOF LEFT JOIN peer_prices AS p ON e.price_sku = p.sku AND e.occurred_at >= p.effective_from
