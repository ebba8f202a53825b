//! `streams._wire_scan.fold_quiet_days`: the daily detectors' quiet keys of a batch folded from their
//! stored bytes to the bytes to store, in one call. `streams.anomaly_rules._Fold.quiet` with
//! `RequestCostHistory.absorb_sums` or `TokenDrift.absorb_sums` is the reference, and the fallback:
//! each key this cannot fold as they would (a record or state it does not read, a number past 64
//! bits, an event that may fire) is handed back to it, unchanged. The tests hold both to identical
//! bytes.
//!
//! A record is MessagePack as msgspec writes `DetectorRecord.encode()`: `[position, partition,
//! last_seen, episode, hour, contributors, state]`, the state (bin) `[2, key, newest_day, {day:
//! [sum, count]}]` for a request cost history, with `fired_days` (sorted) after the days for a
//! token drift. Integers in their smallest encoding, maps in insertion order: the bytes msgspec
//! writes for what the reference holds.

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

const REQUEST_COST: u8 = 0;
const TOKEN_DRIFT: u8 = 1;
const STATE_VERSION: i128 = 2;
/// Per key in `columns`: day (-1: several or none), count, sum, most, least, newest epoch second,
/// the first counted event's position, the last one's position and partition.
const FIELDS: usize = 9;

struct Reader<'a> {
    raw: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let part = self.raw.get(self.at..end)?;
        self.at = end;
        Some(part)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn be(&mut self, n: usize) -> Option<u64> {
        Some(
            self.take(n)?
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
        )
    }

    fn int(&mut self) -> Option<i128> {
        let head = self.byte()?;
        Some(match head {
            0x00..=0x7f => i128::from(head),
            0xe0..=0xff => i128::from(head as i8),
            0xcc => i128::from(self.be(1)?),
            0xcd => i128::from(self.be(2)?),
            0xce => i128::from(self.be(4)?),
            0xcf => i128::from(self.be(8)?),
            0xd0 => i128::from(self.be(1)? as u8 as i8),
            0xd1 => i128::from(self.be(2)? as u16 as i16),
            0xd2 => i128::from(self.be(4)? as u32 as i32),
            0xd3 => i128::from(self.be(8)? as i64),
            _ => return None,
        })
    }

    fn array(&mut self) -> Option<usize> {
        let head = self.byte()?;
        match head {
            0x90..=0x9f => Some(usize::from(head & 0x0f)),
            0xdc => Some(self.be(2)? as usize),
            0xdd => Some(self.be(4)? as usize),
            _ => None,
        }
    }

    fn map(&mut self) -> Option<usize> {
        let head = self.byte()?;
        match head {
            0x80..=0x8f => Some(usize::from(head & 0x0f)),
            0xde => Some(self.be(2)? as usize),
            0xdf => Some(self.be(4)? as usize),
            _ => None,
        }
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let head = self.byte()?;
        let n = match head {
            0xa0..=0xbf => usize::from(head & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            _ => return None,
        };
        let text = self.take(n)?;
        std::str::from_utf8(text).ok()?;
        Some(text)
    }

    fn binary(&mut self) -> Option<&'a [u8]> {
        let n = match self.byte()? {
            0xc4 => self.be(1)? as usize,
            0xc5 => self.be(2)? as usize,
            0xc6 => self.be(4)? as usize,
            _ => return None,
        };
        self.take(n)
    }

    fn done(&self) -> bool {
        self.at == self.raw.len()
    }
}

/// An integer as msgspec writes it; None past 64 bits (the reference writes JSON then).
fn write_int(out: &mut Vec<u8>, value: i128) -> Option<()> {
    if value >= 0 {
        let v = u64::try_from(value).ok()?;
        if v < 0x80 {
            out.push(v as u8);
        } else if v <= 0xff {
            out.extend_from_slice(&[0xcc, v as u8]);
        } else if v <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(v as u16).to_be_bytes());
        } else if v <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(v as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&v.to_be_bytes());
        }
    } else {
        let v = i64::try_from(value).ok()?;
        if v >= -32 {
            out.push(v as i8 as u8);
        } else if v >= i64::from(i8::MIN) {
            out.extend_from_slice(&[0xd0, v as i8 as u8]);
        } else if v >= i64::from(i16::MIN) {
            out.push(0xd1);
            out.extend_from_slice(&(v as i16).to_be_bytes());
        } else if v >= i64::from(i32::MIN) {
            out.push(0xd2);
            out.extend_from_slice(&(v as i32).to_be_bytes());
        } else {
            out.push(0xd3);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
    Some(())
}

fn write_len(out: &mut Vec<u8>, n: usize, fix: u8, fix_max: usize, wide16: u8, wide32: u8) {
    if n <= fix_max {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(wide16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(wide32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn write_array(out: &mut Vec<u8>, n: usize) {
    write_len(out, n, 0x90, 15, 0xdc, 0xdd);
}

fn write_map(out: &mut Vec<u8>, n: usize) {
    write_len(out, n, 0x80, 15, 0xde, 0xdf);
}

fn write_str(out: &mut Vec<u8>, text: &[u8]) {
    if text.len() < 32 {
        out.push(0xa0 | text.len() as u8);
    } else if text.len() <= 0xff {
        out.extend_from_slice(&[0xd9, text.len() as u8]);
    } else {
        write_len(out, text.len(), 0xa0, 31, 0xda, 0xdb);
    }
    out.extend_from_slice(text);
}

fn write_bin(out: &mut Vec<u8>, data: &[u8]) {
    let n = data.len();
    if n <= 0xff {
        out.extend_from_slice(&[0xc4, n as u8]);
    } else if n <= 0xffff {
        out.push(0xc5);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
}

/// A detector's record, its state read into `state` (empty: a new detector's).
struct Record {
    position: i128,
    partition: i128,
    last_seen: i128,
    episode: i128,
    hour: i128,
}

const NEW_RECORD: Record = Record {
    position: -1,
    partition: -1,
    last_seen: 0,
    episode: -1,
    hour: -1,
};

/// The record's header and its state's bytes; None where the reference must read it (an older JSON
/// record, contributors, anything else).
fn read_record(raw: &[u8]) -> Option<(Record, &[u8])> {
    let mut r = Reader { raw, at: 0 };
    if r.array()? != 7 {
        return None;
    }
    let record = Record {
        position: r.int()?,
        partition: r.int()?,
        last_seen: r.int()?,
        episode: r.int()?,
        hour: r.int()?,
    };
    if r.map()? != 0 {
        return None; // contributors: an hourly spike's, never a daily detector's
    }
    let state = r.binary()?;
    r.done().then_some((record, state))
}

/// A daily detector's state: its key, newest day, days (in the map's order) and fired days.
struct Days<'a> {
    key: &'a [u8],
    newest: i128,
    days: Vec<(i128, i128, i128)>,
    fired: Vec<i128>,
}

impl Days<'_> {
    /// Sum, count and days with observations over `first..=last`.
    fn totals(&self, first: i128, last: i128) -> (i128, i128, i128) {
        let (mut total, mut count, mut days) = (0i128, 0i128, 0i128);
        for &(day, sum, n) in &self.days {
            if first <= day && day <= last {
                total += sum;
                count += n;
                days += 1;
            }
        }
        (total, count, days)
    }

    /// The run's sum and count added to its day's bucket; false where the day has none.
    fn add(&mut self, run: &Run) -> bool {
        match self.days.iter_mut().find(|bucket| bucket.0 == run.day) {
            Some(bucket) => {
                bucket.1 += run.sum;
                bucket.2 += run.count;
                true
            }
            None => false,
        }
    }

    /// A new key's first day: the run's.
    fn start(&mut self, run: &Run) -> bool {
        self.newest = run.day;
        self.days = vec![(run.day, run.sum, run.count)];
        true
    }
}

fn read_days(raw: &[u8], kind: u8) -> Option<Days<'_>> {
    let mut r = Reader { raw, at: 0 };
    let fields = if kind == TOKEN_DRIFT { 5 } else { 4 };
    if r.array()? != fields || r.int()? != STATE_VERSION {
        return None;
    }
    let key = r.string()?;
    let newest = r.int()?;
    let n = r.map()?;
    let mut days: Vec<(i128, i128, i128)> = Vec::with_capacity(n);
    for _ in 0..n {
        let day = r.int()?;
        if r.array()? != 2 || days.iter().any(|bucket| bucket.0 == day) {
            return None; // a repeated day: the reference's dict keeps the last, at the first's place
        }
        days.push((day, r.int()?, r.int()?));
    }
    let mut fired = Vec::new();
    if kind == TOKEN_DRIFT {
        for _ in 0..r.array()? {
            fired.push(r.int()?);
        }
        fired.sort_unstable();
        fired.dedup(); // a set in the reference
    }
    r.done().then_some(Days {
        key,
        newest,
        days,
        fired,
    })
}

fn write_days(out: &mut Vec<u8>, state: &Days<'_>, kind: u8) -> Option<()> {
    write_array(out, if kind == TOKEN_DRIFT { 5 } else { 4 });
    write_int(out, STATE_VERSION)?;
    write_str(out, state.key);
    write_int(out, state.newest)?;
    write_map(out, state.days.len());
    for &(day, sum, n) in &state.days {
        write_int(out, day)?;
        write_array(out, 2);
        write_int(out, sum)?;
        write_int(out, n)?;
    }
    if kind == TOKEN_DRIFT {
        write_array(out, state.fired.len());
        for &day in &state.fired {
            write_int(out, day)?;
        }
    }
    Some(())
}

/// One key's run of a batch: the `FIELDS` of `columns`.
struct Run {
    day: i128,
    count: i128,
    sum: i128,
    most: i128,
    least: i128,
    newest: i128,
    first_position: i128,
    last_position: i128,
    last_partition: i128,
}

/// `RequestCostHistory.absorb_sums` of a history read from bytes. Settings: window days, min
/// requests, min days, k's numerator and denominator.
fn absorb_request_costs(state: &mut Days<'_>, run: &Run, s: &[i128]) -> Option<bool> {
    let (window_days, min_requests, min_days, num, den) = (s[0], s[1], s[2], s[3], s[4]);
    let day = run.day;
    if state.newest != day {
        if state.newest >= 0 || !state.days.is_empty() {
            return Some(false);
        }
        // A new key: its first event is judged on nothing, the rest as of its first active day.
        return Some(!(min_days <= 1 && run.count > min_requests) && state.start(run));
    }
    let (total, seen, active_days) = state.totals(day - window_days + 1, day);
    let quiet = active_days < min_days
        || seen + run.count - 1 < min_requests
        || (run.least >= 0
            && num > 0
            && run
                .most
                .checked_mul(seen + run.count - 1)?
                .checked_mul(den)?
                <= num.checked_mul(total)?);
    Some(quiet && state.add(run))
}

/// `TokenDrift.absorb_sums` of a drift read from bytes. Settings: recent days, baseline days,
/// ratio's numerator and denominator, min recent requests, min baseline days.
fn absorb_token_drift(state: &mut Days<'_>, run: &Run, s: &[i128]) -> Option<bool> {
    let (recent_days, baseline_days, num, den, min_recent, min_baseline_days) =
        (s[0], s[1], s[2], s[3], s[4], s[5]);
    let day = run.day;
    if run.least < 0 {
        return Some(false); // not tokens: judged in turn
    }
    let oldest_kept = state.newest - (recent_days + baseline_days) + 1;
    if state.newest != day
        || state
            .fired
            .first()
            .is_some_and(|&first| first < oldest_kept)
    {
        if state.newest >= 0 || !state.days.is_empty() {
            return Some(false);
        }
        // A new key: no baseline (its sum 0), so every event of its first day warms up.
        return Some(state.start(run));
    }
    let (recent_sum, recent_n, _) = state.totals(day - recent_days + 1, day);
    let (base_sum, base_n, base_days) =
        state.totals(day - recent_days - baseline_days + 1, day - recent_days);
    let quiet = base_days < min_baseline_days
        || base_sum == 0
        || state.fired.contains(&day)
        || recent_n + run.count < min_recent
        || (num > 0
            && recent_sum.checked_mul(base_n)?.checked_mul(den)?
                <= num.checked_mul(base_sum)?.checked_mul(recent_n)?
            && run.most.checked_mul(base_n)?.checked_mul(den)? <= num.checked_mul(base_sum)?);
    Some(quiet && state.add(run))
}

/// One key folded: its new record's bytes; None where the reference must fold it.
fn fold_one(
    kind: u8,
    settings: &[i128],
    key: &[u8],
    raw: Option<&[u8]>,
    run: &Run,
) -> Option<Vec<u8>> {
    let (mut record, state_raw) = match raw {
        None => (NEW_RECORD, &b""[..]),
        Some(raw) => read_record(raw)?,
    };
    if raw.is_some() && (run.first_position <= record.position || record.episode >= 0) {
        return None; // a replay's, or an episode going: each event may resolve it
    }
    let mut state = if state_raw.is_empty() {
        std::str::from_utf8(key).ok()?;
        Days {
            key,
            newest: -1,
            days: Vec::new(),
            fired: Vec::new(),
        }
    } else {
        read_days(state_raw, kind)?
    };
    let absorbed = if kind == TOKEN_DRIFT {
        absorb_token_drift(&mut state, run, settings)?
    } else {
        absorb_request_costs(&mut state, run, settings)?
    };
    if !absorbed {
        return None;
    }
    record.position = run.last_position;
    record.partition = run.last_partition;
    if run.newest > record.last_seen {
        record.last_seen = run.newest;
    }
    let mut state_out = Vec::with_capacity(state_raw.len() + 16);
    write_days(&mut state_out, &state, kind)?;
    let mut out = Vec::with_capacity(state_out.len() + 48);
    write_array(&mut out, 7);
    for value in [
        record.position,
        record.partition,
        record.last_seen,
        record.episode,
        record.hour,
    ] {
        write_int(&mut out, value)?;
    }
    write_map(&mut out, 0);
    write_bin(&mut out, &state_out);
    Some(out)
}

/// Folds each key of `keys` whose run (`columns`: `FIELDS` int64 a key) is of one day and cannot
/// fire, from its stored record (`raws`: bytes, or None for none). `kind`: 0 request cost, 1 token
/// drift; `settings` as `absorb_request_costs` or `absorb_token_drift` read them. Returns the
/// folded keys' places, their new records' bytes, and the places left to the reference (keys with
/// events counted that it did not fold), each in key order.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn fold_quiet_days<'py>(
    py: Python<'py>,
    kind: u8,
    settings: Vec<i64>,
    keys: &Bound<'py, PyList>,
    raws: &Bound<'py, PyList>,
    columns: PyBuffer<i64>,
) -> PyResult<(Vec<usize>, Vec<Bound<'py, PyBytes>>, Vec<usize>)> {
    let wanted = match kind {
        REQUEST_COST => 5,
        TOKEN_DRIFT => 6,
        _ => return Err(PyValueError::new_err("fold_quiet_days: kind is 0 or 1")),
    };
    if settings.len() != wanted {
        return Err(PyValueError::new_err(
            "fold_quiet_days: settings of the wrong length",
        ));
    }
    let settings: Vec<i128> = settings.into_iter().map(i128::from).collect();
    if !columns.is_c_contiguous() {
        return Err(PyValueError::new_err(
            "fold_quiet_days: columns must be C-contiguous",
        ));
    }
    let cells = columns
        .as_slice(py)
        .ok_or_else(|| PyValueError::new_err("fold_quiet_days: columns not int64"))?;
    let n = keys.len();
    if raws.len() != n || cells.len() != n * FIELDS {
        return Err(PyValueError::new_err(
            "fold_quiet_days: keys, raws and columns of unequal length",
        ));
    }
    let (mut folded, mut made, mut left) = (Vec::new(), Vec::new(), Vec::new());
    for at in 0..n {
        let row: Vec<i128> = cells[at * FIELDS..(at + 1) * FIELDS]
            .iter()
            .map(|cell| i128::from(cell.get()))
            .collect();
        let run = Run {
            day: row[0],
            count: row[1],
            sum: row[2],
            most: row[3],
            least: row[4],
            newest: row[5],
            first_position: row[6],
            last_position: row[7],
            last_partition: row[8],
        };
        if run.day < 0 {
            if run.count != 0 {
                left.push(at); // of several days
            }
            continue;
        }
        let key_item = keys.get_item(at)?;
        let key = key_item.downcast::<PyBytes>()?.as_bytes();
        let raw_item = raws.get_item(at)?;
        let raw = if raw_item.is_none() {
            None
        } else {
            Some(raw_item.downcast::<PyBytes>()?.as_bytes())
        };
        match fold_one(kind, &settings, key, raw, &run) {
            Some(bytes) => {
                folded.push(at);
                made.push(PyBytes::new(py, &bytes));
            }
            None => left.push(at),
        }
    }
    Ok((folded, made, left))
}
