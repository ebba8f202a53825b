"""A batch's hourly spend per key, summed for every key at once. Pure: no I/O.

The hourly spike detector (:mod:`streams.anomalies.hourly_spike`) folds each key's events of a
batch, and most of them change nothing but sums: the hour's spend, the trailing window's minutes,
the hour's top contributors. Here those sums are worked out for all the keys of a batch in a few
array passes (NumPy over the batch's integer costs and codes), each key's events in runs laid end
to end as :class:`streams.key_runs.KeyRuns` lays them:

- a run's **stretches**: its events of one hour in a row (a run is usually one stretch); for each,
  the hour, its first and latest event time, its spend in pico-dollars, whether it holds a refund,
  whether its event times never go back (then its minutes are summed too);
- a stretch's **minutes**: its spend per minute in order of time, for the trailing window;
- a stretch's **contributors** per kind (agent, model, task), in the order they first come: each
  one's costs summed (from ``ZERO``, as a contributor's first cost is), and its costliest event in
  pico-dollars.

A contributor's sum is the Decimal that adding its events' Decimal costs in order makes: adding is
exact (28 digits and more hold any realistic sum), so the sum is the pico-dollars' sum at the
finest exponent among them (pricing's costs are at 1e-12; an outcome's cost is ``0``). A batch's sums
are kept so, in pico-dollars with that exponent (:class:`KindSums`): nearly every one is added to a
record's contributors (at a steady state, to a cost kept there), and adding it in one operation
(``PICO.fma``) makes the same Decimal without making the sum's first (making a Decimal for every
contributor of a batch was ~40% of the runs' time).
:meth:`BatchSpend.of` declines a batch holding a cost finer than 1e-12 or a negative zero, and any
batch whose pico-dollars could pass int64 summed.

The detector's fold takes a stretch's sums where none of its events can fire (the judgement on
bounds of :meth:`HourlySpend.absorb`), else goes event by event as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal, getcontext
from itertools import compress, repeat
from operator import is_, itemgetter, not_

import numpy as np
import numpy.typing as npt

from schemas.alerts import ContributorKind
from streams.column_groups import codes as numbered_names
from streams.native_extension import native_extension
from streams.spend_state import MAX_CONTRIBUTORS, newcomers_kept_out

Ints = npt.NDArray[np.int64]
HOUR = 3600
MINUTE = 60
PICO_EXPONENT = -12
PICO = Decimal("1E-12")
_COST_THEN_ID = itemgetter(1, 0)  # contribute's order of eviction: smallest cost, then name
_SUMMABLE = 2**62  # a batch's pico-dollars summed in int64 only below this, in absolute value


def coded(names: Sequence[str | None]) -> tuple[Ints, list[str | None]]:
    """Each name's code into the distinct names (in order of first coming): a list as
    :func:`streams.column_groups.codes` numbers it (natively where built: a batch's models, ~1.6x
    cheaper), else :func:`coded_here`."""
    if type(names) is list:
        return numbered_names(names)  # type: ignore[arg-type,return-value]  # None is a name there too
    return coded_here(names)


def coded_here(names: Sequence[str | None]) -> tuple[Ints, list[str | None]]:
    """:func:`coded` in Python (the reference)."""
    numbers: dict[str | None, int] = {}
    codes = np.fromiter(map(numbers.setdefault, names, range(len(names))), np.int64, len(names))
    firsts = np.fromiter(numbers.values(), np.int64, len(numbers))
    # setdefault gave each name the index of its first event: renumbered 0, 1, ... in that order.
    renumber = np.zeros(len(names) + 1, np.int64)
    renumber[firsts] = np.arange(len(firsts), dtype=np.int64)
    return renumber[codes], list(numbers)


def summed(total: int, exponent: int) -> Decimal:
    """``ZERO`` plus the Decimal sum of costs whose pico-dollars add to ``total``, the finest at
    ``exponent``: a contributor's first cost, as :func:`streams.spend_state.contribute` makes it.
    (A contributor's cost is at an exponent of 0 or less: adding ``ZERO`` to what is added to it
    changes nothing.)"""
    if exponent == PICO_EXPONENT:
        return Decimal(total) * PICO
    exponent = min(exponent, 0)
    return Decimal(total // 10 ** (exponent - PICO_EXPONENT)).scaleb(exponent)


class BatchSpend:
    """What every key's sums are made of, one column per batch event: its time, its pico-dollars,
    its cost's exponent where not 1e-12's, and its contributors as codes (-1: none)."""

    __slots__ = ("exponents", "kinds", "seconds", "units")

    def __init__(
        self,
        seconds: Ints,
        units: Ints,
        exponents: Ints | None,
        kinds: Sequence[tuple[ContributorKind, Ints, Sequence[str | None]]],
    ) -> None:
        self.seconds, self.units, self.exponents, self.kinds = seconds, units, exponents, kinds

    @classmethod
    def of(
        cls,
        seconds: Ints,
        units: Sequence[int] | Ints,
        costs: Sequence[Decimal],
        loose: Sequence[int] | None,
        columns: Sequence[tuple[ContributorKind, Sequence[str | None] | tuple[Ints, Sequence[str | None]]]],
    ) -> BatchSpend | None:
        """From each event's time, pico-dollars and Decimal cost, and each kind's names per event
        (or their codes into the names); None where the sums may not be exact (the module's doc).

        ``loose``: the events whose costs may not be at 1e-12 (not priced in pico-dollars), and
        ``costs`` theirs alone, in that order; None: any of them (``costs`` every event's).
        ``units`` may be an int64 array of them (read, not kept).
        """
        n = len(units)
        array = units if isinstance(units, np.ndarray) else None
        if n:
            if array is not None:
                low, high = int(array.min()), int(array.max())
            else:
                low, high = min(units), max(units)
            if not (-_SUMMABLE // n < low and high < _SUMMABLE // n):
                return None
        exponents: Ints | None = None
        picked = costs
        odd = list(compress(range(len(picked)), map(not_, map(PICO.same_quantum, picked))))
        if odd:
            exponents = np.full(n, PICO_EXPONENT, np.int64)
            found = _exponents([picked[at] for at in odd])
            if found is None:
                return None
            exponents[odd if loose is None else [loose[at] for at in odd]] = found
        kinds: list[tuple[ContributorKind, Ints, Sequence[str | None]]] = []
        for kind, names in columns:
            codes, values = names if isinstance(names, tuple) else coded(names)
            # An empty name is no contributor, as contribute takes it.
            missing = [code for code, value in enumerate(values) if not value]
            if missing:
                codes = np.where(np.isin(codes, missing), -1, codes)
            kinds.append((kind, codes, values))
        made = array.copy() if array is not None else np.fromiter(units, np.int64, n)
        return cls(seconds, made, exponents, kinds)


def _exponents(costs: list[Decimal]) -> Ints | None:
    """Each cost's exponent; None where one is finer than 1e-12, not finite, or a negative zero (the
    sums may not be exact). Each object looked at once: most are one object over and over (an
    outcome's cost is pricing's ``ZERO`` in every row), told apart by identity (``costs`` holds them)."""
    ids = np.fromiter(map(id, costs), np.uint64, len(costs))
    distinct, first, each = np.unique(ids, return_index=True, return_inverse=True)
    made = np.empty(len(distinct), np.int64)
    for place, at in enumerate(first.tolist()):
        cost = costs[at]
        exponent = cost.as_tuple().exponent
        if type(exponent) is not int or exponent < PICO_EXPONENT or (cost.is_zero() and cost.is_signed()):
            return None
        made[place] = exponent
    return made[each.reshape(-1)]


def loose_costs(picos: Sequence[int | None]) -> list[int]:
    """The events priced without pico-dollars (``None``): their Decimal costs may be at any exponent.
    A list's natively where built (``streams._wire_scan.none_rows``: each row's pointer against None's,
    a third of the reference's time over a batch), else :func:`loose_costs_here`."""
    if _none_rows is not None and type(picos) is list:
        return np.frombuffer(_none_rows(picos), np.int64).tolist()  # type: ignore[no-any-return]
    return loose_costs_here(picos)


def loose_costs_here(picos: Sequence[int | None]) -> list[int]:
    """:func:`loose_costs` in Python (the reference)."""
    return list(compress(range(len(picos)), map(is_, picos, repeat(None)))) if None in picos else []


def _native_none_rows() -> Callable[[list[int | None]], bytearray] | None:
    """``streams._wire_scan.none_rows`` (native/src/hourly.rs), unless ``COSTLINE_HOURLY_SUMS=python``
    asks for :func:`loose_costs_here`."""
    native = native_extension("COSTLINE_HOURLY_SUMS", "none_rows")
    return None if native is None else native.none_rows  # type: ignore[no-any-return]


_none_rows = _native_none_rows()


class KindSums:
    """One kind's contributors of every stretch: stretch ``s``'s are ``bounds[s]`` to
    ``bounds[s + 1]`` of the names, their costs summed in pico-dollars (``units``; ``odd``: the places
    whose finest exponent is not -12, that exponent) and their costliest events (pico-dollars).

    A sum's Decimal is made where a record takes it (:meth:`total`, :meth:`added`), not for every
    contributor of the batch: where the record holds the contributor already (most, once its hour is
    under way), the sum is added to its cost in one operation and no Decimal of the sum is made.
    """

    __slots__ = ("bounds", "costliest", "fused", "kind", "names", "odd", "units")

    def __init__(
        self,
        kind: ContributorKind,
        names: list[str],
        units: list[int],
        odd: dict[int, int],
        costliest: list[int],
        bounds: list[int],
    ) -> None:
        self.kind, self.names, self.units, self.odd = kind, names, units, odd
        self.costliest, self.bounds = costliest, bounds
        # PICO.fma(total, cost) is cost + PICO * total rounded once: the same Decimal where the product
        # is exact, as it is for any int64 total (19 digits) at a precision of 19 or more.
        self.fused = getcontext().prec >= _INT64_DIGITS

    @property
    def totals(self) -> list[Decimal]:
        """Each contributor's sum as a Decimal (:meth:`total` of each)."""
        return list(map(self.total, range(len(self.units))))

    def total(self, at: int) -> Decimal:
        """Contributor ``at``'s costs summed: :func:`summed` of its pico-dollars."""
        if self.odd:
            exponent = self.odd.get(at)
            if exponent is not None:
                return _summed_odd(self.units[at], exponent)
        return PICO * self.units[at]

    def added(self, at: int, cost: Decimal) -> Decimal:
        """``cost + self.total(at)``, without the sum's Decimal where it is at 1e-12."""
        if self.fused and not (self.odd and at in self.odd):
            return PICO.fma(self.units[at], cost)
        return cost + self.total(at)


def _summed_odd(total: int, exponent: int) -> Decimal:
    """:func:`summed` of a sum not at 1e-12, shared where it is a zero (an outcome's cost alone,
    the usual one: immutable, so one object serves every record)."""
    if total:
        return summed(total, exponent)
    made = _ZEROS.get(exponent)
    if made is None:
        made = _ZEROS[exponent] = summed(0, exponent)
    return made


_ZEROS: dict[int, Decimal] = {}  # summed(0, exponent) by exponent: at most 13 (exponents -12 to 0)
_INT64_DIGITS = 19


def add_contributor_units(
    contributors: dict[str, dict[str, Decimal]], sums: KindSums, begin: int, end: int
) -> bool:
    """:func:`streams.spend_state.add_contributor_sums` of ``sums``' contributors ``begin`` to ``end``
    (those of one stretch), given in pico-dollars: the same Decimals (value and exponent), each sum's
    made only where it comes in new (:meth:`KindSums.added` where it adds to a kept cost). False, and
    nothing changed, where that needs the events one by one."""
    kind, names = sums.kind, sums.names
    costs = contributors.get(kind)
    if costs is None:
        if end - begin > MAX_CONTRIBUTORS:
            return False
        # ZERO plus a sum is the sum (summed makes it so).
        contributors[kind] = dict(zip(names[begin:end], map(sums.total, range(begin, end)), strict=True))
        return True
    idents = names[begin:end]
    if len(costs) + len(idents) > MAX_CONTRIBUTORS:
        fresh = [ident not in costs for ident in idents]
        if len(costs) + sum(fresh) > MAX_CONTRIBUTORS:
            if not newcomers_kept_out(costs, fresh, sums.costliest[begin:end]):
                return False  # one by one
            added = sums.added
            for at, new in enumerate(fresh, begin):
                if not new:
                    ident = names[at]
                    costs[ident] = added(at, costs[ident])
            return True
    if not sums.odd and sums.fused:  # the usual: each at 1e-12, added to a kept cost in one operation
        units, fma = sums.units, PICO.fma
        for at in range(begin, end):
            ident = names[at]
            had = costs.get(ident)
            costs[ident] = PICO * units[at] if had is None else fma(units[at], had)
        return True
    for at in range(begin, end):
        ident = names[at]
        had = costs.get(ident)
        costs[ident] = sums.total(at) if had is None else sums.added(at, had)
    return True


class HourlyRuns:
    """A batch's runs (one a key) cut into stretches of one hour, with their sums (the module's doc).

    ``order``: the batch's events in the runs' order; ``starts``: where each run begins in it;
    ``one_each``: the kinds whose contributor is the same for all of a run's events (an agent's own
    detector's agent), summed per stretch without grouping. At least one event.
    """

    __slots__ = ("_names", "_numbers", "bounds", "codes", "exponents", "first", "kinds", "latest",
                 "minute_bounds", "minute_sums", "minutes", "refund", "seg_ends", "seg_hours", "seg_starts",
                 "spent", "steady", "units", "unmixed")  # fmt: skip

    def __init__(
        self, spend: BatchSpend, order: Ints, starts: Sequence[int], one_each: frozenset[str]
    ) -> None:
        n = len(order)
        assert n, "no events"
        seconds = spend.seconds[order]
        units = spend.units[order]
        exponents = spend.exponents[order] if spend.exponents is not None else None
        # Each event's pico-dollars, and its cost's exponent (where not all at 1e-12), in the runs' order.
        self.units: Ints = units
        self.exponents: Ints | None = exponents
        # Each kind's codes (-1: none) in the runs' order, into its names.
        self.codes: dict[str, tuple[Ints, Sequence[str | None]]] = {}
        self._numbers: dict[str, dict[str | None, int]] = {}
        self._names: dict[str, list[str]] = {}
        hours = seconds // HOUR
        begins = np.zeros(n, np.bool_)
        begins[np.array(starts, np.int64)] = True
        begins[1:] |= hours[1:] != hours[:-1]
        seg_starts = np.flatnonzero(begins)
        # Each run's stretches: run r's are bounds[r] to bounds[r + 1].
        self.bounds: list[int] = np.searchsorted(seg_starts, np.array([*starts, n], np.int64)).tolist()
        self.seg_starts: list[int] = seg_starts.tolist()
        self.seg_ends: list[int] = [*self.seg_starts[1:], n]
        self.seg_hours: list[int] = hours[seg_starts].tolist()
        self.first: list[int] = seconds[seg_starts].tolist()
        self.latest: list[int] = np.maximum.reduceat(seconds, seg_starts).tolist()
        spent = np.add.reduceat(units, seg_starts)
        self.spent: list[int] = spent.tolist()
        self.refund: list[bool] = (np.minimum.reduceat(units, seg_starts) < 0).tolist()
        back = np.zeros(n, np.bool_)
        back[1:] = seconds[1:] < seconds[:-1]
        back[seg_starts] = False
        # A stretch whose times never go back: its minutes come in order, each summed.
        self.steady: list[bool] = (~np.logical_or.reduceat(back, seg_starts)).tolist()
        minutes = seconds // MINUTE
        minute_begins = begins.copy()
        minute_begins[1:] |= minutes[1:] != minutes[:-1]
        minute_starts = np.flatnonzero(minute_begins)
        self.minutes: list[int] = minutes[minute_starts].tolist()
        self.minute_sums: list[int] = np.add.reduceat(units, minute_starts).tolist()
        self.minute_bounds: list[int] = np.searchsorted(minute_starts, np.append(seg_starts, n)).tolist()
        seg_of = np.cumsum(begins) - 1  # each event's stretch
        self.kinds: list[KindSums] = []
        unmixed = np.ones(len(seg_starts), np.bool_)
        for kind, all_codes, values in spend.kinds:
            codes = all_codes[order]
            self.codes[kind] = (codes, values)
            if kind in ("agent", "model"):
                # An event without an agent or a model makes its kinds one by one: not summed.
                unmixed &= ~np.logical_or.reduceat(codes < 0, seg_starts)
            if kind in one_each:
                sums = self._one_each(kind, codes, spent, units, exponents, seg_starts, values)
            else:
                sums = _grouped(kind, codes, units, exponents, seg_starts, seg_of, values)
            self.kinds.append(sums)
        self.unmixed: list[bool] = unmixed.tolist()

    def names(self, kind: str) -> list[str]:
        """``kind``'s names of its codes, "" for none (made at the first call)."""
        made = self._names.get(kind)
        if made is None:
            made = self._names[kind] = [value or "" for value in self.codes[kind][1]]
        return made

    def numbers(self, kind: str) -> dict[str | None, int]:
        """Each name of ``kind``'s codes, its code (made at the first call)."""
        number = self._numbers.get(kind)
        if number is None:
            values = self.codes[kind][1]
            number = self._numbers[kind] = dict(zip(values, range(len(values)), strict=True))
        return number

    @staticmethod
    def _one_each(
        kind: ContributorKind,
        codes: Ints,
        spent: Ints,
        units: Ints,
        exponents: Ints | None,
        seg_starts: Ints,
        values: Sequence[str | None],
    ) -> KindSums:
        """A stretch's one contributor (if it has one) and its costs summed."""
        named = codes[seg_starts] >= 0
        odd = _odd(None if exponents is None else np.minimum.reduceat(exponents, seg_starts)[named])
        costliest = np.maximum.reduceat(units, seg_starts)[named].tolist()
        names = [values[c] for c in codes[seg_starts][named].tolist()]
        bounds = np.concatenate(([0], np.cumsum(named))).tolist()
        return KindSums(kind, names, spent[named].tolist(), odd, costliest, bounds)  # type: ignore[arg-type]


def _grouped(
    kind: ContributorKind,
    codes: Ints,
    units: Ints,
    exponents: Ints | None,
    seg_starts: Ints,
    seg_of: Ints,
    values: Sequence[str | None],
) -> KindSums:
    """Each stretch's contributors in the order they first come, their costs summed: in one native
    pass where built (``streams._wire_scan.stretch_groups``), else :func:`_grouped_here`."""
    if _stretch_groups is None:
        return _grouped_here(kind, codes, units, exponents, seg_of, len(seg_starts), values)
    try:
        named, totals, costliest, odd, bounds = _stretch_groups(
            codes.tobytes(),
            units.tobytes(),
            b"" if exponents is None else exponents.tobytes(),
            seg_starts.tobytes(),
            len(values),
        )
    except ValueError:  # a sum past int64 (never with a batch's pico-dollars below 2**62 summed)
        return _grouped_here(kind, codes, units, exponents, seg_of, len(seg_starts), values)
    names = list(map(values.__getitem__, named))
    return KindSums(kind, names, totals, dict(odd), costliest, bounds)  # type: ignore[arg-type]  # named: str


def _grouped_here(
    kind: ContributorKind,
    codes: Ints,
    units: Ints,
    exponents: Ints | None,
    seg_of: Ints,
    segs: int,
    values: Sequence[str | None],
) -> KindSums:
    """:func:`_grouped` in array passes (the reference): the events sorted by stretch and code."""
    named = np.flatnonzero(codes >= 0)
    if not len(named):
        return KindSums(kind, [], [], {}, [], [0] * (segs + 1))
    key = seg_of[named] * (int(codes.max()) + 1) + codes[named]
    by_key = np.argsort(key, kind="stable")
    ordered = key[by_key]
    group_starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    at = named[by_key]  # the events in groups, each group's in order
    firsts = at[group_starts]
    arrival = np.argsort(firsts)  # stretches are stretches of the order: by stretch too
    grouped_units = units[at]
    totals = np.add.reduceat(grouped_units, group_starts)[arrival].tolist()
    odd = _odd(None if exponents is None else np.minimum.reduceat(exponents[at], group_starts)[arrival])
    costliest = np.maximum.reduceat(grouped_units, group_starts)[arrival].tolist()
    arrived = firsts[arrival]
    names = [values[c] for c in codes[arrived].tolist()]
    bounds = np.searchsorted(seg_of[arrived], np.arange(segs + 1, dtype=np.int64)).tolist()
    return KindSums(kind, names, totals, odd, costliest, bounds)  # type: ignore[arg-type]  # named: str


def _odd(exponents: Ints | None) -> dict[int, int]:
    """The places whose exponent is not 1e-12's, and that exponent (a few: zeros, as outcomes cost)."""
    if exponents is None:
        return {}
    places = np.flatnonzero(exponents != PICO_EXPONENT)
    return dict(zip(places.tolist(), exponents[places].tolist(), strict=True))


def contribute_units(
    costs: dict[str, Decimal],
    idents: Sequence[str | None],
    units: Sequence[int],
    exponents: Sequence[int] | None,
) -> bool:
    """:func:`streams.spend_state._contribute_each` of events given by their pico-dollars (``exponents``:
    their Decimal costs' exponents, each at least -12; None: all at -12), summed in integers: a
    Decimal is made only for a contributor whose cost changed. False, and nothing changed, where a
    kept cost is not at an exponent from -12 to 0, is a negative zero or is 2**62 pico-dollars or more
    (then the Decimals' way).

    Exact: a sum of Decimals at exponents from -12 to 0 is the integer sum at the finest of them
    (:func:`summed`), their order (by cost, then name) that of the integers.
    """
    held: dict[str, int] = {}
    finest: dict[str, int] = {}  # each contributor's exponent, as Decimal adding leaves it
    for ident, cost in costs.items():
        summable = _summable(cost)
        if summable is None:
            return False
        total, exponent = summable
        held[ident] = total
        finest[ident] = exponent
    changed: set[str] = set()
    smallest: tuple[int, str] | None = None  # held's smallest while full; None: not known
    each = [PICO_EXPONENT] * len(units) if exponents is None else exponents
    for name, amount, exponent in zip(idents, units, each, strict=True):
        if not name:
            continue
        had = held.get(name)
        if had is not None:
            total = held[name] = had + amount
            if exponent < finest[name]:
                finest[name] = exponent
            changed.add(name)
            if smallest is not None and (name == smallest[1] or (total, name) < smallest):
                smallest = None
            continue
        if len(held) >= MAX_CONTRIBUTORS:
            if smallest is None:
                least = min(held.items(), key=_COST_THEN_ID)
                smallest = (least[1], least[0])
            if (amount, name) < smallest:
                continue  # it would come in and go out again
            gone = smallest[1]
            del held[gone], finest[gone]
            smallest = None
        held[name] = amount
        finest[name] = min(exponent, 0)  # ZERO plus the cost
        changed.add(name)
    kept = dict(costs)
    costs.clear()
    for ident, total in held.items():
        costs[ident] = summed(total, finest[ident]) if ident in changed else kept[ident]
    return True


def contribute_coded(
    costs: dict[str, Decimal],
    codes: Ints,
    values: Sequence[str | None],
    number: dict[str | None, int],
    units: Ints,
    exponents: Ints | None,
) -> bool:
    """:func:`contribute_units` of events given by their contributors' codes into ``values`` (-1:
    none; ``number``: each value's code), in array passes; False, and nothing changed, where it
    declines (as :func:`contribute_units` does, or a refund among the events).

    While the kind has room every event adds, the newcomers coming in at their first events, up to
    the event of the first newcomer past :data:`MAX_CONTRIBUTORS`. Once full, an event of a kept
    contributor adds, and a newcomer below the cheapest kept one goes at once; the cheapest kept one
    only grows (no cost is negative, and a newcomer comes in only above it), so the events up to the
    next newcomer not below it as it last stood are summed at once, and that newcomer judged alone.
    """
    if len(costs) > MAX_CONTRIBUTORS or len(number) != len(values) or (len(units) and int(units.min()) < 0):
        return False
    named = np.flatnonzero(codes >= 0)
    if len(named) < len(codes):
        codes, units = codes[named], units[named]
        exponents = exponents[named] if exponents is not None else None
    size = len(values) + len(costs)  # a kept contributor without events here: a code past the values'
    held = np.zeros(size, np.int64)  # each one's pico-dollars
    finest = np.zeros(size, np.int64)  # and its exponent, as Decimal adding leaves it
    kept = np.zeros(size, np.bool_)
    changed = np.zeros(size, np.bool_)
    order: list[int] = []  # the kept ones' codes, in the dict's order
    names: dict[int, str] = {}  # the kept ones' names
    before: dict[int, Decimal] = {}
    for ident, cost in costs.items():
        summable = _summable(cost)
        if summable is None:
            return False
        total, exponent = summable
        code = number.get(ident)
        if code is None:
            code = len(values) + len(order)
        held[code] = total
        finest[code] = exponent
        kept[code] = True
        order.append(code)
        names[code] = ident
        before[code] = cost
    n, at = len(codes), 0
    room = MAX_CONTRIBUTORS - len(order)
    if room > 0 and n:
        newcomer = np.flatnonzero(~kept[codes])
        fresh, firsts = np.unique(codes[newcomer], return_index=True)
        arrival = np.argsort(firsts)
        came = fresh[arrival][:room]  # the newcomers that come in, in order
        at = n if len(fresh) <= room else int(newcomer[firsts[arrival[room]]])
        held[came] = 0  # ZERO, plus their costs
        finest[came] = 0
        kept[came] = True
        for code in came.tolist():
            order.append(code)
            names[code] = values[code]  # type: ignore[assignment]  # named
        _add(held, finest, changed, codes[:at], units[:at], None if exponents is None else exponents[:at])
    if at < n:
        least = _cheapest(order, held, names)
        while True:
            judged = np.flatnonzero(~kept[codes[at:]] & (units[at:] >= least[0]))
            stop = n if not len(judged) else at + int(judged[0])
            part = kept[codes[at:stop]]
            _add(held, finest, changed, codes[at:stop][part], units[at:stop][part],
                 None if exponents is None else exponents[at:stop][part])  # fmt: skip
            if stop == n:
                break
            least = _cheapest(order, held, names)
            code, amount = int(codes[stop]), int(units[stop])
            name: str = values[code]  # type: ignore[assignment]  # named
            if (amount, name) >= least[:2]:  # it comes in, the cheapest goes
                gone = least[2]
                kept[gone] = False
                order.remove(gone)
                held[code] = amount
                finest[code] = min(int(exponents[stop]), 0) if exponents is not None else PICO_EXPONENT
                kept[code] = changed[code] = True
                order.append(code)
                names[code] = name
                least = _cheapest(order, held, names)
            at = stop + 1
    totals, exps, moved = held.tolist(), finest.tolist(), changed.tolist()
    made = {names[code]: summed(totals[code], exps[code]) if moved[code] else before[code] for code in order}
    costs.clear()
    costs.update(made)
    return True


def _add(held: Ints, finest: Ints, changed: npt.NDArray[np.bool_], codes: Ints, units: Ints,
         exponents: Ints | None) -> None:  # fmt: skip
    """Each event's pico-dollars added to its contributor's, its exponent to theirs."""
    if not len(codes):
        return
    np.add.at(held, codes, units)
    changed[codes] = True
    if exponents is None:
        finest[codes] = PICO_EXPONENT  # the finest there is
    else:
        np.minimum.at(finest, codes, exponents)


def _cheapest(order: list[int], held: Ints, names: dict[int, str]) -> tuple[int, str, int]:
    """The cheapest kept contributor (by cost, then name: the one contribute evicts), and its code."""
    return min(zip(held[order].tolist(), map(names.__getitem__, order), order, strict=True))


def _summable(cost: Decimal) -> tuple[int, int] | None:
    """A kept cost as pico-dollars and its exponent, where summing integers is exact for it: an
    exponent from -12 to 0, not -0, and small enough that its sums with a batch's fit int64 (and 19
    digits). None: the Decimals' way."""
    exponent = cost.as_tuple().exponent
    if (
        type(exponent) is not int
        or not PICO_EXPONENT <= exponent <= 0
        or (cost.is_zero() and cost.is_signed())
    ):
        return None
    total = int(cost.scaleb(-PICO_EXPONENT))
    return (total, exponent) if -_SUMMABLE < total < _SUMMABLE else None


# A kind's names as the native sums take them: past this many, each event in turn in Python.
_NATIVE_NAMES = 4096


def _native() -> Callable[..., list[tuple[int, int, int, bool]]] | None:
    """The native sums (``streams._wire_scan.contribute_full``, built from native/src/hourly.rs where
    cargo was found), unless ``COSTLINE_HOURLY_SUMS=python`` asks for :func:`contribute_units`."""
    native = native_extension("COSTLINE_HOURLY_SUMS", "contribute_full")
    if native is None:
        return None
    contribute_full: Callable[..., list[tuple[int, int, int, bool]]] = native.contribute_full
    return contribute_full


_contribute_full = _native()
NATIVE = _contribute_full is not None


# What the native grouping gives: each group's code, pico-dollars and costliest event, the groups not at
# -12 (place, exponent), each stretch's first group.
_Groups = tuple[list[int], list[int], list[int], list[tuple[int, int]], list[int]]


def _native_groups() -> Callable[..., _Groups] | None:
    """The native grouping (``streams._wire_scan.stretch_groups``, native/src/hourly.rs), unless
    ``COSTLINE_HOURLY_SUMS=python`` asks for :func:`_grouped_here`."""
    native = native_extension("COSTLINE_HOURLY_SUMS", "stretch_groups")
    return None if native is None else native.stretch_groups  # type: ignore[no-any-return]


_stretch_groups = _native_groups()


def contribute_native(
    costs: dict[str, Decimal],
    codes: Ints,
    names: Sequence[str],
    number: dict[str | None, int],
    units: Ints,
    exponents: Ints | None,
) -> bool:
    """:func:`contribute_units` of events given by their contributors' codes (-1: none) into
    ``names`` (``number``: each name's code), in native code; False, and nothing changed, where the
    native sums are not built, there are too many names, or :func:`contribute_units` would decline."""
    if _contribute_full is None or len(names) > _NATIVE_NAMES or len(number) != len(names):
        return False
    kept_codes: list[int] = []
    kept_units: list[int] = []
    kept_exponents: list[int] = []
    extra: list[str] = []  # kept ones without a code: codes past the names'
    for ident, cost in costs.items():
        summable = _summable(cost)
        if summable is None:
            return False
        total, exponent = summable
        code = number.get(ident)
        if code is None:
            code = len(names) + len(extra)
            extra.append(ident)
        kept_codes.append(code)
        kept_units.append(total)
        kept_exponents.append(exponent)
    every = [*names, *extra] if extra else names
    try:
        after = _contribute_full(
            kept_codes,
            kept_units,
            kept_exponents,
            every,
            codes.tobytes(),
            units.tobytes(),
            b"" if exponents is None else exponents.tobytes(),
        )
    except ValueError:  # a sum past int64 (never with a batch's sums and kept costs below 2**62)
        return False
    before = list(costs.values())
    by_code = dict(zip(kept_codes, before, strict=True))
    costs.clear()
    for code, total, exponent, changed in after:
        costs[every[code]] = summed(total, exponent) if changed else by_code[code]
    return True
