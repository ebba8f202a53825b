-- The whole payload of one dead letter, for replaying a letter whose copy
-- on the dead-letter topic was cut to fit the broker's size limit.
SELECT payload
FROM dead_letters FINAL
WHERE source_topic = {topic:String}
  AND source_partition = {partition:UInt16}
  AND source_offset = {offset:UInt64}
  AND source_index = {index:UInt32}
