-- Two ledger columns kept in fewer bytes (issue #12: ledger bytes per row),
-- chosen on the generated ledger (python -m bench.ledger_bytes; figures in
-- bench/RESULTS.md, session 8). Nothing that reads the ledger changes: the
-- values are the same, only how they are stored.
--
-- user_id: a customer's end users recur from event to event, so a dictionary
-- of them and a small index a row beat the string compressed each time
-- (1.97 -> 1.00 bytes a row). The sink's Native writer writes
-- LowCardinality(String) as it does for agent_id
-- (streams/sinks/table_columns.py, LEDGER_TYPES), and meter_days' unique
-- count of users is unchanged: ClickHouse keys the state by the String
-- inside, AggregateFunction(uniqExactIf, String, UInt8), as before.
--
-- ingested_at: one time a batch, steps of a few ms within a customer: Delta
-- then T64 crops the steps' unused high bytes before ZSTD (3.25 -> 2.79).
--
-- The type change is a mutation: each part's user_id is rewritten on its
-- own and swapped in whole, so a reader sees a part either as it was or as
-- it is now, never half of it, and rows written meanwhile land with the new
-- type. mutations_sync = 2 makes the migration wait until every part is
-- done (about a minute per 100M rows); run again after a failure, the
-- statement finds the type in place and does nothing. A codec applies to
-- parts written or merged from now on.
ALTER TABLE ledger MODIFY COLUMN user_id LowCardinality(String) DEFAULT '' CODEC(ZSTD(1))
SETTINGS mutations_sync = 2;
ALTER TABLE ledger MODIFY COLUMN ingested_at DateTime64(3, 'UTC') CODEC(Delta, T64, ZSTD(1))
