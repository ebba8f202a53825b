import time

from bench.counting import Counting
from bench.peers.clickhouse_native import COLUMNS, price_rows
from schemas.prices import load_price_dir


def test_a_rate_counts_only_the_events_counted_inside_its_interval() -> None:
    watch = Counting(target=1000, started=10.0, counted_at_start=100)
    watch.first_at, watch.counted_at_first, watch.done_at = 12.0, 300, 20.0
    assert watch.rate == 900 / 10.0
    assert watch.steady_rate == 700 / 8.0


def test_polling_stops_at_the_target() -> None:
    counts = iter([0, 0, 5, 10])
    watch = Counting(target=10, started=time.perf_counter())
    watch.poll(lambda: next(counts), lambda: None)
    assert watch.counted_at_first == 5


def test_the_native_peer_prices_in_whole_pico_dollars() -> None:
    from costline.config import Settings

    rows = {
        row[0]: dict(zip(COLUMNS, row, strict=True))
        for row in price_rows(load_price_dir(Settings().prices_dir))
    }
    assert rows["gpt-4o"]["input_per_token"] == 2_500_000  # $2.50 per 1M tokens
    assert rows["twilio-sms"]["per_unit"] == 8_000_000_000  # $0.008 a call
