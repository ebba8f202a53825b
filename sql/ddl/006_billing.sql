-- Billing data: meters, plan versions, customers, subscriptions, credits,
-- and finalized invoices. All of it is loaded from files (`costline plans
-- load`) or written by `costline invoice --finalize`; nothing is updated in
-- place. Meters and plan versions are kept as their JSON body so a new
-- charge kind needs no migration.
CREATE TABLE IF NOT EXISTS meters
(
    name      String,
    body      String,
    loaded_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY name;

-- A plan version is immutable once loaded: the loader refuses a changed body.
CREATE TABLE IF NOT EXISTS plans
(
    plan      String,
    version   String,
    body      String,
    loaded_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (plan, version);

CREATE TABLE IF NOT EXISTS customers
(
    customer_id        String,
    name               String,
    stripe_customer_id String,
    loaded_at          DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY customer_id;

-- From starts_on the customer is on (plan, version) until its next row.
CREATE TABLE IF NOT EXISTS subscriptions
(
    customer_id String,
    starts_on   Date,
    plan        String,
    version     String,
    seats       Decimal(38, 12),
    loaded_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (customer_id, starts_on);

CREATE TABLE IF NOT EXISTS credit_grants
(
    customer_id String,
    grant_id    String,
    amount      Decimal(38, 12),
    granted_on  Date,
    loaded_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (customer_id, grant_id);

-- One row per finalized invoice; (customer_id, period) is unique.
CREATE TABLE IF NOT EXISTS invoices
(
    invoice_id      String,
    customer_id     String,
    period          String,
    currency        LowCardinality(String),
    subtotal        Decimal(38, 12),
    credits_applied Decimal(38, 12),
    total           Decimal(38, 12),
    rounding        String,
    finalized_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (customer_id, period);

-- charge_key names what a line bills (a meter's usage under one plan
-- segment, a fee, ...) so late usage can be compared with what was billed.
-- adjusts_period is set on adjustment lines: the earlier period they correct.
CREATE TABLE IF NOT EXISTS invoice_lines
(
    invoice_id     String,
    customer_id    String,
    period         String,
    line_no        UInt16,
    charge_key     String,
    kind           LowCardinality(String),
    description    String,
    meter          String,
    quantity       Decimal(38, 12),
    included       Decimal(38, 12),
    billable       Decimal(38, 12),
    unit_price     Nullable(Decimal(38, 12)),
    detail         String,
    exact          Decimal(38, 12),
    amount         Decimal(38, 12),
    adjusts_period String
)
ENGINE = ReplacingMergeTree
ORDER BY (customer_id, period, line_no);
