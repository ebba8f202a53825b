"""The native decoder (native/src/lib.rs), built by setuptools-rust where cargo is found."""

from typing import Any, overload

def scan(
    values: list[bytes],
    keys: list[bytes | None],
    low: bytes | None,
    high: bytes | None,
    unset: Any,
    limits: tuple[int, int, int, int, int, int, int, int],  # the last: sys.get_int_max_str_digits()
) -> (
    tuple[
        list[int],  # the messages declined (slow), sorted
        bytearray,  # message: int64 a row
        bytearray,  # index
        bytearray,  # kind
        list[str],  # event_ids
        list[str],  # customers: each message's key, one str a message
        list[str],  # agents
        bytearray,  # occurred_us
        bytearray,  # spans: each event's start and end in its message, two int64 a row
        tuple[list[str], list[str], list[str]],  # user_id, task_id, request_id: '' for none
        list[dict[str, str]] | None,  # attributes
        list[tuple[int, bytearray, list[list[Any]], list[tuple[int, bytearray]]]],  # kinds
    ]
    | None  # the scan panicked (a bug): decode the batch in Python
): ...

# native/src/hourly.rs: streams.hourly_sums.contribute_native's sums (a kind's contributors event by event).
def contribute_full(
    kept_codes: list[int],
    kept_units: list[int],
    kept_exponents: list[int],
    names: list[str],
    codes: bytes,  # int64 a row
    units: bytes,
    exponents: bytes,  # empty: all at -12
) -> list[tuple[int, int, int, bool]]: ...  # code, pico-dollars, exponent, changed

# native/src/hourly.rs: streams.hourly_sums.loose_costs' rows of a list that are None, int64 a row.
def none_rows(column: list[Any]) -> bytearray: ...

# native/src/windows.rs: a batch's window keys and changelog records as bytes (streams.window_changes).
@overload
def window_records(
    ints: Any,  # a C-contiguous int64 buffer: width fields a row, the quantity aside
    width: int,
    quantities: list[Any],  # a row's quantity, written as its str()
    quantity_at: int,  # the quantity's place among the fields
    keys: None = None,
) -> list[bytes]: ...
@overload
def window_records(
    ints: Any, width: int, quantities: list[Any], quantity_at: int, keys: list[bytes]
) -> list[tuple[bytes, bytes]]: ...  # (key, record) a row
def window_keys(
    customers: Any,  # int64 buffers: codes into names' lists, then sizes and starts
    agents: Any,
    categories: Any,
    sizes: Any,
    starts: Any,
    names: tuple[list[str], list[str], list[str]],
) -> list[bytes]: ...

# native/src/native_block.rs: ClickHouse Native columns (streams.sinks.native_block, table_columns).
def strings(values: list[str] | tuple[str, ...]) -> bytes: ...  # String: a LEB128 length, the bytes
def low_cardinality_codes(
    codes: Any,  # a C-contiguous int64 buffer, at least one row, each a place in names
    names: list[str] | tuple[str, ...],
) -> bytes: ...  # LowCardinality(String) of the names the codes use
def decimal_units(amounts: list[Any], scale: int) -> list[int] | None: ...  # None: the reference's to do
def decimal128(units: list[int]) -> bytes | None: ...  # None: a unit past int64, the reference's to do

# native/src/ids.rs: streams.dedup.batch_id_hashes (XXH64 of each id key; whether all differ).
def id_hashes(customers: list[str], event_ids: list[str]) -> tuple[bytearray, bool]: ...  # uint64 a row

# native/src/codes.rs: streams.column_groups.codes (names numbered in order of first sight).
def name_codes(names: list[str]) -> tuple[bytearray, list[str]]: ...  # int64 a row; each name's first object
