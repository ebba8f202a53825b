-- Every price version the catalog has seen, one row per (version, meter, sku).
-- Rates are kept as a Map of rate name to Decimal so a new meter needs no
-- migration.
CREATE TABLE IF NOT EXISTS price_versions
(
    version        String,
    effective_from DateTime64(6, 'UTC'),
    currency       LowCardinality(String),
    meter          LowCardinality(String),
    sku            String,
    rates          Map(String, Decimal(38, 12)),
    description    String,
    loaded_at      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (meter, sku, effective_from, version);
