"""A generated month of agent traffic with labelled incidents, for the anomaly detectors' bench.

Seeded and deterministic. Four weeks of warm-up (the seasonal baseline's
history) and then the month judged, starting on a Monday. Each customer has
a time zone, each of its agents a peak rate (requests an hour), a typical
request cost and size; an hour's rate follows the customer's working day
(a floor of 25% at night), drops to 60% at weekends, and is jittered by a
lognormal of sigma 0.15 hour to hour; requests arrive as a Poisson process
and cost the typical cost times a lognormal of sigma 0.35 (mean 1).

Incidents, all within the month and labelled:

- ``runaway_loop``: an agent repeats normal-cost requests, its hourly spend
  x3 to x10 for one to two hours;
- ``injection_spike``: three to six requests within ten minutes at 5 to 20
  times the typical cost;
- ``token_inflation``: an agent's tokens (and so cost) per request grow 2 to
  5% a day for two weeks, then a fix restores them;
- ``weekend_lull``: a customer's weekend at 30% of its usual traffic, which
  should *not* alert.

One request in a hundred arrives up to two minutes late (out of event-time order).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

HOUR = 3600
DAY = 86_400
WEEK = 7 * DAY
START = 1_791_158_400  # Monday 2026-10-05 00:00 UTC
WARM_UP_WEEKS = 4
MONTH_DAYS = 30
COST_SIGMA = 0.35
UNITS_PER_USD = 10**12


class IncidentKind(StrEnum):
    RUNAWAY_LOOP = "runaway_loop"
    INJECTION_SPIKE = "injection_spike"
    TOKEN_INFLATION = "token_inflation"
    WEEKEND_LULL = "weekend_lull"  # a negative: alerts during it are false


@dataclass(frozen=True, slots=True)
class Incident:
    kind: IncidentKind
    customer: str
    agent: str  # "" for a customer-wide incident
    start: int  # epoch seconds
    end: int


@dataclass(frozen=True, slots=True)
class Traffic:
    """Requests in arrival order: event time, customer and agent index, cost in 1e-12 USD, tokens."""

    at: np.ndarray
    agent: np.ndarray  # index into agents
    cost_units: np.ndarray
    tokens: np.ndarray
    agents: list[tuple[str, str]]  # (customer, agent)
    incidents: list[Incident]
    month_start: int
    month_end: int


def generate(seed: int = 11, customers: int = 3, agents_per_customer: int = 2) -> Traffic:
    rng = np.random.default_rng(seed)
    month_start = START + WARM_UP_WEEKS * WEEK
    month_end = month_start + MONTH_DAYS * DAY
    hours = np.arange(START, month_end, HOUR)
    agents: list[tuple[str, str]] = []
    incidents: list[Incident] = []
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    weekends = [month_start + 5 * DAY + w * WEEK for w in range(4)]  # Saturdays of the month

    for c in range(customers):
        customer = f"cust-{c}"
        zone = int(rng.integers(-8, 9))
        local = (hours // HOUR + zone) % 24
        working = 0.25 + 0.75 * np.exp(-(((local - 14) / 4.0) ** 2))
        weekday = ((hours - START) // DAY) % 7
        seasonal = working * np.where(weekday >= 5, 0.6, 1.0)
        lull = weekends[c % len(weekends)]
        incidents.append(Incident(IncidentKind.WEEKEND_LULL, customer, "", lull, lull + 2 * DAY))
        seasonal = seasonal * np.where((hours >= lull) & (hours < lull + 2 * DAY), 0.3, 1.0)
        for a in range(agents_per_customer):
            index = len(agents)
            agent = f"agent-{a}"
            agents.append((customer, agent))
            peak = rng.uniform(30, 120)
            typical_units = int(rng.uniform(0.02, 0.10) * UNITS_PER_USD)
            typical_tokens = rng.uniform(2_000, 12_000)
            rate = peak * seasonal * rng.lognormal(-(0.15**2) / 2, 0.15, hours.size)
            at = _poisson_times(rng, hours, rate)

            loop_start = int(rng.integers(month_start + DAY, month_end - DAY) // 60 * 60)
            loop_end = loop_start + int(rng.integers(60, 121)) * 60
            extra = rng.uniform(2, 9) * rate[(loop_start - START) // HOUR]
            loop_at = loop_start + np.sort(
                rng.uniform(0, loop_end - loop_start, rng.poisson(extra * (loop_end - loop_start) / HOUR))
            )
            incidents.append(Incident(IncidentKind.RUNAWAY_LOOP, customer, agent, loop_start, loop_end))
            at = np.concatenate([at, loop_at.astype(np.int64)])
            size = rng.lognormal(-(COST_SIGMA**2) / 2, COST_SIGMA, at.size)

            inflation = np.ones(at.size)
            if index % 3 == 0:
                begin = month_start + int(rng.integers(1, 10)) * DAY
                daily = rng.uniform(0.02, 0.05)
                ramp = (at >= begin) & (at < begin + 14 * DAY)
                inflation[ramp] = (1 + daily) ** ((at[ramp] - begin) / DAY)
                incidents.append(
                    Incident(IncidentKind.TOKEN_INFLATION, customer, agent, begin, begin + 14 * DAY)
                )
            size = size * inflation

            spike_start = int(rng.integers(month_start + DAY, month_end - DAY))
            n_spike = int(rng.integers(3, 7))
            spike_at = spike_start + np.sort(rng.integers(0, 600, n_spike))
            spike_at[0] = spike_start
            incidents.append(
                Incident(IncidentKind.INJECTION_SPIKE, customer, agent, spike_start, spike_start + 600)
            )
            at = np.concatenate([at, spike_at])
            size = np.concatenate([size, rng.uniform(5, 20, n_spike)])

            parts.append(
                (
                    at,
                    np.full(at.size, index),
                    (size * typical_units).astype(np.int64),
                    (size * typical_tokens).astype(np.int64),
                )
            )

    at = np.concatenate([p[0] for p in parts])
    late = rng.random(at.size) < 0.01
    arrival = at + np.where(late, rng.integers(1, 121, at.size), 0)
    order = np.argsort(arrival, kind="stable")
    return Traffic(
        at=at[order],
        agent=np.concatenate([p[1] for p in parts])[order],
        cost_units=np.concatenate([p[2] for p in parts])[order],
        tokens=np.concatenate([p[3] for p in parts])[order],
        agents=agents,
        incidents=incidents,
        month_start=month_start,
        month_end=month_end,
    )


def _poisson_times(rng: np.random.Generator, hours: np.ndarray, rate: np.ndarray) -> np.ndarray:
    counts = rng.poisson(rate)
    starts = np.repeat(hours, counts)
    return np.sort(starts + rng.integers(0, HOUR, starts.size)).astype(np.int64)
