//! Reading an unstructured object the way gitops-engine's typed conversion
//! (`runtime.DefaultUnstructuredConverter.FromUnstructured`) does: a missing or null field is
//! its zero value, a field of the wrong type fails the conversion.

use serde_json::Value;

/// The group and kind of an object (`apps/v1` -> `apps`; `v1` -> ``).
pub(crate) fn group_kind(obj: &Value) -> (&str, &str) {
    let api = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let group = api.rsplit_once('/').map_or("", |(g, _)| g);
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    (group, kind)
}

/// The version of an object's apiVersion (`apps/v1` -> `v1`).
pub(crate) fn version(obj: &Value) -> &str {
    let api = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    api.rsplit_once('/').map_or(api, |(_, v)| v)
}

pub(crate) type Conv<T> = Result<T, String>;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn mismatch(path: &[&str], want: &str, got: &Value) -> String {
    format!(
        ".{}: expected {want}, got {}",
        path.join("."),
        type_name(got)
    )
}

/// The value at `path` below `v`; `None` when a step is missing or null, an error when a
/// step that must be an object is something else.
pub(crate) fn at<'a>(v: &'a Value, path: &[&str]) -> Conv<Option<&'a Value>> {
    let mut cur = v;
    for (i, step) in path.iter().enumerate() {
        match cur {
            Value::Object(m) => match m.get(*step) {
                None | Some(Value::Null) => return Ok(None),
                Some(next) => cur = next,
            },
            Value::Null => return Ok(None),
            other => return Err(mismatch(&path[..i], "object", other)),
        }
    }
    Ok(Some(cur))
}

fn as_int(n: &Value) -> Option<i64> {
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
            .map(|f| f as i64)
    })
}

pub(crate) fn opt_int(v: &Value, path: &[&str]) -> Conv<Option<i64>> {
    match at(v, path)? {
        None => Ok(None),
        Some(x) => as_int(x)
            .map(Some)
            .ok_or_else(|| mismatch(path, "integer", x)),
    }
}

pub(crate) fn int(v: &Value, path: &[&str]) -> Conv<i64> {
    Ok(opt_int(v, path)?.unwrap_or(0))
}

pub(crate) fn string<'a>(v: &'a Value, path: &[&str]) -> Conv<&'a str> {
    match at(v, path)? {
        None => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(x) => Err(mismatch(path, "string", x)),
    }
}

pub(crate) fn boolean(v: &Value, path: &[&str]) -> Conv<bool> {
    match at(v, path)? {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(x) => Err(mismatch(path, "bool", x)),
    }
}

pub(crate) fn array<'a>(v: &'a Value, path: &[&str]) -> Conv<&'a [Value]> {
    match at(v, path)? {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(x) => Err(mismatch(path, "array", x)),
    }
}

/// Whether `path` leads to a present, non-null value (a Go pointer field being non-nil).
pub(crate) fn present(v: &Value, path: &[&str]) -> Conv<bool> {
    Ok(at(v, path)?.is_some())
}

/// The string map at `path` (labels, annotations): `None` for a missing key.
pub(crate) fn map_get<'a>(v: &'a Value, path: &[&str], key: &str) -> Conv<Option<&'a str>> {
    match at(v, path)? {
        None => Ok(None),
        Some(Value::Object(m)) => match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(x) => Err(mismatch(path, "string", x)),
        },
        Some(x) => Err(mismatch(path, "object", x)),
    }
}

/// The first element of the list at `path` whose `type` is `ty` (a status condition).
pub(crate) fn condition<'a>(v: &'a Value, path: &[&str], ty: &str) -> Conv<Option<&'a Value>> {
    for c in array(v, path)? {
        if string(c, &["type"])? == ty {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// Go's `%q` of a string: double-quoted with Go escapes.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zero_values_and_type_errors() {
        let v = json!({"spec": {"replicas": 3, "f": 2.0, "s": "x", "n": null}, "bad": 1});
        assert_eq!(int(&v, &["spec", "replicas"]), Ok(3));
        assert_eq!(int(&v, &["spec", "f"]), Ok(2));
        assert_eq!(int(&v, &["spec", "missing"]), Ok(0));
        assert_eq!(int(&v, &["spec", "n"]), Ok(0));
        assert_eq!(opt_int(&v, &["spec", "n"]), Ok(None));
        assert_eq!(
            int(&v, &["spec", "s"]),
            Err(".spec.s: expected integer, got string".into())
        );
        assert_eq!(
            string(&v, &["bad", "x"]),
            Err(".bad: expected object, got number".into())
        );
        assert_eq!(go_quote("a\"b\n"), "\"a\\\"b\\n\"");
    }
}
