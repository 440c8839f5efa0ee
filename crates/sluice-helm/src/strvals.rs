//! Helm's `--set` syntax (helm/helm `pkg/strvals/parser.go`): `a.b=c,list[0]=x,l={a,b}`,
//! `\` escapes, and the value typing of `--set` (`true`/`false`, `null`, integers without a
//! leading zero) versus `--set-string` (always strings) and `--set-json` (JSON).

use serde_json::{Map, Value};

/// How values are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Typed,
    String,
    Json,
}

/// Largest list index `--set` may create (Helm: 65536).
pub const MAX_INDEX: usize = 65536;
/// Nesting of keys in one assignment (Helm: 30 for list nesting).
pub const MAX_NESTING: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn typed(s: &str, mode: Mode) -> Value {
    if mode == Mode::String {
        return Value::String(s.to_owned());
    }
    match s {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        "null" => return Value::Null,
        "0" => return Value::from(0),
        _ => {}
    }
    if !s.starts_with('0')
        && let Ok(i) = s.parse::<i64>()
    {
        return Value::from(i);
    }
    Value::String(s.to_owned())
}

/// Parses `s` and merges its assignments into `dst`.
pub fn parse_into(s: &str, dst: &mut Map<String, Value>, mode: Mode) -> Result<(), String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // key path
        let mut segs: Vec<Seg> = Vec::new();
        let mut cur = String::new();
        loop {
            let Some(&c) = chars.get(i) else {
                if segs.is_empty() && cur.is_empty() {
                    return Ok(());
                }
                return Err(format!("key \"{cur}\" has no value"));
            };
            i += 1;
            match c {
                '\\' => {
                    if let Some(&n) = chars.get(i) {
                        cur.push(n);
                        i += 1;
                    }
                }
                '.' => {
                    if !cur.is_empty() {
                        segs.push(Seg::Key(std::mem::take(&mut cur)));
                    }
                }
                '[' => {
                    if !cur.is_empty() {
                        segs.push(Seg::Key(std::mem::take(&mut cur)));
                    }
                    let start = i;
                    while i < chars.len() && chars[i] != ']' {
                        i += 1;
                    }
                    let num: String = chars[start..i.min(chars.len())].iter().collect();
                    i += 1;
                    let n: usize = num
                        .parse()
                        .map_err(|_| format!("failed to parse index: {num}"))?;
                    if n > MAX_INDEX {
                        return Err(format!(
                            "index of {n} is greater than maximum supported index of {MAX_INDEX}"
                        ));
                    }
                    segs.push(Seg::Index(n));
                }
                '=' => {
                    if !cur.is_empty() {
                        segs.push(Seg::Key(std::mem::take(&mut cur)));
                    }
                    break;
                }
                ',' => {
                    return Err(format!("key \"{cur}\" has no value (cannot end with ,)"));
                }
                c => cur.push(c),
            }
        }
        if segs.is_empty() {
            return Err("key has no name".into());
        }
        if segs.len() > MAX_NESTING {
            return Err(format!("key nests deeper than {MAX_NESTING} levels"));
        }
        // value
        let value = if mode == Mode::Json {
            let rest: String = chars[i..].iter().collect();
            let mut de = serde_json::Deserializer::from_str(&rest).into_iter::<Value>();
            let v = match de.next() {
                Some(Ok(v)) => v,
                Some(Err(e)) => return Err(format!("failed to parse JSON value: {e}")),
                None => Value::Null,
            };
            i += rest[..de.byte_offset()].chars().count();
            if chars.get(i) == Some(&',') {
                i += 1;
            }
            v
        } else if chars.get(i) == Some(&'{') && mode == Mode::Typed {
            i += 1;
            let mut items = Vec::new();
            let mut cur = String::new();
            loop {
                let Some(&c) = chars.get(i) else {
                    return Err("list must terminate with '}'".into());
                };
                i += 1;
                match c {
                    '\\' => {
                        if let Some(&n) = chars.get(i) {
                            cur.push(n);
                            i += 1;
                        }
                    }
                    ',' => items.push(typed(&std::mem::take(&mut cur), mode)),
                    '}' => {
                        if !cur.is_empty() || !items.is_empty() {
                            items.push(typed(&cur, mode));
                        }
                        break;
                    }
                    c => cur.push(c),
                }
            }
            if chars.get(i) == Some(&',') {
                i += 1;
            }
            Value::Array(items)
        } else {
            let mut cur = String::new();
            while let Some(&c) = chars.get(i) {
                i += 1;
                match c {
                    '\\' => {
                        if let Some(&n) = chars.get(i) {
                            cur.push(n);
                            i += 1;
                        }
                    }
                    ',' => break,
                    c => cur.push(c),
                }
            }
            typed(&cur, mode)
        };
        set_path(dst, &segs, value)?;
    }
    Ok(())
}

fn set_path(dst: &mut Map<String, Value>, segs: &[Seg], value: Value) -> Result<(), String> {
    let Some(Seg::Key(first)) = segs.first() else {
        return Err("key must start with a name".into());
    };
    let slot = dst.entry(first.clone()).or_insert(Value::Null);
    set_in(slot, &segs[1..], value);
    Ok(())
}

fn set_in(slot: &mut Value, segs: &[Seg], value: Value) {
    let Some(seg) = segs.first() else {
        *slot = value;
        return;
    };
    match seg {
        Seg::Key(k) => {
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(m) = slot {
                let next = m.entry(k.clone()).or_insert(Value::Null);
                set_in(next, &segs[1..], value);
            }
        }
        Seg::Index(n) => {
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            if let Value::Array(a) = slot {
                while a.len() <= *n {
                    a.push(Value::Null);
                }
                set_in(&mut a[*n], &segs[1..], value);
            }
        }
    }
}
