"""Hostile messages among good ones, through the real broker: the good are counted exactly,
each bad one is a dead letter with its code, and nothing stalls.

The worker runs with live bounds (35 days back, 5 minutes ahead), measured
from each message's broker timestamp, so events here are placed relative to
now, with a day's margin on either side of a bound.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from costline.config import Settings
from costline.dev.harness import Pipeline
from schemas.events import usage_event_adapter
from schemas.prices import load_price_dir
from streams.pricing import PriceCatalog
from tests.factories import encoded, usage

NOW = datetime.now(UTC).replace(microsecond=0)
# Events are acme's support bot by default: a text message ($0.008 a call) or a GPT-4o call.
AN_HOUR_AGO = NOW - timedelta(hours=1)


@pytest.fixture(scope="module")
def pipeline(services: Settings) -> Iterator[Pipeline]:
    p = Pipeline.create(services, "strict-input", event_max_age_s=35 * 86400, event_max_future_s=300)
    p.load_prices()
    p.start_worker()
    yield p
    p.close()


def test_hostile_messages_are_dead_letters_and_the_good_ones_are_counted_exactly(
    pipeline: Pipeline,
) -> None:
    good = [usage(f"good-{i}", at=AN_HOUR_AGO, calls=i + 1) for i in range(20)]
    good.append(usage("34-days-old", at=NOW - timedelta(days=34)))  # inside both bounds
    good.append(usage("a-minute-ahead", at=NOW + timedelta(minutes=1)))
    array = [usage(f"array-{i}", at=AN_HOUR_AGO) for i in range(8)]
    array[1]["calls"] = True
    array[4]["calls"] = "2"
    array[6]["attributes"] = {"team\x00": "billing"}
    good += [e for i, e in enumerate(array) if i not in (1, 4, 6)]

    repeated = encoded("dup-top", "llm", at=AN_HOUR_AGO).replace(
        b'"output_tokens":100', b'"output_tokens":100,"input_tokens":1'
    )
    in_attributes = encoded("dup-attr", "llm", at=AN_HOUR_AGO, attributes={"team": "a"}).replace(
        b'{"team":"a"}', b'{"team":"a","team":"b"}'
    )
    hostile: list[tuple[bytes, str]] = [
        (repeated, "malformed_json"),
        (in_attributes, "malformed_json"),
        (encoded("flag-tokens", "llm", at=AN_HOUR_AGO, input_tokens=True), "invalid_event"),
        (encoded("string-tokens", "llm", at=AN_HOUR_AGO, input_tokens="1000"), "invalid_event"),
        (
            encoded("float-tokens", "llm", at=AN_HOUR_AGO).replace(
                b'"input_tokens":1000', b'"input_tokens":1e3'
            ),
            "invalid_event",
        ),
        # 5 MB cannot pass the broker (1 MiB a message); 600 KB is 600 times the limit
        (encoded("big-attr", "llm", at=AN_HOUR_AGO, attributes={"notes": "x" * 600_000}), "invalid_event"),
        (
            encoded("many-keys", "llm", at=AN_HOUR_AGO, attributes={f"k\x07{i}": "v" for i in range(2000)}),
            "invalid_event",
        ),
        (b"[]", "empty_message"),
        (encoded("year-9999", at=datetime(9999, 12, 31, tzinfo=UTC)), "invalid_event"),
        (encoded("40-days-old", at=NOW - timedelta(days=40)), "out_of_bounds"),
        (encoded("an-hour-ahead", at=NOW + timedelta(hours=1)), "out_of_bounds"),
        (orjson.dumps(array), "invalid_event"),  # three times, one letter per bad event
    ]
    events = [usage_event_adapter.validate_python(e) for e in good]
    # Hostile messages between good ones, on the customer's own partition.
    pipeline.publish(events[:10], raw=[(b"acme", value) for value, _ in hostile[:6]])
    pipeline.publish(events[10:22], raw=[(b"acme", value) for value, _ in hostile[6:]])
    pipeline.publish(events[22:])

    pipeline.wait_until_counted(len(good))
    expected_cost = PriceCatalog(load_price_dir(pipeline.settings.prices_dir)).totals(events)["acme"]
    assert pipeline.scalar("SELECT sum(cost) FROM ledger FINAL") == expected_cost
    assert pipeline.scalar("SELECT sum(quantity) FROM ledger FINAL") == Decimal(sum(e["calls"] for e in good))
    assert pipeline.windows_match_ledger()

    expected = Counter(code for _, code in hostile) + Counter({"invalid_event": 2})
    letters = pipeline.dead_letters(count=sum(expected.values()))
    assert Counter(str(letter.code) for letter in letters) == expected
    by_event = {_event_id(letter.value): letter for letter in letters}
    assert {"array-1", "array-4", "array-6"} <= set(by_event)  # each bad event its own letter
    assert "must be a JSON integer, not true" in by_event["array-1"].reason
    assert "COSTLINE_EVENT_MAX_AGE_S=3024000" in by_event["40-days-old"].reason
    assert "COSTLINE_EVENT_MAX_FUTURE_S=300" in by_event["an-hour-ahead"].reason
    assert 'duplicate key "input_tokens"' in by_event["dup-top"].reason
    assert "MAX_ATTRIBUTE_VALUE_CHARS" in by_event["big-attr"].reason
    assert "at most 64 attributes" in by_event["many-keys"].reason
    assert all(len(letter.reason) < 1000 for letter in letters)


def _event_id(value: bytes | None) -> str:
    """The event_id a dead letter's payload names, if it names one (leniently: it was refused)."""
    text = (value or b"").decode(errors="replace")
    marker = '"event_id":"'
    start = text.find(marker)
    return text[start + len(marker) : text.find('"', start + len(marker))] if start >= 0 else text[:20]
