//! Sprig v3 functions beyond the core set: dates (Masterminds/sprig `date.go`), the case
//! and wrapping helpers (`huandu/xstrings` `convert.go`, `Masterminds/goutils`
//! `wordutils.go`/`stringutils.go`), `seq` and `untilStep` (`numeric.go`), base32,
//! `html`/`js`/`urlquery` (Go's `text/template` escapers), `uuidv4`, `randInt`.
//!
//! Each function follows the upstream source it names; the differential fuzzer
//! (scripts/helm-fuzz) compares them with real Helm.

use super::funcs::{FnError, to_i64};
use super::gotime::{self, GoTime};
use super::{Budget, V};

type R = Result<V, FnError>;

fn s(a: &[V], i: usize) -> String {
    a.get(i).map(V::to_str).unwrap_or_default()
}

/// Go's template call of a `func(..., t time.Time)` with another type.
fn want_time(name: &str, v: &V) -> Result<GoTime, FnError> {
    gotime::as_time(v).ok_or_else(|| {
        FnError::Go(format!(
            "error calling {name}: wrong type for value; expected time.Time; got {}",
            if matches!(v, V::Nil) {
                "<nil>".to_owned()
            } else {
                v.type_name()
            }
        ))
    })
}

/// `date`'s argument: a `time.Time`, or Unix seconds as Go `int`/`int64`/`int32`; anything
/// else (Helm's values' numbers are float64) is `time.Now()`.
fn date_arg(v: &V) -> GoTime {
    match v {
        V::Int(i) => GoTime::unix(*i),
        other => gotime::as_time(other).unwrap_or_else(GoTime::now),
    }
}

/// `time.LoadLocation(zone)` for the zones Sluice knows (UTC; `Local` is UTC); an unknown
/// name falls back to UTC as Sprig does, a real IANA zone is not supported.
fn zone(z: &str) -> Result<(), FnError> {
    match z {
        "" | "UTC" | "Local" => Ok(()),
        z if z.contains('/') || z.chars().all(|c| c.is_ascii_uppercase()) && z.len() >= 3 => {
            Err(FnError::Msg(format!(
                "time zone {z:?} is not supported by sluice (only UTC)"
            )))
        }
        _ => Ok(()),
    }
}

pub fn call(name: &str, a: &[V], budget: &Budget) -> Option<R> {
    let _ = budget;
    Some(Ok(match name {
        "hello" => V::str("Hello!"),
        // ---- dates
        "now" => gotime::time_value(GoTime::now()),
        "date" | "dateInZone" | "date_in_zone" | "htmlDate" | "htmlDateInZone" => {
            let (fmt, t, z) = match name {
                "date" => (
                    s(a, 0),
                    a.get(1).cloned().unwrap_or(V::Nil),
                    "Local".to_owned(),
                ),
                "htmlDate" => (
                    "2006-01-02".into(),
                    a.first().cloned().unwrap_or(V::Nil),
                    "Local".into(),
                ),
                "htmlDateInZone" => (
                    "2006-01-02".into(),
                    a.first().cloned().unwrap_or(V::Nil),
                    s(a, 1),
                ),
                _ => (s(a, 0), a.get(1).cloned().unwrap_or(V::Nil), s(a, 2)),
            };
            if let Err(e) = zone(&z) {
                return Some(Err(e));
            }
            V::str(date_arg(&t).in_zone(0, "UTC").format(&fmt))
        }
        "dateModify" | "date_modify" | "mustDateModify" | "must_date_modify" => {
            let t = match want_time(name, a.get(1).unwrap_or(&V::Nil)) {
                Ok(t) => t,
                Err(e) => return Some(Err(e)),
            };
            match gotime::parse_duration(&s(a, 0)) {
                Ok(d) => gotime::time_value(t.add(d)),
                Err(e) if name.starts_with("must") => return Some(Err(FnError::Msg(e))),
                Err(_) => gotime::time_value(t),
            }
        }
        "toDate" | "mustToDate" => match gotime::parse(&s(a, 0), &s(a, 1)) {
            Ok(t) => gotime::time_value(t),
            Err(e) if name == "mustToDate" => return Some(Err(FnError::Msg(e))),
            Err(_) => gotime::time_value(GoTime::zero()),
        },
        "unixEpoch" => {
            let t = match want_time(name, a.first().unwrap_or(&V::Nil)) {
                Ok(t) => t,
                Err(e) => return Some(Err(e)),
            };
            V::str(t.secs.to_string())
        }
        "ago" => {
            let t = date_arg(a.first().unwrap_or(&V::Nil));
            let d = GoTime::now().sub(&t);
            // time.Since(t).Round(time.Second)
            let r = round_duration(d, 1_000_000_000);
            V::str(gotime::duration_string(r))
        }
        "duration" => {
            // Sprig: a string parsed as int64 seconds, an int64; anything else (a Go `int`,
            // which is what `V::Int` is, a float64 from values) 0
            let n = match a.first() {
                Some(V::Str(x)) => parse_go_int64(x).unwrap_or(0),
                _ => 0,
            };
            V::str(gotime::duration_string(n.wrapping_mul(1_000_000_000)))
        }
        "durationRound" => {
            let d: i64 = match a.first() {
                Some(V::Str(x)) => gotime::parse_duration(x).unwrap_or(0),
                // an int64 counts nanoseconds, but `V::Int` is Go's `int`: 0, as Sprig
                Some(v) => match gotime::as_time(v) {
                    Some(t) => GoTime::now().sub(&t),
                    None => 0,
                },
                None => 0,
            };
            let u = d.unsigned_abs();
            let (hour, minute, second) =
                (3_600_000_000_000u64, 60_000_000_000u64, 1_000_000_000u64);
            let (day, month, year) = (hour * 24, hour * 24 * 30, hour * 24 * 365);
            V::str(if u > year {
                format!("{}y", u / year)
            } else if u > month {
                format!("{}mo", u / month)
            } else if u > day {
                format!("{}d", u / day)
            } else if u > hour {
                format!("{}h", u / hour)
            } else if u > minute {
                format!("{}m", u / minute)
            } else if u > second {
                format!("{}s", u / second)
            } else {
                "0s".to_owned()
            })
        }
        // ---- strings
        "snakecase" => V::str(camel_to_lower(&s(a, 0), '_')),
        "kebabcase" => V::str(camel_to_lower(&s(a, 0), '-')),
        "camelcase" => V::str(to_camel(&s(a, 0), true)),
        "swapcase" => V::str(swap_case(&s(a, 0))),
        "wrap" => V::str(wrap_custom(
            &s(a, 1),
            to_i64(a.first().unwrap_or(&V::Nil)),
            "",
            false,
        )),
        "wrapWith" => V::str(wrap_custom(
            &s(a, 2),
            to_i64(a.first().unwrap_or(&V::Nil)),
            &s(a, 1),
            true,
        )),
        "abbrev" => {
            let w = to_i64(a.first().unwrap_or(&V::Nil));
            let t = s(a, 1);
            V::str(if w < 4 { t } else { abbreviate_full(&t, 0, w) })
        }
        "abbrevboth" => {
            let (l, r) = (
                to_i64(a.first().unwrap_or(&V::Nil)),
                to_i64(a.get(1).unwrap_or(&V::Nil)),
            );
            let t = s(a, 2);
            if r < 4 || (l > 0 && r < 7) {
                V::str(t)
            } else {
                V::str(abbreviate_full(&t, l, r))
            }
        }
        "shuffle" => {
            let mut c: Vec<char> = s(a, 0).chars().collect();
            let mut x = seed();
            for i in (1..c.len()).rev() {
                x = xorshift(x);
                c.swap(i, (x % (i as u64 + 1)) as usize);
            }
            V::str(c.into_iter().collect::<String>())
        }
        "b32enc" => V::str(b32enc(s(a, 0).as_bytes())),
        "b32dec" => V::str(match b32dec(&s(a, 0)) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => e,
        }),
        "html" => V::str(html_escape(&eval_args(a))),
        "js" => V::str(js_escape(&eval_args(a))),
        "urlquery" => V::str(query_escape(&eval_args(a))),
        "clean" | "osClean" => V::str(path_clean(&s(a, 0))),
        // ---- numbers
        "seq" => {
            let p: Vec<i64> = a.iter().map(to_i64).collect();
            let l = match p.as_slice() {
                [end] => {
                    let inc = if *end < 1 { -1 } else { 1 };
                    until_step(1, end + inc, inc)
                }
                [start, end] => {
                    let step = if end < start { -1 } else { 1 };
                    until_step(*start, end + step, step)
                }
                [start, step, end] => {
                    let mut inc = 1;
                    if end < start {
                        inc = -1;
                        if *step > 0 {
                            return Some(Ok(V::str("")));
                        }
                    }
                    until_step(*start, end + inc, *step)
                }
                _ => return Some(Ok(V::str(""))),
            };
            let l = match l {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            V::str(l.iter().map(i64::to_string).collect::<Vec<_>>().join(" "))
        }
        "untilStep" => {
            let p: Vec<i64> = a.iter().map(to_i64).collect();
            let [start, stop, step] = p.as_slice() else {
                return Some(Err(FnError::Go(format!(
                    "wrong number of args for untilStep: want 3 got {}",
                    a.len()
                ))));
            };
            match until_step(*start, *stop, *step) {
                Ok(l) => V::list(l.into_iter().map(V::Int).collect()),
                Err(e) => return Some(Err(e)),
            }
        }
        "randInt" => {
            let (lo, hi) = (
                to_i64(a.first().unwrap_or(&V::Nil)),
                to_i64(a.get(1).unwrap_or(&V::Nil)),
            );
            if hi <= lo {
                return Some(Err(FnError::Msg("invalid argument to Intn".into())));
            }
            V::Int(lo + (xorshift(seed()) % (hi - lo) as u64) as i64)
        }
        "uuidv4" => {
            let mut b = [0u8; 16];
            let mut x = seed();
            for c in b.chunks_mut(8) {
                x = xorshift(x);
                c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
            }
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            V::str(format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            ))
        }
        _ => return None,
    }))
}

/// Sprig's `untilStep` (an empty list when the step goes the wrong way).
fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, FnError> {
    let mut v = Vec::new();
    let n = if step == 0 {
        0
    } else {
        (stop.saturating_sub(start) / step).unsigned_abs()
    };
    if n > 10_000_000 {
        return Err(FnError::Limit(format!(
            "untilStep: {n} elements is over the limit"
        )));
    }
    if stop < start {
        if step >= 0 {
            return Ok(v);
        }
        let mut i = start;
        while i > stop {
            v.push(i);
            i += step;
        }
        return Ok(v);
    }
    if step <= 0 {
        return Ok(v);
    }
    let mut i = start;
    while i < stop {
        v.push(i);
        i += step;
    }
    Ok(v)
}

fn round_duration(d: i64, m: i64) -> i64 {
    let r = d % m;
    if d < 0 {
        let r = -r;
        if r + r < m { d + r } else { d - m + r }
    } else if r + r < m {
        d - r
    } else {
        d + m - r
    }
}

fn parse_go_int64(s: &str) -> Option<i64> {
    s.parse().ok()
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9E37_79B9_7F4A_7C15)
        | 1
}

fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// `evalArgs` of Go's escapers: one string argument as is, else `fmt.Sprint` of them.
fn eval_args(a: &[V]) -> String {
    if let [V::Str(x)] = a {
        return x.to_string();
    }
    let mut out = String::new();
    for (i, v) in a.iter().enumerate() {
        // fmt.Sprint adds a space between operands when neither is a string
        if i > 0 && !matches!(v, V::Str(_)) && !matches!(a[i - 1], V::Str(_)) {
            out.push(' ');
        }
        out.push_str(&v.display());
    }
    out
}

/// `template.HTMLEscapeString`.
fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => o.push('\u{FFFD}'),
            '"' => o.push_str("&#34;"),
            '\'' => o.push_str("&#39;"),
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            c => o.push(c),
        }
    }
    o
}

/// `template.JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\'' => o.push_str("\\'"),
            '"' => o.push_str("\\\""),
            '<' => o.push_str("\\u003C"),
            '>' => o.push_str("\\u003E"),
            '&' => o.push_str("\\u0026"),
            '=' => o.push_str("\\u003D"),
            c if (c as u32) < 0x20 => {
                o.push_str(&format!("\\u{:04X}", c as u32));
            }
            c if (c as u32) >= 0x80 && !is_print(c) => {
                o.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => o.push(c),
        }
    }
    o
}

fn is_print(c: char) -> bool {
    !c.is_control() && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{FFFD}' | '\u{00AD}')
}

/// `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b' ' => o.push('+'),
            b => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

/// `path.Clean`.
pub fn path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            x => out.push(x),
        }
    }
    let j = out.join("/");
    match (rooted, j.is_empty()) {
        (true, _) => format!("/{j}"),
        (false, true) => ".".into(),
        (false, false) => j,
    }
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn b32enc(b: &[u8]) -> String {
    let mut o = String::new();
    for chunk in b.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                o.push(B32[((n >> (35 - 5 * i)) & 31) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

/// `base32.StdEncoding.DecodeString`; the error text as Go's `CorruptInputError`.
fn b32dec(s: &str) -> Result<Vec<u8>, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let corrupt = |i: usize| format!("illegal base32 data at input byte {i}");
    if !bytes.len().is_multiple_of(8) {
        // Go reports the offset where the incomplete quantum starts
        let full = bytes.len() / 8 * 8;
        for (i, c) in bytes[..full].iter().enumerate() {
            if *c != b'=' && !B32.contains(c) {
                return Err(corrupt(i));
            }
        }
        return Err(corrupt(full));
    }
    for (q, chunk) in bytes.chunks(8).enumerate() {
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        let data = &chunk[..8 - pad];
        let mut n: u64 = 0;
        for (i, c) in data.iter().enumerate() {
            let Some(v) = B32.iter().position(|x| x == c) else {
                return Err(corrupt(q * 8 + i));
            };
            n |= (v as u64) << (35 - 5 * i);
        }
        let keep = match 8 - pad {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            0 if q * 8 + 8 == bytes.len() && !bytes.is_empty() => return Err(corrupt(q * 8)),
            _ => return Err(corrupt(q * 8 + 8 - pad)),
        };
        if pad > 0 && q * 8 + 8 != bytes.len() {
            return Err(corrupt(q * 8 + 8 - pad));
        }
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[3..3 + keep]);
    }
    Ok(out)
}

/// goutils `AbbreviateFull` (byte offsets, as Go slices strings).
fn abbreviate_full(s: &str, offset: i64, max: i64) -> String {
    let b = s.as_bytes();
    let len = b.len() as i64;
    let cut = |x: i64, y: i64| String::from_utf8_lossy(&b[x as usize..y as usize]).into_owned();
    if s.is_empty() || max < 4 {
        return String::new();
    }
    if len <= max {
        return s.to_owned();
    }
    let mut offset = offset.min(len);
    if len - offset < max - 3 {
        offset = len - (max - 3);
    }
    if offset <= 4 {
        return cut(0, max - 3) + "...";
    }
    if max < 7 {
        return String::new();
    }
    if offset + max - 3 < len {
        let rest = String::from_utf8_lossy(&b[offset as usize..]).into_owned();
        return "...".to_owned() + &abbreviate_full(&rest, 0, max - 3);
    }
    "...".to_owned() + &cut(len - (max - 3), len)
}

/// goutils `WrapCustom` (byte offsets, a space is the only break).
fn wrap_custom(s: &str, wrap: i64, nl: &str, long_words: bool) -> String {
    if s.is_empty() {
        return String::new();
    }
    let nl = if nl.is_empty() { "\n" } else { nl };
    let wrap = wrap.max(1) as usize;
    let b = s.as_bytes();
    let len = b.len();
    let mut offset = 0usize;
    let mut out: Vec<u8> = Vec::with_capacity(len + 16);
    while len - offset > wrap {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = wrap + offset + 1;
        let at = b[offset..end.min(len)]
            .iter()
            .rposition(|c| *c == b' ')
            .map(|p| p + offset);
        if let Some(at) = at {
            out.extend_from_slice(&b[offset..at]);
            out.extend_from_slice(nl.as_bytes());
            offset = at + 1;
        } else if long_words {
            let end = wrap + offset;
            out.extend_from_slice(&b[offset..end]);
            out.extend_from_slice(nl.as_bytes());
            offset += wrap;
        } else {
            let end = wrap + offset;
            match b[end..].iter().position(|c| *c == b' ') {
                Some(i) => {
                    out.extend_from_slice(&b[offset..i + end]);
                    out.extend_from_slice(nl.as_bytes());
                    offset = i + end + 1;
                }
                None => {
                    out.extend_from_slice(&b[offset..]);
                    offset = len;
                }
            }
        }
    }
    out.extend_from_slice(&b[offset..]);
    String::from_utf8_lossy(&out).into_owned()
}

/// goutils `SwapCase`: upper and title case to lower, lower to upper (title case after
/// white space, the same letter for the scripts Sluice's `char` knows).
fn swap_case(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_uppercase() {
            o.extend(c.to_lowercase());
        } else if c.is_lowercase() {
            o.extend(c.to_uppercase());
        } else {
            o.push(c);
        }
    }
    o
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || c.is_whitespace()
}

/// xstrings `toCamelCase(str, isBig)`.
fn to_camel(s: &str, big: bool) -> String {
    let mut chars = s.chars();
    let mut out = String::new();
    let mut first_upper = false;
    let mut r0 = None;
    for c in chars.by_ref() {
        if !is_connector(c) {
            first_upper = c.is_uppercase();
            r0 = Some(if big { upper(c) } else { lower(c) });
            break;
        }
        out.push(c);
    }
    let Some(mut r0) = r0 else { return out };
    for c in chars {
        let r1 = r0;
        r0 = c;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = r0.is_uppercase();
            r0 = upper(r0);
        } else {
            if first_upper {
                if r0.is_uppercase() {
                    r0 = lower(r0);
                } else {
                    first_upper = false;
                }
            }
            out.push(r1);
        }
    }
    if first_upper && !big {
        r0 = lower(r0);
    }
    out.push(r0);
    out
}

fn upper(c: char) -> char {
    c.to_uppercase().next().unwrap_or(c)
}
fn lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Word {
    Invalid,
    Number,
    Upper,
    Alpha,
    Connector,
    Punct,
    Other,
}

fn is_alpha(c: char) -> bool {
    c.is_alphabetic()
}

fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation() && !matches!(c, '$' | '+' | '<' | '=' | '>' | '^' | '`' | '|' | '~')
        || (!c.is_ascii() && is_unicode_punct(c))
}

fn is_unicode_punct(c: char) -> bool {
    matches!(c as u32, 0x2010..=0x2027 | 0x2030..=0x205E | 0x3001..=0x3003 | 0x00A1 | 0x00A7 | 0x00AB | 0x00B6 | 0x00B7 | 0x00BB | 0x00BF)
}

fn is_number(c: char) -> bool {
    c.is_numeric()
}

fn take(
    it: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    end: &mut usize,
    f: &dyn Fn(char) -> bool,
) {
    while let Some(&(i, c)) = it.peek() {
        if !f(c) {
            break;
        }
        *end = i + c.len_utf8();
        it.next();
    }
}

/// xstrings `nextWord`: the kind and text of the first word, and the rest.
fn next_word(s: &str) -> (Word, &str, &str) {
    let mut it = s.char_indices().peekable();
    let Some((_, r)) = it.next() else {
        return (Word::Invalid, "", "");
    };
    let mut end = r.len_utf8();
    let wt = if is_connector(r) {
        take(&mut it, &mut end, &is_connector);
        Word::Connector
    } else if is_punct(r) {
        take(&mut it, &mut end, &is_punct);
        Word::Punct
    } else if r.is_uppercase() {
        if let Some(&(_, c)) = it.peek() {
            if c.is_uppercase() {
                let mut prev_size = c.len_utf8();
                end += prev_size;
                it.next();
                let mut last = c;
                while let Some(&(i, c)) = it.peek() {
                    last = c;
                    if !c.is_uppercase() {
                        break;
                    }
                    prev_size = c.len_utf8();
                    end = i + prev_size;
                    it.next();
                }
                // "HTTPStatus": the "S" starts the next word
                if end < s.len() && is_alpha(last) && !last.is_uppercase() {
                    end -= prev_size;
                }
            } else if is_alpha(c) {
                take(&mut it, &mut end, &|c| is_alpha(c) && !c.is_uppercase());
            }
        }
        Word::Upper
    } else if is_alpha(r) {
        take(&mut it, &mut end, &|c| is_alpha(c) && !c.is_uppercase());
        Word::Alpha
    } else if is_number(r) {
        take(&mut it, &mut end, &is_number);
        Word::Number
    } else {
        take(&mut it, &mut end, &|c| {
            !(is_connector(c) || is_alpha(c) || is_number(c) || is_punct(c))
        });
        Word::Other
    };
    (wt, &s[..end], &s[end..])
}

fn to_lower_word(buf: &mut String, wt: Word, s: &str, conn: char) {
    if wt != Word::Upper && wt != Word::Connector {
        buf.push_str(s);
        return;
    }
    for c in s.chars() {
        if is_connector(c) {
            buf.push(conn);
        } else if c.is_uppercase() {
            buf.push(lower(c));
        } else {
            buf.push(c);
        }
    }
}

/// xstrings `camelCaseToLowerCase` (snakecase, kebabcase).
fn camel_to_lower(s: &str, conn: char) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut buf = String::new();
    let (mut wt, mut word, mut rem) = next_word(s);
    while !rem.is_empty() {
        if wt != Word::Connector {
            to_lower_word(&mut buf, wt, word, conn);
        }
        let prev = wt;
        let last = word;
        (wt, word, rem) = next_word(rem);
        match prev {
            Word::Number => {
                while wt == Word::Alpha || wt == Word::Number {
                    to_lower_word(&mut buf, wt, word, conn);
                    (wt, word, rem) = next_word(rem);
                }
                if wt != Word::Invalid && wt != Word::Punct && wt != Word::Connector {
                    buf.push(conn);
                }
            }
            Word::Connector => to_lower_word(&mut buf, prev, last, conn),
            Word::Punct => {}
            _ => {
                if wt != Word::Number {
                    if wt != Word::Connector && wt != Word::Punct {
                        buf.push(conn);
                    }
                    continue;
                }
                if rem.is_empty() {
                    continue;
                }
                let last = word;
                (wt, word, rem) = next_word(rem);
                if wt != Word::Alpha {
                    to_lower_word(&mut buf, Word::Number, last, conn);
                    if wt != Word::Connector && wt != Word::Punct {
                        buf.push(conn);
                    }
                    continue;
                }
                buf.push(conn);
                to_lower_word(&mut buf, Word::Number, last, conn);
                while wt == Word::Alpha || wt == Word::Number {
                    to_lower_word(&mut buf, wt, word, conn);
                    (wt, word, rem) = next_word(rem);
                }
                if wt != Word::Invalid && wt != Word::Connector && wt != Word::Punct {
                    buf.push(conn);
                }
            }
        }
    }
    to_lower_word(&mut buf, wt, word, conn);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    // Samples from the doc comments of huandu/xstrings convert.go and
    // Masterminds/goutils wordutils.go.
    #[test]
    fn xstrings_samples() {
        for (i, o) in [
            ("FirstName", "first_name"),
            ("HTTPServer", "http_server"),
            ("NoHTTPS", "no_https"),
            ("GO_PATH", "go_path"),
            ("GO PATH", "go_path"),
            ("GO-PATH", "go_path"),
            ("http2xx", "http_2xx"),
            ("HTTP20xOK", "http_20x_ok"),
            ("Duration2m3s", "duration_2m3s"),
            ("Bld4Floor3rd", "bld4_floor_3rd"),
        ] {
            assert_eq!(camel_to_lower(i, '_'), o, "{i}");
        }
        for (i, o) in [
            ("some_words", "SomeWords"),
            ("http_server", "HttpServer"),
            ("no_https", "NoHttps"),
            ("_complex__case_", "_Complex_Case_"),
            ("some words", "SomeWords"),
            ("GOLANG_IS_GREAT", "GolangIsGreat"),
        ] {
            assert_eq!(to_camel(i, true), o, "{i}");
        }
    }

    #[test]
    fn sprig_seq_and_until_step() {
        assert_eq!(until_step(0, 10, 3).ok(), Some(vec![0, 3, 6, 9]));
        assert_eq!(until_step(10, 0, 3).ok(), Some(vec![]));
        assert_eq!(until_step(10, 0, -3).ok(), Some(vec![10, 7, 4, 1]));
        assert_eq!(b32enc(b"hello"), "NBSWY3DP");
        assert_eq!(b32enc(b"hi"), "NBUQ====");
        assert_eq!(b32dec("NBUQ====").ok(), Some(b"hi".to_vec()));
        assert_eq!(path_clean("a//b/../c/."), "a/c");
        assert_eq!(path_clean("/../x"), "/x");
        assert_eq!(wrap_custom("foo bar baz", 5, "", false), "foo\nbar\nbaz");
    }
}
