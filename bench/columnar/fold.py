"""The worker's windows and spend-control inputs, folded from a batch's columns with NumPy group-bys.

Events are grouped once into cells, one per (customer, agent, category,
minute); every window of either size and level (per agent, and the
customer's rollup ``*``) and every spend key is a coarser grouping of the
cells, so only the first grouping touches each event. Window state lives in
arrays indexed by a slot per window (:class:`WindowStore`), as exact Python
ints: a window's total grows over many batches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.columnar.batch import BatchColumns
from streams.aggregation import ALL_AGENTS
from streams.column_groups import Grouping, Numbering, combine

Ints = npt.NDArray[np.int64]
Money = npt.NDArray[Any]
# A window's sums in cost_windows' order: cost, events, quantity, 5 token counts, outcome value, failed.
SUMS = 10
HOUR = 3600
DAY = 86_400


@dataclass(slots=True)
class Cells:
    """A batch's events grouped by (customer, agent, category, minute): each cell's sums and names."""

    customers: list[str]
    agents: list[str]
    categories: list[str]
    customer: Ints  # codes into ``customers``
    agent: Ints
    category: Ints
    minute: Ints  # start, epoch seconds
    sums: list[Money]  # SUMS columns
    last: Ints  # highest position
    partition: Ints
    event_customer: Ints  # each event's customer code, kept for the spend inputs
    event_agent: Ints


def cells_of(batch: BatchColumns, step: int) -> Cells:
    seconds = batch.occurred_us // 1_000_000
    base = seconds - seconds % step
    customers, agents = Numbering(), Numbering()
    customer = np.fromiter(map(customers.__getitem__, batch.customers), np.int64, len(batch))
    agent = np.fromiter(map(agents.__getitem__, batch.agents), np.int64, len(batch))
    cells = Grouping.by(combine(customer, agent, batch.category, (base - base.min(initial=0)) // step))
    values = [batch.cost, batch.events, batch.quantity, *batch.tokens.T, batch.outcome_value, batch.failed]
    first = cells.first
    return Cells(
        list(customers),
        list(agents),
        batch.categories,
        customer[first],
        agent[first],
        batch.category[first],
        base[first],
        [cells.sum(v) for v in values],
        cells.max(batch.position),
        batch.partition[first],
        customer,
        agent,
    )


class WindowStore:
    """Every window's running sums, a slot per window: arrays of Python ints, grown as windows come."""

    def __init__(self) -> None:
        self.slots = Numbering()
        self.sums = np.zeros((0, SUMS), dtype=object)
        self.version = np.zeros(0, np.int64)
        self.partition = np.zeros(0, np.int64)

    def add(
        self, keys: list[tuple[str, str, str, int, int]], sums: Sequence[Money], last: Ints, partition: Ints
    ) -> Ints:
        """Fold a batch's window sums in; the windows' slots."""
        slots = np.fromiter(map(self.slots.__getitem__, keys), np.int64, len(keys))
        grow = len(self.slots) - len(self.version)
        if grow > 0:
            self.sums = np.concatenate((self.sums, np.zeros((grow, SUMS), dtype=object)))
            self.version = np.concatenate((self.version, np.full(grow, -1, np.int64)))
            self.partition = np.concatenate((self.partition, np.zeros(grow, np.int64)))
        self.sums[slots] += np.stack([np.asarray(s, dtype=object) for s in sums], axis=1)
        self.version[slots] = np.maximum(self.version[slots], last)
        self.partition[slots] = partition
        return slots


@dataclass(slots=True)
class Changed:
    """The windows a batch changed, as cost_windows columns want them."""

    keys: list[tuple[str, str, str, int, int]]
    slots: Ints


def fold_windows(cells: Cells, sizes: Sequence[int], store: WindowStore) -> Changed:
    """Each window of each size and level the batch touches, folded into ``store``."""
    keys: list[tuple[str, str, str, int, int]] = []
    slots: list[Ints] = []
    for size in sizes:
        start = cells.minute - cells.minute % size
        for per_agent in (True, False):
            agent = cells.agent if per_agent else np.zeros(len(cells.agent), np.int64)
            windows = Grouping.by(
                combine(cells.customer, agent, cells.category, start - start.min(initial=0))
            )
            first = windows.first
            names = zip(
                map(cells.customers.__getitem__, cells.customer[first].tolist()),
                map(cells.agents.__getitem__, cells.agent[first].tolist())
                if per_agent
                else repeat(ALL_AGENTS),
                map(cells.categories.__getitem__, cells.category[first].tolist()),
                repeat(size),
                start[first].tolist(),
            )
            kind_keys = list(names)
            sums = [windows.sum(s) for s in cells.sums]
            slots.append(store.add(kind_keys, sums, windows.max(cells.last), cells.partition[first]))
            keys += kind_keys
    return Changed(keys, np.concatenate(slots) if slots else np.zeros(0, np.int64))


@dataclass(slots=True)
class SpendInputs:
    """What the anomaly rules read of a batch, before any judgement: spend and requests per (customer,
    hour) and per (customer, agent, hour), each agent's requests in source order, and its tokens a day."""

    customer_hours: int
    agent_hours: int
    customer_hour_cost: Money
    agent_hour_cost: Money
    agent_hour_requests: Money
    request_order: Ints  # the batch's rows, by agent and then position: each detector's run of requests
    agent_day_tokens: Money


def spend_inputs(batch: BatchColumns, cells: Cells) -> SpendInputs:
    hour = cells.minute - cells.minute % HOUR
    hours = hour - hour.min(initial=0)
    by_customer = Grouping.by(combine(cells.customer, hours))
    by_agent = Grouping.by(combine(cells.customer, cells.agent, hours))
    # Requests in order per agent: the request-cost detector judges each against the agent's history.
    customer_of, agent_of = cells.event_customer, cells.event_agent
    order = np.lexsort((batch.position, agent_of, customer_of)).astype(np.int64)
    day = batch.occurred_us // (DAY * 1_000_000)
    by_day = Grouping.by(combine(customer_of, agent_of, day - day.min(initial=0)))
    return SpendInputs(
        len(by_customer),
        len(by_agent),
        by_customer.sum(cells.sums[0]),
        by_agent.sum(cells.sums[0]),
        by_agent.sum(cells.sums[1]),
        order,
        by_day.sum(batch.tokens.sum(axis=1)),
    )


def window_step(sizes: Sequence[int]) -> int:
    return math.gcd(*sizes)
