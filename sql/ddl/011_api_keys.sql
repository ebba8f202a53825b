-- API keys for `costline api` (costline/api/key_store.py). Only the SHA-256
-- of a key's secret is kept: a key is 32 random bytes, so a plain hash is
-- as hard to reverse as the key is to guess, and a lookup costs one hash.
--
-- A key is never updated in place: revoking it inserts its row again with
-- revoked_at set and a higher version, and readers take the newest (FINAL).
-- customer_id '' means the key may act for every customer.
CREATE TABLE IF NOT EXISTS api_keys
(
    key_id        String,
    secret_sha256 FixedString(32),
    name          String,
    scopes        Array(LowCardinality(String)),
    customer_id   String,
    created_at    DateTime64(3, 'UTC'),
    revoked_at    Nullable(DateTime64(3, 'UTC')),
    version       UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY key_id;
