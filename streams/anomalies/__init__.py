"""Statistical cost anomalies (issue #11): pure, I/O-free detectors the stream feeds event by event.

- :class:`RequestCostHistory`: a request (or a task) above k x its key's
  trailing 30-day average cost.
- :class:`HourlySpend`: spend so far in the hour above the same hour of the
  week in past weeks, judged within minutes.
- :class:`TokenDrift`: tokens per request of the last days above the weeks
  before them (gradual token inflation).

Each holds one key's state, serializable with ``to_bytes``/``from_bytes``
for a changelogged table, and answers ``observe(at, cost) -> Verdict`` (``observe(at, tokens)`` for drift).
"""

from streams.anomalies.encoding import StateFormatError
from streams.anomalies.hourly_spike import HourlySpend, HourlySpikeSettings
from streams.anomalies.request_cost import RequestCostHistory, RequestCostSettings, Subject
from streams.anomalies.token_drift import TokenDrift, TokenDriftSettings
from streams.anomalies.verdict import AnomalyKind, Judgement, Unit, Verdict

__all__ = [
    "AnomalyKind",
    "HourlySpend",
    "HourlySpikeSettings",
    "Judgement",
    "RequestCostHistory",
    "RequestCostSettings",
    "StateFormatError",
    "Subject",
    "TokenDrift",
    "TokenDriftSettings",
    "Unit",
    "Verdict",
]
