-- An LLM call's audio and image tokens, as the event counts them: parts of
-- input_tokens, cached_input_tokens and output_tokens, priced at their own
-- rates (see schemas/events.py LlmCall). Kept so a bill shows what they cost
-- and a reprice prices them again at audio and image rates, not as text.
-- Zero for other kinds and for rows written before this migration.
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS input_audio_tokens UInt64 DEFAULT 0;
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS cached_audio_input_tokens UInt64 DEFAULT 0;
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS output_audio_tokens UInt64 DEFAULT 0;
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS input_image_tokens UInt64 DEFAULT 0;
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS cached_image_input_tokens UInt64 DEFAULT 0;
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS output_image_tokens UInt64 DEFAULT 0;
