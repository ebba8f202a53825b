"""The detectors fold a batch key by key to exactly what one event at a time gives.

Each key's events are read as a stretch of columns gathered once per batch
(:mod:`streams.key_runs`); an hour's contributors too where none of the key's
events between them was left out (late for the hour), else one by one; an
agent's tool calls (no tokens) are left out of its token drift.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise, repeat

import numpy as np
import pytest

from schemas.alerts import AlertRule
from streams.aggregation import Counted
from streams.anomalies import HourlySpikeSettings, RequestCostSettings, TokenDriftSettings
from streams.anomaly_rules import AnomalyRules, AnomalySettings, BatchEvents, _Gathered, _ordered
from streams.spend_rules import BudgetBook, LimitSettings, SpendRules, budget_rules
from streams.spend_state import anomaly_key, anomaly_keys, anomaly_owners
from tests.unit.streams.test_spend_rules import NOW, Records, run, spend

START = datetime(2026, 11, 2, tzinfo=UTC)


def watching() -> SpendRules:
    return SpendRules(
        BudgetBook(),
        budget_rules(Decimal(20), Decimal(10), Decimal(20)),
        LimitSettings(request_cost=None, task_tokens=None),
        now=lambda: NOW,
        anomalies=AnomalyRules(
            AnomalySettings(
                request_cost=RequestCostSettings(min_requests=10, min_days=1),
                hourly=HourlySpikeSettings(),
                token_drift=TokenDriftSettings(),
            )
        ),
    )


def traffic(seed: int, n: int) -> list[Counted]:
    """Three agents over two weeks and a day, out of time order here and there, some hours
    runaway, a third of the events tool calls, many tasks."""
    rng = random.Random(seed)
    events: list[Counted] = []
    for i in range(n):
        minute = i * 15 * 24 * 60 // n - (rng.randrange(90) if rng.random() < 0.2 else 0)
        when = START + timedelta(minutes=max(minute, 0), seconds=rng.randrange(60))
        runaway = when.hour == 10 and when.day % 7 == 0
        cost = Decimal(rng.randrange(1, 400 if runaway else 40)).scaleb(-rng.choice([2, 4]))
        events.append(
            spend(i + 1, str(cost), f"{when:%Y-%m-%dT%H:%M:%SZ}",
                  agent=rng.choice(("support-bot", "coder", "triage")),
                  task=f"task-{rng.randrange(60)}" if rng.random() < 0.7 else None,
                  tokens=0 if rng.random() < 0.3 else rng.randrange(100, 3000 if runaway else 600),
                  request=f"r{i}")
        )  # fmt: skip
    return events


@pytest.mark.parametrize("seed", range(3))
def test_a_batch_fires_the_same_alerts_and_leaves_the_same_records_as_its_events_one_by_one(
    seed: int,
) -> None:
    events = traffic(seed, 3000)
    batched, batched_records = watching(), Records()
    alerts = [a for first in range(0, len(events), 500) for a in
              run(batched, batched_records, events[first : first + 500]).alerts]  # fmt: skip
    one_by_one, records = watching(), Records()
    expected = [a for event in events for a in run(one_by_one, records, [event]).alerts]

    assert [a.payload() for a in alerts] == [a.payload() for a in expected]
    assert alerts  # the traffic does fire
    assert batched_records.raw == records.raw


def test_ordered_needs_each_customer_on_one_partition_and_positions_increasing_in_each() -> None:
    """:func:`_ordered`, from lists and from the columns' arrays alike."""
    cases = [
        ([0, 1, 0, 1], [1, 1, 2, 2], ["a", "b", "a", "b"], True),
        ([0, 1, 0, 1], [1, 1, 2, 2], ["a", "b", "b", "a"], False),  # a and b on both partitions
        ([0, 1, 1, 0], [1, 1, 2, 2], ["a", "b", "b", "a"], True),
        ([0, 1, 0, 1], [2, 1, 1, 2], ["a", "b", "a", "b"], False),  # partition 0's positions fall
        ([3, 3, 3], [5, 6, 7], ["a", "b", "a"], True),  # one partition: customers need no check
        ([3, 3, 3], [5, 7, 7], ["a", "b", "a"], False),
    ]
    for partitions, positions, customers, expected in cases:
        arrays = (np.array(partitions, np.int64), np.array(positions, np.int64))
        assert _ordered(partitions, positions, customers) is expected
        assert _ordered(partitions, positions, customers, arrays) is expected


def test_a_batch_s_detector_keys_are_each_one_s_anomaly_key() -> None:
    """:func:`anomaly_keys` (a batch's keys of a kind, each owner encoded once) as :func:`anomaly_key`."""
    owners = [("acme", "support-bot"), ("acme", ""), ("ünï", "c\u00f6der"), ("", "x")]
    for kind in (*AlertRule, "custom"):
        assert anomaly_keys(kind, anomaly_owners(owners)) == [anomaly_key(kind, c, a) for c, a in owners]
    customers = [c for c, _ in owners]  # a customer's own keys: its owners made as the rules make them
    assert anomaly_owners(zip(customers, repeat(""))) == [f"{c}\x1f".encode() for c in customers]


def test_a_batch_s_gathered_columns_are_its_events_columns_in_the_runs_order() -> None:
    """:class:`_Gathered`'s epochs, hours, days and units (lists made at the first read) are the
    events' own, key run after key run; each made once."""
    past_int64 = spend(401, "10000000000", "2026-11-05T10:00:00Z", agent="coder")  # units: from the list
    for events in (BatchEvents(traffic(1, 400)), BatchEvents([*traffic(2, 50), past_int64])):
        assert (events.unit_array() is None) is (len(events.units) == 51)
        for runs in events.key_runs():
            gathered = _Gathered(events, runs)
            order = list(runs.order)
            assert gathered.epochs == [events.epochs[i] for i in order]
            assert gathered.hours == [events.hours[i] for i in order]
            assert gathered.days() == [events.days[i] for i in order]
            assert list(gathered.units) == [events.units[i] for i in order]
            assert gathered.epochs is gathered.epochs and gathered.hours is gathered.hours
            assert gathered.units is gathered.units


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("size", [7, 40])
def test_short_batches_whose_keys_are_folded_at_once_give_what_one_by_one_gives_and_replay_to_nothing(
    seed: int, size: int
) -> None:
    """Batches of a few events (each key's run within a day, most keys unable to fire: taken whole by
    their detectors' ``absorb_sums``), some replayed: the alerts and records of one event at a time."""
    events = traffic(seed, 3000)
    batched, batched_records = watching(), Records()
    alerts = []
    for first in range(0, len(events), size):
        batch = events[first : first + size]
        alerts += run(batched, batched_records, batch).alerts
        if first % (size * 5) == 0:  # replayed after a crash: nothing fires again, nothing changes
            raw = dict(batched_records.raw)
            assert run(batched, batched_records, batch).alerts == []
            assert batched_records.raw == raw
    one_by_one, records = watching(), Records()
    expected = [a for event in events for a in run(one_by_one, records, [event]).alerts]

    assert [a.payload() for a in alerts] == [a.payload() for a in expected]
    assert batched_records.raw == records.raw


def test_ordered_from_the_customers_codes_is_ordered_from_their_names() -> None:
    """:func:`_ordered` handed the window plan's customer codes answers as from the names."""
    rng = random.Random(5)
    for _ in range(300):
        n = rng.randrange(1, 12)
        customers = [rng.choice("abcd") for _ in range(n)]
        home = {c: rng.randrange(3) for c in "abcd"}
        partitions = [home[c] if rng.random() < 0.9 else rng.randrange(3) for c in customers]
        positions = [i if rng.random() < 0.9 else rng.randrange(n) for i in range(n)]
        numbered: dict[str, int] = {}
        codes = np.array([numbered.setdefault(c, len(numbered)) for c in customers], np.int64)
        arrays = (np.array(partitions, np.int64), np.array(positions, np.int64))
        expected = _ordered(partitions, positions, customers)
        assert _ordered(partitions, positions, customers, arrays, codes) is expected


def test_ordered_answers_as_checking_each_customer_and_partition_in_turn() -> None:
    """:func:`_ordered` (one sort by partition, a partition written a customer) against the plain rule."""
    rng = random.Random(18)
    for _ in range(500):
        n = rng.randrange(0, 30)
        customers = [rng.choice("abcdef") for _ in range(n)]
        home = {c: rng.randrange(4) for c in "abcdef"}
        partitions = [home[c] if rng.random() < 0.95 else rng.randrange(4) for c in customers]
        positions = [3 * i if rng.random() < 0.95 else rng.randrange(3 * n) for i in range(n)]
        one_each = all(len({p for c2, p in zip(customers, partitions, strict=True) if c2 == c}) == 1
                       for c in set(customers))  # fmt: skip
        by_partition: dict[int, list[int]] = {}
        for p, q in zip(partitions, positions, strict=True):
            by_partition.setdefault(p, []).append(q)
        rising = all(a < b for mine in by_partition.values() for a, b in pairwise(mine))
        expected = one_each and rising
        numbered: dict[str, int] = {}
        codes = np.array([numbered.setdefault(c, len(numbered)) for c in customers], np.int64)
        arrays = (np.array(partitions, np.int64), np.array(positions, np.int64))
        assert _ordered(partitions, positions, customers) is expected
        assert _ordered(partitions, positions, customers, arrays, codes) is expected
