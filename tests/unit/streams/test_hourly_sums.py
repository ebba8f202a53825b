"""The hourly spike detector's sums for all of a batch's keys at once (:mod:`streams.hourly_sums`)
fold to exactly what its events one at a time give: the detector's state, the hour's contributors
(Decimal forms and order included), the alerts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

import numpy as np
import pytest

from schemas.money import ZERO
from streams import anomaly_rules, column_groups, hourly_sums
from streams.aggregation import Counted
from streams.anomalies import HourlySpend, HourlySpikeSettings
from streams.anomalies.picodollars import to_units
from streams.hourly_sums import (
    BatchSpend,
    HourlyRuns,
    KindSums,
    _grouped,
    _grouped_here,
    add_contributor_units,
    coded,
    coded_here,
    contribute_coded,
    contribute_native,
    contribute_units,
    loose_costs,
    loose_costs_here,
    summed,
)
from streams.spend_state import MAX_CONTRIBUTORS, _contribute_each, add_contributor_sums
from tests.unit.streams.test_anomaly_rules_batched import watching
from tests.unit.streams.test_spend_rules import Records, run, spend

START = datetime(2026, 11, 2, tzinfo=UTC)


def test_a_stretch_s_sums_absorb_as_its_events_do() -> None:
    """:meth:`HourlySpend.absorb_sums` against :meth:`HourlySpend.absorb` of the same events (in
    time order, no refund): the same answer and the same state, over weeks of history."""
    rng = random.Random(7)
    settings = HourlySpikeSettings(trailing_s=600)
    by_lists, by_sums = HourlySpend("k", settings), HourlySpend("k", settings)
    clock = int(START.timestamp())
    answers = []
    for _ in range(3000):
        clock += rng.choice((0, 5, 60, 400, 3000, 20_000))
        back = rng.choice((0, 0, 0, 90, 4000, 90_000))  # some stretches late, a few too late
        hour = (clock - back) // 3600
        first = max(hour * 3600, clock - back - rng.randrange(0, 300))
        epochs = sorted(rng.randrange(first, hour * 3600 + 3600) for _ in range(rng.randrange(1, 9)))
        units = [rng.choice((0, 1, 10**9, 3 * 10**11, 5 * 10**12)) for _ in epochs]
        minutes: dict[int, int] = {}
        for epoch, amount in zip(epochs, units, strict=True):
            minutes[epoch // 60] = minutes.get(epoch // 60, 0) + amount
        expected = by_lists.absorb(hour, epochs, units)
        got = by_sums.absorb_sums(
            hour, epochs[0], epochs[-1], sum(units), list(minutes), list(minutes.values())
        )
        answers.append(expected)
        assert got == expected
        if not expected:  # then each event is judged, as the fold does
            for epoch, amount in zip(epochs, units, strict=True):
                assert by_lists.judge(epoch, amount) is by_sums.judge(epoch, amount)
        assert by_sums.to_json() == by_lists.to_json()
    assert any(answers) and not all(answers)


def _one_by_one(costs: dict[str, Decimal], idents: list[str], amounts: list[Decimal]) -> dict[str, Decimal]:
    mine = dict(costs)
    _contribute_each(mine, idents, amounts)
    return mine


@pytest.mark.parametrize("seed", range(40))
def test_contributors_by_their_sums_are_those_added_one_by_one(seed: int) -> None:
    """:func:`add_contributor_sums`, where it answers True, leaves what each event in turn leaves
    (with the evictions past 32, the Decimal forms and the order of arrival); False changes nothing."""
    rng = random.Random(seed)
    kept = rng.choice((0, 5, 31, 32, 32))
    costs = {f"c{i}": Decimal(rng.randrange(1, 10**6)).scaleb(-rng.choice((2, 12))) for i in range(kept)}
    idents = [f"c{rng.randrange(45)}" for _ in range(rng.randrange(1, 60))]
    amounts = [Decimal(rng.choice((0, 1, 7, 10**4, 10**7))).scaleb(rng.choice((-12, -6, 0))) for _ in idents]
    first: dict[str, list[Decimal]] = {}
    for ident, amount in zip(idents, amounts, strict=True):
        first.setdefault(ident, []).append(amount)
    totals = [sum(picked[1:], picked[0]) for picked in first.values()]
    costliest = [max(map(to_units, picked)) for picked in first.values()]
    contributors = {"agent": dict(costs)} if kept or rng.random() < 0.5 else {}
    expected = _one_by_one(contributors.get("agent", {}), idents, amounts)
    before = {kind: dict(c) for kind, c in contributors.items()}
    if add_contributor_sums(contributors, "agent", list(first), totals, costliest):
        assert list(contributors["agent"].items()) == list(expected.items())
        assert list(map(repr, contributors["agent"].values())) == list(map(repr, expected.values()))
        assert len(contributors["agent"]) <= MAX_CONTRIBUTORS
    else:
        assert contributors == before and len(before.get("agent", {})) + len(first) > MAX_CONTRIBUTORS


@pytest.mark.parametrize("seed", range(60))
def test_a_full_kind_summed_in_pico_dollars_is_what_its_decimals_one_by_one_give(seed: int) -> None:
    """:func:`contribute_units` leaves what :func:`_contribute_each` of the events' Decimal costs
    leaves (evictions, ties by name, Decimal forms, order); False changes nothing, and comes only
    where a kept cost is outside exponents -12 to 0, longer than 18 digits or a negative zero."""
    rng = random.Random(seed)
    kept = rng.choice((0, 5, 31, 32, 32, 32))
    costs = {f"c{i}": Decimal(rng.choice((0, 1, 5, rng.randrange(1, 10**6)))).scaleb(-rng.choice((0, 2, 12)))
             for i in range(kept)}  # fmt: skip
    odd = rng.random() < 0.2 and kept
    if odd:  # a kept cost the integers cannot take
        costs[f"c{rng.randrange(kept)}"] = Decimal(rng.choice(("1E-13", "-0", "1E+1", "1" * 19, "5000000")))
    idents: list[str | None] = [rng.choice((f"c{rng.randrange(45)}", f"c{rng.randrange(5)}", None))
                                for _ in range(rng.randrange(1, 80))]  # fmt: skip
    exponents = [rng.choice((-12, -12, -12, -6, 0, 1)) for _ in idents]
    amounts = [Decimal(rng.choice((0, 1, 5, 7, 10**4, rng.randrange(10**7)))).scaleb(e) for e in exponents]
    if rng.random() < 0.5:  # all at 1e-12: given as None
        amounts = [Decimal(to_units(a)).scaleb(-12) for a in amounts]
        exponents = [-12] * len(amounts)
    expected = _one_by_one(costs, idents, amounts)
    mine = dict(costs)
    given = None if set(exponents) == {-12} else exponents
    if contribute_units(mine, idents, [to_units(a) for a in amounts], given):
        assert not odd
        assert list(mine.items()) == list(expected.items())
        assert list(map(repr, mine.values())) == list(map(repr, expected.values()))
    else:
        assert odd and list(mine.items()) == list(costs.items())


@pytest.mark.parametrize("seed", range(120))
def test_a_full_kind_in_array_passes_is_what_its_decimals_one_by_one_give(seed: int) -> None:
    """:func:`contribute_coded` leaves what :func:`_contribute_each` of the events' Decimal costs
    leaves (fill, evictions, newcomers coming back, ties by name, Decimal forms, order, kept ones
    without events here); False changes nothing, and comes only where a kept cost cannot be summed
    in integers or an event is a refund."""
    _full_kind_case(seed, contribute_coded, refunds_decline=True)


@pytest.mark.skipif(not hourly_sums.NATIVE, reason="streams._wire_scan not built (no cargo)")
@pytest.mark.parametrize("seed", range(120))
def test_a_full_kind_in_native_code_is_what_its_decimals_one_by_one_give(seed: int) -> None:
    """:func:`contribute_native` (native/src/hourly.rs) leaves what :func:`_contribute_each` of the
    events' Decimal costs leaves, refunds too; False only where a kept cost cannot be summed in
    integers."""
    _full_kind_case(seed, contribute_native, refunds_decline=False)


def test_the_native_sums_are_switched_off_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTLINE_HOURLY_SUMS", "python")
    assert hourly_sums._native() is None


@pytest.mark.skipif(not hourly_sums.NATIVE, reason="streams._wire_scan not built (no cargo)")
@pytest.mark.parametrize("seed", range(60))
def test_a_kind_s_stretches_grouped_natively_are_what_the_array_passes_give(seed: int) -> None:
    """:func:`_grouped` (one native pass) gives :func:`_grouped_here`'s contributors, their order,
    their sums (Decimal forms too), their costliest events and each stretch's bounds: events without
    a contributor, exponents other than -12 (or none given), one-event stretches and long ones."""
    rng = random.Random(seed)
    n = rng.choice((1, 2, 7, 100, 3000))
    values: list[str | None] = [f"c{i}" for i in range(rng.choice((1, 3, 40, 500)))]
    codes = np.array([rng.choice((rng.randrange(len(values)), 0, -1)) for _ in range(n)], np.int64)
    if rng.random() < 0.2:
        codes[:] = -1
    picked = [rng.choice((0, 1, 7, rng.randrange(10**15), -rng.randrange(10**6))) for _ in range(n)]
    units = np.array(picked, np.int64)
    exponents = (
        None if rng.random() < 0.5 else np.array([rng.choice((-12, -12, -6, 0)) for _ in range(n)], np.int64)
    )
    cuts = sorted(rng.sample(range(1, n), rng.randrange(min(n, 40)))) if n > 1 else []
    seg_starts = np.array([0, *cuts], np.int64)
    begins = np.zeros(n, np.bool_)
    begins[seg_starts] = True
    seg_of = np.cumsum(begins) - 1
    native = _grouped("model", codes, units, exponents, seg_starts, seg_of, values)
    here = _grouped_here("model", codes, units, exponents, seg_of, len(seg_starts), values)
    assert native.names == here.names and native.bounds == here.bounds and native.costliest == here.costliest
    assert list(map(repr, native.totals)) == list(map(repr, here.totals))


def test_the_native_grouping_is_switched_off_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTLINE_HOURLY_SUMS", "python")
    assert hourly_sums._native_groups() is None


def _full_kind_case(seed: int, contribute: Any, refunds_decline: bool) -> None:
    rng = random.Random(seed)
    values: list[str | None] = [f"c{i}" for i in range(rng.choice((3, 40, 60)))]
    if rng.random() < 0.3:
        values.append(None)
    kept = rng.choice((0, 0, 5, 31, 32, 32))
    pool = [*(v for v in values if v), *(f"gone{i}" for i in range(10))]
    costs = {name: Decimal(rng.choice((0, 1, 5, rng.randrange(1, 10**6)))).scaleb(-rng.choice((0, 2, 12)))
             for name in rng.sample(pool, min(kept, len(pool)))}  # fmt: skip
    odd = bool(costs) and rng.random() < 0.15
    if odd:  # a kept cost the integers cannot take
        costs[rng.choice(list(costs))] = Decimal(rng.choice(("1E-13", "-0", "1E+1", "1" * 19, "5000000")))
    n = rng.choice((1, 5, 100, 600))
    codes = [rng.choice((rng.randrange(len(values)), rng.randrange(min(4, len(values))), -1))
             for _ in range(n)]  # fmt: skip
    exponents = [rng.choice((-12, -12, -12, -6, 0, 1)) for _ in codes]
    small = rng.random() < 0.5
    picked = [rng.choice((0, 1, 5, 7, 10**4, rng.randrange(10 if small else 10**7))) for _ in exponents]
    # each below 1e15 pico-dollars
    amounts = [Decimal(k % 10 ** (3 - e)).scaleb(e) for k, e in zip(picked, exponents, strict=True)]
    if rng.random() < 0.5:  # all at 1e-12: given as None
        amounts = [Decimal(to_units(a)).scaleb(-12) for a in amounts]
        exponents = [-12] * n
    refund = rng.random() < 0.1
    if refund:
        amounts[rng.randrange(n)] = Decimal(-5).scaleb(-12)
    idents = [values[c] if c >= 0 else None for c in codes]
    expected = _one_by_one(costs, idents, amounts)
    mine = dict(costs)
    number = {value: code for code, value in enumerate(values)}
    given = None if set(exponents) == {-12} else np.array(exponents, np.int64)
    coded_names = np.array([c if c >= 0 and values[c] else -1 for c in codes], np.int64)
    picos = np.array(list(map(to_units, amounts)), np.int64)
    names = [value or "" for value in values] if contribute is contribute_native else values
    if contribute(mine, coded_names, names, number, picos, given):
        assert not odd and not (refund and refunds_decline)
        assert list(mine.items()) == list(expected.items())
        assert list(map(repr, mine.values())) == list(map(repr, expected.values()))
    else:
        assert (odd or (refund and refunds_decline)) and list(mine.items()) == list(costs.items())


def test_a_contributor_s_sum_is_the_decimal_its_costs_add_to_from_zero() -> None:
    for costs in (["0"], ["0", "0"], ["0", "1.5"], ["0.000000000001", "2"], ["1E+1", "0"], ["3.25", "0.10"]):
        decimals = list(map(Decimal, costs))
        added = sum(decimals, ZERO)
        exponent = min(d.as_tuple().exponent for d in decimals)  # type: ignore[type-var]
        got = summed(sum(map(to_units, decimals)), int(exponent))
        assert repr(got) == repr(added)


def test_a_batch_s_stretches_and_their_contributors() -> None:
    """Two keys' runs laid end to end: each cut where its hour changes, the contributors in the
    order they first come within each stretch, each one's costs summed."""
    hour = 3600 * 490_000
    seconds = np.array([hour + 5, hour + 70, hour + 3599, hour + 3600, hour + 10, hour + 20], np.int64)
    units = [10**12, 2, 3, 4, 5, 0]
    costs = [Decimal(u) * Decimal("1E-12") for u in units[:-1]] + [Decimal(0)]
    agents = ["a", "b", "a", "a", "c", "c"]
    spend = BatchSpend.of(seconds, units, costs, None, [("agent", agents), ("model", coded(["m"] * 6))])
    assert spend is not None
    runs = HourlyRuns(spend, np.arange(6, dtype=np.int64), [0, 4], frozenset())
    assert runs.bounds == [0, 2, 3]  # the first key: two hours; the second: one
    assert runs.seg_starts == [0, 3, 4] and runs.seg_hours == [hour // 3600, hour // 3600 + 1, hour // 3600]
    assert runs.spent == [10**12 + 5, 4, 5] and runs.latest == [hour + 3599, hour + 3600, hour + 20]
    assert runs.minutes == [hour // 60, hour // 60 + 1, hour // 60 + 59, hour // 60 + 60, hour // 60]
    assert runs.minute_sums == [10**12, 2, 3, 4, 5] and runs.minute_bounds == [0, 3, 4, 5]
    agent_sums = runs.kinds[0]
    assert agent_sums.names == ["a", "b", "a", "c"] and agent_sums.bounds == [0, 2, 3, 4]
    assert list(map(repr, agent_sums.totals)) == list(map(repr, [Decimal("1.000000000003"),
        Decimal("2E-12"), Decimal("4E-12"), Decimal("5E-12")]))  # fmt: skip
    assert agent_sums.costliest == [10**12, 2, 4, 5]


def test_a_batch_with_a_cost_finer_than_a_pico_dollar_or_past_int64_is_declined() -> None:
    seconds = np.zeros(2, np.int64)
    fine = [Decimal("1E-13"), Decimal(1)]
    assert BatchSpend.of(seconds, [0, 10**12], fine, None, []) is None
    assert BatchSpend.of(seconds, [0, 2**62], [Decimal(0), Decimal(2**62)], None, []) is None
    assert BatchSpend.of(seconds, [0, 0], [Decimal("-0"), Decimal(0)], None, []) is None
    assert BatchSpend.of(seconds, [0, 0], [Decimal("0"), Decimal(0)], None, []) is not None


def test_the_exponents_of_costs_not_at_a_pico_dollar_are_each_cost_s_own() -> None:
    """One object read once however many rows hold it (an outcome's ``ZERO``), equal costs of other
    forms each their own; the loose events' exponents in their rows, the others' at 1e-12."""
    shared, rng = ZERO, random.Random(3)
    forms = [shared, Decimal("0"), Decimal("0.00"), Decimal("1.5"), Decimal("1.50"), Decimal("2E+3"), shared]
    costs = [rng.choice(forms) for _ in range(300)]
    loose = sorted(rng.sample(range(1000), 300))
    seconds, units = np.zeros(1000, np.int64), [0] * 1000
    spend = BatchSpend.of(seconds, units, costs, loose, [])
    assert spend is not None and spend.exponents is not None
    expected = [-12] * 1000
    for at, cost in zip(loose, costs, strict=True):
        expected[at] = cost.as_tuple().exponent
    assert spend.exponents.tolist() == expected
    for bad in (Decimal("-0"), Decimal("1E-13"), Decimal("Infinity")):
        assert BatchSpend.of(seconds, units, [*costs[:-1], bad], loose, []) is None


def crowd(seed: int, n: int, finer: bool = False) -> list[Counted]:
    """One customer's 47 agents over three days and a half (more than a kind keeps in an hour: 32
    busy, 15 seldom, cheap and late in the hour), costs at 1e-12, 1e-2 and 0, refunds now and
    then, events late, tasks, a few runaway hours."""
    rng = random.Random(seed)
    events: list[Counted] = []
    for i in range(n):
        minute = i * 84 * 60 // n - (rng.randrange(200) if rng.random() < 0.05 else 0)
        when = START + timedelta(minutes=max(minute, 0), seconds=rng.randrange(60))
        cost = rng.choice((f"0.{rng.randrange(1, 99):02d}", f"{rng.randrange(10**3, 10**9)}E-12"))
        if when.hour in (10, 11) and when.day == 5:
            cost = f"{rng.randrange(1, 30)}.5"  # runaway
        if rng.random() < 0.02:
            cost = "-0.25"
        agent = f"busy-{rng.randrange(32)}"
        if when.minute >= 40 and rng.random() < 0.2:
            agent, cost = f"seldom-{rng.randrange(15)}", rng.choice(("0", "3E-12"))
        if finer and i % 35 == 0:  # one in each batch of 70
            cost = "7E-13"  # finer than pricing makes: such a batch folds each key as before
        events.append(spend(i + 1, cost, f"{when:%Y-%m-%dT%H:%M:%SZ}", agent=agent,
                            task=f"t{rng.randrange(50)}" if rng.random() < 0.3 else None,
                            tokens=rng.randrange(0, 500), request=f"r{i}"))  # fmt: skip
    return events


@pytest.mark.parametrize(("seed", "finer"), [(0, False), (1, False), (2, False), (3, True)])
def test_a_crowd_of_agents_folds_by_sums_to_what_its_events_one_by_one_give(
    seed: int, finer: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []
    real = anomaly_rules.add_contributor_units

    def counted(*args: Any) -> bool:
        calls.append(real(*args))
        return calls[-1]

    monkeypatch.setattr(anomaly_rules, "add_contributor_units", counted)
    events = crowd(seed, 8000, finer)
    batched, batched_records = watching(), Records()
    alerts = [a for first in range(0, len(events), 70) for a in
              run(batched, batched_records, events[first : first + 70]).alerts]  # fmt: skip
    summed_or_not = list(calls)
    one_by_one, records = watching(), Records()
    expected = [a for event in events for a in run(one_by_one, records, [event]).alerts]

    assert [a.payload() for a in alerts] == [a.payload() for a in expected]
    assert any(a.rule == "hourly_spike" for a in alerts)
    assert batched_records.raw == records.raw
    if finer:
        assert not summed_or_not  # no batch summed
    else:
        assert True in summed_or_not and False in summed_or_not  # summed; where a kind is full, one by one


@pytest.mark.parametrize("native", [False, pytest.param(True, marks=pytest.mark.skipif(
    not hourly_sums.NATIVE, reason="streams._wire_scan not built (no cargo)"))])  # fmt: skip
def test_a_crowd_s_full_kinds_in_pico_dollars_fold_as_one_by_one(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The customer's full kinds taken in pico-dollars (:func:`contribute_units`, or
    :func:`contribute_native`) in a batched fold: alerts and records equal to one event at a time."""
    calls: list[bool] = []
    name = "contribute_native" if native else "contribute_units"
    real = getattr(anomaly_rules, name)

    def counted(*args: Any) -> bool:
        calls.append(real(*args))
        return bool(calls[-1])

    monkeypatch.setattr(anomaly_rules, "NATIVE", native)
    monkeypatch.setattr(anomaly_rules, name, counted)
    events = crowd(5, 8000, False)
    batched, batched_records = watching(), Records()
    alerts = [a for first in range(0, len(events), 70) for a in
              run(batched, batched_records, events[first : first + 70]).alerts]  # fmt: skip
    one_by_one, records = watching(), Records()
    expected = [a for event in events for a in run(one_by_one, records, [event]).alerts]

    assert True in calls
    assert [a.payload() for a in alerts] == [a.payload() for a in expected]
    assert batched_records.raw == records.raw


def test_a_batch_s_costs_as_an_int64_array_give_what_their_list_gives() -> None:
    """:meth:`BatchSpend.of` handed the costs as an array (the batch's, made once) as handed the list."""
    seconds = np.arange(4, dtype=np.int64) * 3600
    agents = ["a", "b", "a", ""]
    edge = 2**62 // 4  # the bound of four costs
    for units in (
        [10**12, -2, 3, 0],
        [0, edge, 1, 1],
        [0, edge - 1, 1, 1],
        [-edge, 0, 0, 0],
        [1 - edge, 0, 0, 0],
    ):
        costs = [Decimal(u) * Decimal("1E-12") for u in units]
        kinds: list[Any] = [("agent", agents)]
        from_list = BatchSpend.of(seconds, units, costs, None, kinds)
        array = np.array(units, np.int64)
        from_array = BatchSpend.of(seconds, array, costs, None, kinds)
        assert (from_list is None) == (from_array is None), units
        if from_list is not None and from_array is not None:
            assert from_array.units.tolist() == from_list.units.tolist() and from_array.units is not array
            assert from_array.exponents is None and from_list.exponents is None
            assert [(k, c.tolist(), v) for k, c, v in from_array.kinds] == [
                (k, c.tolist(), v) for k, c, v in from_list.kinds
            ]


def test_each_total_in_pico_dollars_is_the_decimal_summed_makes_of_it() -> None:
    """:meth:`KindSums.total` gives what :func:`summed` gives, and :meth:`KindSums.added` what adding
    that Decimal to a cost gives, digits and exponent alike: negatives, zeros and int64's ends
    included, under a narrower context too (where the sum is rounded before it is added, as before)."""
    totals = [0, 1, -1, 7, -(10**12), 10**12 + 1, 123_456_789_012_345, 2**62, -(2**62), 2**63 - 1, -(2**63)]
    rng = random.Random(5)
    totals += [rng.randrange(-(2**63), 2**63) for _ in range(200)]
    kept = [Decimal(c) for c in ("0", "-0", "0E-12", "-0E-3", "1E+1", "1.5", "-2.25", "1E-13", "1" * 19,
                                 "9" * 28, "-7E-12", "Infinity", "123456789.123456789012")]  # fmt: skip
    exponent_of = [-12, -2, 0, -12, -12] * (len(totals) // 5) + [-3] * (len(totals) % 5)
    for precision in (28, 19, 18, 5):
        for odd in ({}, {at: e for at, e in enumerate(exponent_of) if e != -12}):
            with localcontext() as context:
                context.prec = precision
                sums = KindSums("agent", [f"c{i}" for i in range(len(totals))], totals, odd, totals,
                                [0, len(totals)])  # fmt: skip
                made = [sums.total(at) for at in range(len(totals))]
                expected = [summed(t, odd.get(at, -12)) for at, t in enumerate(totals)]
                cost = [rng.choice(kept) for _ in totals]
                added = [sums.added(at, c) for at, c in enumerate(cost)]
                expected_added = [c + e for c, e in zip(cost, expected, strict=True)]
                listed = sums.totals
            assert sums.fused == (precision >= 19)
            assert [(str(d), d.as_tuple()) for d in made] == [(str(d), d.as_tuple()) for d in expected]
            assert [(str(d), d.as_tuple()) for d in added] == [(str(d), d.as_tuple()) for d in expected_added]
            assert [d.as_tuple() for d in listed] == [d.as_tuple() for d in made]


def _adversarial_batch(
    rng: random.Random, n: int
) -> tuple[list[Decimal], list[str | None], list[str | None]]:
    """``n`` events' Decimal costs (at 1e-12, or an outcome's or a flat fee's without pico-dollars:
    ``0``, ``ZERO`` itself, ``0.00``, ``1.5``, ``2E+3``, refunds now and then) and their agents and
    models (some without one: None or "")."""
    loose = (ZERO, Decimal("0"), Decimal("0.00"), Decimal("1.5"), Decimal("0.10"), Decimal("2E+3"),
             Decimal("-0.25"), Decimal("3E-6"))  # fmt: skip
    costs = [rng.choice(loose) if rng.random() < 0.3 else
             Decimal(rng.choice((0, 1, 7, rng.randrange(10**13)))).scaleb(-12) for _ in range(n)]  # fmt: skip
    pool = [f"c{i}" for i in range(rng.choice((1, 3, 12, 50)))]
    agents = [rng.choice((*pool, None, "")) if rng.random() < 0.1 else rng.choice(pool) for _ in range(n)]
    models = [rng.choice(pool[:4]) if rng.random() < 0.9 else None for _ in range(n)]
    return costs, agents, models


@pytest.mark.parametrize("seed", range(80))
def test_a_batch_s_sums_in_pico_dollars_add_to_a_record_as_their_decimals_do(seed: int) -> None:
    """A batch's sums in pico-dollars (:class:`HourlyRuns`, natively grouped where built) added to a
    record's contributors (:func:`add_contributor_units`) leave what
    :func:`streams.spend_state.add_contributor_sums` of the Decimals leaves that adding each
    contributor's costs in event order (from ``ZERO``) makes: value, exponent and order of every cost,
    evictions, the same answer (False: nothing changed). The costs at mixed exponents (outcomes and
    flat fees priced as Decimals without pico-dollars among them), events without a contributor, kept
    costs the integers cannot take (``-0``, ``1E+1``, ``1E-13``, 19 digits)."""
    rng = random.Random(seed)
    n = rng.choice((1, 3, 40, 300))
    costs, agents, models = _adversarial_batch(rng, n)
    hour = 3600 * 490_000
    seconds = np.array(sorted(hour + rng.randrange(3 * 3600) for _ in range(n)), np.int64)
    loose = [at for at, cost in enumerate(costs) if not cost.same_quantum(Decimal("1E-12"))]
    units = [to_units(cost) for cost in costs]
    one_agent = rng.random() < 0.3
    if one_agent:  # an agent's own detector: one agent for every event, summed per stretch
        agents = ["solo"] * n
    kinds: list[Any] = [("agent", agents), ("model", models)]
    spend = BatchSpend.of(seconds, units, [costs[at] for at in loose], loose, kinds)
    assert spend is not None
    runs = HourlyRuns(spend, np.arange(n, dtype=np.int64), [0], frozenset({"agent"} if one_agent else ()))
    kept_forms = ("0", "-0", "1E+1", "1E-13", "1" * 19, "0.5", "3E-12", "2.00")
    record_ref: dict[str, dict[str, Decimal]] = {}
    if rng.random() < 0.7:
        for kind in ("agent", "model"):
            record_ref[kind] = {f"c{i}": Decimal(rng.choice(kept_forms)) if rng.random() < 0.3 else
                                Decimal(rng.randrange(10**9)).scaleb(-rng.choice((12, 2, 0)))
                                for i in rng.sample(range(60), rng.choice((1, 5, 31, 32)))}  # fmt: skip
    record = {kind: dict(c) for kind, c in record_ref.items()}
    answers = []
    for s in range(len(runs.seg_starts)):
        begin, end = runs.seg_starts[s], runs.seg_ends[s]
        for sums, names in zip(runs.kinds, (agents, models), strict=True):
            # Each contributor's costs added in event order, from ZERO, in the order they first come.
            expected: dict[str, Decimal] = {}
            costliest: dict[str, int] = {}
            for at in range(begin, end):
                if names[at]:
                    ident = names[at]
                    assert ident is not None
                    expected[ident] = expected.get(ident, ZERO) + costs[at]
                    costliest[ident] = max(costliest.get(ident, units[at]), units[at])
            g0, g1 = sums.bounds[s], sums.bounds[s + 1]
            assert sums.names[g0:g1] == list(expected)
            assert [(str(d), d.as_tuple()) for d in sums.totals[g0:g1]] == [
                (str(d), d.as_tuple()) for d in expected.values()
            ]
            assert sums.costliest[g0:g1] == list(costliest.values())
            if g0 == g1:
                continue
            before = {kind: dict(c) for kind, c in record.items()}
            answer = add_contributor_sums(record_ref, sums.kind, list(expected), list(expected.values()),
                                          list(costliest.values()))  # fmt: skip
            assert add_contributor_units(record, sums, g0, g1) is answer
            answers.append(answer)
            if not answer:
                assert record == before
                record_ref = {kind: dict(c) for kind, c in before.items()}
            assert list(record) == list(record_ref)
            for kind, kept in record.items():
                assert list(kept) == list(record_ref[kind])
                assert [(str(d), d.as_tuple()) for d in kept.values()] == [
                    (str(d), d.as_tuple()) for d in record_ref[kind].values()
                ]
    assert answers or n < 40


@pytest.mark.parametrize("native", [True, False], ids=["native codes", "python numbering"])
def test_a_list_of_names_is_coded_as_the_reference_codes_it(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """:func:`coded` numbers a list through :func:`streams.column_groups.codes` (natively where built):
    the codes and names of :func:`coded_here`, None and "" (no contributor) and equal texts held by
    different objects included."""
    if not native:
        monkeypatch.setattr(column_groups, "_native", None)
    rng = random.Random(7)
    pool: list[str | None] = [None, "", "gpt-4o", "claude", "".join(["gpt", "-4o"]), "m" * 40]
    for names in ([], ["x"], [None, None], [rng.choice(pool) for _ in range(500)], ["a", "b", "a", "c", "b"]):
        codes, values = coded(names)
        expected_codes, expected_values = coded_here(names)
        assert codes.tolist() == expected_codes.tolist() and values == expected_values
    assert coded(("a", "b", "a"))[0].tolist() == [0, 1, 0]  # not a list: the reference's


@pytest.mark.skipif(hourly_sums._none_rows is None, reason="streams._wire_scan not built (no cargo)")
@pytest.mark.parametrize("seed", range(20))
def test_the_events_without_pico_dollars_are_found_natively_as_the_reference_finds_them(seed: int) -> None:
    """:func:`loose_costs` of a list (native/src/hourly.rs ``none_rows``) is :func:`loose_costs_here`:
    the rows that are None, in order; a zero, an empty or a false value is a cost, not a None."""
    rng = random.Random(seed)
    share = rng.choice((0.0, 0.01, 0.14, 0.9, 1.0))
    size = rng.choice((0, 1, 999))
    picos = [None if rng.random() < share else rng.choice((0, 1, 10**15, -3, False)) for _ in range(size)]
    assert loose_costs(picos) == loose_costs_here(picos)
    assert loose_costs(tuple(picos)) == loose_costs_here(picos)  # not a list: the reference's


def test_the_native_scan_for_none_is_switched_off_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTLINE_HOURLY_SUMS", "python")
    assert hourly_sums._native_none_rows() is None
