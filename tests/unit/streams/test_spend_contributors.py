"""A run's contributors summed per kind: each contributor's amounts added in order, as one by one."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from streams.spend_state import add_contributor_columns, contribute


def _one_by_one(
    agents: list[str], models: list[str], amounts: list[Decimal]
) -> dict[str, dict[str, Decimal]]:
    contributors: dict[str, dict[str, Decimal]] = {}
    for agent, model, amount in zip(agents, models, amounts, strict=True):
        contribute(contributors, "agent", agent, amount)
        contribute(contributors, "model", model, amount)
        contribute(contributors, "task", None, amount)
    return contributors


@pytest.mark.parametrize("distinct", [1, 2, 3, 5, 15, 30])
def test_a_run_of_many_contributors_sums_as_one_by_one_to_the_same_decimals_in_the_same_order(
    distinct: int,
) -> None:
    rng = random.Random(distinct)
    n = 400
    agents = [f"agent-{rng.randrange(distinct)}" for _ in range(n)]
    models = [f"model-{rng.randrange(distinct)}" for _ in range(n)]
    # Mixed exponents: a whole-dollar zero keeps a sum at the exponent of its finer amounts.
    amounts = [
        Decimal(0) if rng.random() < 0.1 else Decimal(rng.randrange(10**9)).scaleb(-12) for _ in range(n)
    ]

    summed: dict[str, dict[str, Decimal]] = {}
    add_contributor_columns(summed, agents, models, [None] * n, amounts)

    expected = _one_by_one(agents, models, amounts)
    assert summed == expected
    assert [list(costs.items()) for costs in summed.values()] == [list(c.items()) for c in expected.values()]
    assert {repr(c) for costs in summed.values() for c in costs.values()} == {
        repr(c) for costs in expected.values() for c in costs.values()
    }


def test_a_run_adds_to_the_contributors_already_kept_for_the_hour() -> None:
    kept = {"agent": {"agent-1": Decimal("1.000000000000")}, "model": {"m": Decimal("0")}}
    agents = ["agent-2", "agent-1"] * 20
    amounts = [Decimal("0.000000000001")] * 40

    add_contributor_columns(kept, agents, ["m", "n"] * 20, [None] * 40, amounts)

    assert list(kept["agent"].items()) == [
        ("agent-1", Decimal("1.000000000020")),
        ("agent-2", Decimal("0.000000000020")),
    ]
    assert list(kept["model"].items()) == [("m", Decimal("0.000000000020")), ("n", Decimal("0.000000000020"))]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("distinct", [33, 40, 200, 5000])
def test_a_kind_past_its_limit_evicts_as_one_by_one_with_credits_and_ties_among_the_amounts(
    seed: int, distinct: int
) -> None:
    rng = random.Random(seed * 10_000 + distinct)
    n = 600
    tasks = [f"task-{rng.randrange(distinct)}" for _ in range(n)]
    agents = [f"agent-{rng.randrange(distinct)}" for _ in range(n)]
    # Few distinct amounts, some negative (credits): ties of cost broken by id, and a kept
    # contributor falling below the smallest.
    amounts = [Decimal(rng.randrange(-3, 12)).scaleb(-rng.choice([2, 12])) for _ in range(n)]

    summed: dict[str, dict[str, Decimal]] = {}
    for start in range(0, n, 150):  # in runs, each from where the last left the kind
        add_contributor_columns(
            summed,
            agents[start : start + 150],
            ["m"] * 150,
            tasks[start : start + 150],
            amounts[start : start + 150],
        )

    expected: dict[str, dict[str, Decimal]] = {}
    for agent, task, amount in zip(agents, tasks, amounts, strict=True):
        contribute(expected, "agent", agent, amount)
        contribute(expected, "model", "m", amount)
        contribute(expected, "task", task, amount)
    assert [(kind, list(costs.items())) for kind, costs in summed.items()] == [
        (kind, list(costs.items())) for kind, costs in expected.items()
    ]
    assert [repr(c) for costs in summed.values() for c in costs.values()] == [
        repr(c) for costs in expected.values() for c in costs.values()
    ]


def test_a_run_of_a_few_events_past_the_limit_evicts_as_one_by_one() -> None:
    kept = {"task": {f"t{i:02}": Decimal(i + 1) for i in range(32)}}
    tasks = ["new-big", "t00", "new-small", "t05"]
    amounts = [Decimal("5.5"), Decimal("-2"), Decimal("0.5"), Decimal("100")]

    add_contributor_columns(kept, ["a"] * 4, ["m"] * 4, tasks, amounts)

    expected = {"task": {f"t{i:02}": Decimal(i + 1) for i in range(32)}}
    for task, amount in zip(tasks, amounts, strict=True):
        contribute(expected, "task", task, amount)
    assert list(kept["task"].items()) == list(expected["task"].items())
