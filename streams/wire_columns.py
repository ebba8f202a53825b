"""A batch's JSON-array messages as columns: one msgspec read a message, checks a column at a time.

Each event becomes a msgspec Struct (C, no pydantic), read into a list a field
at a time; every check of the contract then runs over a column: names as one
joined text (NumPy's min and max of its bytes), or over their distinct values
where that text has anything unusual. Only what the worker's fast path
admits is admitted here (``streams.event_fast_path``): the common kinds with
their plain fields, UTC times, plain-digit amounts, no escapes. A message with
anything else (an odd field, a bad event, a wrong key, a duplicate key) is
handed back whole as *slow*: :mod:`streams.intake` decodes it event by event,
so its dead letters are the per-event path's, reasons and all. This module
never rejects an event; it only declines.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import attrgetter, is_not
from types import ModuleType
from typing import Annotated, Any, Literal, get_args

import msgspec
import numpy as np
import numpy.typing as npt
from msgspec import UNSET, Meta, UnsetType

from schemas.events import (
    MAX_ATTRIBUTE_KEY_CHARS,
    MAX_ATTRIBUTE_VALUE_CHARS,
    MAX_ATTRIBUTES,
    MAX_BYTES,
    MAX_COUNT,
    MAX_TOKENS,
)
from streams.decoding import MAX_EVENTS_PER_MESSAGE
from streams.iso_times import parse_utc
from streams.native_extension import native_extension

Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

Id = Annotated[str, Meta(min_length=1, max_length=256)]
Sku = Annotated[str, Meta(min_length=1, max_length=128)]
Tokens = Annotated[int, Meta(ge=0, le=MAX_TOKENS)]
Count = Annotated[int, Meta(ge=0, le=MAX_COUNT)]
Amount = str | int  # seconds and minutes: plain digits as text, or a JSON integer


class _Event(msgspec.Struct, tag_field="kind", forbid_unknown_fields=True, kw_only=True, gc=False):
    event_id: Id
    occurred_at: str
    customer_id: Id
    agent_id: Id
    schema_version: Literal[1] | UnsetType = UNSET
    user_id: Id | UnsetType | None = UNSET
    task_id: Id | UnsetType | None = UNSET
    request_id: Id | UnsetType | None = UNSET
    attributes: dict[str, str] | UnsetType = UNSET


class Llm(_Event, tag="llm"):
    provider: Sku
    model: Sku
    input_tokens: Tokens
    output_tokens: Tokens
    cached_input_tokens: Tokens | UnsetType = UNSET
    cache_write_tokens: Tokens | UnsetType = UNSET
    reasoning_tokens: Tokens | UnsetType = UNSET


class Tool(_Event, tag="tool"):
    tool: Sku
    calls: Count | UnsetType = UNSET


class Embedding(_Event, tag="embedding"):
    model: Sku
    tokens: Tokens


class VectorQuery(_Event, tag="vector_query"):
    provider: Sku
    queries: Count | UnsetType = UNSET


class Compute(_Event, tag="compute"):
    sku: Sku
    seconds: Amount


class Storage(_Event, tag="storage"):
    sku: Sku
    bytes: Annotated[int, Meta(ge=0, le=MAX_BYTES)]
    seconds: Amount


class HumanReview(_Event, tag="human_review"):
    sku: Sku
    minutes: Amount


class Outcome(_Event, tag="outcome"):
    outcome_type: Sku
    quantity: Count | UnsetType = UNSET
    currency: str | UnsetType = UNSET
    success: bool | UnsetType = UNSET


Event = Llm | Tool | Embedding | VectorQuery | Compute | Storage | HumanReview | Outcome
KINDS: dict[type[Any], str] = {cls: cls.__struct_config__.tag for cls in get_args(Event)}  # in Event's order
_KIND_NUMBER: dict[type[Any], int] = {cls: number for number, cls in enumerate(KINDS)}
# Per kind: the fields of its own.
_OWN: dict[type[Any], tuple[str, ...]] = {
    cls: tuple(f for f in cls.__struct_fields__ if f not in _Event.__struct_fields__) for cls in KINDS
}
# Per kind: its own fields that may be left out.
_OPTIONAL: dict[type[Any], frozenset[str]] = {
    cls: frozenset(cls.__struct_fields__[-len(cls.__struct_defaults__) :]) & set(_OWN[cls]) for cls in KINDS
}
_REQUIRED = {cls: frozenset(_OWN[cls]) - _OPTIONAL[cls] for cls in KINDS}
# The JSON strings every event of a kind holds for its required fields: keys, and text values.
_FIXED_STRINGS: dict[type[Any], int] = {
    Llm: 6,
    Tool: 2,
    Embedding: 3,
    VectorQuery: 2,
    Compute: 3,
    Storage: 4,
    HumanReview: 3,
    Outcome: 2,
}
_OPTIONAL_IDS = ("user_id", "task_id", "request_id")
_MESSAGE = msgspec.json.Decoder(list[Event])
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CURRENCY = re.compile(r"[A-Z]{3}")
_COMMON = [attrgetter(name) for name in ("event_id", "occurred_at", "customer_id", "agent_id")]
_OWN_GETTERS = {cls: [attrgetter(name) for name in names] for cls, names in _OWN.items()}


@dataclass(slots=True)
class KindRows:
    """The events of one kind: their rows in the batch, and each of the kind's own fields as a list.

    ``arrays``: the integer fields every one of these events sent, as int64 (read once, by the checks)."""

    rows: Ints
    fields: dict[str, list[Any]]
    arrays: dict[str, Ints] = field(default_factory=dict)

    def ints(self, name: str, default: int) -> Ints:
        """An integer field as int64, ``default`` where not sent."""
        found = self.arrays.get(name)
        return ints(self.fields[name], default) if found is None else found


@dataclass(slots=True)
class WireColumns:
    """The events of a batch's fast messages, column by column, in message order."""

    message: Ints  # each event's message, an index into the batch
    index: Ints  # its place in the message
    kind: Ints  # a number of KINDS' order
    event_ids: list[str]
    customers: list[str]
    agents: list[str]
    occurred_us: Ints
    optional_ids: dict[str, list[str]]  # user_id, task_id, request_id: '' for none
    attributes: list[dict[str, str]] | None  # None: no event has any
    kinds: dict[str, KindRows] = field(default_factory=dict)
    # Each event as read, for its objects: the native decoder reads them from the message when asked.
    structs: list[Event] | LazyStructs = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.message)


class LazyStructs:
    """The events' Structs, each read alone with msgspec from its bytes in its message only when
    asked for: the native decoder builds none, and only some rows' objects are ever made
    (streams.wire_events). ``spans``: each event's start and end in its message."""

    __slots__ = ("_message", "_spans", "_values")

    def __init__(self, values: Sequence[bytes], message: Ints, spans: Ints) -> None:
        self._values = values
        self._message = message
        self._spans = spans

    def __len__(self) -> int:
        return len(self._message)

    def __getitem__(self, row: int) -> Event:
        start, end = self._spans[row].tolist()
        return _EVENT.decode(memoryview(self._values[int(self._message[row])])[start:end])

    def __iter__(self) -> Iterator[Event]:
        return map(self.__getitem__, range(len(self._message)))

    def cut(self, keep: Mask) -> LazyStructs:
        return LazyStructs(self._values, self._message[keep], self._spans[keep])


_EVENT: msgspec.json.Decoder[Event] = msgspec.json.Decoder(Event)


def _load_native() -> ModuleType | None:
    """The native decoder (streams._wire_scan, built from native/ where cargo was found), unless
    COSTLINE_WIRE_DECODER=python asks for this module's own."""
    return native_extension("COSTLINE_WIRE_DECODER", "scan")


_native = _load_native()
DECODER = "native (streams._wire_scan)" if _native is not None else "python (msgspec)"
_LIMITS = (
    MAX_TOKENS, MAX_COUNT, MAX_BYTES, MAX_EVENTS_PER_MESSAGE,
    MAX_ATTRIBUTES, MAX_ATTRIBUTE_KEY_CHARS, MAX_ATTRIBUTE_VALUE_CHARS,
)  # fmt: skip


def decode_batch(
    values: Sequence[bytes], keys: Sequence[bytes | None], bounds_us: tuple[Ints, Ints] | None
) -> tuple[WireColumns, list[int]]:
    """The events of every message this module admits as columns, and the other messages' indices.

    ``bounds_us``: the earliest and latest ``occurred_at`` each message admits (from its broker time).
    The native decoder where it was built, else :func:`decode_batch_python`: the same answers.
    """
    if _native is None:
        return decode_batch_python(values, keys, bounds_us)
    return _decode_native(_native, values, keys, bounds_us)


_KIND_CLASSES = list(KINDS)


def _decode_native(
    native: ModuleType,
    values: Sequence[bytes],
    keys: Sequence[bytes | None],
    bounds_us: tuple[Ints, Ints] | None,
) -> tuple[WireColumns, list[int]]:
    values = list(values)
    low = high = None
    if bounds_us is not None:
        low, high = (np.ascontiguousarray(b, np.int64).tobytes() for b in bounds_us)
    scanned = native.scan(values, list(keys), low, high, UNSET, (*_LIMITS, sys.get_int_max_str_digits()))
    if scanned is None:  # the native scan panicked (a bug): this batch in Python, the same answers
        return decode_batch_python(values, keys, bounds_us)
    slow, message, index, kind, event_ids, customers, agents, occurred, spans, optional, attributes, kinds = (
        scanned
    )
    message = np.frombuffer(message, np.int64)
    index = np.frombuffer(index, np.int64)
    columns = WireColumns(
        message, index, np.frombuffer(kind, np.int64), event_ids, customers, agents,
        np.frombuffer(occurred, np.int64), dict(zip(_OPTIONAL_IDS, optional, strict=True)), attributes,
        {}, LazyStructs(values, message, np.frombuffer(spans, np.int64).reshape(-1, 2)),
    )  # fmt: skip
    for number, rows, lists, arrays in kinds:
        cls = _KIND_CLASSES[number]
        names = _OWN[cls]
        columns.kinds[KINDS[cls]] = KindRows(
            np.frombuffer(rows, np.int64),
            dict(zip(names, lists, strict=True)),
            {names[place]: np.frombuffer(array, np.int64) for place, array in arrays},
        )
    return columns, slow


def decode_batch_python(
    values: Sequence[bytes], keys: Sequence[bytes | None], bounds_us: tuple[Ints, Ints] | None
) -> tuple[WireColumns, list[int]]:
    """:func:`decode_batch` in Python: msgspec reads each message, then the checks run a column at a
    time. The reference the native decoder is tested against."""
    slow: set[int] = set()
    fast = [i for i, v in enumerate(values) if v[:1] == b"[" and b"\\" not in v]
    slow.update(set(range(len(values))) - set(fast))
    taken: list[int] = []
    lists: list[list[Event]] = []
    for i, events in zip(fast, _read([values[i] for i in fast]), strict=True):
        if events is not None and 0 < len(events) <= MAX_EVENTS_PER_MESSAGE:
            taken.append(i)
            lists.append(events)
    slow.update(set(fast) - set(taken))
    columns, bad = _columns(lists, np.array(taken, np.int64), values, keys, bounds_us)
    if len(bad):
        slow.update(bad.tolist())
        keep = ~np.isin(columns.message, bad)
        columns = select(columns, keep)
    return columns, sorted(slow)


def _read(values: list[bytes]) -> list[list[Event] | None]:
    """Each message read alone (None: msgspec refuses it): no copy of the batch joined into one text."""
    read: list[list[Event] | None] = []
    for value in values:
        try:
            read.append(_MESSAGE.decode(value))
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
            # msgspec raises UnicodeDecodeError for a string that is not UTF-8, RecursionError for
            # objects nested too deep: declined as the others, never raised out of the batch.
            read.append(None)
    return read


def _columns(
    lists: list[list[Event]],
    taken: Ints,
    values: Sequence[bytes],
    keys: Sequence[bytes | None],
    bounds_us: tuple[Ints, Ints] | None,
) -> tuple[WireColumns, Ints]:
    """The columns of ``lists`` (messages ``taken``) and the messages a check declined."""
    lengths = np.fromiter(map(len, lists), np.int64, len(lists))
    n = int(lengths.sum())
    if n == 0:
        return _empty(), np.zeros(0, np.int64)
    events: list[Event] = list(chain.from_iterable(lists))
    message = np.repeat(taken, lengths)
    firsts = np.cumsum(lengths) - lengths  # each message's first event
    index = np.arange(n, dtype=np.int64) - np.repeat(firsts, lengths)
    sent_values = [values[i] for i in taken.tolist()]
    kind = np.fromiter(map(_KIND_NUMBER.__getitem__, map(type, events)), np.int64, n)
    event_ids, times, customers, agents = _gathered(events, _COMMON)
    occurred_us, ok = parse_utc(times)
    strings = np.full(n, 10, np.int64)  # 5 keys, 5 text values: ids, time and kind
    ok &= _unique_ids_ok(event_ids)
    ok &= _ids_ok(agents, 256)
    # The key: every event of a message is its key's customer (its message declined where not).
    message_keys = list(map(_key_text, map(keys.__getitem__, taken.tolist())))
    counts = lengths.tolist()
    ok &= np.repeat(_keyed(customers, message_keys, counts), lengths)
    ok &= _ids_ok(customers, 256).all()  # a bad name fails every message
    # Each admitted event's customer is its message's key, equal text: one str a message, shared by
    # its events, so later stages hash and compare a message's text once, not a new text an event.
    customers = list(chain.from_iterable(map(repeat, message_keys, counts)))
    if bounds_us is not None:
        low, high = bounds_us
        ok &= (occurred_us >= low[message]) & (occurred_us <= high[message])
    optional: dict[str, list[str]] = {name: [""] * n for name in _OPTIONAL_IDS}
    columns = WireColumns(
        message, index, kind, event_ids, customers, agents, occurred_us, optional, None, {}, events
    )
    for cls, name in KINDS.items():
        rows = np.flatnonzero(kind == _KIND_NUMBER[cls])
        if not len(rows):
            continue
        chosen = list(map(events.__getitem__, rows.tolist()))
        # Every field read, a kind's rows at a time: cheaper than looking for its key in the batch's text.
        fields = dict(zip(_OWN[cls], _gathered(chosen, _OWN_GETTERS[cls]), strict=True))
        kind_rows = KindRows(rows, fields)
        kind_ok, kind_strings = _kind_checks(cls, kind_rows)
        ok[rows] &= kind_ok
        strings[rows] += kind_strings + _FIXED_STRINGS[cls]
        columns.kinds[name] = kind_rows
    # A key sent twice: msgspec kept one, so the message holds more strings than were read.
    sent = np.fromiter(map(_quotes, sent_values), np.int64, len(taken))
    unread = np.flatnonzero(sent != 2 * np.add.reduceat(strings, firsts))
    if len(unread):
        # Strings left over: a field every kind may have, or a key sent twice. Where few messages
        # have them, only the fields their text names are read; where many, every such field is read
        # (a pass over the events costs less than looking for a name in most of the batch's text).
        few = [sent_values[i] for i in unread.tolist()] if len(unread) * 8 < len(taken) else None
        ok &= _common_optional(events, None if few is None else b"".join(few), columns, strings)
    bad_messages = taken[sent != 2 * np.add.reduceat(strings, firsts)]
    return columns, np.union1d(bad_messages, np.unique(message[~ok]))


def _key_text(key: bytes | None) -> str:
    """A message's key as text; NUL (which no customer holds, and ``_keyed`` never matches) where it
    is not UTF-8: the per-event path compares the key's bytes with the customer's encoding."""
    try:
        return (key or b"").decode()
    except UnicodeDecodeError:
        return "\x00"


def _gathered(objects: list[Any], getters: Sequence[Callable[[Any], Any]]) -> list[list[Any]]:
    """Each getter's value of every object, a list a getter. Every getter's pass runs over a chunk
    of objects before the next chunk: the chunk's Structs are still in cache for the later passes."""
    if len(objects) <= _CHUNK:
        return [list(map(getter, objects)) for getter in getters]
    columns: list[list[Any]] = [[] for _ in getters]
    for start in range(0, len(objects), _CHUNK):
        part = objects[start : start + _CHUNK]
        for column, getter in zip(columns, getters, strict=True):
            column += map(getter, part)
    return columns


_CHUNK = 2048  # events of a chunk in _gathered: a few hundred kB of Structs


def _keyed(customers: list[str], keys: list[str], lengths: list[int]) -> Mask:
    """Per message (``lengths`` events each, in order): is every event's customer its key? One text
    per message compared with its key repeated, separated by NUL: no hash of each new string. A
    customer holding a NUL could line up with the separators, so any NUL answers no."""
    same = np.zeros(len(keys), np.bool_)
    start = 0
    for i, (key, length) in enumerate(zip(keys, lengths, strict=True)):
        sent = "\x00".join(customers[start : start + length])
        same[i] = sent == "\x00".join(repeat(key, length)) and "\x00" not in key
        start += length
    return same


def _quotes(value: bytes) -> int:
    """The ``"`` in ``value``: NumPy's compare and count, a few times ``bytes.count``'s speed."""
    return int(np.count_nonzero(np.frombuffer(value, np.uint8) == _QUOTE))


_QUOTE = ord('"')


def _common_optional(
    events: list[Event], text: bytes | None, columns: WireColumns, strings: Ints
) -> Mask | bool:
    """The optional fields of every kind that ``text`` names (None: every one), read into ``columns``:
    their checks, and the strings they add to ``strings``. A field ``text`` does not name is absent
    from every event of the messages that left strings unread, and read as absent from all."""
    n = len(events)
    ok: Mask | bool = True
    for name in _OPTIONAL_IDS:
        if text is not None and f'"{name}"'.encode() not in text:
            continue
        ids, counted, checked = _optional_ids(list(map(attrgetter(name), events)))
        columns.optional_ids[name] = ids
        strings += counted
        if not checked:
            ok &= _ids_ok(ids, 256, skip_empty=True)
    if text is None or b'"schema_version"' in text:
        versions = list(map(attrgetter("schema_version"), events))
        if versions.count(UNSET) != n:
            strings += np.fromiter(map(is_not, versions, repeat(UNSET)), np.bool_, n)
    if text is None or b'"attributes"' in text:
        attributes_of = list(map(attrgetter("attributes"), events))
        if text is not None or attributes_of.count(UNSET) != n:
            given = np.fromiter(map(is_not, attributes_of, repeat(UNSET)), np.bool_, n)
            none: dict[str, str] = {}  # one empty dict for every event that sent none: only read
            attributes = [none if a is UNSET else a for a in attributes_of]
            sent = [a for a in attributes_of if a is not UNSET]
            pairs = np.zeros(n, np.int64)
            pairs[given] = np.fromiter(map(len, sent), np.int64, len(sent))
            strings += given + 2 * pairs
            attributes_ok = np.ones(n, np.bool_)
            attributes_ok[given] = _attributes_column_ok(sent)
            ok &= attributes_ok
            columns.attributes = attributes
    return ok


def _attributes_column_ok(sent: list[dict[str, str]]) -> Mask:
    """``_attributes_ok`` of each dict: at once where every key and value is printable ASCII (spaces
    too), else a dict at a time."""
    keys = list(chain.from_iterable(sent))
    texts = list(chain.from_iterable(map(dict.values, sent)))
    if not (_ascii_text("".join(keys)) and _ascii_text("".join(texts))):
        return np.fromiter(map(_attributes_ok, sent), np.bool_, len(sent))
    sizes = np.fromiter(map(len, sent), np.int64, len(sent))
    key_chars = np.fromiter(map(len, keys), np.int64, len(keys))
    text_chars = np.fromiter(map(len, texts), np.int64, len(texts))
    bad = (key_chars < 1) | (key_chars > MAX_ATTRIBUTE_KEY_CHARS) | (text_chars > MAX_ATTRIBUTE_VALUE_CHARS)
    bad_before = np.concatenate(([0], np.cumsum(bad)))  # each dict's pairs are a run of keys and texts
    ends = np.cumsum(sizes)
    dict_ok: Mask = (sizes <= MAX_ATTRIBUTES) & (bad_before[ends] == bad_before[ends - sizes])
    return dict_ok


def _kind_checks(cls: type[Any], kind: KindRows) -> tuple[Mask, Ints]:
    """Each event's checks of its kind's fields, and the JSON strings its optional fields added.

    An integer field every event sent is read into ``kind.arrays`` in one pass: NumPy refuses
    ``UNSET``, so a column that converts was sent by every event (no count of ``UNSET`` needed)."""
    fields = kind.fields
    n = len(kind.rows)
    ok = np.ones(n, np.bool_)
    strings = np.zeros(n, np.int64)
    for name, column in fields.items():
        if name in ("provider", "model", "tool", "sku", "outcome_type"):
            ok &= _ids_ok(column, 128)
            continue
        if name in ("seconds", "minutes"):
            text = np.fromiter((type(v) is str for v in column), np.bool_, n)
            strings += text
            ok &= np.fromiter(map(_plain_amount, column), np.bool_, n)
            continue
        if name in _INTEGERS:
            try:
                kind.arrays[name] = np.fromiter(column, np.int64, n)
            except TypeError:  # UNSET: some events left it out
                pass
            else:
                strings += name in _OPTIONAL[cls]  # its key, in every event
                continue
        if name in _OPTIONAL[cls] and column.count(UNSET) != n:  # a key where sent
            sent = np.fromiter(map(is_not, column, repeat(UNSET)), np.bool_, n)
            strings += sent
            if name == "currency":
                strings += sent
                ok &= np.fromiter(
                    (v is UNSET or _CURRENCY.fullmatch(v) is not None for v in column), np.bool_, n
                )
    if cls is Llm:
        cached, write, reasoning = (
            kind.ints(f, 0) for f in ("cached_input_tokens", "cache_write_tokens", "reasoning_tokens")
        )
        ok &= cached + write <= kind.ints("input_tokens", 0)
        ok &= reasoning <= kind.ints("output_tokens", 0)
    return ok, strings


# The fields of type int (msgspec bounds each well inside int64) or bool: read as int64 where all sent.
_INTEGERS = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "tokens",
        "calls",
        "queries",
        "quantity",
        "success",
    }
)


def ints(column: list[Any], default: int) -> Ints:
    """A column of ints (or UNSET, taken as ``default``) as an int64 array."""
    missing = column.count(UNSET)
    if missing == len(column):
        return np.full(len(column), default, np.int64)
    if not missing:
        return np.array(column, np.int64)
    return np.array([default if v is UNSET else v for v in column], np.int64)


_PLAIN = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,18})?")


def _plain_amount(value: str | int) -> bool:
    """The worker's fast path's amounts: plain digits as text, or a JSON integer (range: pricing's)."""
    return type(value) is int or _PLAIN.fullmatch(value) is not None  # type: ignore[arg-type]


def _optional_ids(values: list[Any]) -> tuple[list[str], Ints, bool]:
    """An optional id column with '' for none, the JSON strings each event sent for it, and whether
    every id is known good already (each event sent one, printable ASCII with no space)."""
    n = len(values)
    try:
        joined = "".join(values)  # every event sent an id: the common case where any did
    except TypeError:  # UNSET or None somewhere
        pass
    else:
        return values, np.full(n, 2, np.int64), _printable_ascii(joined)
    absent = values.count(UNSET)
    if absent == n:
        return [""] * n, np.zeros(n, np.int64), True
    sent = np.fromiter(map(is_not, values, repeat(UNSET)), np.int64, n)
    text = np.fromiter((type(v) is str for v in values), np.int64, n)
    return [v if type(v) is str else "" for v in values], sent + text, False


def _identifier(value: str, limit: int) -> bool:
    """streams.event_fast_path's identifier: stripped already, printable, within ``limit``."""
    return (
        0 < len(value) <= limit
        and not value[0].isspace()
        and not value[-1].isspace()
        and (value.isprintable() or _CONTROL.search(value) is None)
    )


def _ids_ok(column: list[str], limit: int, skip_empty: bool = False) -> Mask:
    """Each value's check: the column at once where every character is printable ASCII other than a
    space (msgspec's ``Id`` and ``Sku`` bounded each length), else once per distinct value."""
    if _printable_ascii("".join(column)):
        return np.ones(len(column), np.bool_)
    verdicts = {v: (skip_empty and v == "") or _identifier(v, limit) for v in set(column)}
    if all(verdicts.values()):
        return np.ones(len(column), np.bool_)
    return np.fromiter(map(verdicts.__getitem__, column), np.bool_, len(column))


def _unique_ids_ok(ids: list[str]) -> Mask | bool:
    """Event ids, nearly all distinct: the whole column in one text where it is ASCII and printable."""
    if _printable_ascii("".join(ids)):
        return True
    return np.fromiter((_identifier(v, 256) for v in ids), np.bool_, len(ids))


def _ascii_text(joined: str) -> bool:
    """Every character of ``joined`` printable ASCII, space included: no control character in it."""
    if not joined.isascii():
        return False
    codes = np.frombuffer(joined.encode("ascii"), np.uint8)
    return not len(codes) or (int(codes.min()) >= ord(" ") and int(codes.max()) < 0x7F)


def _printable_ascii(joined: str) -> bool:
    """Every character of ``joined`` from '!' to '~': the values joined into it are printable, and
    none starts or ends with whitespace. A pass in C over the text (ASCII is a flag of the text, then
    NumPy's min and max of its bytes), not a hash a value: the values are new strings, out of cache."""
    if not joined.isascii():
        return False
    codes = np.frombuffer(joined.encode("ascii"), np.uint8)
    return not len(codes) or (int(codes.min()) > ord(" ") and int(codes.max()) < 0x7F)


def _attributes_ok(value: dict[str, str]) -> bool:
    if len(value) > MAX_ATTRIBUTES:
        return False
    return all(
        1 <= len(key) <= MAX_ATTRIBUTE_KEY_CHARS
        and len(text) <= MAX_ATTRIBUTE_VALUE_CHARS
        and (key.isprintable() or _CONTROL.search(key) is None)
        and (text.isprintable() or _CONTROL.search(text) is None)
        for key, text in value.items()
    )


def _empty() -> WireColumns:
    none = np.zeros(0, np.int64)
    return WireColumns(none, none, none, [], [], [], none, {name: [] for name in _OPTIONAL_IDS}, None)


def select(columns: WireColumns, keep: Mask) -> WireColumns:
    """The events ``keep`` marks, every column cut alike."""
    chosen = keep.tolist()
    position = np.cumsum(keep) - 1  # each kept event's row after the cut

    def cut(values: list[Any]) -> list[Any]:
        return [v for v, k in zip(values, chosen, strict=True) if k]

    selected = WireColumns(
        columns.message[keep],
        columns.index[keep],
        columns.kind[keep],
        cut(columns.event_ids),
        cut(columns.customers),
        cut(columns.agents),
        columns.occurred_us[keep],
        {name: cut(values) for name, values in columns.optional_ids.items()},
        None if columns.attributes is None else cut(columns.attributes),
        {},
        columns.structs.cut(keep) if isinstance(columns.structs, LazyStructs) else cut(columns.structs),
    )
    for name, rows in columns.kinds.items():
        kept = keep[rows.rows]
        if kept.any():
            flags = kept.tolist()
            fields = {
                f: [v for v, k in zip(values, flags, strict=True) if k] for f, values in rows.fields.items()
            }
            arrays = {f: values[kept] for f, values in rows.arrays.items()}
            selected.kinds[name] = KindRows(position[rows.rows[kept]], fields, arrays)
    return selected
