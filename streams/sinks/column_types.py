"""The insert types of a table's columns, as the server describes them, with faster writers.

clickhouse-connect asks the server for a table's column types before each
insert (a ``DESCRIBE`` round trip a table a batch) and writes some values a
slow way: a ``Decimal(38, 12)`` through ``str()`` and a new ``Decimal`` a
value, a ``DateTime64`` through a float timestamp a value. The sink keeps
each table's types (:class:`TableTypes`, described again after any failed
insert, so a migration is followed) and writes those two kinds itself, to
the same bytes: :class:`ExactDecimal` takes each ``Decimal``'s integer at
the column's scale, :func:`datetime_ticks` turns times into the column's
ticks with integer arithmetic (exact to the microsecond, where a float
timestamp is not always).
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from clickhouse_connect.datatypes.base import ClickHouseType
from clickhouse_connect.datatypes.numeric import BigDecimal
from clickhouse_connect.datatypes.temporal import DateTime64
from clickhouse_connect.driver.asyncclient import AsyncClient

from schemas.money import PICO_DIGITS

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class ExactDecimal(BigDecimal, registered=False):  # type: ignore[call-arg,misc]  # untyped library
    """A Decimal128/256 column written from each value's own digits.

    The library's writer builds ``Decimal(str(x)) * 10**scale`` a value. A
    value already at the column's scale (every amount the worker writes:
    schemas.money.SCALE) is its text without the point; any other goes
    through ``scaleb`` in a context of the column's precision, the same
    integer (truncated toward zero as ``int()`` truncates there).
    """

    @classmethod
    def of(cls, column: BigDecimal) -> ExactDecimal:
        return cls(column.type_def, column.prec, column.byte_size * 8, column.scale)

    def _write_column_binary(self, column: Sequence[Any], dest: bytearray, ctx: Any) -> None:
        size, scale, zeros = self.byte_size, self.scale, self._zeros
        with decimal.localcontext() as context:
            context.prec = self.prec
            for x in column:
                if not x:  # None and zero alike: the null map says which, as in the library's writer
                    dest += zeros
                    continue
                text = str(x)
                point = text.find(".")
                if point > 0 and len(text) - point - 1 == scale and "E" not in text:
                    units = int(text[:point] + text[point + 1 :])
                else:
                    units = int(Decimal(text).scaleb(scale))
                dest += units.to_bytes(size, "little", signed=True)


class PicoDecimal(BigDecimal, registered=False):  # type: ignore[call-arg,misc]  # untyped library
    """A ``Decimal(P, 12)`` column written from ints of pico-dollars: each int is the column's integer.

    The windows' money fields (:data:`streams.aggregation.PICO_COLUMNS`):
    no text, no ``Decimal``, the same bytes as the amount in USD.
    """

    @classmethod
    def of(cls, column: ClickHouseType) -> PicoDecimal:
        if not isinstance(column, BigDecimal) or column.scale != PICO_DIGITS:
            raise ValueError(f"a pico-dollar column must be a Decimal(38, 12), not {column.name}")
        return cls(column.type_def, column.prec, column.byte_size * 8, column.scale)

    def _write_column_binary(self, column: Sequence[int], dest: bytearray, ctx: Any) -> None:
        size = self.byte_size
        dest += b"".join([units.to_bytes(size, "little", signed=True) for units in column])


def insert_type(column: ClickHouseType) -> ClickHouseType:
    """The type the sink writes ``column`` with: its own, or a faster one with the same bytes."""
    if type(column) is not ExactDecimal and isinstance(column, BigDecimal):
        return ExactDecimal.of(column)
    return column


def datetime_ticks(column: ClickHouseType, values: Sequence[Any]) -> Sequence[Any]:
    """``values`` as a ``DateTime64`` column takes them: ticks since the epoch; others as they are.

    Values must be aware datetimes (every time the worker writes is UTC).
    """
    if not isinstance(column, DateTime64) or column.nullable or not values:
        return values
    if not isinstance(values[0], datetime):
        return values  # ticks already, or text: the library's own writer
    per_second: int = column.prec  # ticks a second: 10 ** precision
    if per_second == 1_000_000:
        return [(at - _EPOCH) // _MICROSECOND for at in values]
    first = values[0]
    if all(at is first for at in values):  # a column of one time (ingested_at, updated_at)
        return [(first - _EPOCH) // _MICROSECOND * per_second // 1_000_000] * len(values)
    return [(at - _EPOCH) // _MICROSECOND * per_second // 1_000_000 for at in values]


class TableTypes:
    """Each table's column types, described once and again after a failed insert."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self._types: dict[tuple[str, tuple[str, ...]], list[ClickHouseType]] = {}

    async def get(
        self, table: str, columns: tuple[str, ...], pico: frozenset[str] = frozenset()
    ) -> list[ClickHouseType]:
        """The columns' insert types; those named in ``pico`` are written from pico-dollar ints."""
        key = (table, columns)
        if key not in self._types:
            context = await self.client.create_insert_context(table, list(columns))
            self._types[key] = [
                PicoDecimal.of(t) if name in pico else insert_type(t)
                for name, t in zip(columns, context.column_types, strict=True)
            ]
        return self._types[key]

    def forget(self, table: str) -> None:
        """After a failed insert: the table may have changed (a migration), describe it again."""
        for key in [k for k in self._types if k[0] == table]:
            del self._types[key]
