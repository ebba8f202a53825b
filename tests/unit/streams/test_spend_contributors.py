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
