-- An event's place within its Kafka message (messages may carry an array of
-- events). (source_offset, source_index) orders a partition's events.
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS source_index UInt16 DEFAULT 0 AFTER source_offset;
