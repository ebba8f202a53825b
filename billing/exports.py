"""Billing exports: a month's usage per customer, meter and day, or its invoice lines, as a file.

An export is a function of what is stored and nothing else: no generation
time, a fixed row order, and the file swapped in whole. Exporting a month
that has not changed gives the same bytes, so a re-export can be diffed,
checksummed or re-sent without surprises.

Formats: ``csv``, ``jsonl``, ``parquet`` (encoded by ClickHouse, typed:
Date and Decimal(38, 12) columns) and ``stripe``, Stripe Billing meter
events to re-send idempotently.

This module holds the rows and the files: usage rows come from
:mod:`billing.meters`, invoice lines from :mod:`billing.invoices`; showing
progress is the caller's (the CLI draws a bar through :class:`Progress`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Literal, NamedTuple, Protocol, TypeVar, cast, get_args

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.external import ExternalData
from clickhouse_connect.driver.httpclient import HttpClient

from billing import store
from billing.exceptions import BillingError
from billing.invoices import finalized_lines
from billing.meters import meter_usage, replayed_customers
from billing.periods import Period

Format = Literal["csv", "parquet", "jsonl", "stripe"]
Data = Literal["usage", "invoice_lines"]
FORMATS: tuple[str, ...] = get_args(Format)
DATA: tuple[str, ...] = get_args(Data)

Cell = str | int | date | Decimal | None
Row = tuple[Cell, ...]
R = TypeVar("R", bound=Row)


class UsageRow(NamedTuple):
    period: str
    customer_id: str
    meter: str
    day: date
    value: Decimal
    unit: str


@dataclass(frozen=True)
class Dataset:
    """What an export holds: its columns, named and typed as the Parquet file has them."""

    name: Data
    columns: tuple[tuple[str, str], ...]  # (name, ClickHouse type)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def structure(self) -> str:
        return ", ".join(f"{name} {kind}" for name, kind in self.columns)


MONEY = "Decimal(38, 12)"
USAGE = Dataset(
    "usage",
    (
        ("period", "String"),
        ("customer_id", "String"),
        ("meter", "String"),
        ("day", "Date"),
        ("value", MONEY),
        ("unit", "String"),
    ),
)
INVOICE_LINES = Dataset(
    "invoice_lines",
    (
        ("invoice_id", "String"),
        ("customer_id", "String"),
        ("period", "String"),
        ("line_no", "UInt16"),
        ("kind", "String"),
        ("description", "String"),
        ("meter", "String"),
        ("quantity", MONEY),
        ("included", MONEY),
        ("billable", MONEY),
        ("unit_price", f"Nullable({MONEY})"),
        ("amount", MONEY),
        ("adjusts_period", "String"),
    ),
)

# Pinned so the server's defaults cannot change the file: one thread, one
# encoder, the same codec and row groups. The footer still names the
# ClickHouse version that wrote it, so another server version may give
# other bytes for the same rows.
PARQUET_SETTINGS: dict[str, Any] = {
    "max_threads": 1,
    "output_format_parallel_formatting": 0,
    "output_format_parquet_parallel_encoding": 0,
    "output_format_parquet_compression_method": "zstd",
    "output_format_parquet_row_group_size": 1_000_000,
    "output_format_parquet_string_as_string": 1,
}
STAGED = "export_rows"  # the external table a Parquet export's rows are sent as


def plain(value: Decimal) -> str:
    """A decimal exactly, without exponent or trailing zeros: ``12500``, ``0.5``."""
    if value == 0:
        return "0"  # also for -0 and 0E-12
    return f"{value.normalize():f}"


class Progress(Protocol):
    """Told an export's rows before they are written, and sees each one go by."""

    def counted(self, rows: Sequence[R], label: str) -> Iterable[R]: ...


def export(
    client: Client,
    period: Period,
    fmt: Format,
    out: Path,
    data: Data = "usage",
    progress: Progress | None = None,
    overwrite: bool = False,
) -> int:
    """Write ``data`` of ``period`` to ``out`` as ``fmt``; returns the number of rows written.

    An existing ``out`` is refused (:class:`FileExistsError`) unless ``overwrite``.
    """
    if not overwrite:
        refuse_existing(out)
    check_request(fmt, data)
    label = f"{data} {period}"
    if fmt == "stripe":
        usage = usage_rows(client, period)
        stripe_ids = {c.customer_id: c.stripe_customer_id for c in store.customers(client)}
        with replacing(out, overwrite) as tmp:
            _write_lines(tmp, (stripe_event(row, stripe_ids) for row in _counted(progress, usage, label)))
        return len(usage)
    dataset = USAGE if data == "usage" else INVOICE_LINES
    rows: Sequence[Row] = usage_rows(client, period) if data == "usage" else invoice_line_rows(client, period)
    counted = _counted(progress, rows, label)
    with replacing(out, overwrite) as tmp:
        if fmt == "csv":
            _write_csv(tmp, dataset, counted)
        elif fmt == "jsonl":
            _write_lines(tmp, (_record(dataset, row) for row in counted))
        else:
            _write_parquet(client, tmp, dataset, counted)
    return len(rows)


def check_request(fmt: str, data: str) -> None:
    """Raise :class:`BillingError` unless ``fmt`` can export ``data``."""
    if fmt not in FORMATS:
        raise BillingError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if data not in DATA:
        raise BillingError(f"unknown export data {data!r}; choose one of {', '.join(DATA)}")
    if fmt == "stripe" and data != "usage":
        raise BillingError(
            "the stripe format is meter events, so it exports usage only; "
            "export invoice lines as csv, jsonl or parquet"
        )


def _counted(progress: Progress | None, rows: Sequence[R], label: str) -> Iterable[R]:
    return rows if progress is None else progress.counted(rows, label)


def usage_rows(client: Client, period: Period) -> list[UsageRow]:
    """Every stored meter's value per customer and UTC day of the period, by (customer, meter, day)."""
    rows: list[UsageRow] = []
    replayed = replayed_customers(client, period.start, period.end)
    for meter in sorted(store.meters(client), key=lambda m: m.name):
        usage = meter_usage(client, meter, period.start, period.end, replayed=replayed)
        rows.extend(
            UsageRow(period.label, customer, meter.name, day, value, meter.unit)
            for (customer, day), value in usage.daily.items()
        )
    rows.sort(key=lambda row: (row.customer_id, row.meter, row.day))
    return rows


def invoice_line_rows(client: Client, period: Period) -> list[Row]:
    """The lines of the period's finalized invoices, by customer and line number."""
    return finalized_lines(client, period)


def stripe_event(row: UsageRow, stripe_ids: dict[str, str]) -> dict[str, Any]:
    """A usage row as a Stripe Billing meter event (``POST /v1/billing/meter_events``).

    The identifier is the same whenever (customer, meter, day) is, so Stripe
    drops a re-sent event instead of counting it twice. The timestamp is the
    day's last second: the event then falls in the day it totals.
    """
    key = f"{row.customer_id}|{row.meter}|{row.day.isoformat()}".encode()
    return {
        "event_name": row.meter,
        "identifier": f"costline-{hashlib.sha256(key).hexdigest()[:32]}",
        "payload": {
            "stripe_customer_id": stripe_ids.get(row.customer_id) or row.customer_id,
            "value": plain(row.value),
        },
        "timestamp": int(datetime.combine(row.day, time(23, 59, 59), tzinfo=UTC).timestamp()),
    }


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Decimal):
        return plain(cell)
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell)


def _json_value(cell: Cell) -> str | int | None:
    # Money stays a string: a JSON number is a float to most readers.
    if cell is None or isinstance(cell, int | str):
        return cell
    return _text(cell)


def _record(dataset: Dataset, row: Row) -> dict[str, str | int | None]:
    return {name: _json_value(cell) for name, cell in zip(dataset.names, row, strict=True)}


def _json_line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def _write_csv(path: Path, dataset: Dataset, rows: Iterable[Row]) -> None:
    with path.open("x", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(dataset.names)
        writer.writerows([_text(cell) for cell in row] for row in rows)


def _write_lines(path: Path, objects: Iterable[dict[str, Any]]) -> None:
    with path.open("x", encoding="utf-8", newline="") as f:
        f.writelines(_json_line(obj) for obj in objects)


def _write_parquet(client: Client, path: Path, dataset: Dataset, rows: Iterable[Row]) -> None:
    """Have ClickHouse encode the rows: Parquet without a Python Parquet library.

    The rows go to the server as JSON lines (an external table over HTTP, a
    bound parameter in the embedded engine) and come back as Parquet in the
    order they were sent (``n``).
    """
    # clickhouse-connect sends external data from bytes, so the staged rows are held once in memory.
    buffer = io.BytesIO()
    for n, row in enumerate(rows):
        buffer.write(_json_line({"n": n, **_record(dataset, row)}).encode())
    staged = buffer.getvalue()
    structure = f"n UInt64, {dataset.structure}"
    if isinstance(client, HttpClient):
        query = f"SELECT * EXCEPT n FROM {STAGED} ORDER BY n"
        parameters: dict[str, Any] = {}
        external = ExternalData(data=staged, file_name=STAGED, fmt="JSONEachRow", structure=structure)
    else:
        # chDB takes no external data, but in-process a parameter has no size limit.
        query = "SELECT * EXCEPT n FROM format(JSONEachRow, {structure:String}, {rows:String}) ORDER BY n"
        parameters = {"structure": structure, "rows": staged.decode()}
        external = None
    # A sync client's stream is a binary file; StreamContext is only the async client's.
    stream = cast(
        BinaryIO,
        client.raw_stream(query, parameters, PARQUET_SETTINGS, "Parquet", external_data=external),
    )
    try:
        with path.open("xb") as f:
            shutil.copyfileobj(stream, f)
    finally:
        stream.close()


def refuse_existing(out: Path) -> None:
    """Raise :class:`FileExistsError` if ``out`` exists: a user's file is never overwritten unasked."""
    if out.exists() or out.is_symlink():
        raise FileExistsError(f"{out} already exists; choose another path or pass --force to replace it")


@contextmanager
def replacing(out: Path, overwrite: bool = False) -> Iterator[Path]:
    """A temporary path next to ``out`` that becomes ``out`` only if the block succeeds.

    A reader never sees half an export, and a failed export leaves the
    previous file as it was. The name is unique so two exports to the same
    path cannot write into each other's file. Without ``overwrite`` the file
    is linked into place, which fails if ``out`` appeared meanwhile.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        if not tmp.exists():  # the block wrote nothing: an empty file, still swapped in whole
            tmp.touch()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the data must be on disk before the rename is
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, out)
        else:
            try:
                os.link(tmp, out)
            except FileExistsError:
                refuse_existing(out)
                raise
        _sync_folder(out.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
