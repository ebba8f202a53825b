""":func:`streams.iso_times.parse_utc` against the worker's fast path: its form (``_UTC_TIME``) and
``datetime.fromisoformat``, text by text, on well-formed times and on every kind of near miss."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from streams.event_fast_path import _UTC_TIME
from streams.iso_times import parse_utc

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def reference(text: str) -> int | None:
    """Microseconds since the epoch where the per-event path reads ``text`` as a UTC time."""
    if _UTC_TIME.fullmatch(text) is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (at - _EPOCH) // timedelta(microseconds=1)


def well_formed(rng: random.Random) -> str:
    at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(130 * 365 * 86_400 * 10**6))
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    places = rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 6])
    if places:
        text += "." + f"{at.microsecond:06d}"[:places]
    return text + rng.choice(["Z", "+00:00"])


NEAR_MISSES = [
    "",
    "Z",
    "2026-11-20",
    "2026-11-20T00:00:00",
    "2026-11-20T00:00:00.Z",
    "2026-11-20T00:00:00.1234567Z",
    "2026-11-20T00:00:00.123456+00:00Z",
    "2026-11-20T00:00:00z",
    "2026-11-20T00:00:00+01:00",
    "2026-11-20T00:00:00-00:00",
    "2026-11-20T00:00:00+0000",
    "2026-11-20 00:00:00Z",
    "2026-11-20t00:00:00Z",
    "2026/11/20T00:00:00Z",
    "2026-02-29T00:00:00Z",
    "2024-02-29T23:59:59.999999Z",
    "2100-02-29T00:00:00Z",
    "2000-02-29T00:00:00+00:00",
    "2026-04-31T00:00:00Z",
    "2026-12-31T23:59:59.9Z",
    "2026-13-01T00:00:00Z",
    "2026-00-01T00:00:00Z",
    "2026-01-00T00:00:00Z",
    "2026-01-32T00:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-01-01T23:60:00Z",
    "2026-01-01T23:59:60Z",
    "1969-12-31T23:59:59.999999Z",
    "1970-01-01T00:00:00Z",
    "2099-12-31T23:59:59.999999+00:00",
    "2100-01-01T00:00:00Z",
    "2026-11-20T00:00:00.12a456Z",
    "2026-11-20T00:00:00,123456Z",
    "2026-11-20T00:00:00.123456+00:0",
    "2026-11-20T00:00:00.123456+00:000",
    "2026-11-20T00:00:00.1+00:00",
    "2026-11-20T00:00:00.+00:00",
    "2026-11-2é T00:00:00Z",
    "２026-11-20T00:00:00Z",
    " 2026-11-20T00:00:00Z",
    "2026-11-20T00:00:00Z ",
    "+00:00",
    "12345678",
    "2026-11-20T00:00:00+00:00+00:00",
]


def test_well_formed_times_and_near_misses_are_read_as_the_per_event_path_reads_them() -> None:
    rng = random.Random(15)
    texts = [well_formed(rng) for _ in range(3000)]
    # Each well-formed time with one character replaced, dropped or doubled: a near miss a place.
    for text in texts[:300]:
        i = rng.randrange(len(text))
        c = rng.choice("0959/:-T.Z+ xé\x00")
        texts += [text[:i] + c + text[i + 1 :], text[:i] + text[i + 1 :], text[:i] + text[i] + text[i:]]
    texts += NEAR_MISSES
    rng.shuffle(texts)  # neighbours of every length: reads at offsets must stay in their own text
    micros, ok = parse_utc(texts)
    expected = [reference(t) for t in texts]
    assert ok.tolist() == [e is not None for e in expected]
    assert [int(m) if k else None for m, k in zip(micros.tolist(), ok.tolist(), strict=True)] == expected
    assert sum(e is None for e in expected) > 500  # the near misses are misses


def test_one_text_alone_and_none() -> None:
    for text in [*NEAR_MISSES, "2026-11-20T00:00:00Z", "1970-01-01T00:00:00.000001+00:00"]:
        micros, ok = parse_utc([text])
        expected = reference(text)
        assert bool(ok[0]) == (expected is not None), text
        assert expected is None or int(micros[0]) == expected
    micros, ok = parse_utc([])
    assert len(micros) == len(ok) == 0


def test_texts_holding_nul_empty_or_short_are_each_read_alone() -> None:
    good = ["2026-11-20T00:00:00Z", "2026-11-20T08:30:00.5+00:00", "2099-12-31T23:59:59.999999Z"]
    columns = [
        ["", *good, "", "Z", "2026"],  # ends found at the NULs between texts
        [good[0], "2026-11-20T00:00:00\x00Z", good[1], "\x00", good[2]],  # a NUL inside: each length
        ["\x00" + good[0], good[1]],
        [""],
        ["", ""],
    ]
    for texts in columns:
        micros, ok = parse_utc(texts)
        expected = [reference(t) for t in texts]
        assert ok.tolist() == [e is not None for e in expected], texts
        assert [int(m) if k else None for m, k in zip(micros.tolist(), ok.tolist(), strict=True)] == expected
