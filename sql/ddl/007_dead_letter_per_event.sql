-- One dead-letter row per rejected event: a message carrying an array of
-- events can hold several bad ones, and keyed by offset alone they collapsed
-- into one row. A new sorting-key column must be added in the same ALTER.
ALTER TABLE dead_letters
    ADD COLUMN IF NOT EXISTS source_index UInt32 AFTER source_offset,
    MODIFY ORDER BY (source_topic, source_partition, source_offset, source_index);
