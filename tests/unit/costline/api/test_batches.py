"""A request body to per-event results: accepted, duplicate or rejected with a reason."""

from __future__ import annotations

import orjson
import pytest

from costline.api.batches import (
    BatchError,
    Outcome,
    check_events,
    customers_of,
    operator_kinds_in,
    read_batch,
    replayed,
)
from streams.decoding import decode_message
from tests.factories import usage


def test_one_event_or_an_array_is_a_batch() -> None:
    assert len(read_batch(orjson.dumps(usage("sms-1")), 1000)) == 1
    assert len(read_batch(orjson.dumps([usage("sms-1"), usage("sms-2")]), 1000)) == 2


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"event_id": "a", "event_id": "b"}', 400),  # which one is billed? no one can say
        (b"[]", 400),
        (b"not json", 400),
        (orjson.dumps([usage(f"sms-{n}") for n in range(11)]), 413),
    ],
)
def test_a_body_that_is_not_a_batch_is_refused_whole(body: bytes, status: int) -> None:
    with pytest.raises(BatchError) as refused:
        read_batch(body, max_events=10)
    assert refused.value.status == status


def test_each_event_gets_a_result_and_a_repeated_id_is_a_duplicate() -> None:
    checked = check_events(
        [
            usage("sms-1"),
            usage("sms-1"),
            usage("sms-2", calls=True),
            "a string",
            usage("sms-1", customer="globex"),
        ]
    )
    outcomes = [(r.event_id, r.outcome) for r in checked.results]
    assert outcomes == [
        ("sms-1", Outcome.ACCEPTED),
        ("sms-1", Outcome.DUPLICATE),
        ("sms-2", Outcome.REJECTED),
        (None, Outcome.REJECTED),
        ("sms-1", Outcome.ACCEPTED),  # another customer's sms-1 is another event
    ]
    assert "calls" in (checked.results[2].reason or "")
    assert [e.customer_id for e in checked.accepted] == ["acme", "globex"]
    assert checked.counts() == {Outcome.ACCEPTED: 2, Outcome.DUPLICATE: 1, Outcome.REJECTED: 2}


def test_a_replay_turns_what_was_accepted_into_duplicates() -> None:
    first = check_events([usage("sms-1"), usage("sms-2", calls=-1)]).results
    assert [r.outcome for r in replayed(first)] == [Outcome.DUPLICATE, Outcome.REJECTED]


def test_every_customer_named_counts_even_in_an_invalid_event() -> None:
    assert customers_of([usage("sms-1"), {"customer_id": "globex"}, [1], {"customer_id": 7}]) == {
        "acme",
        "globex",
    }


def test_a_correction_is_named_as_operator_only_even_when_invalid() -> None:
    assert operator_kinds_in([usage("sms-1"), {"kind": "correction"}, [1]]) == {"correction"}
    assert operator_kinds_in([usage("sms-1")]) == set()


def test_a_rejected_event_gets_the_reason_its_dead_letter_would_give() -> None:
    item = usage("sms-1", calls=True)
    rejected = check_events([usage("sms-0"), item]).results[1]
    decoded = decode_message(orjson.dumps(item))[0]
    assert decoded.error is not None
    assert rejected.reason == decoded.error[1] == "tool.calls: must be a JSON integer, not true"


def test_a_valid_batch_and_one_with_a_bad_event_judge_the_good_events_alike() -> None:
    good = [usage(f"sms-{n}") for n in range(3)]
    alone = check_events(good)
    mixed = check_events([*good, usage("sms-bad", calls=-1)])
    assert mixed.accepted == alone.accepted
    assert mixed.sent == alone.sent == good  # what goes to Kafka: the events as the client sent them
    assert [r.outcome for r in mixed.results] == [Outcome.ACCEPTED] * 3 + [Outcome.REJECTED]
