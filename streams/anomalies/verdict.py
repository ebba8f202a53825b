"""What a detector says about one observation, with the figures an alert quotes.

Every detector returns a :class:`Verdict`: the observed figure, the baseline it
was held against, the threshold it had to cross, and their ratio. Money figures
(observed, baseline, threshold in USD) are ``Decimal``: observed and baseline
are exact; a threshold that is a fraction of an hour's baseline is rounded
half-even at 1e-12 USD for display, while the decision itself is taken on
exact integers. The ratio is a score for people (four decimal places) and
never flows back into money.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class AnomalyKind(StrEnum):
    REQUEST_COST = "request_cost"  # one request (or task) against its agent's trailing average
    HOURLY_SPIKE = "hourly_spike"  # spend so far this hour against the same hour of past weeks
    TOKEN_DRIFT = "token_drift"  # tokens per request of recent days against the weeks before


class Judgement(StrEnum):
    FIRED = "fired"
    NORMAL = "normal"
    WARMING_UP = "warming_up"  # not enough history to judge: never fires
    ALREADY_FIRED = "already_fired"  # crossed again in a period that has fired once
    TOO_LATE = "too_late"  # older than the state keeps: neither judged nor counted


class Unit(StrEnum):
    USD = "usd"
    TOKENS_PER_REQUEST = "tokens_per_request"


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: AnomalyKind
    key: str
    at: datetime  # event time of the observation judged
    judgement: Judgement
    unit: Unit
    observed: Decimal  # the request's cost, the hour's spend so far, the recent mean
    baseline: Decimal  # the average, the seasonal median (whole hour), the earlier mean
    threshold: Decimal  # what observed had to exceed (0 while warming up)
    ratio: Decimal  # observed / baseline scaled as the threshold is; 0 without a baseline
    # How the baseline was formed, for the alert text ("30 days, 1,214 requests",
    # "4 weeks same hour of week", "7 days same hour of day").
    basis: str

    @property
    def fired(self) -> bool:
        return self.judgement is Judgement.FIRED
