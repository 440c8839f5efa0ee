//! `yaml.Marshal` of sigs.k8s.io/yaml as Helm's `toYaml` calls it: JSON first, then go-yaml
//! v2's encoder and emitter (a libyaml port): mapping keys in go-yaml's natural order,
//! sequences at their key's indent, strings plain when they read back as strings, else
//! single-quoted (indicators) or double-quoted (escapes), multi-line strings as literal
//! blocks, and long scalars folded at spaces past column 80 (`best_width`).

use serde_json::Value;

const BEST_WIDTH: usize = 80;

struct Em {
    out: String,
    col: usize,
}

impl Em {
    fn put(&mut self, s: &str) {
        for c in s.chars() {
            if c == '\n' {
                self.col = 0;
            } else {
                self.col += 1;
            }
        }
        self.out.push_str(s);
    }
    fn newline_indent(&mut self, ind: usize) {
        self.out.push('\n');
        self.col = 0;
        for _ in 0..ind {
            self.out.push(' ');
        }
        self.col = ind;
    }
}

/// Marshals `v` as YAML text ending with a newline.
pub fn marshal(v: &Value, _pretty: bool) -> String {
    let mut e = Em {
        out: String::new(),
        col: 0,
    };
    match v {
        Value::Object(m) if !m.is_empty() => write_map(&mut e, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut e, a, 0),
        other => {
            // libyaml indents a top-level scalar's continuation lines by best_indent
            write_scalar(&mut e, other, 2, false);
            e.put("\n");
        }
    }
    e.out
}

/// go-yaml v2's `keyList.Less` for string keys.
pub fn key_less(a: &str, b: &str) -> bool {
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
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
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
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

fn sorted_keys(m: &serde_json::Map<String, Value>) -> Vec<&String> {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort_by(|a, b| {
        if key_less(a, b) {
            std::cmp::Ordering::Less
        } else if key_less(b, a) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    keys
}

fn write_map(e: &mut Em, m: &serde_json::Map<String, Value>, ind: usize) {
    write_map_inline(e, m, ind);
    e.put("\n");
}

/// The value after `key:`.
fn write_value(e: &mut Em, v: &Value, ind: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            e.newline_indent(ind + 2);
            write_map_inline(e, m, ind + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            e.newline_indent(ind);
            write_seq_inline(e, a, ind);
        }
        other => {
            e.put(" ");
            write_scalar(e, other, ind + 2, false);
        }
    }
}

/// A mapping whose first key goes where the cursor is (already indented).
fn write_map_inline(e: &mut Em, m: &serde_json::Map<String, Value>, ind: usize) {
    for (i, k) in sorted_keys(m).into_iter().enumerate() {
        if i > 0 {
            e.newline_indent(ind);
        }
        write_str(e, k, ind, true);
        e.put(":");
        write_value(e, &m[k], ind);
    }
}

fn write_seq_inline(e: &mut Em, a: &[Value], ind: usize) {
    for (i, v) in a.iter().enumerate() {
        if i > 0 {
            e.newline_indent(ind);
        }
        e.put("-");
        match v {
            Value::Object(m) if !m.is_empty() => {
                e.put(" ");
                write_map_inline(e, m, ind + 2);
            }
            Value::Array(x) if !x.is_empty() => {
                e.put(" ");
                write_seq_inline(e, x, ind + 2);
            }
            other => {
                e.put(" ");
                write_scalar(e, other, ind + 2, false);
            }
        }
    }
}

fn write_seq(e: &mut Em, a: &[Value], ind: usize) {
    write_seq_inline(e, a, ind);
    e.put("\n");
}

fn write_scalar(e: &mut Em, v: &Value, ind: usize, key: bool) {
    match v {
        Value::Null => e.put("null"),
        Value::Bool(b) => e.put(if *b { "true" } else { "false" }),
        Value::Number(n) => e.put(&number(n)),
        Value::String(s) => write_str(e, s, ind, key),
        Value::Object(_) => e.put("{}"),
        Value::Array(_) => e.put("[]"),
    }
}

/// A JSON number as go-yaml reads it back from JSON text and prints it: integers as
/// integers, other numbers by `strconv.FormatFloat(f, 'g', -1, 64)`.
fn number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let text = sluice_core::gojson::format_float(f);
    if !text.contains(['.', 'e', 'E']) {
        // an integral float: JSON "3" decodes as an int
        return text;
    }
    let g = crate::appset::go_float(f);
    // FormatFloat 'g' keeps exponents as e+06; go_float already does
    g
}

#[derive(PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

struct Analysis {
    flow_plain: bool,
    block_plain: bool,
    single: bool,
    block: bool,
    multiline: bool,
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || u == 0x85
        || ((0xA0..=0xD7FF).contains(&u))
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
        || (0x10000..=0x10FFFF).contains(&u)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blankz(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || is_break(c) || c == '\0',
    }
}

/// libyaml's `yaml_emitter_analyze_scalar`.
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            flow_plain: false,
            block_plain: true,
            single: true,
            block: false,
            multiline: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let (mut flow_ind, mut block_ind) = (false, false);
    if s.starts_with("---") || s.starts_with("...") {
        flow_ind = true;
        block_ind = true;
    }
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut prev_space, mut prev_break) =
        (false, false, false, false);
    let (mut line_breaks, mut special) = (false, false);
    let mut preceded_ws = true;
    let mut followed_ws = is_blankz(chars.get(1).copied());
    let n = chars.len();
    for (i, &c) in chars.iter().enumerate() {
        let first = i == 0;
        let last = i + 1 == n;
        if first {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                flow_ind = true;
                block_ind = true;
            }
            if c == '?' || c == ':' {
                flow_ind = true;
                if followed_ws {
                    block_ind = true;
                }
            }
            if c == '-' && followed_ws {
                flow_ind = true;
                block_ind = true;
            }
        } else {
            if ",?[]{}".contains(c) {
                flow_ind = true;
            }
            if c == ':' {
                flow_ind = true;
                if followed_ws {
                    block_ind = true;
                }
            }
            if c == '#' && preceded_ws {
                flow_ind = true;
                block_ind = true;
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if first {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            if first {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_break = true;
            prev_space = false;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_ws = is_blankz(Some(c));
        followed_ws = is_blankz(chars.get(i + 2).copied());
    }
    let mut a = Analysis {
        flow_plain: true,
        block_plain: true,
        single: true,
        block: true,
        multiline: line_breaks,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.flow_plain = false;
        a.block_plain = false;
        a.single = false;
    }
    if space_break || special {
        a.flow_plain = false;
        a.block_plain = false;
        a.single = false;
        a.block = false;
    }
    if line_breaks {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if flow_ind {
        a.flow_plain = false;
    }
    if block_ind {
        a.block_plain = false;
    }
    a
}

/// Whether go-yaml v2 reads the plain scalar `s` as a string (`resolve` gives `!!str` and
/// it is not a base-60 float).
pub fn plain_is_str(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    match s {
        "~" | "null" | "Null" | "NULL" | "y" | "Y" | "yes" | "Yes" | "YES" | "n" | "N" | "no"
        | "No" | "NO" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | "on" | "On"
        | "ON" | "off" | "Off" | "OFF" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN" | "<<" => return false,
        _ => {}
    }
    let c0 = s.as_bytes()[0];
    if !(c0.is_ascii_digit() || c0 == b'-' || c0 == b'+' || c0 == b'.') {
        return true;
    }
    // integers (go-yaml v2: strconv.ParseInt(plain with _ removed, 0, 64) and 0b)
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    let body = clean.trim_start_matches(['-', '+']);
    let int_like = if let Some(h) = body.strip_prefix("0x") {
        !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit())
    } else if let Some(b) = body.strip_prefix("0b") {
        !b.is_empty() && b.chars().all(|c| c == '0' || c == '1')
    } else if body.len() > 1 && body.starts_with('0') {
        body.chars().all(|c| ('0'..='7').contains(&c))
    } else {
        !body.is_empty() && body.chars().all(|c| c.is_ascii_digit())
    };
    if int_like && clean.matches(['-', '+']).count() <= 1 && !clean[1..].contains(['-', '+']) {
        return false;
    }
    // floats by yaml's float regexp
    if is_yaml_float(&clean) {
        return false;
    }
    if is_base60(s) {
        return false;
    }
    if is_timestamp(s) {
        return false;
    }
    true
}

fn is_yaml_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mant, exp) = match b.find(['e', 'E']) {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    let mant_ok = if let Some(f) = mant.strip_prefix('.') {
        !f.is_empty() && f.chars().all(|c| c.is_ascii_digit())
    } else {
        let (i, f) = match mant.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (mant, None),
        };
        !i.is_empty()
            && i.chars().all(|c| c.is_ascii_digit())
            && f.is_none_or(|f| f.chars().all(|c| c.is_ascii_digit()))
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    mant_ok && exp_ok
}

fn is_base60(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let b = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (main, frac) = match b.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (b, None),
    };
    if frac.is_some_and(|f| !f.chars().all(|c| c.is_ascii_digit() || c == '_')) {
        return false;
    }
    let mut parts = main.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    if head.is_empty()
        || !head.as_bytes()[0].is_ascii_digit()
        || !head.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    !rest.is_empty()
        && rest.iter().all(|p| {
            let b = p.as_bytes();
            match b.len() {
                1 => b[0].is_ascii_digit(),
                2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
                _ => false,
            }
        })
}

fn is_timestamp(s: &str) -> bool {
    // go-yaml v2 parseTimestamp: "2006-1-2" with optional time parts
    let date = s.split(['T', 't', ' ']).next().unwrap_or("");
    let p: Vec<&str> = date.split('-').collect();
    if p.len() != 3
        || p[0].len() != 4
        || !p
            .iter()
            .all(|x| !x.is_empty() && x.len() <= 2 || x.len() == 4)
    {
        return false;
    }
    if !p.iter().all(|x| x.chars().all(|c| c.is_ascii_digit())) {
        return false;
    }
    if date.len() == s.len() {
        return true;
    }
    // with a time: hh:mm:ss required
    let rest = &s[date.len() + 1..];
    let t: Vec<&str> = rest.split(':').collect();
    t.len() >= 3 && t[0].chars().all(|c| c.is_ascii_digit()) && !t[0].is_empty()
}

fn write_str(e: &mut Em, s: &str, ind: usize, key: bool) {
    let requested = if s.contains('\n') {
        Style::Literal
    } else if plain_is_str(s) {
        Style::Plain
    } else {
        Style::Double
    };
    let a = analyze(s);
    let mut style = requested;
    if style == Style::Plain && (!a.block_plain || (s.is_empty() && key)) {
        style = Style::Single;
    }
    if style == Style::Single && !a.single {
        style = Style::Double;
    }
    if style == Style::Literal && (!a.block || key) {
        style = Style::Double;
    }
    let _ = a.multiline;
    let allow_breaks = !key;
    match style {
        Style::Plain => {
            let chars: Vec<char> = s.chars().collect();
            let mut spaces = false;
            for (i, &c) in chars.iter().enumerate() {
                if c == ' ' {
                    if allow_breaks
                        && !spaces
                        && e.col > BEST_WIDTH
                        && chars.get(i + 1) != Some(&' ')
                    {
                        e.newline_indent(ind);
                    } else {
                        e.put(" ");
                    }
                    spaces = true;
                } else {
                    let mut b = [0u8; 4];
                    e.put(c.encode_utf8(&mut b));
                    spaces = false;
                }
            }
        }
        Style::Single => {
            e.put("'");
            let chars: Vec<char> = s.chars().collect();
            let n = chars.len();
            let mut spaces = false;
            for (i, &c) in chars.iter().enumerate() {
                if c == ' ' {
                    if allow_breaks
                        && !spaces
                        && e.col > BEST_WIDTH
                        && i != 0
                        && i + 1 != n
                        && chars.get(i + 1) != Some(&' ')
                    {
                        e.newline_indent(ind);
                    } else {
                        e.put(" ");
                    }
                    spaces = true;
                } else {
                    if c == '\'' {
                        e.put("'");
                    }
                    let mut b = [0u8; 4];
                    e.put(c.encode_utf8(&mut b));
                    spaces = false;
                }
            }
            e.put("'");
        }
        Style::Double => {
            e.put("\"");
            let chars: Vec<char> = s.chars().collect();
            let n = chars.len();
            let mut spaces = false;
            for (i, &c) in chars.iter().enumerate() {
                if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                    let esc = match c {
                        '\0' => "\\0".to_owned(),
                        '\x07' => "\\a".to_owned(),
                        '\x08' => "\\b".to_owned(),
                        '\t' => "\\t".to_owned(),
                        '\n' => "\\n".to_owned(),
                        '\x0b' => "\\v".to_owned(),
                        '\x0c' => "\\f".to_owned(),
                        '\r' => "\\r".to_owned(),
                        '\x1b' => "\\e".to_owned(),
                        '"' => "\\\"".to_owned(),
                        '\\' => "\\\\".to_owned(),
                        '\u{85}' => "\\N".to_owned(),
                        '\u{a0}' => "\\_".to_owned(),
                        '\u{2028}' => "\\L".to_owned(),
                        '\u{2029}' => "\\P".to_owned(),
                        c if (c as u32) <= 0xFF => format!("\\x{:02X}", c as u32),
                        c if (c as u32) <= 0xFFFF => format!("\\u{:04X}", c as u32),
                        c => format!("\\U{:08X}", c as u32),
                    };
                    e.put(&esc);
                    spaces = false;
                } else if c == ' ' {
                    if allow_breaks && !spaces && e.col > BEST_WIDTH && i != 0 && i + 1 != n {
                        e.newline_indent(ind);
                        if chars.get(i + 1) == Some(&' ') {
                            e.put("\\");
                        }
                    } else {
                        e.put(" ");
                    }
                    spaces = true;
                } else {
                    let mut b = [0u8; 4];
                    e.put(c.encode_utf8(&mut b));
                    spaces = false;
                }
            }
            e.put("\"");
        }
        Style::Literal => {
            e.put("|");
            let first = s.chars().next().unwrap_or('x');
            if first == ' ' || is_break(first) {
                e.put("2");
            }
            if !s.ends_with('\n') {
                e.put("-");
            } else if s == "\n" || s[..s.len() - 1].ends_with('\n') {
                e.put("+");
            }
            e.out.push('\n');
            e.col = 0;
            let mut breaks = true;
            for c in s.chars() {
                if is_break(c) {
                    e.out.push('\n');
                    e.col = 0;
                    breaks = true;
                } else {
                    if breaks {
                        for _ in 0..ind {
                            e.out.push(' ');
                        }
                        e.col = ind;
                        breaks = false;
                    }
                    let mut b = [0u8; 4];
                    e.put(c.encode_utf8(&mut b));
                }
            }
            if s.ends_with('\n') {
                // the last break ended the line: the caller's newline is not repeated
                e.out.pop();
                e.col = 1;
            }
        }
    }
}
