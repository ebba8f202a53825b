//! A column of names numbered in order of first sight, in one call: `streams.column_groups.codes`'
//! reference is a `Numbering` looked up a row at a time (`dict`'s equality of texts), and the tests
//! hold both to the same codes and names. Rows that are one object (a message's customer, a kind's
//! name, an agent's shared text) are told apart by pointer before any text is hashed.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyList, PyString};

use crate::Fx;

/// `(codes, names)`: each row's code as int64 bytes, and each distinct text's first object, in order
/// of first sight. A row that is not exactly a str (a subclass may compare its own way), or not UTF-8
/// (a lone surrogate), raises: the caller numbers such a column in Python.
#[pyfunction]
pub fn name_codes<'py>(
    py: Python<'py>,
    names: &Bound<'py, PyList>,
) -> PyResult<(Bound<'py, PyByteArray>, Bound<'py, PyList>)> {
    let n = names.len();
    let mut raw: Vec<u8> = Vec::with_capacity(n * 8);
    let mut by_text: HashMap<String, i64, BuildHasherDefault<Fx>> = HashMap::default();
    let mut by_object: HashMap<usize, i64, BuildHasherDefault<Fx>> = HashMap::default();
    let distinct = PyList::empty(py);
    let mut last: usize = 0;
    let mut last_code: i64 = -1;
    for name in names.iter() {
        let at = name.as_ptr() as usize;
        if at != last {
            // An object seen before keeps its code while the list holds it: no text read again.
            last_code = match by_object.get(&at) {
                Some(&code) => code,
                None => {
                    let text = name.downcast_exact::<PyString>()?.to_str()?;
                    let code = match by_text.get(text) {
                        Some(&code) => code,
                        None => {
                            let code = by_text.len() as i64;
                            by_text.insert(text.to_owned(), code);
                            distinct.append(&name)?;
                            code
                        }
                    };
                    by_object.insert(at, code);
                    code
                }
            };
            last = at;
        }
        raw.extend_from_slice(&last_code.to_ne_bytes());
    }
    Ok((PyByteArray::new(py, &raw), distinct))
}
