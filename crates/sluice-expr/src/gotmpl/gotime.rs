//! Go's `time` as Sprig's date functions use it (Masterminds/sprig `date.go`): a
//! `time.Time` host object, `Time.Format` and `time.ParseInLocation` with Go's reference
//! layout (`nextStdChunk` in Go's `time/format.go`), `Duration.String` and
//! `time.ParseDuration`.
//!
//! The local zone is UTC: Helm's `date`/`toDate` use `time.Local`, which is UTC on the
//! machines Sluice renders for (containers, CI); named zones other than `UTC` are reported
//! as not supported by the caller rather than guessed.

use std::any::Any;

use super::{Obj, V};
pub use sluice_core::civil::days_from_civil;
use sluice_core::civil::{DAYS, MONTHS, civil_from_days};

/// Seconds from 0001-01-01 to 1970-01-01 (Go's zero `time.Time` is year 1).
const ZERO_UNIX: i64 = -62_135_596_800;

/// A `time.Time`: an instant (Unix seconds and nanoseconds) shown in a fixed zone.
#[derive(Debug, Clone, PartialEq)]
pub struct GoTime {
    pub secs: i64,
    pub nanos: u32,
    /// Seconds east of UTC.
    pub offset: i32,
    /// The zone's abbreviation (`UTC`); empty when only the offset is known.
    pub zone: String,
}

impl GoTime {
    pub fn unix(secs: i64) -> GoTime {
        GoTime {
            secs,
            nanos: 0,
            offset: 0,
            zone: "UTC".into(),
        }
    }
    /// `time.Time{}`.
    pub fn zero() -> GoTime {
        GoTime::unix(ZERO_UNIX)
    }
    pub fn now() -> GoTime {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        GoTime {
            secs: d.as_secs() as i64,
            nanos: d.subsec_nanos(),
            offset: 0,
            zone: "UTC".into(),
        }
    }
    /// `t.Add(d)` with `d` in nanoseconds.
    pub fn add(&self, d: i64) -> GoTime {
        let total = i128::from(self.nanos) + i128::from(d % 1_000_000_000);
        let mut secs = self.secs.saturating_add(d / 1_000_000_000);
        let mut n = total;
        if n < 0 {
            n += 1_000_000_000;
            secs -= 1;
        } else if n >= 1_000_000_000 {
            n -= 1_000_000_000;
            secs += 1;
        }
        GoTime {
            secs,
            nanos: n as u32,
            ..self.clone()
        }
    }
    /// Nanoseconds since `other` (`t.Sub(other)`), saturating as Go's Duration.
    pub fn sub(&self, other: &GoTime) -> i64 {
        let d = (i128::from(self.secs) - i128::from(other.secs)) * 1_000_000_000
            + i128::from(self.nanos)
            - i128::from(other.nanos);
        d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
    /// The same instant in UTC (`t.UTC()`) or in another fixed zone.
    pub fn in_zone(&self, offset: i32, zone: &str) -> GoTime {
        GoTime {
            offset,
            zone: zone.to_owned(),
            ..self.clone()
        }
    }

    fn civil(&self) -> Civil {
        let local = self.secs + i64::from(self.offset);
        let days = local.div_euclid(86_400);
        let rem = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let wday = (days + 4).rem_euclid(7); // 1970-01-01 was a Thursday
        let yday = days - days_from_civil(y, 1, 1) + 1;
        Civil {
            year: y,
            month: m,
            day: d,
            hour: rem / 3600,
            min: rem / 60 % 60,
            sec: rem % 60,
            wday,
            yday,
        }
    }

    /// `t.Format(layout)`.
    pub fn format(&self, layout: &str) -> String {
        let c = self.civil();
        let mut out = String::new();
        let mut rest = layout;
        while !rest.is_empty() {
            let (prefix, std, after) = next_std_chunk(rest);
            out.push_str(prefix);
            let Some(std) = std else { break };
            rest = after;
            self.format_std(&mut out, &c, std);
        }
        out
    }

    fn format_std(&self, b: &mut String, c: &Civil, std: Std) {
        use std::fmt::Write as _;
        match std {
            Std::Year => {
                let _ = write!(b, "{:02}", c.year.rem_euclid(100));
            }
            Std::LongYear => pad(b, c.year, 4),
            Std::Month => b.push_str(&MONTHS[(c.month - 1) as usize][..3]),
            Std::LongMonth => b.push_str(MONTHS[(c.month - 1) as usize]),
            Std::NumMonth => pad(b, c.month, 0),
            Std::ZeroMonth => pad(b, c.month, 2),
            Std::WeekDay => b.push_str(&DAYS[c.wday as usize][..3]),
            Std::LongWeekDay => b.push_str(DAYS[c.wday as usize]),
            Std::Day => pad(b, c.day, 0),
            Std::UnderDay => {
                if c.day < 10 {
                    b.push(' ');
                }
                pad(b, c.day, 0)
            }
            Std::ZeroDay => pad(b, c.day, 2),
            Std::UnderYearDay => {
                if c.yday < 100 {
                    b.push(' ');
                    if c.yday < 10 {
                        b.push(' ');
                    }
                }
                pad(b, c.yday, 0)
            }
            Std::ZeroYearDay => pad(b, c.yday, 3),
            Std::Hour => pad(b, c.hour, 2),
            Std::Hour12 | Std::ZeroHour12 => {
                let h = match c.hour % 12 {
                    0 => 12,
                    h => h,
                };
                pad(b, h, if std == Std::Hour12 { 0 } else { 2 })
            }
            Std::Minute => pad(b, c.min, 0),
            Std::ZeroMinute => pad(b, c.min, 2),
            Std::Second => pad(b, c.sec, 0),
            Std::ZeroSecond => pad(b, c.sec, 2),
            Std::PmUpper => b.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
            Std::PmLower => b.push_str(if c.hour >= 12 { "pm" } else { "am" }),
            Std::Tz(kind) => {
                if kind.iso && self.offset == 0 {
                    b.push('Z');
                    return;
                }
                let mut zone = self.offset / 60;
                let mut abs = self.offset;
                if zone < 0 {
                    b.push('-');
                    zone = -zone;
                    abs = -abs;
                } else {
                    b.push('+');
                }
                pad(b, i64::from(zone / 60), 2);
                if kind.parts >= 2 {
                    if kind.colon {
                        b.push(':');
                    }
                    pad(b, i64::from(zone % 60), 2);
                }
                if kind.parts == 3 {
                    if kind.colon {
                        b.push(':');
                    }
                    pad(b, i64::from(abs % 60), 2);
                }
            }
            Std::TzName => {
                if !self.zone.is_empty() {
                    b.push_str(&self.zone);
                } else {
                    let mut z = self.offset / 60;
                    if z < 0 {
                        b.push('-');
                        z = -z;
                    } else {
                        b.push('+');
                    }
                    pad(b, i64::from(z / 60), 2);
                    pad(b, i64::from(z % 60), 2);
                }
            }
            Std::Frac { sep, digits, trim } => {
                let s = format!("{:09}", self.nanos);
                let mut d = &s[..digits.min(9)];
                if trim {
                    d = d.trim_end_matches('0');
                    if d.is_empty() {
                        return;
                    }
                }
                b.push(sep);
                b.push_str(d);
            }
        }
    }

    /// `t.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
    pub fn go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }
}

impl Obj for GoTime {
    fn type_name(&self) -> String {
        "time.Time".into()
    }
    fn call(&self, name: &str, args: &[V]) -> Option<Result<V, String>> {
        let c = self.civil();
        Some(Ok(match (name, args) {
            ("Unix", []) => V::Int(self.secs),
            ("UnixNano", []) => {
                V::Int(self.secs.wrapping_mul(1_000_000_000) + i64::from(self.nanos))
            }
            ("Year", []) => V::Int(c.year),
            ("Day", []) => V::Int(c.day),
            ("Hour", []) => V::Int(c.hour),
            ("Minute", []) => V::Int(c.min),
            ("Second", []) => V::Int(c.sec),
            ("Nanosecond", []) => V::Int(i64::from(self.nanos)),
            ("YearDay", []) => V::Int(c.yday),
            ("IsZero", []) => V::Bool(self.secs == ZERO_UNIX && self.nanos == 0),
            ("UTC", []) => V::Obj(std::rc::Rc::new(self.in_zone(0, "UTC"))),
            ("String", []) => V::str(self.go_string()),
            ("Format", [l]) => V::str(self.format(&l.to_str())),
            _ => return None,
        }))
    }
    fn display(&self) -> String {
        self.go_string()
    }
    /// `time.Time.MarshalJSON`: RFC 3339 with nanoseconds.
    fn to_value(&self) -> V {
        V::str(self.format("2006-01-02T15:04:05.999999999Z07:00"))
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    min: i64,
    sec: i64,
    wday: i64,
    yday: i64,
}

/// Go's `appendInt(b, x, width)`: zero-padded to `width`, a leading `-` for negatives.
fn pad(b: &mut String, x: i64, width: usize) {
    if x < 0 {
        b.push('-');
    }
    let s = x.unsigned_abs().to_string();
    for _ in s.len()..width {
        b.push('0');
    }
    b.push_str(&s);
}

fn days_in(m: i64, y: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct TzKind {
    iso: bool,
    colon: bool,
    /// 1: hours, 2: hours and minutes, 3: and seconds.
    parts: u8,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Std {
    Year,
    LongYear,
    Month,
    LongMonth,
    NumMonth,
    ZeroMonth,
    WeekDay,
    LongWeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    PmUpper,
    PmLower,
    Tz(TzKind),
    TzName,
    Frac {
        sep: char,
        digits: usize,
        trim: bool,
    },
}

fn starts_with_lower(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

fn is_digit_at(s: &str, i: usize) -> bool {
    s.as_bytes().get(i).is_some_and(u8::is_ascii_digit)
}

/// Go's `nextStdChunk`: the literal text before the first layout element, the element,
/// and the rest.
fn next_std_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let tz = |iso, colon, parts| Std::Tz(TzKind { iso, colon, parts });
    let mut i = 0;
    while i < b.len() {
        let rest = &layout[i..];
        let hit: Option<(Std, usize)> = match b[i] {
            b'J' if rest.starts_with("Jan") => {
                if rest.starts_with("January") {
                    Some((Std::LongMonth, 7))
                } else if !starts_with_lower(&rest[3..]) {
                    Some((Std::Month, 3))
                } else {
                    None
                }
            }
            b'M' if rest.starts_with("Mon") => {
                if rest.starts_with("Monday") {
                    Some((Std::LongWeekDay, 6))
                } else if !starts_with_lower(&rest[3..]) {
                    Some((Std::WeekDay, 3))
                } else {
                    None
                }
            }
            b'M' if rest.starts_with("MST") => Some((Std::TzName, 3)),
            b'0' if b.get(i + 1).is_some_and(|c| (b'1'..=b'6').contains(c)) => Some((
                [
                    Std::ZeroMonth,
                    Std::ZeroDay,
                    Std::ZeroHour12,
                    Std::ZeroMinute,
                    Std::ZeroSecond,
                    Std::Year,
                ][(b[i + 1] - b'1') as usize],
                2,
            )),
            b'0' if rest.starts_with("002") => Some((Std::ZeroYearDay, 3)),
            b'1' if rest.starts_with("15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if rest.starts_with("2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            b'_' if rest.starts_with("_2") => {
                if rest.starts_with("_2006") {
                    // the `_` is literal text
                    return (&layout[..i + 1], Some(Std::LongYear), &layout[i + 5..]);
                }
                Some((Std::UnderDay, 2))
            }
            b'_' if rest.starts_with("__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if rest.starts_with("PM") => Some((Std::PmUpper, 2)),
            b'p' if rest.starts_with("pm") => Some((Std::PmLower, 2)),
            b'-' if rest.starts_with("-070000") => Some((tz(false, false, 3), 7)),
            b'-' if rest.starts_with("-07:00:00") => Some((tz(false, true, 3), 9)),
            b'-' if rest.starts_with("-0700") => Some((tz(false, false, 2), 5)),
            b'-' if rest.starts_with("-07:00") => Some((tz(false, true, 2), 6)),
            b'-' if rest.starts_with("-07") => Some((tz(false, false, 1), 3)),
            b'Z' if rest.starts_with("Z070000") => Some((tz(true, false, 3), 7)),
            b'Z' if rest.starts_with("Z07:00:00") => Some((tz(true, true, 3), 9)),
            b'Z' if rest.starts_with("Z0700") => Some((tz(true, false, 2), 5)),
            b'Z' if rest.starts_with("Z07:00") => Some((tz(true, true, 2), 6)),
            b'Z' if rest.starts_with("Z07") => Some((tz(true, false, 1), 3)),
            b'.' | b',' if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if is_digit_at(layout, j) {
                    None
                } else {
                    Some((
                        Std::Frac {
                            sep: b[i] as char,
                            digits: j - (i + 1),
                            trim: ch == b'9',
                        },
                        j - i,
                    ))
                }
            }
            _ => None,
        };
        if let Some((std, n)) = hit {
            return (&layout[..i], Some(std), &layout[i + n..]);
        }
        i += 1;
    }
    (layout, None, "")
}

/// Go's `ParseError` text for `time.Parse`.
fn parse_error(value: &str, layout: &str, velem: &str, lelem: &str, msg: &str) -> String {
    if msg.is_empty() {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            go_quote(value),
            go_quote(layout),
            go_quote(velem),
            go_quote(lelem)
        )
    } else {
        format!("parsing time {}{msg}", go_quote(value))
    }
}

fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Up to `max` leading digits of `s` (at least one; exactly `max` when `fixed`).
fn getnum(s: &str, fixed: bool, max: usize) -> Option<(i64, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n == 0 || (fixed && n != max) {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

/// `time.ParseInLocation(layout, value, time.UTC)`.
pub fn parse(layout: &str, value: &str) -> Result<GoTime, String> {
    let (alayout, avalue) = (layout, value);
    let (mut year, mut month, mut day, mut yday) = (1i64, -1i64, -1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nsec) = (0i64, 0i64, 0i64, 0i64);
    let (mut pm_set, mut am_set) = (false, false);
    let mut zone_offset: Option<i32> = None;
    let mut zone_name = String::new();
    let mut layout = layout;
    let mut value = value;
    let bad = |v: &str, l: &str| parse_error(avalue, alayout, v, l, "");
    loop {
        let (prefix, std, suffix) = next_std_chunk(layout);
        let std_str = &layout[prefix.len()..layout.len() - suffix.len()];
        value = match value.strip_prefix(prefix) {
            Some(v) => v,
            None => return Err(bad(value, prefix)),
        };
        let Some(std) = std else {
            if !value.is_empty() {
                return Err(parse_error(
                    avalue,
                    alayout,
                    "",
                    "",
                    &format!(": extra text: {}", go_quote(value)),
                ));
            }
            break;
        };
        layout = suffix;
        let hold = value;
        let fail = || bad(hold, std_str);
        let range_err = || {
            parse_error(
                avalue,
                alayout,
                "",
                "",
                &format!(": {} out of range", std_field(std)),
            )
        };
        match std {
            Std::Year => {
                let (y, r) = getnum(value, true, 2).ok_or_else(fail)?;
                year = if y >= 69 { y + 1900 } else { y + 2000 };
                value = r;
            }
            Std::LongYear => {
                if value.len() < 4 || !value.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
                    return Err(fail());
                }
                year = value[..4].parse().map_err(|_| fail())?;
                value = &value[4..];
            }
            Std::Month | Std::LongMonth => {
                let (m, r) = lookup_name(value, std == Std::Month, &MONTHS).ok_or_else(fail)?;
                month = m as i64 + 1;
                value = r;
            }
            Std::NumMonth | Std::ZeroMonth => {
                let (m, r) = getnum(value, std == Std::ZeroMonth, 2).ok_or_else(fail)?;
                if !(1..=12).contains(&m) {
                    return Err(range_err());
                }
                month = m;
                value = r;
            }
            Std::WeekDay | Std::LongWeekDay => {
                let (_, r) = lookup_name(value, std == Std::WeekDay, &DAYS).ok_or_else(fail)?;
                value = r;
            }
            Std::Day | Std::UnderDay | Std::ZeroDay => {
                if std == Std::UnderDay && value.starts_with(' ') {
                    value = &value[1..];
                }
                let (d, r) = getnum(value, std == Std::ZeroDay, 2).ok_or_else(fail)?;
                day = d;
                value = r;
            }
            Std::UnderYearDay | Std::ZeroYearDay => {
                if std == Std::UnderYearDay {
                    for _ in 0..2 {
                        if value.starts_with(' ') {
                            value = &value[1..];
                        }
                    }
                }
                let (d, r) = getnum(value, std == Std::ZeroYearDay, 3).ok_or_else(fail)?;
                yday = d;
                value = r;
            }
            Std::Hour => {
                let (h, r) = getnum(value, false, 2).ok_or_else(fail)?;
                if h >= 24 {
                    return Err(range_err());
                }
                hour = h;
                value = r;
            }
            Std::Hour12 | Std::ZeroHour12 => {
                let (h, r) = getnum(value, std == Std::ZeroHour12, 2).ok_or_else(fail)?;
                if h > 12 {
                    return Err(range_err());
                }
                hour = h;
                value = r;
            }
            Std::Minute | Std::ZeroMinute | Std::Second | Std::ZeroSecond => {
                let fixed = matches!(std, Std::ZeroMinute | Std::ZeroSecond);
                let (v, r) = getnum(value, fixed, 2).ok_or_else(fail)?;
                if v >= 60 {
                    return Err(range_err());
                }
                value = r;
                if matches!(std, Std::Minute | Std::ZeroMinute) {
                    min = v;
                } else {
                    sec = v;
                    // fractional seconds the layout does not spell out
                    let next_is_frac =
                        matches!(next_std_chunk(layout), ("", Some(Std::Frac { .. }), _));
                    let vb = value.as_bytes();
                    if vb.len() >= 2
                        && (vb[0] == b'.' || vb[0] == b',')
                        && vb[1].is_ascii_digit()
                        && !next_is_frac
                    {
                        let n = 1 + vb[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                        nsec = frac_nanos(&value[1..n]);
                        value = &value[n..];
                    }
                }
            }
            Std::PmUpper | Std::PmLower => {
                let p = value.get(..2).ok_or_else(fail)?;
                let (pm, am) = if std == Std::PmUpper {
                    ("PM", "AM")
                } else {
                    ("pm", "am")
                };
                if p == pm {
                    pm_set = true;
                } else if p == am {
                    am_set = true;
                } else {
                    return Err(fail());
                }
                value = &value[2..];
            }
            Std::Tz(kind) => {
                if kind.iso && value.starts_with('Z') {
                    value = &value[1..];
                    zone_offset = Some(0);
                    zone_name = "UTC".into();
                    continue;
                }
                let vb = value.as_bytes();
                let sign = match vb.first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return Err(fail()),
                };
                let mut r = &value[1..];
                let (hh, r2) = getnum(r, true, 2).ok_or_else(fail)?;
                r = r2;
                let (mut mm, mut ss) = (0, 0);
                if kind.parts >= 2 {
                    if kind.colon {
                        r = r.strip_prefix(':').ok_or_else(fail)?;
                    }
                    let (m, r3) = getnum(r, true, 2).ok_or_else(fail)?;
                    mm = m;
                    r = r3;
                }
                if kind.parts == 3 {
                    if kind.colon {
                        r = r.strip_prefix(':').ok_or_else(fail)?;
                    }
                    let (s, r3) = getnum(r, true, 2).ok_or_else(fail)?;
                    ss = s;
                    r = r3;
                }
                if hh > 24 || mm > 60 || ss > 60 {
                    return Err(range_err());
                }
                zone_offset = Some((sign * (hh * 3600 + mm * 60 + ss)) as i32);
                value = r;
            }
            Std::TzName => {
                if value.starts_with("UTC") {
                    zone_name = "UTC".into();
                    zone_offset = Some(0);
                    value = &value[3..];
                    continue;
                }
                let n = value.bytes().take_while(u8::is_ascii_uppercase).count();
                if n < 3 {
                    return Err(fail());
                }
                // an abbreviation the (UTC) local zone does not define: a zero offset
                zone_name = value[..n].to_owned();
                value = &value[n..];
            }
            Std::Frac { sep, digits, trim } => {
                let vb = value.as_bytes();
                if !trim {
                    let n = 1 + digits;
                    if vb.len() < n || vb[0] != sep as u8 {
                        return Err(fail());
                    }
                    if !vb[1..n].iter().all(u8::is_ascii_digit) {
                        return Err(fail());
                    }
                    nsec = frac_nanos(&value[1..n]);
                    value = &value[n..];
                } else {
                    if vb.len() < 2 || !(vb[0] == b'.' || vb[0] == b',') || !vb[1].is_ascii_digit()
                    {
                        continue; // fractional second omitted
                    }
                    let n = 1 + vb[1..]
                        .iter()
                        .take(9)
                        .take_while(|c| c.is_ascii_digit())
                        .count();
                    nsec = frac_nanos(&value[1..n]);
                    value = &value[n..];
                }
            }
        }
    }
    if pm_set && hour < 12 {
        hour += 12;
    } else if am_set && hour == 12 {
        hour = 0;
    }
    if yday >= 0 {
        let (mut m, mut d) = (0, 0);
        if yday < 1 || yday > 365 + i64::from(days_in(2, year) == 29) {
            return Err(parse_error(
                avalue,
                alayout,
                "",
                "",
                ": day-of-year out of range",
            ));
        }
        let mut left = yday;
        for mm in 1..=12 {
            let n = days_in(mm, year);
            if left <= n {
                m = mm;
                d = left;
                break;
            }
            left -= n;
        }
        if (month >= 0 && month != m) || (day >= 0 && day != d) {
            return Err(parse_error(
                avalue,
                alayout,
                "",
                "",
                ": day-of-year does not match month",
            ));
        }
        month = m;
        day = d;
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    if day < 1 || day > days_in(month, year) {
        return Err(parse_error(avalue, alayout, "", "", ": day out of range"));
    }
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec;
    let offset = zone_offset.unwrap_or(0);
    let zone = match zone_offset {
        Some(0) if zone_name.is_empty() || zone_name == "UTC" => "UTC".to_owned(),
        Some(_) => zone_name,
        None if zone_name.is_empty() => "UTC".to_owned(),
        None => zone_name,
    };
    Ok(GoTime {
        secs: local - i64::from(offset),
        nanos: nsec as u32,
        offset,
        zone,
    })
}

fn std_field(std: Std) -> &'static str {
    match std {
        Std::NumMonth | Std::ZeroMonth => "month",
        Std::Hour | Std::Hour12 | Std::ZeroHour12 => "hour",
        Std::Minute | Std::ZeroMinute => "minute",
        Std::Second | Std::ZeroSecond => "second",
        Std::Tz(_) => "time zone offset",
        _ => "value",
    }
}

fn frac_nanos(digits: &str) -> i64 {
    let mut s: String = digits.chars().take(9).collect();
    while s.len() < 9 {
        s.push('0');
    }
    s.parse().unwrap_or(0)
}

fn lookup_name<'a>(value: &'a str, short: bool, names: &[&str]) -> Option<(usize, &'a str)> {
    for (i, n) in names.iter().enumerate() {
        let n = if short { &n[..3] } else { n };
        if value.len() >= n.len() && value.as_bytes()[..n.len()].eq_ignore_ascii_case(n.as_bytes())
        {
            return Some((i, &value[n.len()..]));
        }
    }
    None
}

/// Go's `Duration.String`.
pub fn duration_string(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (unit, scale, prec) = if u < 1_000 {
            ("ns", 1u64, 0)
        } else if u < 1_000_000 {
            ("µs", 1_000, 3)
        } else {
            ("ms", 1_000_000, 6)
        };
        out.push_str(&frac_str(u / scale, u % scale, prec));
        out.push_str(unit);
    } else {
        let secs = u / 1_000_000_000;
        let frac = u % 1_000_000_000;
        let h = secs / 3600;
        let m = secs / 60 % 60;
        let s = secs % 60;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&frac_str(s, frac, 9));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

fn frac_str(whole: u64, frac: u64, prec: usize) -> String {
    if prec == 0 || frac == 0 {
        return whole.to_string();
    }
    let f = format!("{frac:0prec$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// Go's `time.ParseDuration` (nanoseconds).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let orig = s;
    let err = || format!("time: invalid duration {}", go_quote(orig));
    let (neg, mut s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(err());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        let whole: u128 = if n > 0 {
            s[..n].parse().map_err(|_| err())?
        } else {
            0
        };
        s = &s[n..];
        let mut frac: (u128, u128) = (0, 1);
        let mut fdigits = 0;
        if let Some(r) = s.strip_prefix('.') {
            let k = r.bytes().take_while(u8::is_ascii_digit).count();
            fdigits = k;
            for c in r[..k].bytes().take(18) {
                frac.0 = frac.0 * 10 + u128::from(c - b'0');
                frac.1 *= 10;
            }
            s = &r[k..];
        }
        if n == 0 && fdigits == 0 {
            return Err(err());
        }
        let u = s
            .bytes()
            .take_while(|c| *c != b'.' && !c.is_ascii_digit())
            .count();
        if u == 0 {
            return Err(format!("time: missing unit in duration {}", go_quote(orig)));
        }
        let unit: u128 = match &s[..u] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(other),
                    go_quote(orig)
                ));
            }
        };
        s = &s[u..];
        total = total
            .saturating_add(whole.saturating_mul(unit))
            .saturating_add(frac.0 * unit / frac.1);
        if total > i64::MAX as u128 + u128::from(neg) {
            return Err(err());
        }
    }
    Ok(if neg {
        (total as i128).wrapping_neg() as i64
    } else {
        total as i64
    })
}

/// The `time.Time` a value holds, if it is one.
pub fn as_time(v: &V) -> Option<GoTime> {
    match v {
        V::Obj(o) => o.as_any()?.downcast_ref::<GoTime>().cloned(),
        _ => None,
    }
}

pub fn time_value(t: GoTime) -> V {
    V::Obj(std::rc::Rc::new(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_reference_layouts() {
        // Go's documented reference time: Mon Jan 2 15:04:05 MST 2006 (here in UTC)
        let t = GoTime::unix(1_136_214_245);
        assert_eq!(
            t.format("2006-01-02T15:04:05Z07:00"),
            "2006-01-02T15:04:05Z"
        );
        assert_eq!(
            t.format("Mon Jan _2 15:04:05 2006"),
            "Mon Jan  2 15:04:05 2006"
        );
        assert_eq!(t.format("3:04PM"), "3:04PM");
        assert_eq!(t.go_string(), "2006-01-02 15:04:05 +0000 UTC");
        assert_eq!(GoTime::zero().go_string(), "0001-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn parse_round_trips() {
        let t = parse("2006-01-02", "2024-03-05").expect("parse");
        assert_eq!(t.secs, 1_709_596_800);
        let t = parse("2006-01-02T15:04:05Z07:00", "2024-03-05T10:00:00+02:00").expect("parse");
        assert_eq!(t.secs, 1_709_625_600);
        assert_eq!(t.go_string(), "2024-03-05 10:00:00 +0200 +0200");
        assert!(parse("2006-01-02", "2024-02-30").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration_string(5_400_000_000_000), "1h30m0s");
        assert_eq!(duration_string(1_500), "1.5µs");
        assert_eq!(duration_string(-100_000_000), "-100ms");
        assert_eq!(parse_duration("1h30m").expect("d"), 5_400_000_000_000);
        assert_eq!(parse_duration("-1.5h").expect("d"), -5_400_000_000_000);
        assert!(parse_duration("1x").is_err());
        assert!(parse_duration("").is_err());
    }
}
