//! The YAML text kustomize prints.
//!
//! kustomize v5.5.0 prints each resource with `Resource.AsYAML`: the object is marshalled to
//! JSON and converted with sigs.k8s.io/yaml `JSONToYAML`, i.e. decoded by go-yaml v2 and
//! marshalled again by go-yaml v2's emitter (a port of libyaml). So the output is v2's: keys
//! sorted by v2's "natural" order, strings quoted only when v2 would read them as something
//! else, strings with newlines as literal blocks, two-space indents, sequences in mappings not
//! indented, and long plain or quoted strings folded at the first space after column 80.
//! Input is a `serde_json::Value` (what the JSON step carries).

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// libyaml's `best_width`.
const WIDTH: usize = 80;

/// Prints one document (no `---`), ending with a newline.
pub fn to_yaml(v: &Value) -> String {
    let mut w = Writer::default();
    match v {
        Value::Object(m) if !m.is_empty() => w.mapping(m, 0),
        Value::Array(a) if !a.is_empty() => w.sequence(a, 0),
        other => {
            w.inline_value(other, 0);
            w.newline();
        }
    }
    w.out
}

#[derive(Default)]
struct Writer {
    out: String,
    col: usize,
}

impl Writer {
    fn put(&mut self, c: char) {
        self.out.push(c);
        if c == '\n' {
            self.col = 0;
        } else {
            self.col += 1;
        }
    }

    fn put_str(&mut self, s: &str) {
        for c in s.chars() {
            self.put(c);
        }
    }

    fn newline(&mut self) {
        if self.col != 0 {
            self.put('\n');
        }
    }

    fn spaces(&mut self, n: usize) {
        for _ in 0..n {
            self.put(' ');
        }
    }

    /// A block mapping whose keys start at `indent`; the first key is written where the
    /// cursor is when it is already at `indent` (after `- `).
    fn mapping(&mut self, m: &Map<String, Value>, indent: usize) {
        let mut keys: Vec<&String> = m.keys().collect();
        keys.sort_by(|a, b| natural_cmp(a, b));
        for (i, k) in keys.into_iter().enumerate() {
            if i > 0 || self.col != indent {
                self.newline();
                self.spaces(indent);
            }
            self.scalar_str(k, indent + 2, true);
            self.put(':');
            let v = &m[k];
            match v {
                Value::Object(c) if !c.is_empty() => {
                    self.put('\n');
                    self.spaces(indent + 2);
                    self.mapping(c, indent + 2);
                }
                Value::Array(a) if !a.is_empty() => {
                    self.put('\n');
                    self.spaces(indent);
                    self.sequence(a, indent);
                }
                other => {
                    self.put(' ');
                    self.inline_value(other, indent + 2);
                }
            }
            self.newline();
        }
    }

    /// A block sequence whose dashes are at `indent`; the cursor is at `indent`.
    fn sequence(&mut self, a: &[Value], indent: usize) {
        for (i, v) in a.iter().enumerate() {
            if i > 0 || self.col != indent {
                self.newline();
                self.spaces(indent);
            }
            self.put_str("- ");
            match v {
                Value::Object(c) if !c.is_empty() => self.mapping(c, indent + 2),
                Value::Array(c) if !c.is_empty() => self.sequence(c, indent + 2),
                other => self.inline_value(other, indent + 2),
            }
            self.newline();
        }
    }

    /// A scalar or empty collection at the cursor; `indent` is where continuation lines go.
    fn inline_value(&mut self, v: &Value, indent: usize) {
        match v {
            Value::Null => self.put_str("null"),
            Value::Bool(b) => self.put_str(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let s = format_number(n);
                self.put_str(&s);
            }
            Value::String(s) => self.scalar_str(s, indent, false),
            Value::Array(_) => self.put_str("[]"),
            Value::Object(_) => self.put_str("{}"),
        }
    }

    fn scalar_str(&mut self, s: &str, indent: usize, simple_key: bool) {
        let style = select_style(s, simple_key);
        let allow_breaks = !simple_key;
        match style {
            Style::Plain => self.plain(s, indent, allow_breaks),
            Style::Single => self.single(s, indent, allow_breaks),
            Style::Double => self.double(s, indent, allow_breaks),
            Style::Literal => self.literal(s, indent),
        }
    }

    fn wrap(&mut self, indent: usize) {
        self.put('\n');
        self.spaces(indent);
    }

    fn plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks && !spaces && self.col > WIDTH && chars.get(i + 1) != Some(&' ') {
                    self.wrap(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
    }

    fn single(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        self.put('\'');
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.col > WIDTH
                    && i != 0
                    && i + 1 != chars.len()
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.wrap(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                spaces = false;
            }
        }
        self.put('\'');
    }

    fn double(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        self.put('"');
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match c {
                    '\0' => self.put('0'),
                    '\x07' => self.put('a'),
                    '\x08' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\x0b' => self.put('v'),
                    '\x0c' => self.put('f'),
                    '\r' => self.put('r'),
                    '\x1b' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{a0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    _ => {
                        let v = c as u32;
                        let esc = if v <= 0xFF {
                            format!("x{v:02X}")
                        } else if v <= 0xFFFF {
                            format!("u{v:04X}")
                        } else {
                            format!("U{v:08X}")
                        };
                        self.put_str(&esc);
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.col > WIDTH && i != 0 && i + 1 != chars.len() {
                    self.wrap(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.put('"');
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.put('|');
        let first = s.chars().next();
        if first.is_some_and(|c| c == ' ' || is_break(c)) {
            self.put('2');
        }
        let mut rev = s.chars().rev();
        match rev.next() {
            Some(c) if is_break(c) => {
                if s.chars().count() == 1 || rev.next().is_some_and(is_break) {
                    self.put('+');
                }
            }
            _ => self.put('-'),
        }
        self.put('\n');
        let mut breaks = true;
        for c in s.chars() {
            if is_break(c) {
                if c == '\n' {
                    self.put('\n');
                } else {
                    self.out.push(c);
                    self.col = 0;
                }
                breaks = true;
            } else {
                if breaks {
                    self.spaces(indent);
                    breaks = false;
                }
                self.put(c);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// go-yaml v2 `encoder.stringv` then libyaml `yaml_emitter_select_scalar_style`.
fn select_style(s: &str, simple_key: bool) -> Style {
    let requested = if s.contains('\n') {
        Style::Literal
    } else if resolves_to_string_v2(s) && !is_base60_float(s) {
        Style::Plain
    } else {
        Style::Double
    };
    let a = analyze(s);
    let mut style = requested;
    if simple_key && a.multiline {
        return Style::Double;
    }
    if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
        style = Style::Single;
    }
    if style == Style::Single && !a.single_quoted_allowed {
        style = Style::Double;
    }
    if style == Style::Literal && (!a.block_allowed || simple_key) {
        style = Style::Double;
    }
    style
}

struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn is_printable(c: char) -> bool {
    let v = c as u32;
    c == '\n'
        || (0x20..=0x7E).contains(&v)
        || (0xA0..=0xD7FF).contains(&v)
        || ((0xE000..=0xFFFD).contains(&v) && v != 0xFEFF)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blankz(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || c == '\0' || is_break(c),
    }
}

/// libyaml `yaml_emitter_analyze_scalar` (block context).
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_ws = true;
    let n = chars.len();
    for i in 0..n {
        let c = chars[i];
        let followed_by_ws = is_blankz(chars.get(i + 1).copied());
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                block_indicators = true;
            }
            if (c == '?' || c == ':') && followed_by_ws {
                block_indicators = true;
            }
            if c == '-' && followed_by_ws {
                block_indicators = true;
            }
        } else {
            if c == ':' && followed_by_ws {
                block_indicators = true;
            }
            if c == '#' && preceded_by_ws {
                block_indicators = true;
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == n - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if i == n - 1 {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_break = true;
            previous_space = false;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = is_blankz(Some(c));
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks {
        a.block_plain_allowed = false;
    }
    if block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// Whether go-yaml v2's `resolve` reads the plain text `s` as a string.
pub fn resolves_to_string_v2(s: &str) -> bool {
    let Some(first) = s.bytes().next() else {
        return false; // null
    };
    const MAP: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off",
        "OFF", "true", "True", "TRUE", "false", "False", "FALSE", "~", "null", "Null", "NULL",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF",
    ];
    let hinted = first.is_ascii_digit() || b"+-.yYnNtTfFoO~".contains(&first);
    if !hinted {
        return true;
    }
    if MAP.contains(&s) {
        return false;
    }
    match first {
        b'.' => go_parse_float(s).is_none(),
        b'0'..=b'9' | b'+' | b'-' => {
            if is_timestamp(s) {
                return false;
            }
            let plain: String = s.chars().filter(|c| *c != '_').collect();
            if go_parse_int(&plain) {
                return false;
            }
            if is_yaml_float(&plain) && go_parse_float(&plain).is_some() {
                return false;
            }
            true
        }
        _ => true,
    }
}

/// Go `strconv.ParseInt(s, 0, 64)` or `ParseUint(s, 0, 64)` succeeds.
fn go_parse_int(s: &str) -> bool {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return false;
    }
    match u64::from_str_radix(digits, radix) {
        Ok(u) => !neg || u <= i64::MAX as u64 + 1,
        Err(_) => false,
    }
}

/// Go `strconv.ParseFloat(s, 64)` for the forms that matter here.
fn go_parse_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if matches!(body, "inf" | "infinity" | "nan") {
        return Some(0.0);
    }
    if !is_yaml_float(s) && !s.starts_with('.') {
        return None;
    }
    s.parse::<f64>().ok()
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
pub(crate) fn is_yaml_float(s: &str) -> bool {
    let b = s.trim_start_matches(['-', '+']).as_bytes();
    if s.len() - b.len() > 1 {
        return false;
    }
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac = 0;
    let mut dot = false;
    if i < b.len() && b[i] == b'.' {
        dot = true;
        i += 1;
        frac = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac;
    }
    if int_digits == 0 && (frac == 0 || !dot) {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let e = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if e == 0 {
            return false;
        }
        i += e;
    }
    i == b.len()
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let b = s.as_bytes();
    if b.first().is_none_or(|c| !c.is_ascii_digit()) {
        return false;
    }
    let mut i = b
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'_')
        .count();
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let d = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if d == 0 || d > 2 || (d == 2 && b[i] > b'5') {
            return false;
        }
        i += d;
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        i += b[i..]
            .iter()
            .take_while(|c| c.is_ascii_digit() || **c == b'_')
            .count();
    }
    i == b.len()
}

/// go-yaml's `parseTimestamp`: `2006-1-2`, `2006-1-2T15:4:5.999999999Z07:00` (or `t`),
/// `2006-1-2 15:4:5.999999999`.
pub(crate) fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, min: usize, max: usize| -> Option<(u32, usize)> {
        let n = b[from.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if n < min || n > max {
            return None;
        }
        let v = s[from..from + n].parse().ok()?;
        Some((v, from + n))
    };
    let Some((year, i)) = digits(0, 4, 4) else {
        return false;
    };
    if b.get(i) != Some(&b'-') {
        return false;
    }
    let Some((month, i)) = digits(i + 1, 1, 2) else {
        return false;
    };
    if b.get(i) != Some(&b'-') {
        return false;
    }
    let Some((day, i)) = digits(i + 1, 1, 2) else {
        return false;
    };
    if !(1..=12).contains(&month) || day == 0 || day > days_in(year, month) {
        return false;
    }
    if i == b.len() {
        return true;
    }
    let sep = b[i];
    if !matches!(sep, b'T' | b't' | b' ') {
        return false;
    }
    let Some((h, i)) = digits(i + 1, 1, 2) else {
        return false;
    };
    if b.get(i) != Some(&b':') {
        return false;
    }
    let Some((m, i)) = digits(i + 1, 1, 2) else {
        return false;
    };
    if b.get(i) != Some(&b':') {
        return false;
    }
    let Some((sec, mut i)) = digits(i + 1, 1, 2) else {
        return false;
    };
    if h > 23 || m > 59 || sec > 59 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        i += 1 + n;
    }
    if sep == b' ' {
        return i == b.len();
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            let rest = &s[i + 1..];
            rest.len() == 5
                && rest.as_bytes()[2] == b':'
                && rest[..2].bytes().all(|c| c.is_ascii_digit())
                && rest[3..].bytes().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

fn days_in(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// go-yaml v2 `keyList.Less` for string keys: runs of digits compare as numbers, letters
/// after non-letters.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

/// A JSON number as it comes out of JSON -> go-yaml v2 -> YAML: integers as written, floats
/// that JSON prints as integers (integral, below 1e21) as integers when they fit 64 bits,
/// other floats as Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
pub fn format_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f.abs() < 9.2e18 {
            return format!("{}", f as i64);
        }
        if f > 0.0 && f < 1.8e19 {
            return format!("{}", f as u64);
        }
    }
    go_format_g(f)
}

/// Go `strconv.FormatFloat(f, 'g', -1, 64)`.
fn go_format_g(f: f64) -> String {
    let e = format!("{f:e}"); // shortest digits: "-1.2345e11"
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let sign = if neg { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let (es, ev) = if exp < 0 { ('-', -exp) } else { ('+', exp) };
        return format!("{sign}{first}{frac}e{es}{ev:02}");
    }
    // %f with exactly the significant digits
    let dp = exp + 1; // digits before the point
    if dp <= 0 {
        let zeros = "0".repeat(usize::try_from(-dp).unwrap_or(0));
        return format!("{sign}0.{zeros}{digits}");
    }
    let dp = usize::try_from(dp).unwrap_or(0);
    if digits.len() <= dp {
        let zeros = "0".repeat(dp - digits.len());
        format!("{sign}{digits}{zeros}")
    } else {
        format!("{sign}{}.{}", &digits[..dp], &digits[dp..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_of_keys() {
        let mut k = vec!["key10", "key9", "key09", "Key", "_x", "b", "a.b", "a"];
        k.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(k, ["_x", "Key", "a", "a.b", "b", "key9", "key09", "key10"]);
    }

    #[test]
    fn go_float_format() {
        assert_eq!(go_format_g(1.234567890125e11), "1.234567890125e+11");
        assert_eq!(go_format_g(1e-6), "1e-06");
        assert_eq!(go_format_g(-0.5), "-0.5");
        assert_eq!(go_format_g(1500.5), "1500.5");
        assert_eq!(go_format_g(1e21), "1e+21");
        assert_eq!(go_format_g(0.0001), "0.0001");
    }

    #[test]
    fn v2_resolution_of_strings() {
        for s in [
            "yes",
            "on",
            "y",
            "1",
            "0777",
            "1e3",
            "1_000",
            "",
            "~",
            "2020-01-01",
            ".5",
        ] {
            assert!(!resolves_to_string_v2(s), "{s}");
        }
        for s in ["x", "0x1G", "1.2.3", "v1", "-", "Infinity", "<<"] {
            assert!(resolves_to_string_v2(s), "{s}");
        }
        assert!(is_base60_float("1:20"));
    }
}
