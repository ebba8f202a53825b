"""Spend control judges a batch read as columns exactly as it judges the same events' objects,
and makes the objects of only the events it reports (an alert's, a task's), not the batch's."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from schemas.budgets import Budget
from streams import anomaly_rules
from streams.anomaly_rules import BatchEvents
from streams.intake import decode_and_price
from streams.key_runs import KeyRuns
from streams.live_spend import live_records
from streams.spend_rules import BudgetBook, LimitSettings, SpendRules, budget_rules
from streams.window_batch import CountedBatch, EventColumns, plan_windows
from tests.unit.streams.test_anomaly_rules_batched import watching
from tests.unit.streams.test_intake_columns import BOUNDS, NOW, catalog, fleet, odd, per_event
from tests.unit.streams.test_spend_rules import Records


def two_partitions_and_odd_messages() -> list[Any]:
    return fleet(0) + odd(30) + fleet(40, partition=4)


def test_a_batch_read_as_columns_gives_the_rules_the_events_its_objects_give() -> None:
    messages = two_partitions_and_odd_messages()
    counted, _ = decode_and_price(messages, catalog(), BOUNDS, NOW)
    columns = EventColumns.of(counted)
    from_columns = BatchEvents(columns.counted, columns)
    from_objects = BatchEvents(per_event(messages, catalog())[0])
    for name in ("partitions", "positions", "customers", "epochs", "hours", "days", "ordered"):
        assert getattr(from_columns, name) == getattr(from_objects, name), name
    assert list(from_columns.units) == list(from_objects.units)
    assert from_columns.tokens() == from_objects.tokens()
    for mine, theirs in zip(from_columns.contributors_all(), from_objects.contributors_all(), strict=True):
        assert list(map(repr, mine)) == list(map(repr, theirs))  # Decimal forms too
    assert type(counted) is CountedBatch and not counted.made


def test_the_decimal_costs_are_made_where_read_each_in_pricing_s_form() -> None:
    """The columns' Decimal cost column is made at the first read of it; the costs of some events, and
    those priced without pico-dollars, are the same Decimals (forms too) read before or after."""
    messages = two_partitions_and_odd_messages()
    counted, _ = decode_and_price(messages, catalog(), BOUNDS, NOW)
    columns = EventColumns.of(counted)
    expected = [priced.cost for _, _, priced in per_event(messages, catalog())[0]]
    events = BatchEvents(columns.counted, columns)
    assert events.missing, "some of the fleet's events are priced in Decimal"
    some = list(range(0, len(expected), 3)) + events.missing[:2]
    before = (events.costs_at(some), events.missing_costs())
    assert isinstance(events._costs, tuple)  # not made yet
    assert list(map(repr, events.costs())) == list(map(repr, expected))
    after = (events.costs_at(some), events.missing_costs())
    for costs in (before, after):
        assert list(map(repr, costs[0])) == [repr(expected[i]) for i in some]
        assert list(map(repr, costs[1])) == [repr(expected[i]) for i in events.missing]
    assert events.names() == events.contributors_all()[:3]
    every = list(range(len(expected)))
    again = BatchEvents(columns.counted, columns)
    for _ in range(3):  # made alone until as many as the batch holds were asked, then the batch's
        assert list(map(repr, again.costs_at(every))) == list(map(repr, expected))
    assert not isinstance(again._costs, tuple)


@pytest.mark.parametrize("planned", [False, True], ids=["names", "window plan codes"])
def test_the_judgement_of_columns_is_that_of_objects_and_makes_only_the_events_it_reports(
    planned: bool,
) -> None:
    messages = two_partitions_and_odd_messages()
    counted, _ = decode_and_price(messages, catalog(), BOUNDS, NOW)
    columns = EventColumns.of(counted)
    if planned:  # as the worker judges: after plan_windows numbered the customers and agents
        plan_windows(columns, (60, 3600))
    by_columns, by_objects = Records(), Records()
    judged = watching().evaluate(columns.counted, by_columns, columns)
    expected = watching().evaluate(per_event(messages, catalog())[0], by_objects)
    by_columns.apply(judged)
    by_objects.apply(expected)
    assert [(a.alert_id, a.payload()) for a in judged.alerts] == [
        (a.alert_id, a.payload()) for a in expected.alerts
    ]
    assert by_columns.raw == by_objects.raw and by_columns.marks.keys() == by_objects.marks.keys()
    assert not counted.made


@pytest.mark.parametrize("planned", [True, False], ids=["window plan codes", "numbered by the rules"])
def test_the_codes_group_the_events_as_their_names_do(planned: bool) -> None:
    """Columns are grouped by their customers' and agents' codes: a window plan's, or (handed without
    one) numbered as a plan numbers them; as the events' objects, grouped by their names, are."""
    messages = two_partitions_and_odd_messages()
    counted, _ = decode_and_price(messages, catalog(), BOUNDS, NOW)
    columns = EventColumns.of(counted)
    of_names = BatchEvents(per_event(messages, catalog())[0])
    by_names = of_names.groups()
    assert of_names._codes is None  # the objects' own grouping: by names
    if planned:
        plan_windows(columns, (60, 3600))  # numbers the batch's customers and agents
        assert columns.customer_codes is not None
    of_codes = BatchEvents(columns.counted, columns)
    assert of_codes._codes is not None and (columns.customer_codes is not None) is planned
    by_codes = of_codes.groups()
    for mine, theirs in zip(by_codes, by_names, strict=True):
        assert list(mine.items()) == list(theirs.items())  # keys in order of first event, too
    assert len(by_names[0]) > 6 and len(by_names[1]) > 1
    assert of_codes.ordered == of_names.ordered
    # The runs laid end to end from the codes' sort are those laid from the groups' lists.
    for laid, groups in zip(of_codes.key_runs(), by_names, strict=True):
        made = KeyRuns(groups.values())
        assert (laid.order, laid.starts, laid.sizes()) == (made.order, made.starts, made.sizes())
        assert laid.positions().tolist() == made.positions().tolist()


def test_the_units_of_events_priced_in_decimal_are_the_columns_pico_dollars(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Columns hold every event's pico-dollars (``cost_units``), those priced in Decimal too: the rules
    take them, none converted from its Decimal again, and they are what converting gives."""
    messages = two_partitions_and_odd_messages()
    counted, _ = decode_and_price(messages, catalog(), BOUNDS, NOW)
    columns = EventColumns.of(counted)
    expected = BatchEvents(per_event(messages, catalog())[0])
    assert expected.missing, "some of the fleet's events are priced in Decimal"
    converted: list[Decimal] = []
    monkeypatch.setattr(anomaly_rules, "to_units", lambda cost: converted.append(cost) or 0)
    from_columns = BatchEvents(columns.counted, columns)
    assert not converted and from_columns.units == expected.units
    assert from_columns.units is columns.cost_units  # read where the columns hold them, not copied
    assert from_columns.missing == expected.missing
    # Columns without the pico-dollars (made by hand): each cost converted, as before.
    columns.cost_units = ()
    monkeypatch.undo()
    assert BatchEvents(columns.counted, columns).units == expected.units


def test_an_event_read_by_its_index_is_made_alone_and_is_the_object_the_batch_later_holds() -> None:
    messages = two_partitions_and_odd_messages()
    counted, _ = decode_and_price(messages, catalog(), BOUNDS, NOW)
    expected = per_event(messages, catalog())[0]
    batch = EventColumns.of(counted).select(np.arange(len(expected)) % 2 == 1)
    chosen = batch.counted
    assert chosen[3] == expected[7] and counted[-1] == expected[-1]
    assert not counted.made and type(chosen) is CountedBatch and not chosen.made
    alone = chosen[3]
    assert list(chosen)[3] is alone and list(counted)[7] is alone


def budgeted(request_limit: str = "0.01", token_limit: int = 2_000, rolling: bool = True) -> SpendRules:
    """The fleet's customers with budgets of every period and scope, and request limits. A rolling
    budget's events are folded one by one, their objects made."""
    shapes: list[dict[str, Any]] = []
    for c in range(6):
        customer = f"cust-{c:04d}"
        shapes += [
            {
                "budget_id": f"{customer}-month",
                "customer_id": customer,
                "period": "month",
                "amount": "0.5",
                "thresholds": [1, 50, 100],
                "revenue": "0.6",
                "min_margin_pct": 30,
            },
            {
                "budget_id": f"{customer}-agent-day",
                "customer_id": customer,
                "scope": "agent",
                "period": "day",
                "amount": "0.05",
                "burn_rate_excess": 0,
                "limits": {"request_cost": request_limit},
            },
        ]
        if rolling:
            shapes.append(
                {
                    "budget_id": f"{customer}-rolling",
                    "customer_id": customer,
                    "period": "rolling_hours",
                    "hours": 2,
                    "amount": "0.2",
                    "thresholds": [50, 100],
                }
            )
    shapes += [
        {"budget_id": "acme-user", "customer_id": "acme", "scope": "user", "period": "week",
         "amount": "0.0001"},
        {"budget_id": "acme-task", "customer_id": "acme", "scope": "task", "period": "day", "amount": "1",
         "limits": {"task_cost": "0.00001", "request_tokens": 1}},
    ]  # fmt: skip
    return SpendRules(
        BudgetBook([Budget.model_validate(shape) for shape in shapes]),
        budget_rules(Decimal(20), Decimal(10), Decimal(20)),
        LimitSettings(request_cost=Decimal(request_limit), request_tokens=token_limit),
        now=lambda: NOW,
    )


@pytest.mark.parametrize(
    ("request_limit", "token_limit", "rolling", "made_at_most"),
    [("0.001", 2_000, True, 603), ("0.5", 10**6, True, 603), ("0.5", 10**6, False, 80)],
)
def test_with_budgets_the_judgement_of_columns_is_that_of_objects_and_makes_only_the_events_it_reports(
    request_limit: str, token_limit: int, rolling: bool, made_at_most: int
) -> None:
    messages = two_partitions_and_odd_messages()
    counted, _ = decode_and_price(messages, catalog(), BOUNDS, NOW)
    columns = EventColumns.of(counted)
    by_columns, by_objects = Records(), Records()
    objects = per_event(messages, catalog())[0]
    rules = budgeted(request_limit, token_limit, rolling)
    judged = rules.evaluate(columns.counted, by_columns, columns)
    expected = budgeted(request_limit, token_limit, rolling).evaluate(objects, by_objects)

    assert len(expected.alerts) > 20 and expected.budgets and expected.tasks
    assert [(a.alert_id, a.payload()) for a in judged.alerts] == [
        (a.alert_id, a.payload()) for a in expected.alerts
    ]
    by_columns.apply(judged)
    by_objects.apply(expected)
    assert by_columns.raw == by_objects.raw and by_columns.marks == by_objects.marks
    assert live_records(rules.book, judged.budgets, counted, NOW, judged.columns) == live_records(
        rules.book, expected.budgets, objects, NOW
    )
    assert not counted.made and len(counted._rows) <= made_at_most
    assert not counted.made
