//! `streams._wire_scan.contribute_full`: a kind's contributors summed event by event in pico-dollars,
//! as `streams.hourly_sums.contribute_units` (the reference, and the fallback) sums them: each event
//! adds to its contributor's cost; past 32 the cheapest (by cost, then name) goes, a newcomer below
//! it at once. Integers only: no Decimal is made here.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyList};

const MAX_CONTRIBUTORS: usize = 32;
const PICO_EXPONENT: i64 = -12;

struct Kept {
    code: usize,
    units: i64,
    exponent: i64,
    changed: bool,
}

fn int64s(raw: &[u8]) -> Vec<i64> {
    raw.chunks_exact(8)
        .map(|b| i64::from_ne_bytes(b.try_into().expect("8 bytes")))
        .collect()
}

/// The kept contributors (`kept`: their codes, pico-dollars and exponents, in the dict's order),
/// then the events (`codes`, `units`, `exponents`: int64 bytes; a code below 0 is no contributor;
/// `exponents` empty: all at -12). `names`: each code's name (the order of ties). Returns each kept
/// contributor after them, in order: code, pico-dollars, exponent, changed.
#[pyfunction]
#[pyo3(signature = (kept_codes, kept_units, kept_exponents, names, codes, units, exponents))]
#[allow(clippy::too_many_arguments)]
pub fn contribute_full(
    kept_codes: Vec<usize>,
    kept_units: Vec<i64>,
    kept_exponents: Vec<i64>,
    names: Vec<String>,
    codes: &[u8],
    units: &[u8],
    exponents: &[u8],
) -> PyResult<Vec<(usize, i64, i64, bool)>> {
    let (codes, units, exponents) = (int64s(codes), int64s(units), int64s(exponents));
    let given = !exponents.is_empty();
    if units.len() != codes.len()
        || (given && exponents.len() != codes.len())
        || kept_codes.len() != kept_units.len()
        || kept_codes.len() != kept_exponents.len()
        || kept_codes.iter().any(|&c| c >= names.len())
        || codes.iter().any(|&c| c >= names.len() as i64)
    {
        return Err(PyValueError::new_err(
            "contribute_full: columns of unequal length or codes out of range",
        ));
    }
    let mut held: Vec<Kept> = kept_codes
        .iter()
        .zip(kept_units.iter().zip(kept_exponents.iter()))
        .map(|(&code, (&units, &exponent))| Kept {
            code,
            units,
            exponent,
            changed: false,
        })
        .collect();
    // Each code's place in `held` (usize::MAX: not kept).
    let mut place = vec![usize::MAX; names.len()];
    for (at, k) in held.iter().enumerate() {
        place[k.code] = at;
    }
    let less =
        |a: (i64, usize), b: (i64, usize)| a.0 < b.0 || (a.0 == b.0 && names[a.1] < names[b.1]);
    // The cheapest kept one while full, as (units, code); None: not known.
    let mut smallest: Option<(i64, usize)> = None;
    for (i, &code) in codes.iter().enumerate() {
        if code < 0 {
            continue;
        }
        let code = code as usize;
        let amount = units[i];
        let exponent = if given { exponents[i] } else { PICO_EXPONENT };
        let at = place[code];
        if at != usize::MAX {
            let k = &mut held[at];
            k.units = k
                .units
                .checked_add(amount)
                .ok_or_else(|| PyValueError::new_err("overflow"))?;
            k.exponent = k.exponent.min(exponent);
            k.changed = true;
            if let Some(s) = smallest {
                if code == s.1 || less((k.units, code), s) {
                    smallest = None;
                }
            }
            continue;
        }
        if held.len() >= MAX_CONTRIBUTORS {
            let s = match smallest {
                Some(s) => s,
                None => {
                    let mut best = (held[0].units, held[0].code);
                    for k in &held[1..] {
                        if less((k.units, k.code), best) {
                            best = (k.units, k.code);
                        }
                    }
                    smallest = Some(best);
                    best
                }
            };
            if less((amount, code), s) {
                continue; // it would come in and go out again
            }
            let gone = place[s.1];
            held.remove(gone);
            place[s.1] = usize::MAX;
            for (at, k) in held.iter().enumerate().skip(gone) {
                place[k.code] = at;
            }
            smallest = None;
        }
        place[code] = held.len();
        held.push(Kept {
            code,
            units: amount,
            exponent: exponent.min(0),
            changed: true,
        });
    }
    Ok(held
        .into_iter()
        .map(|k| (k.code, k.units, k.exponent, k.changed))
        .collect())
}

/// The groups of `stretch_groups`: each one's contributor code, summed pico-dollars and costliest
/// event, the groups whose finest exponent is not -12 (their place and exponent), and each
/// stretch's first group (one more: the groups' count).
type Groups = (Vec<i64>, Vec<i64>, Vec<i64>, Vec<(usize, i64)>, Vec<usize>);

/// `streams.hourly_sums.HourlyRuns._grouped` in one pass (the reference sorts by stretch and code):
/// each stretch's contributors in the order they first come, their pico-dollars summed, their
/// costliest event and the finest exponent among their events. `codes`, `units`, `exponents` (empty:
/// all at -12) and `starts` (each stretch's first event, from 0, increasing) are int64 bytes; a code
/// below 0 is no contributor, `size` one past the largest.
#[pyfunction]
pub fn stretch_groups(
    codes: &[u8],
    units: &[u8],
    exponents: &[u8],
    starts: &[u8],
    size: usize,
) -> PyResult<Groups> {
    let (codes, units, exponents, starts) = (
        int64s(codes),
        int64s(units),
        int64s(exponents),
        int64s(starts),
    );
    let n = codes.len();
    let given = !exponents.is_empty();
    if units.len() != n
        || (given && exponents.len() != n)
        || codes.iter().any(|&c| c >= size as i64)
        || starts.first().is_some_and(|&s| s != 0)
        || starts.windows(2).any(|w| w[0] >= w[1])
        || starts.last().is_some_and(|&s| s as usize >= n)
    {
        return Err(PyValueError::new_err(
            "stretch_groups: columns of unequal length, codes or stretches out of range",
        ));
    }
    // Each code's group in the stretch at hand, and the stretch it was last grouped in.
    let mut group = vec![0usize; size];
    let mut stretch = vec![usize::MAX; size];
    let (mut named, mut totals, mut costliest, mut finest) = (vec![], vec![], vec![], vec![]);
    let mut bounds = Vec::with_capacity(starts.len() + 1);
    for (s, &begin) in starts.iter().enumerate() {
        bounds.push(named.len());
        let end = starts.get(s + 1).map_or(n, |&e| e as usize);
        for i in begin as usize..end {
            let Ok(code) = usize::try_from(codes[i]) else {
                continue; // no contributor
            };
            let exponent = if given { exponents[i] } else { PICO_EXPONENT };
            if stretch[code] == s {
                let g = group[code];
                totals[g] = i64::checked_add(totals[g], units[i])
                    .ok_or_else(|| PyValueError::new_err("overflow"))?;
                costliest[g] = i64::max(costliest[g], units[i]);
                finest[g] = i64::min(finest[g], exponent);
            } else {
                stretch[code] = s;
                group[code] = named.len();
                named.push(code as i64);
                totals.push(units[i]);
                costliest.push(units[i]);
                finest.push(exponent);
            }
        }
    }
    bounds.push(named.len());
    let odd = finest
        .iter()
        .enumerate()
        .filter(|(_, &e)| e != PICO_EXPONENT)
        .map(|(g, &e)| (g, e))
        .collect();
    Ok((named, totals, costliest, odd, bounds))
}

/// The rows of `column` that are None, in order, as int64 bytes: `streams.hourly_sums.loose_costs`'
/// scan (the events pricing costed without pico-dollars), each row told by its pointer, no comparison
/// made (the reference's `is` a row, a call each).
#[pyfunction]
pub fn none_rows<'py>(py: Python<'py>, column: &Bound<'py, PyList>) -> Bound<'py, PyByteArray> {
    let none = py.None();
    let mut raw: Vec<u8> = Vec::new();
    for (i, item) in column.iter().enumerate() {
        if item.is(&none) {
            raw.extend_from_slice(&(i as i64).to_ne_bytes());
        }
    }
    PyByteArray::new(py, &raw)
}
