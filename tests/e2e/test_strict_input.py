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
from typing import Any

import orjson
import pytest

from costline.config import Settings
from costline.dev.harness import Pipeline
from schemas.events import usage_event_adapter
from schemas.prices import load_price_dir
from streams.pricing import PriceCatalog

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def pipeline(services: Settings) -> Iterator[Pipeline]:
    p = Pipeline.create(services, "strict-input", event_max_age_s=35 * 86400, event_max_future_s=300)
    p.load_prices()
    p.start_worker()
    yield p
    p.close()


def sms(event_id: str, at: datetime = NOW - timedelta(hours=1), **fields: Any) -> dict[str, Any]:
    """acme's support bot sends text messages: $0.008 a call."""
    return {
        "kind": "tool",
        "event_id": event_id,
        "occurred_at": at.isoformat(),
        "customer_id": "acme",
        "agent_id": "support-bot",
        "tool": "twilio-sms",
        "calls": 1,
        **fields,
    }


def llm(event_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "kind": "llm",
        "event_id": event_id,
        "occurred_at": (NOW - timedelta(hours=1)).isoformat(),
        "customer_id": "acme",
        "agent_id": "support-bot",
        "provider": "openai",
        "model": "gpt-4o",
        "input_tokens": 1000,
        "output_tokens": 100,
        **fields,
    }


def test_hostile_messages_are_dead_letters_and_the_good_ones_are_counted_exactly(
    pipeline: Pipeline,
) -> None:
    good = [sms(f"good-{i}", calls=i + 1) for i in range(20)]
    good.append(sms("34-days-old", at=NOW - timedelta(days=34)))  # inside both bounds
    good.append(sms("a-minute-ahead", at=NOW + timedelta(minutes=1)))
    array = [sms(f"array-{i}") for i in range(8)]
    array[1]["calls"] = True
    array[4]["calls"] = "2"
    array[6]["attributes"] = {"team\x00": "billing"}
    good += [e for i, e in enumerate(array) if i not in (1, 4, 6)]

    def raw(event: dict[str, Any]) -> bytes:
        return orjson.dumps(event)

    repeated = raw(llm("dup-top")).replace(b'"output_tokens":100', b'"output_tokens":100,"input_tokens":1')
    in_attributes = raw(llm("dup-attr", attributes={"team": "a"})).replace(
        b'{"team":"a"}', b'{"team":"a","team":"b"}'
    )
    hostile: list[tuple[bytes, str]] = [
        (repeated, "malformed_json"),
        (in_attributes, "malformed_json"),
        (raw(llm("flag-tokens", input_tokens=True)), "invalid_event"),
        (raw(llm("string-tokens", input_tokens="1000")), "invalid_event"),
        (raw(llm("float-tokens")).replace(b'"input_tokens":1000', b'"input_tokens":1e3'), "invalid_event"),
        # 5 MB cannot pass the broker (1 MiB a message); 600 KB is 600 times the limit
        (raw(llm("big-attr", attributes={"notes": "x" * 600_000})), "invalid_event"),
        (raw(llm("many-keys", attributes={f"k\x07{i}": "v" for i in range(2000)})), "invalid_event"),
        (b"[]", "empty_message"),
        (raw(sms("year-9999", at=datetime(9999, 12, 31, tzinfo=UTC))), "invalid_event"),
        (raw(sms("40-days-old", at=NOW - timedelta(days=40))), "out_of_bounds"),
        (raw(sms("an-hour-ahead", at=NOW + timedelta(hours=1))), "out_of_bounds"),
        (raw(array), "invalid_event"),  # three times, one letter per bad event
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
