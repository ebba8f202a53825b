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
    let texts: Vec<Bound<'py, PyAny>> = if let Ok(list) = names.downcast::<PyList>() {
        list.iter().collect()
    } else {
        names.downcast::<PyTuple>()?.iter().collect()
    };
    if cells.is_empty() {
        return Err(PyValueError::new_err("no rows: the column is its version alone"));
    }
    // Each used name's place in the dictionary: marked, then numbered in the codes' order.
    let mut place: Vec<u64> = vec![0; texts.len()];
    let mut rows: Vec<usize> = Vec::with_capacity(cells.len());
    for cell in cells {
        let code = cell.get();
        if code < 0 || code as usize >= texts.len() {
            return Err(PyIndexError::new_err(format!("code {code} outside {} names", texts.len())));
        }
        place[code as usize] = 1;
        rows.push(code as usize);
    }
    let mut keys: u64 = 0;
    let mut dictionary: Vec<u8> = Vec::new();
    for (code, used) in place.iter_mut().enumerate() {
        if *used == 1 {
            *used = keys;
            keys += 1;
            push(&mut dictionary, texts[code].downcast::<PyString>()?.to_str()?);
        }
    }
    let width = (63 - keys.leading_zeros()) >> 3; // the library's: log2 of the dictionary's size, in bytes
    let bytes = 1usize << width;
    let mut out: Vec<u8> = Vec::with_capacity(32 + dictionary.len() + rows.len() * bytes);
    for word in [LOW_CARDINALITY_VERSION, NEW_DICTIONARY | u64::from(width), keys] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&dictionary);
    out.extend_from_slice(&(rows.len() as u64).to_le_bytes());
    for code in rows {
        out.extend_from_slice(&place[code].to_le_bytes()[..bytes]);
    }
    Ok(PyBytes::new(py, &out))
}
