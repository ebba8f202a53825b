//! A batch's window keys and changelog records made as bytes in one call each, not one Python
//! format a window: `streams.window_batch._raw_keys` (`WindowKey.encode()`) and
//! `streams.window_changes.WindowChanges.records` (`WindowAggregate.encode()`) are the reference,
//! and the fallback where this extension is absent; the tests hold both to identical bytes.

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

/// `%d` of an int: its decimal digits, a leading minus where negative.
fn push_int(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    let mut rest = value.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn int64s(buffer: &PyBuffer<i64>, py: Python<'_>) -> PyResult<Vec<i64>> {
    if !buffer.is_c_contiguous() {
        return Err(PyValueError::new_err("int64 columns must be C-contiguous"));
    }
    match buffer.as_slice(py) {
        Some(cells) => Ok(cells.iter().map(|cell| cell.get()).collect()),
        None => Err(PyValueError::new_err("not an int64 buffer")),
    }
}

/// `WindowAggregate.encode()` of each row: `p`, then the row's fields comma-separated, the
/// quantity's `str()` at `quantity_at` among them. `ints` holds every other field, `width` a row
/// (the fields' order, quantity aside), flat and C-contiguous; `quantities` one object a row.
/// With `keys` (one a row), each row's `(key, record)` pair instead of its record.
#[pyfunction]
#[pyo3(signature = (ints, width, quantities, quantity_at, keys=None))]
pub fn window_records<'py>(
    py: Python<'py>,
    ints: PyBuffer<i64>,
    width: usize,
    quantities: &Bound<'py, PyList>,
    quantity_at: usize,
    keys: Option<&Bound<'py, PyList>>,
) -> PyResult<Bound<'py, PyList>> {
    let values = int64s(&ints, py)?;
    let rows = quantities.len();
    if width == 0 || quantity_at > width || values.len() != rows * width {
        return Err(PyValueError::new_err(
            "ints do not hold width fields for every quantity",
        ));
    }
    if keys.is_some_and(|keys| keys.len() != rows) {
        return Err(PyValueError::new_err("a key a row"));
    }
    let mut records: Vec<Bound<'py, PyAny>> = Vec::with_capacity(rows);
    let mut out: Vec<u8> = Vec::with_capacity(256);
    for (row, quantity) in quantities.iter().enumerate() {
        let text = quantity.str()?;
        let fields = &values[row * width..(row + 1) * width];
        out.clear();
        out.push(b'p');
        for (at, value) in fields.iter().enumerate() {
            if at == quantity_at {
                out.extend_from_slice(text.to_str()?.as_bytes());
                out.push(b',');
            }
            push_int(&mut out, *value);
            if at + 1 < width {
                out.push(b',');
            }
        }
        if quantity_at == width {
            out.push(b',');
            out.extend_from_slice(text.to_str()?.as_bytes());
        }
        let record = PyBytes::new(py, &out).into_any();
        records.push(match keys {
            None => record,
            Some(keys) => PyTuple::new(py, [keys.get_item(row)?, record])?.into_any(),
        });
    }
    PyList::new(py, records)
}

fn utf8s(names: &Bound<'_, PyList>) -> PyResult<Vec<Vec<u8>>> {
    names
        .iter()
        .map(|name| Ok(name.downcast::<PyString>()?.to_str()?.as_bytes().to_vec()))
        .collect()
}

/// `WindowKey.encode()` of each window: its customer, agent and category names (codes into
/// `names`' three lists), size and start, joined by `\x1f`, as UTF-8.
#[pyfunction]
pub fn window_keys<'py>(
    py: Python<'py>,
    customers: PyBuffer<i64>,
    agents: PyBuffer<i64>,
    categories: PyBuffer<i64>,
    sizes: PyBuffer<i64>,
    starts: PyBuffer<i64>,
    names: (Bound<'py, PyList>, Bound<'py, PyList>, Bound<'py, PyList>),
) -> PyResult<Bound<'py, PyList>> {
    let codes = [
        int64s(&customers, py)?,
        int64s(&agents, py)?,
        int64s(&categories, py)?,
    ];
    let (sizes, starts) = (int64s(&sizes, py)?, int64s(&starts, py)?);
    let texts = [utf8s(&names.0)?, utf8s(&names.1)?, utf8s(&names.2)?];
    let rows = sizes.len();
    if codes.iter().any(|column| column.len() != rows) || starts.len() != rows {
        return Err(PyValueError::new_err("key columns of different lengths"));
    }
    let mut keys: Vec<Bound<'py, PyBytes>> = Vec::with_capacity(rows);
    let mut out: Vec<u8> = Vec::with_capacity(256);
    for row in 0..rows {
        out.clear();
        for (column, text) in codes.iter().zip(texts.iter()) {
            let code = column[row];
            let name = usize::try_from(code)
                .ok()
                .and_then(|at| text.get(at))
                .ok_or_else(|| PyValueError::new_err("a name code out of range"))?;
            out.extend_from_slice(name);
            out.push(0x1f);
        }
        push_int(&mut out, sizes[row]);
        out.push(0x1f);
        push_int(&mut out, starts[row]);
        keys.push(PyBytes::new(py, &out));
    }
    PyList::new(py, keys)
}
