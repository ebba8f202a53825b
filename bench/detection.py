"""Detection quality of the cost-anomaly detectors on a generated month with injected incidents.

``python -m bench.detection [--seed N] [--scale S]`` generates the traffic of
:mod:`bench.anomaly_traffic` (3 x S customers, two agents each; four weeks of
warm-up, then 30 days judged) and feeds every request, in arrival order, to:

- ``request_cost k=2`` and ``k=5``: :class:`RequestCostHistory` per agent;
- ``hourly_spike/agent`` and ``hourly_spike/customer``: :class:`HourlySpend`
  per agent and per customer (and per agent judging the hour alone, without
  the trailing 15 minutes);
- ``token_drift``: :class:`TokenDrift` per agent, fed tokens per request.

An alert is true when it falls on the key of an incident (its agent; its
customer for a customer-keyed detector) from the incident's start to one hour
after its end; a weekend lull is never a true alert. Per detector: alerts,
precision, false alerts a day; per detector and incident kind: recall (the
share of incidents with a true alert) and delay to the first one (minutes).
Also each detector's own events/s. The last line is JSON.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from bench.anomaly_traffic import DAY, HOUR, Incident, IncidentKind, Traffic, generate
from streams.anomalies import (
    HourlySpend,
    HourlySpikeSettings,
    RequestCostHistory,
    RequestCostSettings,
    TokenDrift,
    Verdict,
)

GRACE_S = HOUR


@dataclass(slots=True)
class Score:
    alerts: int = 0
    true_alerts: int = 0
    lull_alerts: int = 0
    first_alert: dict[int, int] = field(default_factory=dict)  # incident index -> epoch seconds


class Observer:
    """One detector over every key: a state per key, made on first sight."""

    def __init__(
        self, name: str, key_of: Callable[[str, str], str], make: Callable[[str], Any], tokens: bool = False
    ) -> None:
        self.name = name
        self.key_of = key_of
        self.make = make
        self.tokens = tokens  # fed tokens per request rather than cost
        self.states: dict[str, Any] = {}

    def observe(self, key: str, at: datetime, value: Decimal | int) -> Verdict:
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = self.make(key)
        verdict: Verdict = state.observe(at, value)
        return verdict


def detectors() -> list[Observer]:
    def agent_key(customer: str, agent: str) -> str:
        return f"{customer}/{agent}"

    def customer_key(customer: str, agent: str) -> str:
        return customer

    return [
        Observer("request_cost k=2", agent_key, lambda k: RequestCostHistory(k)),
        Observer(
            "request_cost k=5", agent_key, lambda k: RequestCostHistory(k, RequestCostSettings(k=Decimal(5)))
        ),
        Observer("hourly_spike/agent", agent_key, lambda k: HourlySpend(k)),
        Observer(
            "hourly_spike/agent, hour only",
            agent_key,
            lambda k: HourlySpend(k, HourlySpikeSettings(trailing_s=0)),
        ),
        Observer("hourly_spike/customer", customer_key, lambda k: HourlySpend(k)),
        Observer("token_drift", agent_key, lambda k: TokenDrift(k), tokens=True),
    ]


def run(traffic: Traffic, observer: Observer) -> tuple[Score, float]:
    keys = [observer.key_of(c, a) for c, a in traffic.agents]
    incidents_of: dict[str, list[tuple[int, Incident]]] = {}
    for i, incident in enumerate(traffic.incidents):
        key = observer.key_of(incident.customer, incident.agent) if incident.agent else incident.customer
        if key in keys:
            incidents_of.setdefault(key, []).append((i, incident))
    times = [datetime.fromtimestamp(int(t), UTC) for t in traffic.at]
    values: list[Decimal | int] = (
        list(traffic.tokens.tolist())
        if observer.tokens
        else [Decimal(int(u)).scaleb(-12) for u in traffic.cost_units]
    )
    agent_of = traffic.agent.tolist()
    fired: list[tuple[str, int]] = []
    started = time.perf_counter()
    for moment, value, agent in zip(times, values, agent_of, strict=True):
        key = keys[agent]
        if observer.observe(key, moment, value).fired:
            fired.append((key, int(moment.timestamp())))
    elapsed = time.perf_counter() - started

    score = Score()
    for key, at in fired:
        if at < traffic.month_start:
            continue
        score.alerts += 1
        # Incidents overlap (a spike during two weeks of inflation): the
        # shortest one around the alert is the one it reports.
        around = [
            (incident.end - incident.start, i, incident)
            for i, incident in incidents_of.get(key, [])
            if incident.start <= at <= incident.end + GRACE_S
        ]
        for _, i, incident in sorted(around):
            if incident.kind is IncidentKind.WEEKEND_LULL:
                score.lull_alerts += 1
                continue
            score.true_alerts += 1
            score.first_alert.setdefault(i, at)
            break
    return score, traffic.at.size / elapsed


def report(traffic: Traffic, observer: Observer, score: Score, rate: float) -> dict[str, Any]:
    false_alerts = score.alerts - score.true_alerts
    row: dict[str, Any] = {
        "alerts": score.alerts,
        "precision": round(score.true_alerts / score.alerts, 3) if score.alerts else None,
        "false_alerts_per_day": round(false_alerts / ((traffic.month_end - traffic.month_start) / DAY), 2),
        "lull_alerts": score.lull_alerts,
        "events_per_s": round(rate),
        "incidents": {},
    }
    for kind in IncidentKind:
        if kind is IncidentKind.WEEKEND_LULL:
            continue
        mine = [i for i, inc in enumerate(traffic.incidents) if inc.kind is kind]
        delays = [
            (score.first_alert[i] - traffic.incidents[i].start) / 60 for i in mine if i in score.first_alert
        ]
        row["incidents"][kind.value] = {
            "n": len(mine),
            "recall": round(len(delays) / len(mine), 3) if mine else None,
            "delay_min_median": round(statistics.median(delays), 1) if delays else None,
            "delay_min_max": round(max(delays), 1) if delays else None,
        }
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--scale", type=int, default=1, help="customers x3, two agents each")
    args = parser.parse_args(argv)

    traffic = generate(args.seed, customers=3 * args.scale)
    kinds = {k.value: sum(i.kind is k for i in traffic.incidents) for k in IncidentKind}
    print(f"{traffic.at.size} requests, {len(traffic.agents)} agents, incidents {kinds}")
    results: dict[str, Any] = {}
    for observer in detectors():
        score, rate = run(traffic, observer)
        row = results[observer.name] = report(traffic, observer, score, rate)
        print(
            f"\n{observer.name}: {row['alerts']} alerts, precision {row['precision']}, "
            f"{row['false_alerts_per_day']} false a day, {row['lull_alerts']} in lulls, "
            f"{row['events_per_s']} events/s"
        )
        for kind, figures in row["incidents"].items():
            print(
                f"  {kind:<16} recall {figures['recall']} ({figures['n']}), delay median "
                f"{figures['delay_min_median']} max {figures['delay_min_max']} min"
            )
    print(
        orjson.dumps(
            {"bench": "detection", "seed": args.seed, "scale": args.scale, "requests": int(traffic.at.size)}
            | {"detectors": results}
        ).decode()
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
