//! Dotted field paths as kyaml reads them (kyaml/utils.SmarterPathSplitter, yaml.PathGetter,
//! yaml.PathMatcher): `spec.containers.[name=web].image`, `spec.ports.0.port`,
//! `spec.ports[0].port`, `*` for every field or element.

use serde_json::{Map, Value};

/// Splits `p` on `delim` outside brackets; `name[...]` becomes `name`, `[...]`; empty parts
/// are dropped.
pub fn split_smart(p: &str, delim: char) -> Vec<String> {
    let mut raw = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in p.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            c if c == delim && depth == 0 => raw.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    raw.push(cur);
    let mut out = Vec::new();
    // yaml.PathGetter's cleanPath: parts are trimmed and empty parts dropped, so
    // `.metadata.name` is `metadata.name`
    for part in raw
        .into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
    {
        match part.find('[') {
            Some(i) if i > 0 && part.ends_with(']') => {
                out.push(part[..i].to_owned());
                out.push(part[i..].to_owned());
            }
            // SmarterPathSplitter: a bracketed part without `=` is a mapping key that may
            // hold dots (`metadata.annotations.[cert-manager.io/inject-ca-from]`)
            Some(0) if part.ends_with(']') && !part.contains('=') => {
                out.push(part[1..part.len() - 1].to_owned());
            }
            _ => out.push(part),
        }
    }
    out
}

/// A path part that selects list elements.
enum Elem<'a> {
    Index(usize),
    Match(&'a str, &'a str),
}

fn elem(part: &str) -> Option<Elem<'_>> {
    let inner = part.strip_prefix('[').and_then(|p| p.strip_suffix(']'));
    let s = inner.unwrap_or(part);
    if let Ok(i) = s.parse::<usize>() {
        return Some(Elem::Index(i));
    }
    let (k, v) = inner?.split_once('=')?;
    Some(Elem::Match(k, v))
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => crate::emit::format_number(n),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn elem_matches(item: &Value, k: &str, v: &str) -> bool {
    if k == "." || k.is_empty() {
        return !item.is_object() && !item.is_array() && scalar_text(item) == v;
    }
    item.get(k).is_some_and(|x| scalar_text(x) == v)
}

/// The value at `path` under `v` (no wildcards).
pub fn lookup<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(v);
    };
    match v {
        Value::Array(items) => {
            let child = match elem(first)? {
                Elem::Index(i) => items.get(i)?,
                Elem::Match(k, val) => items.iter().find(|it| elem_matches(it, k, val))?,
            };
            lookup(child, rest)
        }
        Value::Object(m) => lookup(m.get(first.as_str())?, rest),
        _ => None,
    }
}

/// Calls `f` on every value `path` reaches under `v`; `*` matches every field or element.
pub fn visit_matching(v: &mut Value, path: &[String], f: &mut dyn FnMut(&mut Value)) {
    let Some((first, rest)) = path.split_first() else {
        f(v);
        return;
    };
    match v {
        Value::Array(items) => {
            if first == "*" || first == "[*]" {
                for it in items.iter_mut() {
                    visit_matching(it, rest, f);
                }
                return;
            }
            match elem(first) {
                Some(Elem::Index(i)) => {
                    if let Some(it) = items.get_mut(i) {
                        visit_matching(it, rest, f);
                    }
                }
                Some(Elem::Match(k, val)) => {
                    let all = val == "*";
                    for it in items.iter_mut() {
                        if (all && it.get(k).is_some()) || elem_matches(it, k, val) {
                            visit_matching(it, rest, f);
                        }
                    }
                }
                None => {}
            }
        }
        Value::Object(m) => {
            if first == "*" {
                for (_, child) in m.iter_mut() {
                    visit_matching(child, rest, f);
                }
            } else if let Some(child) = m.get_mut(first.as_str()) {
                visit_matching(child, rest, f);
            }
        }
        _ => {}
    }
}

/// The value at `path`, created (mappings, lists and `[k=v]` elements) when missing; the
/// last part is created as `Value::Null`. `None` where a scalar is in the way.
pub fn lookup_create<'a>(
    v: &'a mut Value,
    path: &[String],
) -> Result<Option<&'a mut Value>, String> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(Some(v));
    };
    let is_list_part = |p: &str| p.starts_with('[') || p == "-" || p.parse::<usize>().is_ok();
    let next_is_list = rest.first().is_some_and(|p| is_list_part(p));
    let fresh = || {
        if rest.is_empty() {
            Value::Null
        } else if next_is_list {
            Value::Array(Vec::new())
        } else {
            Value::Object(Map::new())
        }
    };
    if v.is_null() {
        *v = if elem(first).is_some() && is_list_part(first) {
            Value::Array(Vec::new())
        } else {
            Value::Object(Map::new())
        };
    }
    match v {
        Value::Array(items) => {
            let Some(e) = elem(first) else {
                return Ok(None);
            };
            let i = match e {
                // yaml.PathGetter with Create: the index one past the end appends
                Elem::Index(i) if i == items.len() => {
                    items.push(fresh());
                    i
                }
                Elem::Index(i) if i > items.len() => {
                    return Err(format!(
                        "index {i} specified but only {} elements found",
                        items.len()
                    ));
                }
                Elem::Index(i) => i,
                Elem::Match(k, val) => match items.iter().position(|it| elem_matches(it, k, val)) {
                    Some(i) => i,
                    None => {
                        let mut m = Map::new();
                        m.insert(k.to_owned(), Value::String(val.to_owned()));
                        items.push(Value::Object(m));
                        items.len() - 1
                    }
                },
            };
            lookup_create(&mut items[i], rest)
        }
        Value::Object(m) => {
            let child = m.entry(first.as_str()).or_insert_with(fresh);
            lookup_create(child, rest)
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_brackets() {
        assert_eq!(
            split_smart("spec.containers.[name=a.b].image", '.'),
            ["spec", "containers", "[name=a.b]", "image"]
        );
        assert_eq!(
            split_smart("spec.ports[0].port", '.'),
            ["spec", "ports", "[0]", "port"]
        );
    }

    #[test]
    fn looks_up_and_creates() {
        let mut v: Value = serde_json::json!({"spec": {"c": [{"name": "a", "x": 1}]}});
        let p = split_smart("spec.c.[name=a].x", '.');
        assert_eq!(lookup(&v, &p), Some(&Value::from(1)));
        let p = split_smart("spec.c.[name=b].y", '.');
        *lookup_create(&mut v, &p).expect("ok").expect("created") = Value::from(2);
        assert_eq!(v["spec"]["c"][1], serde_json::json!({"name": "b", "y": 2}));
    }
}
