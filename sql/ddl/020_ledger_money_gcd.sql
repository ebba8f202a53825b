-- Money, quantities and Kafka offsets kept in fewer bytes (issue #12: ledger
-- bytes per row), chosen on the generated ledger (python -m bench.ledger_bytes;
-- figures in bench/RESULTS.md, session 9). Only codecs change: every value,
-- type and name is as before, so nothing that writes or reads the ledger does.
--
-- cost, quantity: a Decimal(38, 12) is kept as its integer times 10^12 in 16
-- bytes, and the values a block holds share large factors: whole quantities
-- (tokens, calls, queries) are multiples of 10^12, and prices in pico-dollars
-- end in zeros, so costs are multiples of 10^3 or more. The GCD codec divides
-- each block by its values' greatest common divisor (kept once a block, so
-- it is exact for any value) and ZSTD then packs far smaller integers:
-- quantity 2.89 -> 1.36 bytes a row, cost 4.85 -> 3.73. ZSTD(1) after GCD is
-- as small as ZSTD(3) or within 0.04 bytes of ZSTD(9), for less CPU.
--
-- source_offset: offsets rise within a customer by small steps; T64 crops the
-- steps' unused high bytes before ZSTD, as ingested_at does since 019
-- (0.66 -> 0.60).
--
-- A codec applies to parts written or merged from now on; no part is
-- rewritten now, so this runs at once at any size. A part already merged
-- for good keeps its old codec until OPTIMIZE TABLE ledger FINAL rewrites it
-- (minutes per 100M rows; run it off-hours if the bytes are wanted at once).
ALTER TABLE ledger MODIFY COLUMN cost Decimal(38, 12) CODEC(GCD, ZSTD(1));
ALTER TABLE ledger MODIFY COLUMN quantity Decimal(38, 12) CODEC(GCD, ZSTD(1));
ALTER TABLE ledger MODIFY COLUMN source_offset UInt64 CODEC(Delta, T64, ZSTD(3))
