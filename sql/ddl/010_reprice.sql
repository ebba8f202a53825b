-- Repricing that corrects the past (costline reprice) and negotiated rates.
--
-- A correction is a ledger row of its own, never an edit: `corrects` holds
-- the event_id of the row it changes ('' on usage rows), `reprice_run` the
-- run that appended it, and its cost is the change. Counting meters and
-- queries count rows where corrects = ''.
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS service_tier LowCardinality(String) DEFAULT '' AFTER batch;
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS corrects String DEFAULT '';
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS reprice_run LowCardinality(String) DEFAULT '';

-- A price version's layer ('list' or 'negotiated') and, for a negotiated
-- one, when it ends. A negotiated discount is a row with meter 'discount',
-- the provider as sku and rates {'discount': fraction}.
ALTER TABLE price_versions ADD COLUMN IF NOT EXISTS layer LowCardinality(String) DEFAULT 'list';
ALTER TABLE price_versions ADD COLUMN IF NOT EXISTS effective_until Nullable(DateTime64(6, 'UTC'));

-- One row per applied reprice run: who ran it, why, over what, and the
-- totals it appended. Dry runs are not recorded.
CREATE TABLE IF NOT EXISTS reprice_runs
(
    run_id      String,
    created_at  DateTime64(3, 'UTC'),
    created_by  String,
    reason      String,
    from_time   DateTime64(6, 'UTC'),
    to_time     DateTime64(6, 'UTC'),
    customer    String,
    model       String,
    corrections UInt64,
    old_cost    Decimal(38, 12),
    new_cost    Decimal(38, 12),
    delta       Decimal(38, 12)
)
ENGINE = ReplacingMergeTree
ORDER BY run_id;
