"""Anomaly rules: the detectors of :mod:`streams.anomalies` fed on the spend rules' exactly-once path.

Every customer's agents are watched, budget or not. Per event, in source order:

- **request cost** (``request_cost_anomaly``): the request against its agent's
  trailing average (30 days, k = 2, judged once the agent has 50 requests over
  3 days: the settings). A request is an instant: the alert fires for that
  request (named by its request id, the event id standing in) and never
  resolves.
- **hourly spike** (``hourly_spike``): the customer's spend so far this hour,
  and each agent's, against the same hour of the week in past weeks. The alert
  fires once per episode, named by the hour it began, and a ``resolved`` with
  the same names follows at the first later event of the key judged normal
  (the hour's spend back under its scaled threshold, or a new hour within it).
  Event-time driven: a key that goes quiet resolves at its next event.
- **token drift** (``token_drift``): an agent's tokens per request of the last
  3 days against the 28 before; episodes as hourly spikes, named by the day.

Each detector's state is a record of the spend table (keyed by kind, customer
and agent) with the highest source position folded into it, so a batch
replayed after a crash re-folds to the same state and fires the same alert
ids; the record is changelogged with the batch's other spend records, after
its alerts are stored and acknowledged (:mod:`streams.spend_control`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol, cast

from costline.config import Settings
from schemas.alerts import Alert, AlertRule, AlertStatus, Contributor, alert_id
from streams.anomalies import (
    HourlySpend,
    HourlySpikeSettings,
    RequestCostHistory,
    RequestCostSettings,
    StateFormatError,
    TokenDrift,
    TokenDriftSettings,
    Verdict,
)
from streams.anomalies.picodollars import to_units
from streams.anomalies.verdict import Judgement
from streams.pricing import PricedEvent
from streams.spend_state import DetectorRecord, anomaly_key, contribute, top_contributors

log = logging.getLogger(__name__)
HOUR = 3600
DAY = 86_400
# A detector unseen this long (event time) holds nothing any window still uses.
DETECTOR_IDLE_S = 36 * DAY


@dataclass(frozen=True)
class AnomalySettings:
    """Which detectors run, with their settings; None: off."""

    request_cost: RequestCostSettings | None = field(default_factory=RequestCostSettings)
    hourly: HourlySpikeSettings | None = field(default_factory=HourlySpikeSettings)
    token_drift: TokenDriftSettings | None = field(default_factory=TokenDriftSettings)


def anomaly_settings(settings: Settings) -> AnomalySettings:
    """The detectors as the worker's settings configure them."""
    k = settings.anomaly_request_k
    request = RequestCostSettings(
        k=k,
        window_days=settings.anomaly_request_window_days,
        min_requests=settings.anomaly_request_min_requests,
        min_days=settings.anomaly_request_min_days,
    ) if k is not None else None  # fmt: skip
    hourly_ratio, drift_ratio = settings.anomaly_hourly_ratio, settings.anomaly_token_drift_ratio
    return AnomalySettings(
        request_cost=request,
        hourly=HourlySpikeSettings(ratio=hourly_ratio, floor=settings.anomaly_hourly_floor)
        if hourly_ratio
        else None,
        token_drift=TokenDriftSettings(ratio=drift_ratio) if drift_ratio else None,
    )


class Detector(Protocol):
    def judge(self, epoch_s: int, value: int) -> Judgement: ...
    def verdict(self, at: datetime) -> Verdict: ...
    def to_bytes(self) -> bytes: ...


class DetectorLookup(Protocol):
    def detector(self, key: bytes) -> DetectorRecord | None: ...


@dataclass
class AnomalyRules:
    settings: AnomalySettings

    def fold(
        self,
        alerts: list[Alert],
        records: dict[bytes, DetectorRecord],
        before: DetectorLookup,
        partition: int,
        pos: int,
        priced: PricedEvent,
        emitted_at: datetime,
    ) -> None:
        """Feed one counted event to every detector it concerns; its alerts go to ``alerts``."""
        event = priced.event
        customer, agent = event.customer_id, event.agent_id
        s = self.settings
        epoch_s = int(event.occurred_at.timestamp())
        fold = _Fold(alerts, records, before, partition, pos, priced, emitted_at, epoch_s)
        if s.request_cost is not None:
            request = s.request_cost
            found = fold.detector(
                anomaly_key(AlertRule.REQUEST_COST_ANOMALY, customer, agent),
                lambda key: RequestCostHistory(key, request),
                lambda raw: RequestCostHistory.from_bytes(raw, request),
            )
            if found is not None:
                fold.request_cost(found[1], request.k, request.window_days)
        if s.hourly is not None:
            hourly = s.hourly
            for subject in ("", agent):
                found = fold.detector(
                    anomaly_key(AlertRule.HOURLY_SPIKE, customer, subject),
                    lambda key: HourlySpend(key, hourly),
                    lambda raw: HourlySpend.from_bytes(raw, hourly),
                )
                if found is not None:
                    fold.hourly_spike(*found, subject, hourly.ratio)
        tokens = priced.tokens.input + priced.tokens.output
        if s.token_drift is not None and tokens > 0:
            drift = s.token_drift
            found = fold.detector(
                anomaly_key(AlertRule.TOKEN_DRIFT, customer, agent),
                lambda key: TokenDrift(key, drift),
                lambda raw: TokenDrift.from_bytes(raw, drift),
            )
            if found is not None:
                fold.token_drift(*found, tokens, drift)


@dataclass
class _Fold:
    """One event folded into the detectors: their records, and the alerts it fires or resolves."""

    alerts: list[Alert]
    records: dict[bytes, DetectorRecord]
    before: DetectorLookup
    partition: int
    pos: int
    priced: PricedEvent
    emitted_at: datetime
    epoch_s: int  # the event's time
    newest: bool = True  # no event later than it folded into the detector at hand
    _units: int = -1

    @property
    def units(self) -> int:
        """The event's cost in 1e-12 USD, worked out once."""
        if self._units < 0:
            self._units = to_units(self.priced.cost)
        return self._units

    def detector(
        self, key: bytes, new: Callable[[str], Detector], load: Callable[[bytes], Detector]
    ) -> tuple[DetectorRecord, Detector] | None:
        """The key's record and detector as of this event; None if the event was folded before."""
        record = self.records.get(key) or self.before.detector(key)
        if record is None:
            record = DetectorRecord(b"")
        elif self.pos <= record.position:
            return None  # counted before this batch was replayed
        detector = cast(Detector | None, record.detector)
        if detector is None:
            try:
                detector = load(record.state) if record.state else new(key.decode())
            except (StateFormatError, ValueError, KeyError, TypeError) as exc:
                log.warning("anomaly state %r unreadable (%s): it starts afresh", key, exc)
                detector = new(key.decode())
            record.detector = detector
        record.position, record.partition = self.pos, self.partition
        self.newest = self.epoch_s >= record.last_seen
        record.last_seen = max(record.last_seen, self.epoch_s)
        self.records[key] = record
        return record, detector

    def request_cost(self, history: Detector, k: Decimal, window_days: int) -> None:
        if history.judge(self.epoch_s, self.units) is not Judgement.FIRED:
            return
        priced = self.priced
        event = priced.event
        verdict = history.verdict(event.occurred_at)
        request = event.request_id or event.event_id
        day = event.occurred_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        figures = {"cost": verdict.observed, "average": verdict.baseline, "threshold": verdict.threshold,
                   "ratio": verdict.ratio}  # fmt: skip
        what = (
            f"request {request} cost {verdict.observed} is {verdict.ratio}x the agent's average "
            f"{verdict.baseline}, over {k}x ({verdict.basis})"
        )
        contributors = [Contributor(kind="agent", id=event.agent_id, cost=priced.cost),
                        Contributor(kind="model", id=priced.sku, cost=priced.cost)]  # fmt: skip
        if event.task_id:
            contributors.append(Contributor(kind="task", id=event.task_id, cost=priced.cost))
        self._emit(AlertRule.REQUEST_COST_ANOMALY, AlertStatus.FIRING, "request", request, event.occurred_at,
                   (day - timedelta(days=window_days - 1), event.occurred_at), k, figures, what,
                   contributors)  # fmt: skip

    def hourly_spike(self, record: DetectorRecord, spend: Detector, subject: str, ratio: Decimal) -> None:
        priced = self.priced
        event = priced.event
        hour = self.epoch_s - self.epoch_s % HOUR
        if hour > record.hour:
            record.hour = hour
            record.contributors.clear()
        if hour == record.hour:
            costs = record.contributors
            contribute(costs, "agent", event.agent_id, priced.cost)
            contribute(costs, "model", priced.sku, priced.cost)
            contribute(costs, "task", event.task_id, priced.cost)
        judgement = spend.judge(self.epoch_s, self.units)

        def explain() -> tuple[dict[str, Decimal], str]:
            verdict = spend.verdict(event.occurred_at)
            figures = {"spend": verdict.observed, "baseline": verdict.baseline,
                       "threshold": verdict.threshold, "ratio": verdict.ratio}  # fmt: skip
            return figures, (
                f"spend {verdict.observed} in the hour against a threshold of {verdict.threshold} "
                f"({ratio}x {verdict.baseline}, {verdict.basis})"
            )

        self._episode(record, judgement, AlertRule.HOURLY_SPIKE, hour, HOUR, subject, ratio, explain)

    def token_drift(
        self, record: DetectorRecord, drift: Detector, tokens: int, settings: TokenDriftSettings
    ) -> None:
        judgement = drift.judge(self.epoch_s, tokens)
        event = self.priced.event
        day = self.epoch_s - self.epoch_s % DAY

        def explain() -> tuple[dict[str, Decimal], str]:
            verdict = drift.verdict(event.occurred_at)
            figures = {"tokens_per_request": verdict.observed, "baseline": verdict.baseline,
                       "threshold": verdict.threshold, "ratio": verdict.ratio}  # fmt: skip
            return figures, (
                f"{verdict.observed} tokens per request against {verdict.baseline} "
                f"(threshold {verdict.threshold}; {verdict.basis})"
            )

        span = (settings.recent_days - 1) * DAY
        self._episode(record, judgement, AlertRule.TOKEN_DRIFT, day - span, span + DAY, event.agent_id,
                      settings.ratio, explain)  # fmt: skip

    def _episode(
        self,
        record: DetectorRecord,
        judgement: Judgement,
        rule: AlertRule,
        start: int,
        length: int,
        subject: str,
        threshold: Decimal,
        explain: Callable[[], tuple[dict[str, Decimal], str]],
    ) -> None:
        """Fire when an episode begins, resolve at the first normal verdict of the newest time."""
        scope = "agent" if subject else "customer"
        if judgement is Judgement.FIRED and record.episode < 0:
            record.episode = start
            figures, what = explain()
            bounds = (_at(start), _at(start + length))
            self._emit(rule, AlertStatus.FIRING, scope, subject, bounds[0], bounds, threshold, figures, what,
                       top_contributors(record.contributors))  # fmt: skip
        elif judgement is Judgement.NORMAL and record.episode >= 0 and self.newest:
            since, record.episode = record.episode, -1
            figures, what = explain()
            bounds = (_at(since), _at(start + length))
            self._emit(rule, AlertStatus.RESOLVED, scope, subject, bounds[0], bounds, threshold, figures,
                       f"back to normal: {what}", top_contributors(record.contributors))  # fmt: skip

    def _emit(
        self,
        rule: AlertRule,
        status: AlertStatus,
        scope: str,
        subject: str,
        since: datetime,
        bounds: tuple[datetime, datetime],
        threshold: Decimal,
        observed: dict[str, Decimal],
        what: str,
        contributors: list[Contributor],
    ) -> None:
        event = self.priced.event
        owner = f"{event.customer_id}\x1f{event.agent_id if scope != 'customer' else ''}"
        who = event.customer_id if scope == "customer" else f"{event.customer_id}, agent {event.agent_id}"
        self.alerts.append(
            Alert(
                alert_id=alert_id(rule, owner, subject, since, threshold, status),
                rule=rule,
                status=status,
                customer_id=event.customer_id,
                budget_id="",
                scope=scope,
                subject=subject,
                period_start=bounds[0],
                period_end=bounds[1],
                threshold=threshold,
                observed=observed,
                top_contributors=contributors,
                reason=f"{status}: {who}: {what}",
                occurred_at=event.occurred_at,
                emitted_at=self.emitted_at,
            )
        )


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
