"""Usage events of the common, well-formed shape, built without pydantic.

Pydantic's validation of the contract (:mod:`schemas.events`) was most of
the worker's decoding, ~12 µs an event. Nearly every event comes in a few
plain shapes: identifiers that need no stripping, a UTC time in ISO 8601,
integer counts, a few short attributes or none. For those,
:func:`fast_event` checks the same rules and builds the very model pydantic
would (the same fields, values, defaults and fields set). Anything else, and
anything it is unsure of, returns None and takes the strict path, which also
writes every dead letter's reason: this module never rejects an event, it
only admits events the contract admits.

Speed comes from straight-line code: per kind and set of keys sent (a
*shape*), one function is written out on first sight, as ``dataclasses``
writes ``__init__``, with each field's check inline. Left to pydantic:
``service_tier``, ``batch``, audio and image tokens, an outcome's
``value``, amounts as text other than plain digits, and corrections. The
models' own validators are checked here by hand; a unit test pins them
(tests/unit/streams/test_event_fast_path.py), so a new rule in the contract
fails that test until this module learns it.

Each shape also knows how many JSON strings (keys and text values) an
object of it holds (:func:`fast_events_counted`): the decoder's proof that a
parser keeping the last of duplicate keys saw none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from schemas.events import (
    EVENT_MODELS,
    MAX_ATTRIBUTE_KEY_CHARS,
    MAX_ATTRIBUTE_VALUE_CHARS,
    MAX_ATTRIBUTES,
    MAX_BYTES,
    MAX_COUNT,
    MAX_SECONDS,
    MAX_TOKENS,
    SCHEMA_VERSION,
    Compute,
    Embedding,
    HumanReview,
    LlmCall,
    Outcome,
    Storage,
    ToolCall,
    UsageEvent,
    VectorQuery,
)
from schemas.events import _keep_amount as keep_amount

# The contract's control characters (schemas.events._CONTROL). All are in Unicode's Cc, which
# str.isprintable() refuses: a printable string holds none, found at a third of the search's cost.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# UTC, seconds with at most microseconds: what SDKs write, read by fromisoformat
# exactly as pydantic reads it, as an aware time in UTC (what _to_utc makes of
# it). The years are the contract's (EARLIEST_OCCURRED_AT, LATEST_OCCURRED_AT).
_UTC_TIME = re.compile(
    r"(?:19[7-9][0-9]|20[0-9][0-9])-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|\+00:00)"
)
_CURRENCY = re.compile(r"[A-Z]{3}")
_PLAIN_DECIMAL = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,18})?")
_SKU_CHARS = 128
_ID_CHARS = 256

# Field checks, as expressions of the field's value ``x``. Identifiers are
# stripped by the models (str_strip_whitespace): one with whitespace at an
# end is left to pydantic. Python's isspace() holds every character pydantic
# strips, so a string passing here is one pydantic keeps as is.
_CHECKS = {
    "id": f"(type(x) is str and (x in _known or _identifier(x, {_ID_CHARS})))",
    # Seen once: checked inline, not remembered.
    "unique_id": (
        f"(type(x) is str and 0 < len(x) <= {_ID_CHARS} and not x[0].isspace() and not x[-1].isspace()"
        " and (x.isprintable() or _control(x) is None))"
    ),
    "optional_id": f"(x is None or (type(x) is str and (x in _known or _identifier(x, {_ID_CHARS}))))",
    "sku": f"(type(x) is str and (x in _known or _identifier(x, {_SKU_CHARS})))",
    "tokens": f"(type(x) is int and 0 <= x <= {MAX_TOKENS})",
    "count": f"(type(x) is int and 0 <= x <= {MAX_COUNT})",
    "bytes": f"(type(x) is int and 0 <= x <= {MAX_BYTES})",
    "bool": "(type(x) is bool)",
    "version": f"(type(x) is int and x == {SCHEMA_VERSION})",
    "attributes": "_attributes(x)",
    "currency": "(type(x) is str and _currency(x) is not None)",
}
# Fields whose value pydantic converts: the function returns the converted value, or None.
_CONVERSIONS = {"seconds": "_seconds"}
_COMMON = {
    "schema_version": "version",
    "occurred_at": "time",
    "event_id": "unique_id",
    "customer_id": "id",
    "agent_id": "id",
    "user_id": "optional_id",
    "task_id": "optional_id",
    "request_id": "optional_id",
    "attributes": "attributes",
}
# Per model, its fields' checks (kind is the shape's).
_FIELDS: dict[type[Any], dict[str, str]] = {
    LlmCall: {
        "provider": "sku",
        "model": "sku",
        "input_tokens": "tokens",
        "output_tokens": "tokens",
        "cached_input_tokens": "tokens",
        "cache_write_tokens": "tokens",
        "reasoning_tokens": "tokens",
    },
    ToolCall: {"tool": "sku", "calls": "count"},
    Embedding: {"model": "sku", "tokens": "tokens"},
    VectorQuery: {"provider": "sku", "queries": "count"},
    Outcome: {"outcome_type": "sku", "quantity": "count", "currency": "currency", "success": "bool"},
    Compute: {"sku": "sku", "seconds": "seconds"},
    Storage: {"sku": "sku", "bytes": "bytes", "seconds": "seconds"},
    HumanReview: {"sku": "sku", "minutes": "seconds"},
}
_MODELS = {kind: model for kind, model in EVENT_MODELS.items() if model in _FIELDS}
# LlmCall._parts_fit_totals for a text-only call (no media, batch or tier:
# those shapes are pydantic's): its parts within their totals.
_PARTS_FIT = {
    LlmCall: "cached_input_tokens + cache_write_tokens <= input_tokens and reasoning_tokens <= output_tokens"
}

# BaseModel's slots, set through their descriptors: a third cheaper than object.__setattr__.
_SLOT_SETTERS = {
    f"_set_{name}": BaseModel.__dict__[slot].__set__
    for name, slot in [
        ("dict", "__dict__"),
        ("fields_set", "__pydantic_fields_set__"),
        ("extra", "__pydantic_extra__"),
        ("private", "__pydantic_private__"),
    ]
}
_known: set[str] = set()  # identifiers and SKUs seen valid (few: customers, agents, models)
_KNOWN_MAX = 100_000
Builder = Callable[[dict[str, Any]], UsageEvent | None]
# How many JSON strings (keys and string values) an object of a shape holds: a number, or where
# a field may be text or not (an optional id, seconds, attributes), a function of the object.
Strings = int | Callable[[dict[str, Any]], int]
Shape = tuple[str, tuple[str, ...]]
_builders: dict[Shape, tuple[Builder, Strings] | None] = {}
_BUILDERS_MAX = 4096


def fast_event(item: Any) -> UsageEvent | None:
    """The event pydantic would make of ``item`` (a JSON object), or None: ask pydantic."""
    return fast_events([item])[0]


def fast_events(items: list[Any]) -> list[UsageEvent | None]:
    """:func:`fast_event` of each item, in one loop: a message's events at once."""
    built: list[UsageEvent | None] = []
    append = built.append
    builders = _builders
    for item in items:
        if type(item) is not dict or type(kind := item.get("kind")) is not str:
            append(None)
            continue
        shape = (kind, tuple(item))
        entry = builders.get(shape, _UNSEEN)
        if entry is _UNSEEN:
            entry = _remember(shape)
        append(entry[0](item) if entry is not None else None)
    return built


def fast_events_counted(items: list[Any]) -> tuple[list[UsageEvent], int] | None:
    """Every item built on the fast path, and the JSON strings they hold; None if one is not.

    The count proves a parser that keeps the last of duplicate keys saw none
    (:func:`streams.decoding.decode_message`).
    """
    built: list[UsageEvent] = []
    append = built.append
    builders = _builders
    strings = 0
    for item in items:
        if type(item) is not dict or type(kind := item.get("kind")) is not str:
            return None
        shape = (kind, tuple(item))
        entry = builders.get(shape, _UNSEEN)
        if entry is _UNSEEN:
            entry = _remember(shape)
        if entry is None or (event := entry[0](item)) is None:
            return None
        append(event)
        count = entry[1]
        strings += count if type(count) is int else count(item)  # type: ignore[operator]
    return built, strings


# Marks a shape without an entry yet (None is a shape known to have no builder).
_UNSEEN: tuple[Builder, Strings] = (lambda item: None, 0)


def _remember(shape: Shape) -> tuple[Builder, Strings] | None:
    build = _builder(*shape)
    entry = None if build is None else (build, _strings(*shape))
    if len(_builders) < _BUILDERS_MAX:
        _builders[shape] = entry
    return entry


# Checks whose accepted values are always text, and those that may be text or not.
_TEXT_CHECKS = {"id", "unique_id", "sku", "currency", "time"}
_MAYBE_TEXT = {
    "optional_id": "(d[{name!r}] is not None)",
    "seconds": "(type(d[{name!r}]) is str)",
    "attributes": "2 * len(d[{name!r}])",  # only str keys and values pass _attributes
}


def _strings(kind: str, keys: tuple[str, ...]) -> Strings:
    """The JSON strings of an object of this shape that its builder accepts: keys and text values."""
    checks = {**_COMMON, **_FIELDS[_MODELS[kind]], "kind": "id"}
    fixed = len(keys) + sum(checks[name] in _TEXT_CHECKS for name in keys)
    variable = [_MAYBE_TEXT[checks[name]].format(name=name) for name in keys if checks[name] in _MAYBE_TEXT]
    if not variable:
        return fixed
    counter: Callable[[dict[str, Any]], int] = eval(f"lambda d: {fixed} + " + " + ".join(variable))
    return counter


def _identifier(value: str, limit: int) -> bool:
    if not (
        0 < len(value) <= limit
        and not value[0].isspace()
        and not value[-1].isspace()
        and (value.isprintable() or _CONTROL.search(value) is None)
    ):
        return False
    if len(value) <= _SKU_CHARS:  # valid under either limit
        if len(_known) >= _KNOWN_MAX:
            _known.clear()
        _known.add(value)
    return True


def _seconds(value: Any) -> Decimal | None:
    """Seconds (and minutes): Decimal in [0, MAX_SECONDS], kept at the ledger's scale (``_keep_amount``).

    Text only as plain digits: pydantic reads more (``" 5"``, ``"1_000"``, ``"５"``) and decides those.
    """
    if type(value) is str:
        if _PLAIN_DECIMAL.fullmatch(value) is None:
            return None
        value = Decimal(value)
    elif type(value) is int:
        value = Decimal(value)
    elif type(value) is not Decimal or not value.is_finite():
        return None
    return keep_amount(value) if 0 <= value <= MAX_SECONDS else None


def _attributes(value: Any) -> bool:
    """dict[str, str] and ``_bounded_attributes``."""
    if type(value) is not dict or len(value) > MAX_ATTRIBUTES:
        return False
    for key, text in value.items():
        if (
            type(text) is not str
            or not 1 <= len(key) <= MAX_ATTRIBUTE_KEY_CHARS
            or len(text) > MAX_ATTRIBUTE_VALUE_CHARS
            or not (key.isprintable() or _CONTROL.search(key) is None)
            or not (text.isprintable() or _CONTROL.search(text) is None)
        ):
            return False
    return True


def _builder(kind: str, keys: tuple[str, ...]) -> Builder | None:
    """The function that checks and builds events of this kind sent with these keys, if any."""
    model = _MODELS.get(kind)
    if model is None:
        return None
    checks = {**_COMMON, **_FIELDS[model]}
    fields = model.model_fields
    sent = set(keys)
    if len(sent) != len(keys) or not sent <= {*checks, "kind"}:
        return None  # a field left to pydantic, or unknown to the contract
    if any(info.is_required() and name not in sent for name, info in fields.items()):
        return None
    lines = ["def build(d):"]
    for i, name in enumerate(keys):
        if name == "kind":
            continue
        lines.append(f"    v{i} = d[{name!r}]")
        if checks[name] == "time":
            # AwareDatetime and _to_utc for the UTC forms of _UTC_TIME, which fromisoformat reads
            # as pydantic does, with datetime.UTC as _to_utc's tzinfo; a day or an hour out of
            # range is pydantic's to name. Inline: a function call would cost a sixth of it.
            lines.append(f"    if type(v{i}) is not str or _utc_time(v{i}) is None: return None")
            lines.append(f"    try: v{i} = _fromisoformat(v{i})")
            lines.append("    except ValueError: return None")
        elif checks[name] in _CONVERSIONS:
            lines.append(f"    v{i} = {_CONVERSIONS[checks[name]]}(v{i})")
            lines.append(f"    if v{i} is None: return None")
        else:
            check = re.sub(r"\bx\b", f"v{i}", _CHECKS[checks[name]])
            lines.append(f"    if not {check}: return None")
    local = {name: f"v{i}" for i, name in enumerate(keys)}
    if model in _PARTS_FIT:
        rule = _PARTS_FIT[model]
        for name in sorted(fields, key=len, reverse=True):
            rule = re.sub(rf"\b{name}\b", local.get(name, repr(fields[name].default)), rule)
        lines.append(f"    if not ({rule}): return None")
    namespace: dict[str, Any] = {
        "_known": _known,
        "_control": _CONTROL.search,
        "_identifier": _identifier,
        "_utc_time": _UTC_TIME.fullmatch,
        "_fromisoformat": datetime.fromisoformat,
        "_seconds": _seconds,
        "_attributes": _attributes,
        "_currency": _CURRENCY.fullmatch,
        "_new": object.__new__,
        **_SLOT_SETTERS,
        "_model": model,
        "_sent": set(keys),
    }
    # The instance's __dict__: the fields in the model's order, defaults first, then what
    # was sent and checked (a copy and an update cost a third of a literal of every field).
    template = {}
    for name, info in fields.items():
        template[name] = kind if name == "kind" else info.default
        if info.default_factory is not None and name not in sent:
            namespace[f"_{name}_factory"] = info.default_factory
            made = "{}" if info.default_factory is dict else f"_{name}_factory()"
            lines.append(f"    new_{name} = {made}")
            local[name] = f"new_{name}"
    namespace["_template"] = template
    lines.append("    values = {**_template, **d}")
    for name, var in local.items():
        if name not in sent or checks.get(name) in {"time", *_CONVERSIONS}:  # converted values
            lines.append(f"    values[{name!r}] = {var}")
    # What pydantic's validator sets on the instance after validation.
    lines += [
        "    event = _new(_model)",
        "    _set_dict(event, values)",
        "    _set_fields_set(event, _sent.copy())",  # copied: each event's set is its own
        "    _set_extra(event, None)",
        "    _set_private(event, None)",
        "    return event",
    ]
    exec("\n".join(lines), namespace)
    build: Builder = namespace["build"]
    return build
