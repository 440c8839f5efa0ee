//! Built-in JMESPath functions and Kyverno's custom ones (kyverno/kyverno
//! `pkg/engine/jmespath/functions.go`, `arithmetic.go`, `time.go`).

use serde_json::{Map, Value};

use super::Ast;
use super::JmesError;
use super::budget::charge_value;
use super::eval::{Scope, ev, json_eq, own};
use crate::wildcard;
use sluice_core::civil::{days_from_civil, rfc3339_utc as format_rfc3339};

/// A function argument: a value, or an expression reference (`&name`).
pub enum Arg<'a> {
    Val(Value),
    Expr(&'a Ast),
}

/// A JSON number from an f64 (integral values become integers).
pub fn num(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn invalid(name: &str, i: usize, want: &str, got: &Value) -> JmesError {
    JmesError::Runtime(format!(
        "invalid type for argument {} of {name}(): expected {want}, got {}",
        i + 1,
        type_name(got)
    ))
}

struct Args<'a> {
    name: &'a str,
    args: Vec<Arg<'a>>,
}

impl<'a> Args<'a> {
    fn val(&self, i: usize) -> &Value {
        match self.args.get(i) {
            Some(Arg::Val(v)) => v,
            _ => &Value::Null,
        }
    }
    fn str(&self, i: usize) -> Result<&str, JmesError> {
        match self.val(i) {
            Value::String(s) => Ok(s),
            other => Err(invalid(self.name, i, "string", other)),
        }
    }
    fn num(&self, i: usize) -> Result<f64, JmesError> {
        match self.val(i) {
            Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0)),
            other => Err(invalid(self.name, i, "number", other)),
        }
    }
    fn arr(&self, i: usize) -> Result<&Vec<Value>, JmesError> {
        match self.val(i) {
            Value::Array(a) => Ok(a),
            other => Err(invalid(self.name, i, "array", other)),
        }
    }
    fn obj(&self, i: usize) -> Result<&Map<String, Value>, JmesError> {
        match self.val(i) {
            Value::Object(m) => Ok(m),
            other => Err(invalid(self.name, i, "object", other)),
        }
    }
    fn expr(&self, i: usize) -> Result<&'a Ast, JmesError> {
        match self.args.get(i) {
            Some(Arg::Expr(e)) => Ok(e),
            _ => Err(JmesError::Runtime(format!(
                "invalid type for argument {} of {}(): expected expression",
                i + 1,
                self.name
            ))),
        }
    }
    /// A string, or a number rendered as Kyverno does for regex functions.
    fn str_or_num(&self, i: usize) -> Result<String, JmesError> {
        match self.val(i) {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(invalid(self.name, i, "string or number", other)),
        }
    }
}

fn sort_key_cmp(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    }
}

/// The text `parse_json`/`parse_yaml` read, with what parsing may build counted first (a
/// value per two bytes of `[0,0,...]`).
fn parse_input<'a>(a: &'a Args<'_>, sc: &Scope<'_>) -> Result<&'a str, JmesError> {
    let s = a.str(0)?;
    sc.budget()
        .charge(s.len() as u64 * std::mem::size_of::<Value>() as u64 / 2)?;
    Ok(s)
}

fn regex(pat: &str) -> Result<regex::Regex, JmesError> {
    regex::Regex::new(pat).map_err(|e| JmesError::Runtime(format!("invalid regex {pat:?}: {e}")))
}

/// Steps a call costs beyond its own: the elements (and 64-byte chunks of strings) of its
/// arguments, which a function may walk.
fn work(args: &[Arg<'_>]) -> u64 {
    args.iter()
        .map(|a| match a {
            Arg::Val(Value::Array(x)) => x.len() as u64,
            Arg::Val(Value::Object(m)) => m.len() as u64,
            Arg::Val(Value::String(s)) => s.len() as u64 / 64,
            _ => 0,
        })
        .sum()
}

/// The length of `s` with `old` replaced by `new` (at most `n` times).
fn replaced_len(s: &str, old: &str, new: &str, n: Option<usize>) -> u64 {
    let count = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    let count = n.map_or(count, |n| count.min(n)) as u64;
    (s.len() as u64 + count * new.len() as u64).saturating_sub(count * old.len() as u64)
}

/// `regex.ReplaceAllString`, counting what it builds as it goes: a replacement that
/// multiplies the input stops at the budget instead of exhausting memory.
fn regex_replace(
    re: &regex::Regex,
    src: &str,
    rep: &str,
    literal: bool,
    sc: &Scope<'_>,
) -> Result<String, JmesError> {
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(src) {
        let Some(m) = caps.get(0) else { continue };
        let before = out.len();
        out.push_str(&src[last..m.start()]);
        if literal {
            out.push_str(rep);
        } else {
            caps.expand(rep, &mut out);
        }
        last = m.end();
        sc.budget().step()?;
        sc.budget().charge((out.len() - before) as u64)?;
    }
    out.push_str(&src[last..]);
    Ok(out)
}

/// Calls `name` with `args`, within the scope's budget.
pub fn call(name: &str, args: Vec<Arg<'_>>, sc: &Scope<'_>) -> Result<Value, JmesError> {
    sc.budget().steps(work(&args))?;
    let out = match name {
        // the functions that evaluate an expression (and so recurse) have a frame of their
        // own, away from the large one of the rest
        "map" | "max_by" | "min_by" | "sort_by" => call_with_expr(name, args, sc)?,
        _ => call_inner(name, args, sc)?,
    };
    charge_value(sc.budget(), &out)?;
    Ok(out)
}

/// `map`, `max_by`, `min_by`, `sort_by`.
fn call_with_expr(name: &str, args: Vec<Arg<'_>>, sc: &Scope<'_>) -> Result<Value, JmesError> {
    let a = Args { name, args };
    Ok(match name {
        "map" => {
            let e = a.expr(0)?;
            let mut out = Vec::new();
            for it in a.arr(1)? {
                out.push(own(ev(e, Some(it), sc)?, sc)?);
            }
            Value::Array(out)
        }
        "max_by" | "min_by" => {
            let e = a.expr(1)?;
            let mut best: Option<(Value, &Value)> = None;
            for v in a.arr(0)? {
                let k = own(ev(e, Some(v), sc)?, sc)?;
                best = match best {
                    None => Some((k, v)),
                    Some((bk, bv)) => {
                        let o = sort_key_cmp(&k, &bk);
                        if (name == "max_by" && o.is_gt()) || (name == "min_by" && o.is_lt()) {
                            Some((k, v))
                        } else {
                            Some((bk, bv))
                        }
                    }
                };
            }
            best.map(|(_, v)| v.clone()).unwrap_or(Value::Null)
        }
        "sort_by" => {
            let e = a.expr(1)?;
            let mut keyed = Vec::new();
            for v in a.arr(0)? {
                keyed.push((own(ev(e, Some(v), sc)?, sc)?, v.clone()));
            }
            keyed.sort_by(|x, y| sort_key_cmp(&x.0, &y.0));
            Value::Array(keyed.into_iter().map(|(_, v)| v).collect())
        }
        _ => return Err(JmesError::UnknownFunction(name.to_owned())),
    })
}

fn call_inner(name: &str, args: Vec<Arg<'_>>, sc: &Scope<'_>) -> Result<Value, JmesError> {
    let a = Args { name, args };
    Ok(match name {
        "abs" => num(a.num(0)?.abs()),
        "avg" => {
            let arr = a.arr(0)?;
            if arr.is_empty() {
                return Ok(Value::Null);
            }
            let mut s = 0.0;
            for v in arr {
                s += v
                    .as_f64()
                    .ok_or_else(|| invalid(name, 0, "array of numbers", v))?;
            }
            num(s / arr.len() as f64)
        }
        "ceil" => num(a.num(0)?.ceil()),
        "floor" => num(a.num(0)?.floor()),
        "contains" => match a.val(0) {
            Value::Array(items) => Value::Bool(items.iter().any(|x| json_eq(x, a.val(1)))),
            Value::String(s) => match a.val(1) {
                Value::String(n) => Value::Bool(s.contains(n.as_str())),
                _ => Value::Bool(false),
            },
            other => return Err(invalid(name, 0, "array or string", other)),
        },
        "ends_with" => Value::Bool(a.str(0)?.ends_with(a.str(1)?)),
        "starts_with" => Value::Bool(a.str(0)?.starts_with(a.str(1)?)),
        "join" => {
            let sep = a.str(0)?;
            let items = a.arr(1)?;
            let text: u64 = items
                .iter()
                .map(|v| v.as_str().map_or(0, str::len) as u64)
                .sum();
            sc.budget()
                .charge(text + items.len() as u64 * sep.len() as u64)?;
            let mut parts = Vec::new();
            for v in a.arr(1)? {
                parts.push(
                    v.as_str()
                        .ok_or_else(|| invalid(name, 1, "array of strings", v))?
                        .to_owned(),
                );
            }
            Value::String(parts.join(sep))
        }
        "keys" => Value::Array(a.obj(0)?.keys().map(|k| Value::String(k.clone())).collect()),
        "values" => Value::Array(a.obj(0)?.values().cloned().collect()),
        "length" => match a.val(0) {
            Value::String(s) => Value::from(s.chars().count()),
            Value::Array(x) => Value::from(x.len()),
            Value::Object(m) => Value::from(m.len()),
            other => return Err(invalid(name, 0, "string, array or object", other)),
        },
        "max" | "min" => {
            let arr = a.arr(0)?;
            let mut best: Option<&Value> = None;
            for v in arr {
                if !(v.is_number() || v.is_string()) {
                    return Err(invalid(name, 0, "array of numbers or strings", v));
                }
                best = match best {
                    None => Some(v),
                    Some(b) => {
                        let o = sort_key_cmp(v, b);
                        if (name == "max" && o.is_gt()) || (name == "min" && o.is_lt()) {
                            Some(v)
                        } else {
                            Some(b)
                        }
                    }
                };
            }
            best.cloned().unwrap_or(Value::Null)
        }
        "merge" => {
            let mut out = Map::new();
            for i in 0..a.args.len() {
                for (k, v) in a.obj(i)? {
                    out.insert(k.clone(), v.clone());
                }
            }
            Value::Object(out)
        }
        "not_null" => (0..a.args.len())
            .map(|i| a.val(i))
            .find(|v| !v.is_null())
            .cloned()
            .unwrap_or(Value::Null),
        "reverse" => match a.val(0) {
            Value::Array(x) => Value::Array(x.iter().rev().cloned().collect()),
            Value::String(s) => Value::String(s.chars().rev().collect()),
            other => return Err(invalid(name, 0, "array or string", other)),
        },
        "sort" => {
            let mut x = a.arr(0)?.clone();
            x.sort_by(sort_key_cmp);
            Value::Array(x)
        }
        "sum" => {
            let mut s = 0.0;
            for v in a.arr(0)? {
                s += v
                    .as_f64()
                    .ok_or_else(|| invalid(name, 0, "array of numbers", v))?;
            }
            num(s)
        }
        "to_array" => match a.val(0) {
            Value::Array(_) => a.val(0).clone(),
            other => Value::Array(vec![other.clone()]),
        },
        "to_number" => match a.val(0) {
            Value::Number(_) => a.val(0).clone(),
            Value::String(s) => s.trim().parse::<f64>().map(num).unwrap_or(Value::Null),
            _ => Value::Null,
        },
        "to_string" => match a.val(0) {
            Value::String(_) => a.val(0).clone(),
            other => Value::String(serde_json::to_string(other).unwrap_or_default()),
        },
        "type" => Value::String(type_name(a.val(0)).to_owned()),
        "zip" => {
            let mut lists = Vec::new();
            for i in 0..a.args.len() {
                lists.push(a.arr(i)?);
            }
            let n = lists.iter().map(|l| l.len()).min().unwrap_or(0);
            Value::Array(
                (0..n)
                    .map(|j| Value::Array(lists.iter().map(|l| l[j].clone()).collect()))
                    .collect(),
            )
        }
        "find_first" => {
            let s = a.str(0)?;
            let sub = a.str(1)?;
            s.find(sub)
                .map_or(Value::Null, |i| Value::from(s[..i].chars().count()))
        }
        "lower" | "to_lower" => Value::String(a.str(0)?.to_lowercase()),
        "upper" | "to_upper" => Value::String(a.str(0)?.to_uppercase()),
        "compare" => Value::from(match a.str(0)?.cmp(a.str(1)?) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        }),
        "equal_fold" => Value::Bool(a.str(0)?.to_lowercase() == a.str(1)?.to_lowercase()),
        "replace" => {
            let n = a.num(3)? as i64;
            let (s, old, new) = (a.str(0)?, a.str(1)?, a.str(2)?);
            sc.budget()
                .charge(replaced_len(s, old, new, (n >= 0).then_some(n as usize)))?;
            Value::String(if n < 0 {
                s.replace(old, new)
            } else {
                s.replacen(old, new, n as usize)
            })
        }
        "replace_all" => {
            let (s, old, new) = (a.str(0)?, a.str(1)?, a.str(2)?);
            sc.budget().charge(replaced_len(s, old, new, None))?;
            Value::String(s.replace(old, new))
        }
        "trim" => {
            let cut: Vec<char> = a.str(1)?.chars().collect();
            Value::String(a.str(0)?.trim_matches(|c| cut.contains(&c)).to_owned())
        }
        "trim_prefix" => {
            let s = a.str(0)?;
            Value::String(s.strip_prefix(a.str(1)?).unwrap_or(s).to_owned())
        }
        "split" => {
            let (s, sep) = (a.str(0)?, a.str(1)?);
            let parts = if sep.is_empty() {
                s.chars().count() + 2
            } else {
                s.matches(sep).count() + 1
            };
            sc.budget()
                .charge(s.len() as u64 + parts as u64 * std::mem::size_of::<Value>() as u64)?;
            Value::Array(s.split(sep).map(|p| Value::String(p.to_owned())).collect())
        }
        "regex_replace_all" => {
            let re = regex(a.str(0)?)?;
            let src = a.str_or_num(1)?;
            let rep = a.str_or_num(2)?;
            Value::String(regex_replace(&re, &src, &rep, false, sc)?)
        }
        "regex_replace_all_literal" => {
            let re = regex(a.str(0)?)?;
            let src = a.str_or_num(1)?;
            let rep = a.str_or_num(2)?;
            Value::String(regex_replace(&re, &src, &rep, true, sc)?)
        }
        "regex_match" => {
            let re = regex(a.str(0)?)?;
            Value::Bool(re.is_match(&a.str_or_num(1)?))
        }
        "pattern_match" => {
            let (p, s) = (a.str(0)?, a.str_or_num(1)?);
            // the glob is O(pattern x name) in the worst case
            sc.budget()
                .steps((p.len() as u64).saturating_mul(s.len() as u64) / 64)?;
            Value::Bool(wildcard::matches(p, &s))
        }
        "label_match" => {
            let want = a.obj(0)?;
            let have = a.obj(1)?;
            Value::Bool(
                want.iter()
                    .all(|(k, v)| have.get(k).is_some_and(|h| json_eq(h, v))),
            )
        }
        "to_boolean" => match a.str(0)?.to_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => {
                return Err(JmesError::Runtime(format!(
                    "lowercase argument must be 'true' or 'false' (provided: '{other}')"
                )));
            }
        },
        "add" | "subtract" | "multiply" | "divide" | "modulo" => {
            arithmetic(name, a.val(0), a.val(1))?
        }
        "round" => {
            let p = 10f64.powi(a.num(1)? as i32);
            num((a.num(0)? * p).round() / p)
        }
        "base64_decode" => {
            let bytes = base64_decode(a.str(0)?)
                .ok_or_else(|| JmesError::Runtime("illegal base64 data".to_owned()))?;
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        }
        "base64_encode" => Value::String(base64_encode(a.str(0)?.as_bytes())),
        "path_canonicalize" => Value::String(clean_path(a.str(0)?)),
        "truncate" => {
            let n = a.num(1)?.max(0.0) as usize;
            Value::String(a.str(0)?.chars().take(n).collect())
        }
        "semver_compare" => Value::Bool(crate::semver::satisfies(a.str(0)?, a.str(1)?)?),
        "parse_json" => serde_json::from_str(parse_input(&a, sc)?)
            .map_err(|e| JmesError::Runtime(format!("parse_json: {e}")))?,
        "parse_yaml" => {
            let docs = sluice_core::yaml::load_documents(
                parse_input(&a, sc)?,
                &sluice_core::Limits::default(),
            )
            .map_err(|e| JmesError::Runtime(format!("parse_yaml: {}", e.message())))?;
            docs.into_iter()
                .next()
                .map(|d| d.value)
                .unwrap_or(Value::Null)
        }
        "lookup" => match (a.val(0), a.val(1)) {
            (Value::Object(m), Value::String(k)) => m.get(k).cloned().unwrap_or(Value::Null),
            (Value::Array(x), Value::Number(n)) => n
                .as_u64()
                .and_then(|i| x.get(i as usize))
                .cloned()
                .unwrap_or(Value::Null),
            (other, _) => return Err(invalid(name, 0, "object or array", other)),
        },
        "items" => {
            let (kn, vn) = (a.str(1)?.to_owned(), a.str(2)?.to_owned());
            let pair = |k: Value, v: &Value| {
                let mut m = Map::new();
                m.insert(kn.clone(), k);
                m.insert(vn.clone(), v.clone());
                Value::Object(m)
            };
            match a.val(0) {
                Value::Object(m) => {
                    let mut keys: Vec<&String> = m.keys().collect();
                    keys.sort();
                    Value::Array(
                        keys.into_iter()
                            .map(|k| pair(Value::String(k.clone()), &m[k]))
                            .collect(),
                    )
                }
                Value::Array(x) => Value::Array(
                    x.iter()
                        .enumerate()
                        .map(|(i, v)| pair(Value::from(i), v))
                        .collect(),
                ),
                other => return Err(invalid(name, 0, "object or array", other)),
            }
        }
        "object_from_lists" => {
            let keys = a.arr(0)?;
            let vals = a.arr(1)?;
            let mut m = Map::new();
            for (i, k) in keys.iter().enumerate() {
                if let Some(k) = k.as_str() {
                    m.insert(k.to_owned(), vals.get(i).cloned().unwrap_or(Value::Null));
                }
            }
            Value::Object(m)
        }
        "image_normalize" => Value::String(crate::images::normalize(a.str(0)?)),
        "is_external_url" => {
            let s = a.str(0)?;
            Value::Bool(
                (s.starts_with("http://") || s.starts_with("https://"))
                    && !s.contains("localhost")
                    && !s.contains("127.0.0.1"),
            )
        }
        "time_after" | "time_before" => {
            let (x, y) = (rfc3339(a.str(0)?)?, rfc3339(a.str(1)?)?);
            Value::Bool(if name == "time_after" { x > y } else { x < y })
        }
        "time_between" => {
            let (t, s, e) = (
                rfc3339(a.str(0)?)?,
                rfc3339(a.str(1)?)?,
                rfc3339(a.str(2)?)?,
            );
            Value::Bool(t > s && t < e)
        }
        "time_now" | "time_now_utc" => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            Value::String(format_rfc3339(secs))
        }
        "sha256" | "x509_decode" | "random" | "time_since" | "time_add" | "time_parse"
        | "time_to_cron" | "time_utc" | "time_diff" | "time_truncate" => {
            return Err(JmesError::Runtime(format!(
                "function {name}() is not supported by sluice"
            )));
        }
        _ => return Err(JmesError::UnknownFunction(name.to_owned())),
    })
}

/// Kyverno's arithmetic functions on numbers, quantities (`1Gi`) and durations (`1h`).
fn arithmetic(name: &str, x: &Value, y: &Value) -> Result<Value, JmesError> {
    use crate::quantity::{parse_duration, parse_quantity};
    let op = |a: f64, b: f64| -> Result<f64, JmesError> {
        Ok(match name {
            "add" => a + b,
            "subtract" => a - b,
            "multiply" => a * b,
            "divide" | "modulo" if b == 0.0 => {
                return Err(JmesError::Runtime("Zero divisor passed".to_owned()));
            }
            "divide" => a / b,
            _ => a % b,
        })
    };
    match (x, y) {
        (Value::Number(a), Value::Number(b)) => Ok(num(op(
            a.as_f64().unwrap_or(0.0),
            b.as_f64().unwrap_or(0.0),
        )?)),
        _ => {
            let as_q = |v: &Value| match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => parse_quantity(s).or_else(|| parse_duration(s)),
                _ => None,
            };
            match (as_q(x), as_q(y)) {
                (Some(a), Some(b)) => Ok(num(op(a, b)?)),
                _ => Err(JmesError::Runtime(format!(
                    "invalid type for {name}(): expected numbers, quantities or durations"
                ))),
            }
        }
    }
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        if c == b'=' {
            break;
        }
        if c == b'\n' || c == b'\r' {
            continue;
        }
        let v = B64.iter().position(|x| *x == c)? as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn clean_path(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let j = parts.join("/");
    match (abs, j.is_empty()) {
        (true, _) => format!("/{j}"),
        (false, true) => ".".to_owned(),
        (false, false) => j,
    }
}

/// Seconds since the epoch of an RFC 3339 time.
fn rfc3339(s: &str) -> Result<i64, JmesError> {
    let bad = || JmesError::Runtime(format!("invalid RFC 3339 time {s:?}"));
    let b = s.as_bytes();
    if b.len() < 19 {
        return Err(bad());
    }
    let n =
        |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i64>().ok()).ok_or_else(bad);
    let (y, mo, d, h, mi, se) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    );
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let k = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
        rest = &r[k..];
    }
    let offset = if rest == "Z" || rest == "z" {
        0
    } else if rest.len() == 6 {
        let sign = if rest.starts_with('-') { -1 } else { 1 };
        let part = |r: std::ops::Range<usize>| {
            rest.get(r)
                .and_then(|x| x.parse::<i64>().ok())
                .ok_or_else(bad)
        };
        let (oh, om) = (part(1..3)?, part(4..6)?);
        sign * (oh * 3600 + om * 60)
    } else {
        return Err(bad());
    };
    Ok(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(base64_encode(b"hello"), "aGVsbG8=");
        assert_eq!(base64_decode("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(clean_path("/a/b/../c/./d"), "/a/c/d");
        assert_eq!(rfc3339("1970-01-02T00:00:00Z"), Ok(86400));
        assert_eq!(format_rfc3339(86400), "1970-01-02T00:00:00Z");
    }
}
