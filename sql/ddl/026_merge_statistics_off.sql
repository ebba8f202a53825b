-- Merges stop building column statistics on the tables the worker writes
-- (issue #12: ClickHouse's CPU per event). ClickHouse 26 computes
-- statistics (auto_statistics_types: basic, uniq_v2) on every column of
-- every part a merge writes: a third of the CPU of merging 800k ledger
-- rows, a fifth of event_ids', and the merges cost as much CPU as the
-- inserts themselves (bench/RESULTS.md, session 21). No query here is
-- planned by them: the billing and dedup reads go by sorting keys,
-- partitions and the ingested_at index, so their plans and results stay as
-- they were. Parts merged before keep the statistics they have. A server
-- before 26.1 does not know the setting and builds no statistics: the
-- migration skips these statements there (costline/migrations.py).
ALTER TABLE ledger MODIFY SETTING materialize_statistics_on_merge = 0;
ALTER TABLE event_ids MODIFY SETTING materialize_statistics_on_merge = 0;
ALTER TABLE meter_days MODIFY SETTING materialize_statistics_on_merge = 0;
ALTER TABLE ledger_inserts MODIFY SETTING materialize_statistics_on_merge = 0;
ALTER TABLE cost_windows MODIFY SETTING materialize_statistics_on_merge = 0
