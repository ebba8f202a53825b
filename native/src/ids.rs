//! A batch's dedup id hashes in one call: `streams.dedup.batch_id_hashes`' reference is
//! `key_hashes(id_keys(customers, event_ids))` (xxhash's XXH64 of `customer \0 event_id`, the hash
//! ClickHouse's `xxHash64(concat(customer_id, '\0', event_id))` computes) and NumPy's count of the
//! distinct hashes; the tests hold both to the same answers. No key is made as a Python object: the
//! processor makes keys only for the few ids it looks up.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyList, PyString};

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

fn read64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn read32(b: &[u8], at: usize) -> u64 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as u64
}

fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

fn merge(acc: u64, value: u64) -> u64 {
    (acc ^ round(0, value)).wrapping_mul(P1).wrapping_add(P4)
}

/// XXH64 with seed 0 (the reference algorithm, as `xxhash.xxh64_intdigest`).
pub fn xxh64(b: &[u8]) -> u64 {
    let len = b.len();
    let mut at = 0;
    let mut h = if len >= 32 {
        let (mut v1, mut v2, mut v3, mut v4) =
            (P1.wrapping_add(P2), P2, 0u64, 0u64.wrapping_sub(P1));
        while at + 32 <= len {
            v1 = round(v1, read64(b, at));
            v2 = round(v2, read64(b, at + 8));
            v3 = round(v3, read64(b, at + 16));
            v4 = round(v4, read64(b, at + 24));
            at += 32;
        }
        let mut h = v1
            .rotate_left(1)
            .wrapping_add(v2.rotate_left(7))
            .wrapping_add(v3.rotate_left(12))
            .wrapping_add(v4.rotate_left(18));
        for v in [v1, v2, v3, v4] {
            h = merge(h, v);
        }
        h
    } else {
        P5
    };
    h = h.wrapping_add(len as u64);
    while at + 8 <= len {
        h ^= round(0, read64(b, at));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        at += 8;
    }
    if at + 4 <= len {
        h ^= read32(b, at).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        at += 4;
    }
    while at < len {
        h ^= (b[at] as u64).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
        at += 1;
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

/// `(hashes, distinct)`: each row's XXH64 of `customer \0 event_id` as uint64 bytes, and whether no
/// two rows share a hash (then no two share an id). A run of rows with one customer object (the
/// native decoder's: one a message) reads its text once. An id that is not exactly a str (a
/// subclass may format itself its own way), or not UTF-8, raises: the caller hashes in Python.
#[pyfunction]
pub fn id_hashes<'py>(
    py: Python<'py>,
    customers: &Bound<'py, PyList>,
    event_ids: &Bound<'py, PyList>,
) -> PyResult<(Bound<'py, PyByteArray>, bool)> {
    let n = customers.len();
    if n != event_ids.len() {
        return Err(PyValueError::new_err(format!(
            "{} customers for {} event ids",
            n,
            event_ids.len()
        )));
    }
    let mut hashes: Vec<u64> = Vec::with_capacity(n);
    let mut key: Vec<u8> = Vec::with_capacity(128);
    let mut last: *mut pyo3::ffi::PyObject = std::ptr::null_mut();
    let mut prefix = 0;
    for (customer, event_id) in customers.iter().zip(event_ids.iter()) {
        if customer.as_ptr() != last {
            last = customer.as_ptr();
            key.clear();
            key.extend_from_slice(customer.downcast_exact::<PyString>()?.to_str()?.as_bytes());
            key.push(0);
            prefix = key.len();
        }
        key.truncate(prefix);
        key.extend_from_slice(event_id.downcast_exact::<PyString>()?.to_str()?.as_bytes());
        hashes.push(xxh64(&key));
    }
    let raw: Vec<u8> = hashes.iter().flat_map(|h| h.to_ne_bytes()).collect();
    // Sorted, equal hashes are neighbours: a sort of 100k words costs less than a set's inserts.
    hashes.sort_unstable();
    let distinct = hashes.windows(2).all(|pair| pair[0] != pair[1]);
    Ok((PyByteArray::new(py, &raw), distinct))
}
