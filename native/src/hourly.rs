//! `streams._wire_scan.contribute_full`: a kind's contributors summed event by event in pico-dollars,
//! as `streams.hourly_sums.contribute_units` (the reference, and the fallback) sums them: each event
//! adds to its contributor's cost; past 32 the cheapest (by cost, then name) goes, a newcomer below
//! it at once. Integers only: no Decimal is made here.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

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
