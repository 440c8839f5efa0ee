//! Parameter sets and the ways upstream combines them (argo-cd `applicationset/utils`,
//! `generators/git.go`, mergo).

use serde_json::{Map, Value};
use sluice_expr::appset::go_float;

/// One parameter set: flat strings in fasttemplate mode, any JSON in goTemplate mode.
pub type ParamSet = Map<String, Value>;

/// `fmt.Sprintf("%v", v)` of a value decoded from JSON/YAML by Go (numbers are float64).
pub fn go_sprint(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.as_f64().map(go_float).unwrap_or_else(|| n.to_string()),
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let inner: Vec<String> = a.iter().map(go_sprint).collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Object(m) => {
            // Go prints maps with sorted keys: map[a:1 b:2]
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_sprint(&m[*k])))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

/// `flatten.Flatten(obj, "", flatten.DotStyle)` with every leaf printed by `%v`
/// (git files generator, fasttemplate mode): nested keys joined by `.`, list elements by
/// their index; empty maps and lists give nothing.
pub fn flatten(obj: &Map<String, Value>) -> ParamSet {
    let mut out = ParamSet::new();
    // An explicit stack instead of recursion: depth is bounded by the loader, but a flat
    // loop costs no stack at all.
    let mut stack: Vec<(String, &Value)> = obj.iter().rev().map(|(k, v)| (k.clone(), v)).collect();
    while let Some((key, v)) = stack.pop() {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter().rev() {
                    stack.push((format!("{key}.{k}"), x));
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate().rev() {
                    stack.push((format!("{key}.{i}"), x));
                }
            }
            leaf => {
                out.insert(key, Value::String(go_sprint(leaf)));
            }
        }
    }
    out
}

/// The string-valued entries of a parameter set (`keepOnlyStringValues`, and what
/// fasttemplate can substitute).
pub fn string_values(p: &ParamSet) -> std::collections::BTreeMap<String, String> {
    p.iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
        .collect()
}

/// `utils.CombineStringMaps`: the union of two flat sets; the same key with different
/// values is an error (matrix, fasttemplate mode).
pub fn combine_string_maps(a: &ParamSet, b: &ParamSet) -> Result<ParamSet, String> {
    let mut res = ParamSet::new();
    for (k, v) in a {
        res.insert(k.clone(), Value::String(go_sprint(v)));
    }
    for (k, v) in b {
        let v = go_sprint(v);
        if let Some(cur) = res.get(k)
            && cur.as_str() != Some(v.as_str())
        {
            return Err(format!(
                "found duplicate key {k} with different value, a: {} ,b: {v}",
                cur.as_str().unwrap_or_default()
            ));
        }
        res.insert(k.clone(), Value::String(v));
    }
    Ok(res)
}

/// Go's notion of an empty value for mergo (zero value of its type).
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

/// `mergo.Merge(&dst, src)` on generic maps: keys missing (or empty) in `dst` are taken
/// from `src`; maps present on both sides merge deeply; nothing `dst` holds is replaced.
pub fn mergo_merge(dst: &mut ParamSet, src: &ParamSet) {
    for (k, sv) in src {
        match dst.get_mut(k) {
            Some(Value::Object(dm)) if sv.is_object() => {
                if let Value::Object(sm) = sv {
                    mergo_merge(dm, sm);
                }
            }
            Some(dv) if !is_empty(dv) => {}
            _ => {
                dst.insert(k.clone(), sv.clone());
            }
        }
    }
}

/// `mergo.Merge(&dst, src, mergo.WithOverride)`: non-empty values of `src` replace those of
/// `dst`; maps present on both sides merge deeply.
pub fn mergo_override(dst: &mut ParamSet, src: &ParamSet) {
    for (k, sv) in src {
        match dst.get_mut(k) {
            Some(Value::Object(dm)) if sv.is_object() => {
                if let Value::Object(sm) = sv {
                    mergo_override(dm, sm);
                }
            }
            Some(_) if is_empty(sv) => {}
            _ => {
                dst.insert(k.clone(), sv.clone());
            }
        }
    }
}

/// mergo.Merge of a generator's own template (`dst`, it wins) with the ApplicationSet's
/// (`src`, it fills what `dst` leaves empty), as `mergeGeneratorTemplate` does on the typed
/// template: structs merge field by field, a non-empty scalar or list of `dst` stays.
pub fn merge_template(dst: &Value, src: &Value) -> Value {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            let mut out = d.clone();
            for (k, sv) in s {
                let merged = match d.get(k) {
                    Some(dv) if dv.is_object() && sv.is_object() => merge_template(dv, sv),
                    Some(dv) if !is_empty(dv) => dv.clone(),
                    _ => sv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (d, s) if is_empty(d) => s.clone(),
        (d, _) => d.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> ParamSet {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn flattens_as_jeremywohl_flatten_with_go_printing() {
        let f = flatten(&obj(json!({
            "cluster": {"name": "c1", "address": "https://x", "replicas": 3, "ratio": 0.5,
                        "big": 1000000, "on": true, "none": null, "empty": {}},
            "list": ["a", {"b": 1}],
        })));
        assert_eq!(
            Value::Object(f),
            json!({
                "cluster.name": "c1", "cluster.address": "https://x", "cluster.replicas": "3",
                "cluster.ratio": "0.5", "cluster.big": "1e+06", "cluster.on": "true",
                "cluster.none": "<nil>", "list.0": "a", "list.1.b": "1",
            })
        );
    }

    #[test]
    fn combine_refuses_conflicts() {
        let a = obj(json!({"x": "1", "y": "2"}));
        assert!(combine_string_maps(&a, &obj(json!({"x": "1", "z": "3"}))).is_ok());
        let e = combine_string_maps(&a, &obj(json!({"x": "9"}))).unwrap_err();
        assert_eq!(e, "found duplicate key x with different value, a: 1 ,b: 9");
    }

    #[test]
    fn mergo_semantics() {
        let mut d = obj(json!({"a": "keep", "m": {"x": "1"}, "e": ""}));
        mergo_merge(
            &mut d,
            &obj(json!({"a": "no", "m": {"x": "2", "y": "3"}, "e": "fill", "n": "new"})),
        );
        assert_eq!(
            Value::Object(d),
            json!({"a": "keep", "m": {"x": "1", "y": "3"}, "e": "fill", "n": "new"})
        );
        let mut d = obj(json!({"a": "old", "m": {"x": "1"}, "k": "v"}));
        mergo_override(&mut d, &obj(json!({"a": "new", "m": {"y": "2"}, "k": ""})));
        assert_eq!(
            Value::Object(d),
            json!({"a": "new", "m": {"x": "1", "y": "2"}, "k": "v"})
        );
    }
}
