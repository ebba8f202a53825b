-- An LLM call's model as the agent sent it ("gpt-4o-2024-08-06",
-- "openai/gpt-4o"), next to the SKU it was priced by (sku, e.g.
-- "openai/gpt-4o"), so a bill can be traced back to what was sent.
-- Empty for other kinds and for rows written before this migration.
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS model_sent LowCardinality(String) DEFAULT '' AFTER sku;
