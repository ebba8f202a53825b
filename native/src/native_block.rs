//! ClickHouse Native columns' bytes made in one pass: a `String` column from its values, a
//! `LowCardinality(String)` column from its codes. `streams.sinks.native_block`'s `strings_here`
//! and `low_cardinality_codes_here` are the reference, and the fallback where this extension is
//! absent; the tests hold both to identical bytes.

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

/// `SharedDictionariesWithAdditionalKeys`, the serialisation version a LowCardinality column starts with.
const LOW_CARDINALITY_VERSION: u64 = 1;
/// `HasAdditionalKeysBit | NeedUpdateDictionary`, beside the index width in a column's flags.
const NEW_DICTIONARY: u64 = (1 << 9) | (1 << 10);

/// Each value's UTF-8 length as LEB128, then its bytes. A value that is not a str raises
/// TypeError, one that UTF-8 cannot encode (a lone surrogate) UnicodeEncodeError, as
/// `str.encode` and the reference's join do.
#[pyfunction]
pub fn strings<'py>(py: Python<'py>, values: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let mut out: Vec<u8> = Vec::new();
    if let Ok(list) = values.downcast::<PyList>() {
        out.reserve(list.len() * 24);
        for value in list.iter() {
            push(&mut out, value.downcast::<PyString>()?.to_str()?);
        }
    } else {
        let tuple = values.downcast::<PyTuple>()?;
        out.reserve(tuple.len() * 24);
        for value in tuple.iter() {
            push(&mut out, value.downcast::<PyString>()?.to_str()?);
        }
    }
    Ok(PyBytes::new(py, &out))
}

fn push(out: &mut Vec<u8>, text: &str) {
    let mut n = text.len();
    while n >= 0x80 {
        out.push((n as u8 & 0x7F) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(text.as_bytes());
}

/// A LowCardinality(String) column of `names[code]` for each of `codes` (`names` distinct, the
/// codes C-contiguous int64 and at least one): the dictionary holds the names the codes use, in
/// the codes' order, then each row's place in it, as wide as the dictionary's size calls for. A
/// code outside `names` raises IndexError.
#[pyfunction]
pub fn low_cardinality_codes<'py>(
    py: Python<'py>,
    codes: PyBuffer<i64>,
    names: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    if !codes.is_c_contiguous() {
        return Err(PyValueError::new_err("codes must be C-contiguous"));
    }
    let Some(cells) = codes.as_slice(py) else {
        return Err(PyValueError::new_err("codes must be an int64 buffer"));
    };
    // Only the used names are read: a batch's names may far outnumber a block's.
    let list = names.downcast::<PyList>().ok();
    let tuple = if list.is_none() {
        Some(names.downcast::<PyTuple>()?)
    } else {
        None
    };
    let count = list.map_or_else(|| tuple.map_or(0, |t| t.len()), |l| l.len());
    let name = |code: usize| -> PyResult<Bound<'py, PyAny>> {
        match list {
            Some(l) => l.get_item(code),
            None => tuple.expect("a list or a tuple").get_item(code),
        }
    };
    if cells.is_empty() {
        return Err(PyValueError::new_err(
            "no rows: the column is its version alone",
        ));
    }
    // Each used name's place in the dictionary: marked, then numbered in the codes' order.
    let mut place: Vec<u64> = vec![0; count];
    for cell in cells {
        let code = cell.get();
        if code < 0 || code as usize >= count {
            return Err(PyIndexError::new_err(format!(
                "code {code} outside {count} names"
            )));
        }
        place[code as usize] = 1;
    }
    let mut keys: u64 = 0;
    let mut dictionary: Vec<u8> = Vec::new();
    for (code, used) in place.iter_mut().enumerate() {
        if *used == 1 {
            *used = keys;
            keys += 1;
            push(
                &mut dictionary,
                name(code)?.downcast::<PyString>()?.to_str()?,
            );
        }
    }
    let width = (63 - keys.leading_zeros()) >> 3; // the library's: log2 of the dictionary's size, in bytes
    let mut out: Vec<u8> = Vec::with_capacity(32 + dictionary.len() + (cells.len() << width));
    for word in [
        LOW_CARDINALITY_VERSION,
        NEW_DICTIONARY | u64::from(width),
        keys,
    ] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&dictionary);
    out.extend_from_slice(&(cells.len() as u64).to_le_bytes());
    // Each row's place, as wide as the width says (every code was checked above).
    let places = cells.iter().map(|cell| place[cell.get() as usize]);
    match width {
        0 => out.extend(places.map(|at| at as u8)),
        1 => places.for_each(|at| out.extend_from_slice(&(at as u16).to_le_bytes())),
        2 => places.for_each(|at| out.extend_from_slice(&(at as u32).to_le_bytes())),
        _ => places.for_each(|at| out.extend_from_slice(&at.to_le_bytes())),
    }
    Ok(PyBytes::new(py, &out))
}

/// The most significant digits an amount may have here: past them it may not fit an int128 in
/// units, and the reference's context (50 digits) could round it; the caller converts those.
const MAX_DIGITS: u32 = 38;

/// `int(amount * 10**scale)` of each Decimal of `amounts` (truncated toward zero, as the
/// reference `streams.sinks.table_columns._converted_here` does), read from the amount's `str()`;
/// None where an amount is no Decimal, not finite, or has more than 38 significant digits, or
/// its units pass an int128: the reference converts those (and raises what it raises).
#[pyfunction]
pub fn decimal_units<'py>(
    py: Python<'py>,
    amounts: &Bound<'py, PyList>,
    scale: i64,
) -> PyResult<Option<Bound<'py, PyList>>> {
    let decimal = py.import("decimal")?.getattr("Decimal")?;
    let mut found: Vec<i128> = Vec::with_capacity(amounts.len());
    for amount in amounts.iter() {
        if !amount.get_type().is(&decimal) {
            return Ok(None);
        }
        let text = amount.str()?;
        match units_of(text.to_str()?.as_bytes(), scale) {
            Some(units) => found.push(units),
            None => return Ok(None),
        }
    }
    if found.iter().all(|&units| i64::try_from(units).is_ok()) {
        return PyList::new(py, found.iter().map(|&units| units as i64)).map(Some);
    }
    PyList::new(py, found).map(Some)
}

/// A Decimal's `str()` (`[-]digits[.digits][E[+-]digits]`) times 10**scale, truncated toward zero.
fn units_of(text: &[u8], scale: i64) -> Option<i128> {
    let (negative, rest) = match text.first()? {
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match rest.iter().position(|&c| c == b'E') {
        Some(at) => (&rest[..at], exponent_of(&rest[at + 1..])?),
        None => (rest, 0),
    };
    let (mut coefficient, mut digits, mut fraction, mut dot) = (0i128, 0u32, 0i64, false);
    for &c in mantissa {
        if c == b'.' && !dot {
            dot = true;
            continue;
        }
        if !c.is_ascii_digit() {
            return None; // NaN, Infinity
        }
        if digits > 0 || c != b'0' {
            digits += 1;
            if digits > MAX_DIGITS {
                return None;
            }
        }
        coefficient = coefficient * 10 + i128::from(c - b'0');
        fraction += i64::from(dot);
    }
    if mantissa.is_empty() || mantissa == b"." {
        return None;
    }
    let shift = exponent.checked_sub(fraction)?.checked_add(scale)?;
    let magnitude = if shift >= 0 {
        coefficient.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?
    } else if shift < -(MAX_DIGITS as i64) {
        0 // fewer than 39 digits, all past the scale
    } else {
        coefficient / 10i128.pow(shift.unsigned_abs() as u32)
    };
    Some(if negative { -magnitude } else { magnitude })
}

fn exponent_of(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 12 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = std::str::from_utf8(digits).ok()?.parse::<i64>().ok()?;
    Some(if negative { -value } else { value })
}

/// A Decimal(38, S) column of ints already in units (`streams.sinks.native_block.decimal128`'s
/// reference): each a little-endian int128, its high half the sign of its low. None where a value
/// is no int that fits an int64 (past it, the reference splits the halves or raises).
#[pyfunction]
pub fn decimal128<'py>(
    py: Python<'py>,
    units: &Bound<'py, PyList>,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let mut out: Vec<u8> = Vec::with_capacity(units.len() * 16);
    for value in units.iter() {
        let Ok(unit) = value.extract::<i64>() else {
            return Ok(None);
        };
        out.extend_from_slice(&i128::from(unit).to_le_bytes());
    }
    Ok(Some(PyBytes::new(py, &out)))
}

/// Each id's UUID as its two 64-bit halves, the high then the low, as native-endian words: the
/// halves `streams.sinks.ledger_stored.uuid_halves` (the reference) reads, for ids that are all
/// UUIDs in canonical form, 36 characters of lowercase hex digits with dashes at 8, 13, 18 and 23.
/// None where any id is in no such form, or is not exactly a str: the reference then says why.
#[pyfunction]
pub fn uuid_halves<'py>(
    py: Python<'py>,
    ids: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let list = ids.downcast::<PyList>()?;
    let mut out: Vec<u8> = Vec::with_capacity(list.len() * 16);
    for id in list.iter() {
        let Ok(text) = id.downcast_exact::<PyString>() else {
            return Ok(None);
        };
        let Ok(text) = text.to_str() else {
            return Ok(None);
        };
        let Some(halves) = canonical_uuid(text.as_bytes()) else {
            return Ok(None);
        };
        for half in halves {
            out.extend_from_slice(&half.to_ne_bytes());
        }
    }
    Ok(Some(PyBytes::new(py, &out)))
}

/// Where a canonical UUID's text has its digits: the high half's 16, then the low half's.
const UUID_DIGITS: [[usize; 16]; 2] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17],
    [
        19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
    ],
];

/// Each byte's value as a lowercase hex digit; 0xFF for any other byte.
const HEX_DIGIT: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut n = 0;
    while n < 10 {
        table[b'0' as usize + n] = n as u8;
        n += 1;
    }
    n = 0;
    while n < 6 {
        table[b'a' as usize + n] = 10 + n as u8;
        n += 1;
    }
    table
};

/// The UUID a canonical text spells, as its high and low 64 bits; None for any other text.
fn canonical_uuid(text: &[u8]) -> Option<[u64; 2]> {
    if text.len() != 36
        || text[8] != b'-'
        || text[13] != b'-'
        || text[18] != b'-'
        || text[23] != b'-'
    {
        return None;
    }
    let mut halves = [0u64; 2];
    let mut seen = 0u8; // any byte that is no digit sets its high bits
    for (half, positions) in halves.iter_mut().zip(UUID_DIGITS.iter()) {
        for &at in positions {
            let value = HEX_DIGIT[text[at] as usize];
            seen |= value;
            *half = (*half << 4) | u64::from(value & 0x0F);
        }
    }
    (seen < 16).then_some(halves)
}
