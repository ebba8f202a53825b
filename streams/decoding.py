"""Kafka message bytes to usage events.

A message holds one event (a JSON object) or, as the SDK sends them, a JSON
array of 1 to 65,536 events of one customer. Arrays spread Kafka's and
Faust's per-message cost over many events. Each event keeps its place in
the message (``index``), so a bad one is dead-lettered alone and the rest
are counted.

JSON is read strictly (:func:`schemas.events.load_json`): a duplicate key
anywhere makes the whole message ``malformed_json``, since no one can say
which of the two values the producer meant to bill. An array of
well-formed events is read by msgspec instead, at about half the cost,
where counting its strings rules a duplicate out (:func:`_fast_array`);
it decides exactly as load_json would. An event whose
``occurred_at`` is too old or too far ahead of its message's broker
timestamp is ``out_of_bounds``. That check uses the broker's time, not the
clock, so a batch replayed after an outage decides as the first attempt did.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, cast

import msgspec
import numpy as np
import numpy.typing as npt
import orjson
from pydantic import ValidationError

from costline.config import Settings
from schemas.dead_letters import DeadLetterCode
from schemas.events import UsageEvent, load_json, usage_event_adapter
from streams.dead_letter import describe_validation_error
from streams.event_fast_path import fast_event, fast_events, fast_events_counted

# An event's index goes to UInt16 columns (ledger.source_index) and to the
# low 16 bits of its position (streams.aggregation): 0 .. 65,535.
MAX_EVENTS_PER_MESSAGE = 1 << 16

# The core validator itself: TypeAdapter's wrapper costs ~0.5 µs a call, a
# tenth of a one-event message's decoding.
_validate_event = cast(Callable[[Any], UsageEvent], usage_event_adapter.validator.validate_python)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NO_BOUND = 2**62  # microseconds: past any time an event may carry, and far from int64's end
Ints = npt.NDArray[np.int64]


class Decoded(NamedTuple):
    """One event of a message, or why it is not one. A tuple: one is built for every event."""

    index: int  # type: ignore[assignment]  # shadows tuple.index, which nothing here calls
    event: UsageEvent | None
    error: tuple[DeadLetterCode, str] | None = None  # (code, reason) when ``event`` is None
    raw: bytes = b""  # the event's own bytes where at hand, for a dead letter


@dataclass(frozen=True, slots=True)
class TimeBounds:
    """How far ``occurred_at`` may lie before and after its message's broker time."""

    max_age_s: float
    max_future_s: float
    _age: timedelta | None = field(init=False, repr=False, compare=False)
    _ahead: timedelta | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Once, not per message: a timedelta from a float is slow to build.
        object.__setattr__(self, "_age", _delta(self.max_age_s))
        object.__setattr__(self, "_ahead", _delta(self.max_future_s))

    @classmethod
    def from_settings(cls, settings: Settings) -> TimeBounds:
        return cls(settings.event_max_age_s, settings.event_max_future_s)

    def micros_around(self, stamps_ms: Sequence[int | None]) -> tuple[Ints, Ints]:
        """Per broker time, the earliest and latest occurred_at it admits, in microseconds since the
        epoch, as :meth:`around`; a message without a broker time is not bounded."""
        stamps = np.array([-1 if s is None else s for s in stamps_ms], np.int64) * 1000
        unknown = np.array([s is None for s in stamps_ms], np.bool_)
        age, ahead = (
            _NO_BOUND if delta is None else min(delta // _MICROSECOND, _NO_BOUND)
            for delta in (self._age, self._ahead)
        )
        low = np.where(unknown, -_NO_BOUND, stamps - age)
        high = np.where(unknown, _NO_BOUND, stamps + ahead)
        return low, high

    def around(self, timestamp_ms: int) -> tuple[datetime, datetime, datetime]:
        """The broker time, and the earliest and latest occurred_at it admits."""
        received = _EPOCH + timedelta(milliseconds=timestamp_ms)
        return received, _shift(received, self._age, -1), _shift(received, self._ahead, 1)


# msgspec reads JSON as jiter does (load_json: numbers with a fraction or exponent as Decimal,
# the same ints, strings and errors) at about half its cost, but keeps the last of duplicate keys.
_parse_fast = msgspec.json.Decoder(float_hook=Decimal).decode
# Decoded's own __new__ is Python code filling in defaults: ~3x tuple.__new__, for every event.
_decoded = cast(Callable[[tuple[Any, ...]], Decoded], functools.partial(tuple.__new__, Decoded))
_OCCURRED = operator.attrgetter("occurred_at")


def decode_message(
    raw: bytes, timestamp_ms: int | None = None, bounds: TimeBounds | None = None
) -> list[Decoded]:
    """Every event of one message, or its dead letter.

    ``timestamp_ms`` is the message's broker timestamp; without it (or
    without ``bounds``) only the contract's own bounds on ``occurred_at``
    apply.
    """
    events, decoded = decode_events(raw, timestamp_ms, bounds)
    if not events:
        return decoded
    return [_decoded((i, event, None, b"")) for i, event in enumerate(events)]


def decode_events(
    raw: bytes, timestamp_ms: int | None = None, bounds: TimeBounds | None = None
) -> tuple[list[UsageEvent], list[Decoded]]:
    """:func:`decode_message`, with the common case apart: ``(events, [])`` where every event
    of an array took the fast path and lies within the bounds, else ``([], decoded)``.

    No ``Decoded`` is built for an event of the common case, nor is each one's
    time compared in Python: the batch's earliest and latest are.
    """
    events = _fast_array(raw)
    if events is not None:
        if timestamp_ms is None or bounds is None:
            return events, []
        _, low, high = bounds.around(timestamp_ms)
        # The fast path builds no correction, so every event has both bounds.
        if low <= min(map(_OCCURRED, events)) and max(map(_OCCURRED, events)) <= high:
            return events, []
        decoded = [_decoded((i, event, None, b"")) for i, event in enumerate(events)]
        return [], check_time_bounds(decoded, timestamp_ms, bounds)
    return [], _decode_strictly(raw, timestamp_ms, bounds)


def _decode_strictly(raw: bytes, timestamp_ms: int | None, bounds: TimeBounds | None) -> list[Decoded]:
    """:func:`decode_message` of a message the fast path does not take, read by :func:`load_json`."""
    try:
        document = load_json(raw)
    except ValidationError as exc:
        return [Decoded(0, None, describe_validation_error(exc), raw)]
    if not isinstance(document, list):
        event = fast_event(document)
        decoded = [Decoded(0, event, raw=raw) if event is not None else _validate(0, document, raw)]
    elif not document:
        reason = "an empty array; a message holds one event or an array of events"
        return [Decoded(0, None, (DeadLetterCode.EMPTY_MESSAGE, reason), raw)]
    elif len(document) > MAX_EVENTS_PER_MESSAGE:
        reason = f"a message holds at most {MAX_EVENTS_PER_MESSAGE:,} events, this one {len(document):,}"
        return [Decoded(0, None, (DeadLetterCode.INVALID_EVENT, reason), raw)]
    else:
        # The common case: every event of a well-formed shape (streams.event_fast_path);
        # pydantic for the rest, one event at a time, so each error stays with its event.
        decoded = [
            _decoded((i, event, None, b"")) if event is not None else _validate(i, item, None)
            for i, (event, item) in enumerate(zip(fast_events(document), document, strict=True))
        ]
    if timestamp_ms is None or bounds is None:
        return decoded
    return check_time_bounds(decoded, timestamp_ms, bounds)


def _fast_array(raw: bytes) -> list[UsageEvent] | None:
    """An array message whose every event takes the fast path, read by msgspec; else None.

    msgspec keeps the last value of a duplicate key where load_json refuses
    the message, so a duplicate must be ruled out: without a backslash in the
    message, every ``"`` delimits a string, so the message holds twice as many
    as there are strings in it; a duplicate key is a string the parsed events
    no longer hold, so counting theirs finds it. Anything else (an escape, an
    odd event, JSON msgspec refuses) is read again by :func:`load_json`.
    """
    if raw[:1] != b"[" or b"\\" in raw:
        return None
    try:
        document = _parse_fast(raw)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None
    if type(document) is not list or not 0 < len(document) <= MAX_EVENTS_PER_MESSAGE:
        return None
    built = fast_events_counted(document)
    if built is None or raw.count(b'"') != 2 * built[1]:
        return None
    return built[0]


def check_time_bounds(decoded: list[Decoded], timestamp_ms: int, bounds: TimeBounds) -> list[Decoded]:
    """``decoded`` with each event outside ``bounds`` of ``timestamp_ms`` made a dead letter."""
    received, low, high = bounds.around(timestamp_ms)
    if all(
        d.event is None or low <= d.event.occurred_at <= high or _past_correction(d.event, high)
        for d in decoded
    ):
        return decoded  # the common case, without a new list
    checked = []
    for item in decoded:
        event = item.event
        # A correction is about the past by design: only the future bound applies to it.
        if event is not None and event.occurred_at < low and event.kind != "correction":
            reason = (
                f"occurred_at {event.occurred_at.isoformat()} is {_span(received - event.occurred_at)} "
                f"before its message's broker time {received.isoformat()}; the limit is "
                f"COSTLINE_EVENT_MAX_AGE_S={_seconds(bounds.max_age_s)}. To count it, raise that setting, "
                "restart the worker and replay this dead letter (its age is then taken from the replay)"
            )
            item = Decoded(item.index, None, (DeadLetterCode.OUT_OF_BOUNDS, reason), item.raw)
        elif event is not None and event.occurred_at > high:
            reason = (
                f"occurred_at {event.occurred_at.isoformat()} is {_span(event.occurred_at - received)} "
                f"after its message's broker time {received.isoformat()}; the limit is "
                f"COSTLINE_EVENT_MAX_FUTURE_S={_seconds(bounds.max_future_s)}. Check the producer's clock; "
                "replay this dead letter once its time has come, or raise that setting"
            )
            item = Decoded(item.index, None, (DeadLetterCode.OUT_OF_BOUNDS, reason), item.raw)
        checked.append(item)
    return checked


def _past_correction(event: UsageEvent, high: datetime) -> bool:
    return event.kind == "correction" and event.occurred_at <= high


def _validate(index: int, item: Any, raw: bytes | None) -> Decoded:
    try:
        return Decoded(index, _validate_event(item), raw=raw or b"")
    except ValidationError as exc:
        return Decoded(index, None, describe_validation_error(exc), raw or encode_json(item))


def _delta(seconds: float) -> timedelta | None:
    try:
        return timedelta(seconds=seconds)
    except OverflowError:  # past any calendar: no bound
        return None


def _shift(at: datetime, delta: timedelta | None, sign: int) -> datetime:
    """``at`` moved by ``delta``; the calendar's end when that leaves it (no bound)."""
    if delta is not None:
        try:
            return at + delta if sign > 0 else at - delta
        except OverflowError:
            pass
    return _LATEST if sign > 0 else _EARLIEST


def _seconds(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _span(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds:,.3f} s"


def encode_json(value: Any) -> bytes:
    """JSON for an array item read by :func:`load_json`, for its dead letter.

    Numbers read as ``Decimal`` are written with the digits they came with
    (``1e3`` as ``1E+3``), so the letter shows what the producer sent.
    """
    if isinstance(value, Decimal):
        return str(value).encode()
    if type(value) is int:  # orjson writes none past 64 bits; load_json reads up to 4,300 digits
        return str(value).encode()
    if isinstance(value, dict):
        return b"{" + b",".join(orjson.dumps(k) + b":" + encode_json(v) for k, v in value.items()) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(encode_json(v) for v in value) + b"]"
    return orjson.dumps(value)
