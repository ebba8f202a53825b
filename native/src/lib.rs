//! `streams._wire_scan`: a batch's JSON-array messages read, checked and laid out as columns in one
//! native pass, the same as `streams.wire_columns`' Python path (msgspec's read, then its checks).
//!
//! What msgspec refuses (malformed JSON, a wrong type, an unknown field, a missing field, a string
//! out of its bounds, text that is not UTF-8) is refused here; what the Python checks decline is
//! declined here; hostile input is normal input and never panics into Python (each message is read
//! under `catch_unwind`: a panic declines it).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};

mod codes;
mod ids;
mod native_block;
mod windows;

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString, PyTuple};

/// The kinds in `streams.wire_columns.KINDS`' order: an event's kind number is its place here.
const KINDS: [&str; 8] = [
    "llm",
    "tool",
    "embedding",
    "vector_query",
    "compute",
    "storage",
    "human_review",
    "outcome",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ty {
    Sku,      // str of 1 to 128 characters
    Tokens,   // int, 0 to MAX_TOKENS
    Count,    // int, 0 to MAX_COUNT
    Bytes,    // int, 0 to MAX_BYTES
    Amount,   // str, or int of any size
    Currency, // str
    Bool,
}

struct Own {
    name: &'static str,
    ty: Ty,
    optional: bool,
}

const fn own(name: &'static str, ty: Ty, optional: bool) -> Own {
    Own { name, ty, optional }
}

/// Each kind's own fields, in `streams.wire_columns._OWN`'s order.
static OWN: [&[Own]; 8] = [
    &[
        own("provider", Ty::Sku, false),
        own("model", Ty::Sku, false),
        own("input_tokens", Ty::Tokens, false),
        own("output_tokens", Ty::Tokens, false),
        own("cached_input_tokens", Ty::Tokens, true),
        own("cache_write_tokens", Ty::Tokens, true),
        own("reasoning_tokens", Ty::Tokens, true),
    ],
    &[own("tool", Ty::Sku, false), own("calls", Ty::Count, true)],
    &[
        own("model", Ty::Sku, false),
        own("tokens", Ty::Tokens, false),
    ],
    &[
        own("provider", Ty::Sku, false),
        own("queries", Ty::Count, true),
    ],
    &[
        own("sku", Ty::Sku, false),
        own("seconds", Ty::Amount, false),
    ],
    &[
        own("sku", Ty::Sku, false),
        own("bytes", Ty::Bytes, false),
        own("seconds", Ty::Amount, false),
    ],
    &[
        own("sku", Ty::Sku, false),
        own("minutes", Ty::Amount, false),
    ],
    &[
        own("outcome_type", Ty::Sku, false),
        own("quantity", Ty::Count, true),
        own("currency", Ty::Currency, true),
        own("success", Ty::Bool, true),
    ],
];

const MAX_OWN: usize = 7;
// Bits of the fields every kind has, in an event's `seen` mask; a kind's own field i is bit 16 + i.
const EVENT_ID: u32 = 1 << 0;
const OCCURRED_AT: u32 = 1 << 1;
const CUSTOMER_ID: u32 = 1 << 2;
const AGENT_ID: u32 = 1 << 3;
const SCHEMA_VERSION: u32 = 1 << 4;
const USER_ID: u32 = 1 << 5;
const TASK_ID: u32 = 1 << 6;
const REQUEST_ID: u32 = 1 << 7;
const ATTRIBUTES: u32 = 1 << 8;
const REQUIRED: u32 = EVENT_ID | OCCURRED_AT | CUSTOMER_ID | AGENT_ID;
const COMMON_OPTIONAL: u32 = SCHEMA_VERSION | USER_ID | TASK_ID | REQUEST_ID | ATTRIBUTES;

struct Limits {
    max_tokens: u64,
    max_count: u64,
    max_bytes: u64,
    max_events: usize,
    max_attributes: usize,
    max_key_chars: usize,
    max_value_chars: usize,
    max_str_digits: usize,
}

impl Limits {
    fn bound(&self, ty: Ty) -> u64 {
        match ty {
            Ty::Tokens => self.max_tokens,
            Ty::Count => self.max_count,
            _ => self.max_bytes,
        }
    }
}

/// A JSON value as msgspec could take it for some field; anything no field takes is an error.
enum Val<'a> {
    Str(&'a str),
    Int(&'a str), // the number as sent: an optional '-', then digits
    Null,
    Bool(bool),
    Obj(Vec<(&'a str, &'a str)>), // an object of strings (attributes)
}

#[derive(Clone, Copy)]
enum OwnVal<'a> {
    Unset,
    Str(&'a str),
    Int(i64),
    BigInt(&'a str),
    Bool(bool),
}

struct Event<'a> {
    kind: usize,
    event_id: &'a str,
    occurred_at: &'a str,
    customer_id: &'a str,
    agent_id: &'a str,
    ids: [Option<Option<&'a str>>; 3], // user, task, request: None not sent, Some(None) null
    attributes: Option<Vec<(&'a str, &'a str)>>,
    own: [OwnVal<'a>; MAX_OWN],
    seen: u32,
    span: (usize, usize), // the event's object in its message: where its '{' is, after its '}'
}

struct Message<'a> {
    at: usize,
    events: Vec<Event<'a>>,
    twice: bool, // a key sent twice somewhere: msgspec keeps one, the Python path declines it
}

/// The first byte from `at` that is '"' or below 0x20 (a string's end, or a control character),
/// eight bytes at a time.
#[inline]
fn string_end(b: &[u8], mut at: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = ONES * b'"' as u64;
    while let Some(chunk) = b.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let q = x ^ QUOTES;
        // Bytes equal to '"' (zero in q), and bytes below 0x20: the lowest flag is exact.
        let found = ((q.wrapping_sub(ONES) & !q) | (x.wrapping_sub(ONES * 0x20) & !x)) & HIGH;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    while let Some(&c) = b.get(at) {
        if c == b'"' || c < 0x20 {
            return Some(at);
        }
        at += 1;
    }
    None
}

struct Parser<'a> {
    b: &'a [u8],
    s: &'a str,
    i: usize,
}

type R<T> = Result<T, ()>;

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> R<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(())
        }
    }

    fn literal(&mut self, text: &[u8]) -> R<()> {
        if self.b.get(self.i..self.i + text.len()) == Some(text) {
            self.i += text.len();
            Ok(())
        } else {
            Err(())
        }
    }

    fn string(&mut self) -> R<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let end = string_end(self.b, start).ok_or(())?;
        if self.b[end] != b'"' {
            return Err(()); // a control character: msgspec refuses it (a backslash is never here)
        }
        let text = self.s.get(start..end).ok_or(())?;
        self.i = end + 1;
        Ok(text)
    }

    fn number(&mut self) -> R<&'a str> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.i += 1;
                }
            }
            _ => return Err(()),
        }
        if let Some(b'.' | b'e' | b'E' | b'0'..=b'9') = self.peek() {
            return Err(()); // a float (no field takes one), or a leading zero
        }
        self.s.get(start..self.i).ok_or(())
    }

    fn strings_object(&mut self) -> R<Vec<(&'a str, &'a str)>> {
        self.eat(b'{')?;
        self.ws();
        let mut pairs = Vec::new();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(pairs);
        }
        loop {
            let key = self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            let text = self.string()?;
            pairs.push((key, text));
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(b'}') => {
                    self.i += 1;
                    return Ok(pairs);
                }
                _ => return Err(()),
            }
        }
    }

    fn value(&mut self) -> R<Val<'a>> {
        match self.peek() {
            Some(b'"') => self.string().map(Val::Str),
            Some(b'-' | b'0'..=b'9') => self.number().map(Val::Int),
            Some(b't') => self.literal(b"true").map(|_| Val::Bool(true)),
            Some(b'f') => self.literal(b"false").map(|_| Val::Bool(false)),
            Some(b'n') => self.literal(b"null").map(|_| Val::Null),
            Some(b'{') => self.strings_object().map(Val::Obj),
            _ => Err(()),
        }
    }

    fn event(&mut self, limits: &Limits, twice: &mut bool) -> R<Event<'a>> {
        let start = self.i;
        self.eat(b'{')?;
        self.ws();
        let mut pairs: Vec<(&'a str, Val<'a>)> = Vec::with_capacity(12);
        if self.peek() != Some(b'}') {
            loop {
                let key = self.string()?;
                self.ws();
                self.eat(b':')?;
                self.ws();
                pairs.push((key, self.value()?));
                self.ws();
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        self.ws();
                    }
                    Some(b'}') => break,
                    _ => return Err(()),
                }
            }
        }
        self.i += 1;
        let mut event = event_of(pairs, limits, twice)?;
        event.span = (start, self.i);
        Ok(event)
    }

    fn message(&mut self, limits: &Limits) -> R<(Vec<Event<'a>>, bool)> {
        self.eat(b'[')?;
        self.ws();
        let mut events = Vec::new();
        let mut twice = false;
        if self.peek() == Some(b']') {
            self.i += 1;
        } else {
            loop {
                events.push(self.event(limits, &mut twice)?);
                self.ws();
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        self.ws();
                    }
                    Some(b']') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(()),
                }
            }
        }
        self.ws();
        if self.i != self.b.len() {
            return Err(()); // trailing characters
        }
        Ok((events, twice))
    }
}

fn chars(text: &str) -> usize {
    text.bytes().filter(|&b| (b as i8) >= -0x40).count()
}

fn str_of<'a>(value: &Val<'a>, low: usize, high: usize) -> R<&'a str> {
    match value {
        Val::Str(text) if (low..=high).contains(&chars(text)) => Ok(text),
        _ => Err(()),
    }
}

/// A bounded integer field: 0 to `bound` (`-0` is 0, as msgspec reads it).
fn bounded(raw: &str, bound: u64) -> R<i64> {
    let digits = raw.strip_prefix('-');
    let (negative, digits) = match digits {
        Some(d) => (true, d),
        None => (false, raw),
    };
    if negative && digits != "0" {
        return Err(());
    }
    if digits.len() > 18 {
        return Err(());
    }
    let value: u64 = digits.parse().map_err(|_| ())?;
    if value > bound {
        return Err(());
    }
    Ok(value as i64)
}

/// An event's pairs as msgspec reads them into its kind's Struct: the tag, each field's type and
/// bounds, no unknown field, every required field; a key sent twice keeps the last.
fn event_of<'a>(pairs: Vec<(&'a str, Val<'a>)>, limits: &Limits, twice: &mut bool) -> R<Event<'a>> {
    let mut kind: Option<usize> = None;
    for (key, value) in &pairs {
        if *key == "kind" {
            let Val::Str(tag) = value else { return Err(()) };
            match kind {
                None => kind = Some(KINDS.iter().position(|k| k == tag).ok_or(())?),
                Some(found) if KINDS[found] == *tag => *twice = true,
                Some(_) => return Err(()),
            }
        }
    }
    let kind = kind.ok_or(())?;
    let fields = OWN[kind];
    let mut event = Event {
        kind,
        event_id: "",
        occurred_at: "",
        customer_id: "",
        agent_id: "",
        ids: [None; 3],
        attributes: None,
        own: [OwnVal::Unset; MAX_OWN],
        seen: 0,
        span: (0, 0),
    };
    for (key, value) in pairs {
        let bit = match key {
            "kind" => continue,
            "event_id" => {
                event.event_id = str_of(&value, 1, 256)?;
                EVENT_ID
            }
            "occurred_at" => {
                event.occurred_at = str_of(&value, 0, usize::MAX)?;
                OCCURRED_AT
            }
            "customer_id" => {
                event.customer_id = str_of(&value, 1, 256)?;
                CUSTOMER_ID
            }
            "agent_id" => {
                event.agent_id = str_of(&value, 1, 256)?;
                AGENT_ID
            }
            "schema_version" => match value {
                Val::Int("1") => SCHEMA_VERSION,
                _ => return Err(()),
            },
            "user_id" | "task_id" | "request_id" => {
                let (bit, place) = match key {
                    "user_id" => (USER_ID, 0),
                    "task_id" => (TASK_ID, 1),
                    _ => (REQUEST_ID, 2),
                };
                event.ids[place] = Some(match value {
                    Val::Null => None,
                    Val::Str(text) if (1..=256).contains(&chars(text)) => Some(text),
                    _ => return Err(()),
                });
                bit
            }
            "attributes" => match value {
                Val::Obj(found) => {
                    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(found.len());
                    let mut places: HashMap<&str, usize> = HashMap::new();
                    for (k, v) in found {
                        if let Some(&place) = places.get(k) {
                            *twice = true;
                            pairs[place].1 = v; // a dict keeps the first place, the last value
                        } else {
                            places.insert(k, pairs.len());
                            pairs.push((k, v));
                        }
                    }
                    event.attributes = Some(pairs);
                    ATTRIBUTES
                }
                _ => return Err(()),
            },
            _ => {
                let place = fields.iter().position(|f| f.name == key).ok_or(())?;
                let ty = fields[place].ty;
                event.own[place] = match (ty, value) {
                    (Ty::Sku, Val::Str(text)) if (1..=128).contains(&chars(text)) => {
                        OwnVal::Str(text)
                    }
                    (Ty::Tokens | Ty::Count | Ty::Bytes, Val::Int(raw)) => {
                        OwnVal::Int(bounded(raw, limits.bound(ty))?)
                    }
                    (Ty::Amount, Val::Str(text)) | (Ty::Currency, Val::Str(text)) => {
                        OwnVal::Str(text)
                    }
                    (Ty::Amount, Val::Int(raw)) => match raw.parse::<i64>() {
                        Ok(number) => OwnVal::Int(number),
                        // msgspec refuses a number of more than 4300 characters, and Python's int
                        // one of more digits than sys.get_int_max_str_digits() (0: no limit).
                        Err(_) if raw.len() > 4300 => return Err(()),
                        Err(_)
                            if limits.max_str_digits > 0
                                && raw.trim_start_matches('-').len() > limits.max_str_digits =>
                        {
                            return Err(())
                        }
                        Err(_) => OwnVal::BigInt(raw),
                    },
                    (Ty::Bool, Val::Bool(flag)) => OwnVal::Bool(flag),
                    _ => return Err(()),
                };
                1 << (16 + place)
            }
        };
        if event.seen & bit != 0 {
            *twice = true;
        }
        event.seen |= bit;
    }
    if event.seen & REQUIRED != REQUIRED {
        return Err(());
    }
    for (place, field) in fields.iter().enumerate() {
        if !field.optional && event.seen & (1 << (16 + place)) == 0 {
            return Err(());
        }
    }
    Ok(event)
}

fn is_space(c: char) -> bool {
    // Python's str.isspace
    matches!(
        c,
        '\t' | '\n'
            | '\x0b'
            | '\x0c'
            | '\r'
            | '\x1c'..='\x1f'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

fn is_control(c: char) -> bool {
    matches!(c, '\x00'..='\x1f' | '\x7f'..='\u{9f}')
}

/// `streams.wire_columns._identifier`: 1 to `limit` characters, no space at either end, no control.
fn identifier(text: &str, limit: usize) -> bool {
    if text.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return (1..=limit).contains(&text.len());
    }
    let n = chars(text);
    if n == 0 || n > limit {
        return false;
    }
    let first = text.chars().next().unwrap_or(' ');
    let last = text.chars().next_back().unwrap_or(' ');
    !is_space(first) && !is_space(last) && !text.chars().any(is_control)
}

fn attributes_ok(pairs: &[(&str, &str)], limits: &Limits) -> bool {
    pairs.len() <= limits.max_attributes
        && pairs.iter().all(|(k, v)| {
            (1..=limits.max_key_chars).contains(&chars(k))
                && chars(v) <= limits.max_value_chars
                && !k.chars().any(is_control)
                && !v.chars().any(is_control)
        })
}

/// `[0-9]{1,18}(\.[0-9]{1,18})?`
fn plain_amount(text: &str) -> bool {
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let digits =
        |part: &str| (1..=18).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits)
}

const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `streams.iso_times.parse_utc` of one text: `YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+00:00)`, 1970-2099.
fn parse_utc(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if !text.is_ascii() || b.len() <= 19 {
        return None;
    }
    let zulu = b[b.len() - 1] == b'Z';
    let fraction = b.len() - 19 - if zulu { 1 } else { 6 };
    if !zulu && &b[b.len() - 6..] != b"+00:00" {
        return None;
    }
    if !(fraction == 0 || (2..=7).contains(&fraction)) {
        return None;
    }
    for (at, c) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')] {
        if b[at] != c {
            return None;
        }
    }
    let digit = |at: usize| -> Option<i64> {
        let c = b[at];
        c.is_ascii_digit().then_some((c - b'0') as i64)
    };
    let two = |at: usize| -> Option<i64> { Some(digit(at)? * 10 + digit(at + 1)?) };
    let year = two(0)? * 100 + two(2)?;
    let (month, day, hour, minute, second) = (two(5)?, two(8)?, two(11)?, two(14)?, two(17)?);
    let mut micro = 0;
    if fraction != 0 {
        if b[19] != b'.' {
            return None;
        }
        for place in 0..6 {
            micro *= 10;
            if place < fraction - 1 {
                micro += digit(20 + place)?;
            }
        }
    }
    if !(1970..=2099).contains(&year) || !(1..=12).contains(&month) || day < 1 {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day > month_days[(month - 1) as usize] || hour >= 24 || minute >= 60 || second >= 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + minute * 60 + second) * 1_000_000 + micro)
}

/// Each event's checks of `streams.wire_columns._columns` but the customer's: its time (and
/// microseconds), ids, names, amounts, currency, attributes and an LLM call's token sums.
fn event_ok(event: &Event<'_>, limits: &Limits) -> Option<i64> {
    let micros = parse_utc(event.occurred_at)?;
    let good = identifier(event.event_id, 256)
        && identifier(event.agent_id, 256)
        && event.ids.iter().all(|id| match id {
            Some(Some(text)) => identifier(text, 256),
            _ => true,
        })
        && event
            .attributes
            .as_deref()
            .is_none_or(|pairs| attributes_ok(pairs, limits));
    if !good {
        return None;
    }
    let int = |place: usize| match event.own[place] {
        OwnVal::Int(v) => v,
        _ => 0,
    };
    for (place, field) in OWN[event.kind].iter().enumerate() {
        let ok = match (field.ty, event.own[place]) {
            (Ty::Sku, OwnVal::Str(text)) => identifier(text, 128),
            (Ty::Amount, OwnVal::Str(text)) => plain_amount(text),
            (Ty::Currency, OwnVal::Str(text)) => {
                text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase())
            }
            _ => true,
        };
        if !ok {
            return None;
        }
    }
    if event.kind == 0 && (int(4) + int(5) > int(2) || int(6) > int(3)) {
        return None;
    }
    Some(micros)
}

fn int64s<'py>(py: Python<'py>, values: &[i64]) -> Bound<'py, PyByteArray> {
    let mut raw = Vec::with_capacity(values.len() * 8);
    for v in values {
        raw.extend_from_slice(&v.to_ne_bytes());
    }
    PyByteArray::new(py, &raw)
}

fn key_text(key: Option<&[u8]>) -> String {
    match key {
        None => String::new(),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => "\0".to_owned(),
        },
    }
}

/// The batch read as `streams.wire_columns.decode_batch` reads it. Returns
/// `(slow, message, index, kind, event_ids, customers, agents, occurred_us, spans, optional_ids,
/// attributes, kinds)`: int64 columns as bytearrays, `kinds` a list of
/// `(kind number, rows, own fields' lists, [(own field place, int64 array)])`.
/// None where the scan panicked (it never should): the caller decodes the batch in Python.
#[pyfunction]
#[pyo3(signature = (values, keys, low, high, unset, limits))]
#[allow(clippy::too_many_arguments)]
fn scan<'py>(
    py: Python<'py>,
    values: Vec<Bound<'py, PyBytes>>,
    keys: Vec<Option<Bound<'py, PyBytes>>>,
    low: Option<&[u8]>,
    high: Option<&[u8]>,
    unset: Bound<'py, PyAny>,
    limits: (u64, u64, u64, usize, usize, usize, usize, usize),
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let scanned = catch_unwind(AssertUnwindSafe(|| {
        scan_batch(py, values, keys, low, high, unset, limits)
    }));
    match scanned {
        Ok(result) => result.map(Some),
        Err(_) => Ok(None),
    }
}

#[allow(clippy::too_many_arguments)]
fn scan_batch<'py>(
    py: Python<'py>,
    values: Vec<Bound<'py, PyBytes>>,
    keys: Vec<Option<Bound<'py, PyBytes>>>,
    low: Option<&[u8]>,
    high: Option<&[u8]>,
    unset: Bound<'py, PyAny>,
    limits: (u64, u64, u64, usize, usize, usize, usize, usize),
) -> PyResult<Bound<'py, PyTuple>> {
    let limits = Limits {
        max_tokens: limits.0,
        max_count: limits.1,
        max_bytes: limits.2,
        max_events: limits.3,
        max_attributes: limits.4,
        max_key_chars: limits.5,
        max_value_chars: limits.6,
        max_str_digits: limits.7,
    };
    let bound_of = |raw: Option<&[u8]>, at: usize| -> Option<i64> {
        let bytes = raw?.get(at * 8..at * 8 + 8)?;
        Some(i64::from_ne_bytes(bytes.try_into().ok()?))
    };
    let mut slow: Vec<usize> = Vec::new();
    let mut taken: Vec<Message<'_>> = Vec::new();
    for (at, value) in values.iter().enumerate() {
        let b = value.as_bytes();
        if b.first() != Some(&b'[') || b.contains(&b'\\') {
            slow.push(at);
            continue;
        }
        let read = catch_unwind(AssertUnwindSafe(|| -> R<(Vec<Event<'_>>, bool)> {
            let s = std::str::from_utf8(b).map_err(|_| ())?;
            Parser { b, s, i: 0 }.message(&limits)
        }));
        match read {
            Ok(Ok((events, twice))) if !events.is_empty() && events.len() <= limits.max_events => {
                taken.push(Message { at, events, twice })
            }
            _ => slow.push(at),
        }
    }
    // One pass over every event msgspec read (declined messages' too): what the Python path decides
    // over the whole batch, and each message's verdict with its events' times.
    let mut unread: Vec<usize> = Vec::new(); // messages with strings the base count leaves over
    let mut with_attributes = false;
    let mut names_ok = true; // a bad customer name fails every message
                             // Per kind, per own field: whether every event of the kind sent it (its int64 array is read).
    let mut of_kind = [false; 8];
    let mut missing = [[false; MAX_OWN]; 8];
    let mut verdicts: Vec<Option<Vec<i64>>> = Vec::with_capacity(taken.len());
    for message in &taken {
        let key = e_key(&keys, message.at);
        let (lo, hi) = (bound_of(low, message.at), bound_of(high, message.at));
        let mut good = !message.twice && !key.contains('\0');
        let mut optional = message.twice;
        let mut times = Vec::with_capacity(message.events.len());
        for event in &message.events {
            optional |= event.seen & COMMON_OPTIONAL != 0;
            with_attributes |= event.attributes.is_some();
            names_ok &= identifier(event.customer_id, 256);
            of_kind[event.kind] = true;
            for (place, value) in event.own.iter().enumerate() {
                if let OwnVal::Unset = value {
                    missing[event.kind][place] = true;
                }
            }
            if good {
                let checked =
                    catch_unwind(AssertUnwindSafe(|| event_ok(event, &limits))).unwrap_or(None);
                match checked {
                    Some(micros)
                        if event.customer_id == key
                            && lo.is_none_or(|l| micros >= l)
                            && hi.is_none_or(|h| micros <= h) =>
                    {
                        times.push(micros)
                    }
                    _ => good = false,
                }
            }
        }
        if optional {
            unread.push(message.at);
        }
        verdicts.push(good.then_some(times));
    }
    if !with_attributes && unread.len() * 8 < taken.len() {
        // Few messages left strings over: the Python path reads attributes where their text names them.
        with_attributes = unread.iter().any(|&at| {
            values[at]
                .as_bytes()
                .windows(12)
                .any(|w| w == b"\"attributes\"")
        });
    }
    let mut admitted: Vec<(&Message<'_>, Vec<i64>)> = Vec::new();
    for (message, verdict) in taken.iter().zip(verdicts) {
        match verdict {
            Some(times) if names_ok => admitted.push((message, times)),
            _ => slow.push(message.at),
        }
    }
    slow.sort_unstable();
    // The columns of the admitted events.
    let n: usize = admitted.iter().map(|(m, _)| m.events.len()).sum();
    let mut message_col = Vec::with_capacity(n);
    let mut index_col = Vec::with_capacity(n);
    let mut kind_col = Vec::with_capacity(n);
    let mut occurred = Vec::with_capacity(n);
    let mut spans = Vec::with_capacity(2 * n);
    let mut event_ids: Vec<Bound<'py, PyAny>> = Vec::with_capacity(n);
    let mut customers: Vec<Bound<'py, PyAny>> = Vec::with_capacity(n);
    let mut agents: Vec<Bound<'py, PyAny>> = Vec::with_capacity(n);
    let mut optional: [Vec<Bound<'py, PyAny>>; 3] = Default::default();
    let mut attributes: Vec<Bound<'py, PyAny>> = Vec::new();
    let empty = PyString::new(py, "").into_any();
    let none_sent = PyDict::new(py).into_any();
    // Names repeat across a batch (agents, SKUs, models, amounts): one str each, shared by its rows.
    let mut texts = Texts::new(py);
    let mut kind_rows: [Vec<i64>; 8] = Default::default();
    // Each kind's own fields as lists, and the integers among them: filled in the same pass.
    let mut lists: [Vec<Vec<Bound<'py, PyAny>>>; 8] = Default::default();
    let mut ints: [Vec<Vec<i64>>; 8] = Default::default();
    for kind in 0..8 {
        lists[kind] = OWN[kind].iter().map(|_| Vec::new()).collect();
        ints[kind] = OWN[kind].iter().map(|_| Vec::new()).collect();
    }
    for column in optional.iter_mut() {
        column.reserve(n);
    }
    if with_attributes {
        attributes.reserve(n);
    }
    for (message, times) in &admitted {
        let customer = PyString::new(py, e_key(&keys, message.at).as_str()).into_any();
        for (place, event) in message.events.iter().enumerate() {
            let row = message_col.len() as i64;
            message_col.push(message.at as i64);
            index_col.push(place as i64);
            kind_col.push(event.kind as i64);
            occurred.push(times[place]);
            spans.extend([event.span.0 as i64, event.span.1 as i64]);
            kind_rows[event.kind].push(row);
            event_ids.push(PyString::new(py, event.event_id).into_any());
            customers.push(customer.clone());
            agents.push(texts.get(event.agent_id));
            for (slot, column) in optional.iter_mut().enumerate() {
                column.push(match event.ids[slot] {
                    Some(Some(text)) => PyString::new(py, text).into_any(),
                    _ => empty.clone(),
                });
            }
            if with_attributes {
                attributes.push(match &event.attributes {
                    Some(pairs) => {
                        let dict = PyDict::new(py);
                        for (k, v) in pairs {
                            dict.set_item(PyString::new(py, k), PyString::new(py, v))?;
                        }
                        dict.into_any()
                    }
                    None => none_sent.clone(),
                });
            }
            let (kind_lists, kind_ints) = (&mut lists[event.kind], &mut ints[event.kind]);
            for (place, list) in kind_lists.iter_mut().enumerate() {
                list.push(match event.own[place] {
                    OwnVal::Unset => unset.clone(),
                    OwnVal::Str(text) => texts.get(text),
                    OwnVal::Int(number) => {
                        kind_ints[place].push(number);
                        number.into_pyobject(py)?.into_any()
                    }
                    OwnVal::BigInt(raw) => py.get_type::<pyo3::types::PyInt>().call1((raw,))?,
                    OwnVal::Bool(flag) => {
                        kind_ints[place].push(flag as i64);
                        pyo3::types::PyBool::new(py, flag).to_owned().into_any()
                    }
                });
            }
        }
    }
    let optional_ids = PyTuple::new(
        py,
        optional
            .into_iter()
            .map(|column| PyList::new(py, column))
            .collect::<PyResult<Vec<_>>>()?,
    )?;
    let kinds = PyList::empty(py);
    for kind in 0..8 {
        if kind_rows[kind].is_empty() {
            continue;
        }
        let arrays = PyList::empty(py);
        for (place, field) in OWN[kind].iter().enumerate() {
            let integer = matches!(field.ty, Ty::Tokens | Ty::Count | Ty::Bool); // _INTEGERS: not bytes
            if integer && of_kind[kind] && !missing[kind][place] {
                arrays.append((place, int64s(py, &ints[kind][place])))?;
            }
        }
        let fields = std::mem::take(&mut lists[kind])
            .into_iter()
            .map(|list| PyList::new(py, list))
            .collect::<PyResult<Vec<_>>>()?;
        kinds.append((
            kind,
            int64s(py, &kind_rows[kind]),
            PyList::new(py, fields)?,
            arrays,
        ))?;
    }
    let attributes_out: Bound<'py, PyAny> = if with_attributes {
        PyList::new(py, attributes)?.into_any()
    } else {
        py.None().into_bound(py)
    };
    let items: Vec<Bound<'py, PyAny>> = vec![
        PyList::new(py, slow)?.into_any(),
        int64s(py, &message_col).into_any(),
        int64s(py, &index_col).into_any(),
        int64s(py, &kind_col).into_any(),
        PyList::new(py, event_ids)?.into_any(),
        PyList::new(py, customers)?.into_any(),
        PyList::new(py, agents)?.into_any(),
        int64s(py, &occurred).into_any(),
        int64s(py, &spans).into_any(),
        optional_ids.into_any(),
        attributes_out,
        kinds.into_any(),
    ];
    PyTuple::new(py, items)
}

/// One Python str per distinct text of a batch.
struct Texts<'a, 'py> {
    py: Python<'py>,
    made: HashMap<&'a str, Bound<'py, PyAny>, BuildHasherDefault<Fx>>,
}

impl<'a, 'py> Texts<'a, 'py> {
    fn new(py: Python<'py>) -> Self {
        Texts {
            py,
            made: HashMap::default(),
        }
    }

    fn get(&mut self, text: &'a str) -> Bound<'py, PyAny> {
        let py = self.py;
        self.made
            .entry(text)
            .or_insert_with(|| PyString::new(py, text).into_any())
            .clone()
    }
}

/// FxHash (rustc's): short texts hashed in a few instructions.
#[derive(Default)]
pub(crate) struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.add(b as u64);
        }
    }
}

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

fn e_key(keys: &[Option<Bound<'_, PyBytes>>], at: usize) -> String {
    key_text(keys.get(at).and_then(|k| k.as_ref()).map(|k| k.as_bytes()))
}

mod days;
mod hourly;

#[pymodule]
fn _wire_scan(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(scan, m)?)?;
    m.add_function(wrap_pyfunction!(hourly::contribute_full, m)?)?;
    m.add_function(wrap_pyfunction!(days::fold_quiet_days, m)?)?;
    m.add_function(wrap_pyfunction!(hourly::stretch_groups, m)?)?;
    m.add_function(wrap_pyfunction!(hourly::none_rows, m)?)?;
    m.add_function(wrap_pyfunction!(windows::window_records, m)?)?;
    m.add_function(wrap_pyfunction!(windows::window_keys, m)?)?;
    m.add_function(wrap_pyfunction!(native_block::strings, m)?)?;
    m.add_function(wrap_pyfunction!(native_block::low_cardinality_codes, m)?)?;
    m.add_function(wrap_pyfunction!(native_block::decimal_units, m)?)?;
    m.add_function(wrap_pyfunction!(native_block::decimal128, m)?)?;
    m.add_function(wrap_pyfunction!(native_block::uuid_halves, m)?)?;
    m.add_function(wrap_pyfunction!(ids::id_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(codes::name_codes, m)?)?;
    Ok(())
}
