//! A ClickHouse Native `String` column's bytes made in one pass over its values:
//! `streams.sinks.native_block.strings` is the reference, and the fallback where this extension
//! is absent; the tests hold both to identical bytes.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

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
