"""A batch's records are written in one loop, to the very bytes, partitions, changelog and cache
that writing them one by one (:meth:`TableSpend.put`) gives."""

from __future__ import annotations

import gc
from decimal import Decimal

import msgspec
import orjson
import pytest

from schemas.alerts import AlertStatus
from streams.anomaly_rules import DETECTOR_IDLE_S
from streams.spend_control import TableSpend
from streams.spend_state import (
    BudgetSpend,
    DetectorRecord,
    Fired,
    RulesMark,
    TaskTally,
    anomaly_key,
    budget_key,
    rules_mark_key,
    task_key,
)

MANY_DIGITS = Decimal("12345678901234567890.123456789012345678")


class Store(dict[bytes, bytes]):
    """The worker's store: a dict that also knows each key's partition."""

    def __init__(self) -> None:
        super().__init__()
        self._key_partition: dict[bytes, int] = {}


class Table:
    def __init__(self, store: dict[bytes, bytes]) -> None:
        self.data = store


def detectors() -> dict[bytes, DetectorRecord]:
    return {
        anomaly_key("hourly_spike", "acme", "agent-1"): DetectorRecord(
            b'{"key":"acme"}',
            position=41,
            partition=3,
            last_seen=1_795_132_804,
            hour=1_795_132_800,
            contributors={
                "agent": {"agent-1": MANY_DIGITS, "agent-\u00e9\n": Decimal("-0.000000000001")},
                "model": {"gpt-4o": Decimal("0E-12"), "claude": Decimal("1E+3"), "x": Decimal("-7.5")},
                "task": {},
            },
        ),
        anomaly_key("request_cost", "acme", ""): DetectorRecord(b"", position=7, partition=3),
        anomaly_key("token_drift", "zeta", 'a"b'): DetectorRecord(
            b"state", position=-1, partition=0, episode=1_795_000_000, contributors={}
        ),
    }


def budgets() -> dict[bytes, BudgetSpend]:
    return {
        budget_key("monthly", "acme"): BudgetSpend(
            period_start=1_793_491_200,
            spend=MANY_DIGITS,
            hourly={1_795_132_800: Decimal("-3.000000000001")},
            position=9,
            partition=1,
            contributors={"agent": {"agent-1": Decimal("0.1")}},
            fired={"80": Fired(AlertStatus.FIRING, 1_793_491_200)},
        )
    }


def tasks() -> dict[bytes, TaskTally]:
    return {task_key("acme", "task-1"): TaskTally(first_seen=5, cost=Decimal("-0.5"), tokens=12, partition=2)}


def one_by_one(
    records: TableSpend,
    batch: dict[bytes, BudgetSpend] | dict[bytes, TaskTally] | dict[bytes, DetectorRecord],
) -> None:
    for key, record in batch.items():
        records.put(key, record.encode(), record.partition, record)


@pytest.mark.parametrize("store", [dict, Store], ids=["plain dict", "with partitions"])
@pytest.mark.parametrize("decoded_max", [0, 2, 1000])
def test_put_records_writes_what_put_writes_record_by_record(
    store: type[dict[bytes, bytes]], decoded_max: int
) -> None:
    batches = (budgets, tasks, detectors)
    expected, actual = TableSpend(Table(store()), decoded_max), TableSpend(Table(store()), decoded_max)
    for batch in batches:
        one_by_one(expected, batch())
        actual.put_records(batch())

    assert list(actual.table.data.items()) == list(expected.table.data.items())
    assert getattr(actual.table.data, "_key_partition", None) == getattr(
        expected.table.data, "_key_partition", None
    )
    assert actual.changelog._pending == expected.changelog._pending
    assert actual._decoded_raw == expected._decoded_raw
    assert list(actual._decoded) == list(expected._decoded) == list(actual._decoded_raw)


def test_a_record_put_in_a_batch_is_read_back_without_decoding() -> None:
    records = TableSpend(Table({}))
    written = detectors()
    records.put_records(written)

    for key, record in written.items():
        assert records.detector(key) is record


def test_a_kept_record_is_decoded_afresh_once_the_table_holds_other_bytes_for_its_key() -> None:
    """As after a restore: the same bytes, but not the very ones it was kept as."""
    records = TableSpend(Table({}))
    written = detectors()
    records.put_records(written)
    key, record = next(iter(written.items()))
    records.table.data[key] = bytes(bytearray(records.table.data[key]))

    read, [read_all] = records.detector(key), records.detectors([key])

    assert read is not record and read_all is not record
    assert read is not None and read_all is not None
    assert same_record(read, DetectorRecord.decode(record.encode())) and same_record(read_all, read)


def test_forgetting_the_kept_records_reads_them_from_their_bytes() -> None:
    records = TableSpend(Table({}))
    written = detectors()
    records.put_records(written)

    records.forget_decoded()

    for key, record in written.items():
        read = records.detector(key)
        assert read is not record and read is not None
        assert same_record(read, DetectorRecord.decode(record.encode()))


def test_records_kept_for_the_next_batch_add_no_object_the_collector_tracks() -> None:
    """The collection a batch owes traverses what outlived the batch: a kept record adds nothing to
    that but itself (no pair of its bytes and itself)."""
    written = {
        anomaly_key("request_cost", "acme", f"agent-{i}"): DetectorRecord(b"", position=i, partition=3)
        for i in range(1000)
    }
    records = TableSpend(Table({}))
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        records.put_records(written)
        records.changelog._pending.clear()  # sent by the batch's flush
        after = len(gc.get_objects())
    finally:
        gc.enable()

    assert after - before < 10
    assert [records.detector(key) for key in written] == list(written.values())


def test_a_detector_record_reads_back_as_written() -> None:
    records = TableSpend(Table({}))
    records.put_records(detectors())

    for key, record in detectors().items():
        again = DetectorRecord.decode(records.table.data[key])
        assert (again.state, again.position, again.episode, again.hour) == (
            record.state, record.position, record.episode, record.hour
        )  # fmt: skip
        assert again.contributors == record.contributors


# The records of detectors() as workers before session 15 wrote them (JSON): still read, to the same record.
WRITTEN_BEFORE_SESSION_15 = [
    b'[41,3,1795132804,-1,1795132800,{"agent":{"agent-1":"12345678901234567890.123456789012345678",'
    b'"agent-\xc3\xa9\\n":"-1E-12"},"model":{"gpt-4o":"0E-12","claude":"1E+3","x":"-7.5"},"task":{}}]\n'
    b'{"key":"acme"}',
    b"[7,3,0,-1,-1,{}]\n",
    b"[-1,0,0,1795000000,-1,{}]\nstate",
]


def same_record(a: DetectorRecord, b: DetectorRecord) -> bool:
    """Equal fields, each decimal of the very digits and exponent (NaN as NaN)."""
    fields = (a.state, a.position, a.partition, a.last_seen, a.episode, a.hour, a.detector)
    exact = {k: {i: str(c) for i, c in v.items()} for k, v in a.contributors.items()}
    other = {k: {i: str(c) for i, c in v.items()} for k, v in b.contributors.items()}
    again = (b.state, b.position, b.partition, b.last_seen, b.episode, b.hour, b.detector)
    return fields == again and exact == other and list(a.contributors) == list(b.contributors)


def test_detector_records_are_one_messagepack_array_with_decimals_as_strings() -> None:
    records = TableSpend(Table({}))
    records.put_records(detectors())

    assert [msgspec.msgpack.decode(raw) for raw in records.table.data.values()] == [
        [41, 3, 1795132804, -1, 1795132800,
         {"agent": {"agent-1": "12345678901234567890.123456789012345678", "agent-\u00e9\n": "-1E-12"},
          "model": {"gpt-4o": "0E-12", "claude": "1E+3", "x": "-7.5"}, "task": {}},
         b'{"key":"acme"}'],
        [7, 3, 0, -1, -1, {}, b""],
        [-1, 0, 0, 1795000000, -1, {}, b"state"],
    ]  # fmt: skip


def test_detector_records_written_before_session_15_still_read_as_they_were_written() -> None:
    for raw, record in zip(WRITTEN_BEFORE_SESSION_15, detectors().values(), strict=True):
        assert same_record(DetectorRecord.decode(raw), record)
        assert same_record(DetectorRecord.decode(record.encode()), record)


def orjson_as_before(value: object) -> bytes:
    """How the records were encoded until session 8, and still must be (detectors' until session 15)."""
    return orjson.dumps(value, default=str)


def test_budget_and_task_records_encode_as_orjson_with_decimals_as_strings_did() -> None:
    for b in budgets().values():
        assert b.encode() == orjson_as_before(
            {
                "period_start": b.period_start,
                "spend": b.spend,
                "hourly": {str(h): v for h, v in b.hourly.items()},
                "position": b.position,
                "partition": b.partition,
                "last_seen": b.last_seen,
                "contributors": b.contributors,
                "fired": {k: [str(f.status), f.since] for k, f in b.fired.items()},
            }
        )
    for t in tasks().values():
        assert t.encode() == orjson_as_before(
            [t.first_seen, t.cost, t.tokens, t.position, t.partition, t.last_seen, t.fired]
        )


@pytest.mark.parametrize(
    "cost",
    ["0", "-0", "0E-12", "-0E-12", "1E+3", "1.000E+5", "-1E-12", "NaN", "-Infinity", "0.058724700000",
     "12345678901234567890.123456789012345678", "-99999999999999999999999999.999999999999"],
)  # fmt: skip
def test_a_contributor_of_any_decimal_and_any_name_reads_back_as_written_now_and_before(cost: str) -> None:
    name = "".join(map(chr, range(0x80))) + "\u2028\u2029é😀"
    record = DetectorRecord(b"s", 1, 2, 3, 4, 5, {"agent": {name: Decimal(cost)}, "task": {}})
    before = orjson_as_before([1, 2, 3, 4, 5, record.contributors]) + b"\ns"

    assert same_record(DetectorRecord.decode(record.encode()), record)
    assert same_record(DetectorRecord.decode(before), record)


async def test_expiry_forgets_idle_tasks_idle_detectors_and_deleted_budgets_records() -> None:
    """A live budget's record is left as it is without being read (it may be thousands of them)."""
    now = 1_795_132_800
    marks = {rules_mark_key(p): RulesMark(position=9, event_time=now).encode() for p in (0, 1)}
    data = dict(marks)
    records = TableSpend(Table(data))
    idle_task = TaskTally(first_seen=1, last_seen=now - 3601, partition=0)
    busy_task = TaskTally(first_seen=1, last_seen=now - 10, partition=0)
    idle_detector = DetectorRecord(b"", position=1, partition=1, last_seen=now - DETECTOR_IDLE_S - 1)
    elsewhere = TaskTally(first_seen=1, last_seen=0, partition=7)  # a partition this worker does not hold
    records.put_records({task_key("acme", "idle"): idle_task, task_key("acme", "busy"): busy_task,
                         task_key("zeta", "t"): elsewhere,
                         anomaly_key("hourly_spike", "acme", "agent-1"): idle_detector,
                         budget_key("deleted", "acme"): BudgetSpend(period_start=0, partition=1),
                         })  # fmt: skip
    data[budget_key("monthly", "acme")] = b"a live budget's record, never decoded by expiry"
    records.changelog._pending.clear()
    sent: list[dict[int, list[tuple[bytes, bytes | None]]]] = []

    async def flush() -> None:
        sent.append(records.changelog._pending)

    records.changelog.flush = flush  # type: ignore[method-assign]

    dropped = await records.expire([0, 1], task_idle_s=3600, budget_exists=lambda budget: budget == "monthly")

    assert dropped == 3
    assert sorted(data) == sorted(
        [*marks, task_key("acme", "busy"), task_key("zeta", "t"), budget_key("monthly", "acme")]
    )
    assert sent == [{0: [(task_key("acme", "idle"), None)],
                     1: [(anomaly_key("hourly_spike", "acme", "agent-1"), None),
                         (budget_key("deleted", "acme"), None)]}]  # fmt: skip


async def test_expiry_reads_restored_records_from_their_bytes_and_keeps_those_at_the_horizon() -> None:
    """Records the worker did not write itself (restored) are decoded; idle means older than the horizon."""
    now = 1_795_132_800
    data: dict[bytes, bytes] = {rules_mark_key(0): RulesMark(position=9, event_time=now).encode()}
    restored = {
        task_key("acme", "edge"): TaskTally(first_seen=1, last_seen=now - 3600, partition=0),
        task_key("acme", "idle"): TaskTally(first_seen=1, last_seen=now - 3601, partition=0),
        anomaly_key("token_drift", "acme", "a"): DetectorRecord(b"", 1, 0, now - DETECTOR_IDLE_S),
        anomaly_key("token_drift", "acme", "b"): DetectorRecord(b"", 1, 0, now - DETECTOR_IDLE_S - 1),
    }
    data.update((key, record.encode()) for key, record in restored.items())
    records = TableSpend(Table(data))

    async def flush() -> None:
        records.changelog._pending.clear()

    records.changelog.flush = flush  # type: ignore[method-assign]

    dropped = await records.expire([0], task_idle_s=3600, budget_exists=lambda budget: True)

    assert dropped == 2
    assert sorted(data) == sorted(
        [rules_mark_key(0), task_key("acme", "edge"), anomaly_key("token_drift", "acme", "a")]
    )
