//! Helm's `toToml` (`helm.sh/helm/v4/pkg/engine/funcs.go` `toTOML`): BurntSushi/toml v1's
//! `Encoder` with its defaults (two-space indent), whose error text is the function's
//! result. What the encoder does, followed here (`encode.go`):
//!
//! - a map writes its keys sorted, those whose value is not a table first, then the tables
//!   and arrays of tables; `nil` values are left out;
//! - a table is `[a.b]` indented by one level per key part past the first, with an empty
//!   line before top-level tables only; every `[[a.b]]` element has an empty line before it;
//! - an array is an array of tables when every element is a map, else an inline array
//!   (`[1, "a", {k = 1}]`, maps inline as `{k = v, ...}`); an array with a `nil` element is
//!   the error "toml: cannot encode array with nil element";
//! - keys are bare when they are `[A-Za-z0-9_-]+`, else quoted; strings are quoted with
//!   `\"`, `\\`, `\b \t \n \f \r` and `\u00XX` for the other control characters and DEL;
//! - floats are `strconv.FormatFloat(f, 'g', -1, 64)` with `.0` added when there is neither
//!   a `.` nor an exponent, `nan`, `inf`, `-inf`; a `time.Time` is RFC 3339 with nanoseconds;
//! - a top-level scalar or array of scalars is written as the bare value; a top-level array
//!   of maps is "toml: top-level values must be Go maps or structs"; top-level `nil` is the
//!   reflect panic Go's template reports as the call's error.
//!
//! The expected text of every case in the tests comes from real Helm (helm-sdkpy), see
//! crates/sluice-helm/tests/fuzz_classes.rs.

use super::{Budget, MAX_VALUE_DEPTH, V};

pub(super) enum TomlError {
    /// The encoder's error: Helm returns its text as the function's result.
    Encode(&'static str),
    /// A Go panic: the template call fails with this message.
    Call(String),
    /// A value Sluice cannot encode as Helm would (a Go struct other than `time.Time`).
    Unsupported,
    Limit(String),
}

const NIL_ELEMENT: &str = "toml: cannot encode array with nil element";
const NO_KEY: &str = "toml: top-level values must be Go maps or structs";

#[derive(PartialEq, Clone, Copy)]
enum Ty {
    Prim,
    Array,
    Hash,
    ArrayHash,
}

struct Enc<'b> {
    out: String,
    written: bool,
    budget: &'b Budget,
}

/// The TOML text of `v`, or the encoder's error text (both are `toToml`'s result).
/// Every value visited is a step and every byte written is charged to `budget`, so a map
/// that holds itself many times cannot make the walk or the text grow without bound.
pub(super) fn to_toml(v: &V, budget: &Budget) -> Result<String, TomlError> {
    let mut e = Enc {
        out: String::new(),
        written: false,
        budget,
    };
    let r = match v {
        V::Nil => {
            return Err(TomlError::Call(
                "reflect: call of reflect.Value.Type on zero Value".into(),
            ));
        }
        V::Map(_) => e.encode(&mut Vec::new(), v, 0),
        _ => match ty(v, 0, budget) {
            Err(err) => Err(err),
            Ok(Some(Ty::ArrayHash)) => Err(TomlError::Encode(NO_KEY)),
            Ok(_) => e.element(v, 0),
        },
    };
    match r {
        Ok(()) => Ok(e.out),
        Err(TomlError::Encode(m)) => Ok(m.to_owned()),
        Err(other) => Err(other),
    }
}

fn deep(depth: usize) -> Result<(), TomlError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(TomlError::Limit(format!(
            "value nests deeper than {MAX_VALUE_DEPTH} levels"
        )));
    }
    Ok(())
}

/// `tomlTypeOfGo`: `None` for nil; an array's elements are checked (nil is an error).
fn ty(v: &V, depth: usize, budget: &Budget) -> Result<Option<Ty>, TomlError> {
    deep(depth)?;
    budget.step().map_err(|e| TomlError::Limit(e.0))?;
    Ok(Some(match v {
        V::Nil => return Ok(None),
        V::Bool(_) | V::Int(_) | V::Float(_) | V::Str(_) => Ty::Prim,
        V::Bytes(_) => Ty::Array,
        V::Map(_) => Ty::Hash,
        V::Obj(_) if super::gotime::as_time(v).is_some() => Ty::Prim,
        V::Obj(_) => return Err(TomlError::Unsupported),
        V::List(l) => {
            let l = l.borrow();
            if l.is_empty() {
                return Ok(Some(Ty::Array));
            }
            let mut all_hash = true;
            for x in l.iter() {
                match ty(x, depth + 1, budget)? {
                    None => return Err(TomlError::Encode(NIL_ELEMENT)),
                    Some(Ty::Hash) => {}
                    Some(_) => all_hash = false,
                }
            }
            if all_hash { Ty::ArrayHash } else { Ty::Array }
        }
    }))
}

fn is_bare(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn quoted(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\u{8}' => o.push_str("\\b"),
            '\t' => o.push_str("\\t"),
            '\n' => o.push_str("\\n"),
            '\u{c}' => o.push_str("\\f"),
            '\r' => o.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                o.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn key_part(k: &str) -> String {
    if is_bare(k) { k.to_owned() } else { quoted(k) }
}

fn key_path(key: &[String]) -> String {
    key.iter()
        .map(|k| key_part(k))
        .collect::<Vec<_>>()
        .join(".")
}

fn indent(key: &[String]) -> String {
    "  ".repeat(key.len().saturating_sub(1))
}

fn float(f: f64) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() { "-nan" } else { "nan" }.to_owned();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    let s = crate::appset::go_float(f);
    if s.contains('.') || s.contains('e') {
        s
    } else {
        s + ".0"
    }
}

impl Enc<'_> {
    fn wf(&mut self, s: &str) -> Result<(), TomlError> {
        self.budget
            .charge(s.len() as u64)
            .map_err(|e| TomlError::Limit(e.0))?;
        self.out.push_str(s);
        self.written = true;
        Ok(())
    }

    fn newline(&mut self) -> Result<(), TomlError> {
        if self.written {
            self.wf("\n")?;
        }
        Ok(())
    }

    fn ty(&self, v: &V, depth: usize) -> Result<Option<Ty>, TomlError> {
        ty(v, depth, self.budget)
    }

    /// `encode`: a value under `key` of a table being written.
    fn encode(&mut self, key: &mut Vec<String>, v: &V, depth: usize) -> Result<(), TomlError> {
        deep(depth)?;
        match v {
            V::Nil => Ok(()),
            V::Map(m) => {
                if key.len() == 1 {
                    self.newline()?;
                }
                if !key.is_empty() {
                    let h = format!("{}[{}]", indent(key), key_path(key));
                    self.wf(&h)?;
                    self.newline()?;
                }
                let m = m.borrow().clone();
                self.map(key, &m, false, depth)
            }
            V::List(l) if self.ty(v, depth)? == Some(Ty::ArrayHash) => {
                if key.is_empty() {
                    return Err(TomlError::Encode(NO_KEY));
                }
                let items = l.borrow().clone();
                for x in &items {
                    let V::Map(m) = x else { continue };
                    self.newline()?;
                    let h = format!("{}[[{}]]", indent(key), key_path(key));
                    self.wf(&h)?;
                    self.newline()?;
                    let m = m.borrow().clone();
                    self.map(key, &m, false, depth + 1)?;
                }
                Ok(())
            }
            _ => {
                if key.is_empty() {
                    return self.element(v, depth);
                }
                let k = key.last().map(|k| key_part(k)).unwrap_or_default();
                let h = format!("{}{k} = ", indent(key));
                self.wf(&h)?;
                self.element(v, depth)?;
                self.newline()?;
                Ok(())
            }
        }
    }

    /// `eMap`: direct keys, then tables; `inline` writes `{k = v, ...}`.
    fn map(
        &mut self,
        key: &mut Vec<String>,
        m: &std::collections::BTreeMap<String, V>,
        inline: bool,
        depth: usize,
    ) -> Result<(), TomlError> {
        deep(depth)?;
        let mut direct = Vec::new();
        let mut sub = Vec::new();
        for (k, v) in m {
            match self.ty(v, depth + 1)? {
                Some(Ty::Hash | Ty::ArrayHash) => sub.push((k, v)),
                _ => direct.push((k, v)),
            }
        }
        if inline {
            self.wf("{")?;
        }
        let trail = !sub.is_empty();
        for (keys, trail_comma) in [(direct, trail), (sub, false)] {
            let n = keys.len();
            for (i, (k, v)) in keys.into_iter().enumerate() {
                if matches!(v, V::Nil) {
                    continue;
                }
                if inline {
                    let h = format!("{} = ", key_part(k));
                    self.wf(&h)?;
                    self.element(v, depth + 1)?;
                    if trail_comma || i + 1 != n {
                        self.wf(", ")?;
                    }
                } else {
                    key.push(k.clone());
                    let r = self.encode(key, v, depth + 1);
                    key.pop();
                    r?;
                }
            }
        }
        if inline {
            self.wf("}")?;
        }
        Ok(())
    }

    /// `eElement`: a value on the right of `=` or inside an inline array.
    fn element(&mut self, v: &V, depth: usize) -> Result<(), TomlError> {
        deep(depth)?;
        self.budget.step().map_err(|e| TomlError::Limit(e.0))?;
        match v {
            V::Bool(b) => self.wf(if *b { "true" } else { "false" })?,
            V::Int(i) => self.wf(&i.to_string())?,
            V::Float(f) => self.wf(&float(*f))?,
            V::Str(s) => self.wf(&quoted(s))?,
            V::Bytes(b) => {
                let s = b.iter().map(u8::to_string).collect::<Vec<_>>().join(", ");
                self.wf(&format!("[{s}]"))?;
            }
            V::List(l) => {
                let items = l.borrow().clone();
                self.wf("[")?;
                for (i, x) in items.iter().enumerate() {
                    self.element(x, depth + 1)?;
                    if i + 1 != items.len() {
                        self.wf(", ")?;
                    }
                }
                self.wf("]")?;
            }
            V::Map(m) => {
                let m = m.borrow().clone();
                self.map(&mut Vec::new(), &m, true, depth)?;
            }
            V::Obj(_) => match super::gotime::as_time(v) {
                Some(t) => self.wf(&t.format("2006-01-02T15:04:05.999999999Z07:00"))?,
                None => return Err(TomlError::Unsupported),
            },
            V::Nil => return Err(TomlError::Encode(NIL_ELEMENT)),
        }
        Ok(())
    }
}
