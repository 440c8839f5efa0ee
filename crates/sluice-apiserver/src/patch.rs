//! The patch types of `PATCH`: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and
//! Kubernetes strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch) for the
//! built-in kinds, with the merge keys of their Go types' `patchMergeKey` tags.

use serde_json::{Map, Value};

/// A patch that cannot be applied (400 BadRequest / 422).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PatchError(pub String);

fn err(msg: impl Into<String>) -> PatchError {
    PatchError(msg.into())
}

fn unescape(tok: &str) -> String {
    tok.replace("~1", "/").replace("~0", "~")
}

fn tokens(path: &str) -> Result<Vec<String>, PatchError> {
    if path.is_empty() {
        return Ok(vec![]);
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(err(format!("invalid JSON pointer {path:?}")));
    };
    Ok(rest.split('/').map(unescape).collect())
}

fn parent_mut<'a>(doc: &'a mut Value, toks: &[String]) -> Result<&'a mut Value, PatchError> {
    let mut cur = doc;
    for t in toks {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(t)
                .ok_or_else(|| err(format!("doc is missing path: /{}", toks.join("/"))))?,
            Value::Array(a) => {
                let i: usize = t.parse().map_err(|_| err(format!("invalid index {t:?}")))?;
                a.get_mut(i)
                    .ok_or_else(|| err(format!("index out of bounds: {i}")))?
            }
            _ => return Err(err(format!("doc is missing path: /{}", toks.join("/")))),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &str, v: Value) -> Result<(), PatchError> {
    let toks = tokens(path)?;
    let Some((last, parent)) = toks.split_last() else {
        *doc = v;
        return Ok(());
    };
    match parent_mut(doc, parent)? {
        Value::Object(m) => {
            m.insert(last.clone(), v);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(v);
            } else {
                let i: usize = last
                    .parse()
                    .map_err(|_| err(format!("invalid index {last:?}")))?;
                if i > a.len() {
                    return Err(err(format!("index out of bounds: {i}")));
                }
                a.insert(i, v);
            }
        }
        _ => return Err(err(format!("doc is missing path: {path}"))),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, PatchError> {
    let toks = tokens(path)?;
    let Some((last, parent)) = toks.split_last() else {
        return Err(err("cannot remove the document root"));
    };
    match parent_mut(doc, parent)? {
        Value::Object(m) => m.remove(last).ok_or_else(|| {
            err(format!(
                "unable to remove nonexistent key: {last}: missing value"
            ))
        }),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| err(format!("invalid index {last:?}")))?;
            if i >= a.len() {
                return Err(err(format!("index out of bounds: {i}")));
            }
            Ok(a.remove(i))
        }
        _ => Err(err(format!("doc is missing path: {path}"))),
    }
}

fn get<'a>(doc: &'a Value, path: &str) -> Result<&'a Value, PatchError> {
    doc.pointer(path)
        .ok_or_else(|| err(format!("doc is missing path: {path}")))
}

/// Applies an RFC 6902 JSON patch.
pub fn json_patch(doc: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| err("json patch must be an array of operations"))?;
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| err("operation is missing path"))?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| err(format!("operation {kind:?} is missing value")))
        };
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| err(format!("operation {kind:?} is missing from")))
        };
        match kind {
            "add" => add(doc, path, value()?)?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                get(doc, path)?;
                let v = value()?;
                let toks = tokens(path)?;
                *parent_mut(doc, &toks)? = v;
            }
            "move" => {
                let v = remove(doc, from()?)?;
                add(doc, path, v)?;
            }
            "copy" => {
                let v = get(doc, from()?)?.clone();
                add(doc, path, v)?;
            }
            "test" => {
                if get(doc, path)? != &value()? {
                    return Err(err(format!("testing value {path} failed: test failed")));
                }
            }
            other => return Err(err(format!("Unexpected kind: {other}"))),
        }
    }
    Ok(())
}

/// Applies an RFC 7386 JSON merge patch.
pub fn merge_patch(doc: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *doc = patch.clone();
        return;
    };
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    if let Value::Object(d) = doc {
        for (k, v) in p {
            if v.is_null() {
                d.remove(k);
            } else {
                merge_patch(d.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// How a list field merges under strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// Replaced whole (no `patchStrategy:"merge"`).
    Atomic,
    /// Merged by a key field (`patchMergeKey`).
    Keyed(&'static str),
    /// A set of scalars (`patchStrategy:"merge"` on a primitive list, e.g. finalizers).
    Set,
}

/// The strategy of list field `field` whose parent is at `parent` (field names from the
/// object root, without indexes), for a built-in `kind`.
pub fn list_strategy(kind: &str, parent: &[String], field: &str) -> ListStrategy {
    use ListStrategy::*;
    let parent_name = parent.last().map(String::as_str).unwrap_or_default();
    match field {
        "containers" | "initContainers" | "ephemeralContainers" => Keyed("name"),
        "env" | "volumes" | "imagePullSecrets" | "resourceClaims" | "secrets" => Keyed("name"),
        "volumeMounts" => Keyed("mountPath"),
        "volumeDevices" => Keyed("devicePath"),
        "ports" if kind == "Service" && parent_name == "spec" => Keyed("port"),
        "ports" if parent_name == "containers" || parent_name == "initContainers" => {
            Keyed("containerPort")
        }
        "hostAliases" => Keyed("ip"),
        // k8s.io/api admissionregistration/v1 types.go: `patchStrategy:"merge"
        // patchMergeKey:"name"` on both webhook configurations' `webhooks`
        "webhooks"
            if kind == "ValidatingWebhookConfiguration"
                || kind == "MutatingWebhookConfiguration" =>
        {
            Keyed("name")
        }
        // core/v1 types.go: PodSpec.schedulingGates (name), PodStatus.podIPs/hostIPs (ip)
        "schedulingGates" => Keyed("name"),
        "podIPs" | "hostIPs" => Keyed("ip"),
        "topologySpreadConstraints" => Keyed("topologyKey"),
        "conditions" => Keyed("type"),
        "ownerReferences" => Keyed("uid"),
        "finalizers" if parent_name == "metadata" => Set,
        _ => Atomic,
    }
}

/// Applies a strategic merge patch to a built-in `kind`.
pub fn strategic_merge_patch(doc: &mut Value, patch: &Value, kind: &str) -> Result<(), PatchError> {
    let mut path = Vec::new();
    smp_map(doc, patch, kind, &mut path)
}

fn smp_map(
    doc: &mut Value,
    patch: &Value,
    kind: &str,
    path: &mut Vec<String>,
) -> Result<(), PatchError> {
    let Value::Object(p) = patch else {
        *doc = patch.clone();
        return Ok(());
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut m = p.clone();
            m.remove("$patch");
            *doc = Value::Object(m);
            return Ok(());
        }
        Some("delete") => {
            *doc = Value::Null;
            return Ok(());
        }
        Some(other) => return Err(err(format!("Unknown patch type: {other}"))),
        None => {}
    }
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    let Value::Object(d) = doc else {
        return Ok(());
    };
    if let Some(retain) = p.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        d.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, v) in p {
        if k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(del)) = (d.get_mut(field), v.as_array()) {
                list.retain(|x| !del.contains(x));
            }
            continue;
        }
        if v.is_null() {
            d.remove(k);
            continue;
        }
        match v {
            Value::Object(_) => {
                path.push(k.clone());
                let slot = d.entry(k.clone()).or_insert(Value::Null);
                smp_map(slot, v, kind, path)?;
                path.pop();
                if slot.is_null() {
                    d.remove(k);
                }
            }
            Value::Array(items) => {
                let strategy = list_strategy(kind, path, k);
                let replace = items
                    .iter()
                    .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"));
                if replace || strategy == ListStrategy::Atomic {
                    let kept: Vec<Value> = items
                        .iter()
                        .filter(|i| i.get("$patch").is_none())
                        .cloned()
                        .collect();
                    d.insert(k.clone(), Value::Array(kept));
                    continue;
                }
                let slot = d.entry(k.clone()).or_insert(Value::Array(vec![]));
                if !slot.is_array() {
                    *slot = Value::Array(vec![]);
                }
                let Value::Array(cur) = slot else { continue };
                match strategy {
                    ListStrategy::Set => {
                        for i in items {
                            if !cur.contains(i) {
                                cur.push(i.clone());
                            }
                        }
                    }
                    ListStrategy::Keyed(key) => {
                        path.push(k.clone());
                        for item in items {
                            let kv = item.get(key);
                            let pos =
                                kv.and_then(|kv| cur.iter().position(|c| c.get(key) == Some(kv)));
                            let delete =
                                item.get("$patch").and_then(Value::as_str) == Some("delete");
                            match (pos, delete) {
                                (Some(i), true) => {
                                    cur.remove(i);
                                }
                                (None, true) => {}
                                (Some(i), false) => smp_map(&mut cur[i], item, kind, path)?,
                                (None, false) => {
                                    let mut fresh = Value::Null;
                                    smp_map(&mut fresh, item, kind, path)?;
                                    cur.push(fresh);
                                }
                            }
                        }
                        path.pop();
                    }
                    ListStrategy::Atomic => {}
                }
            }
            _ => {
                d.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // RFC 6902 appendix A examples.
    #[test]
    fn json_patch_ops() {
        let mut d = json!({"metadata": {"labels": {"a": "1"}}, "list": [1, 2]});
        json_patch(
            &mut d,
            &json!([
                {"op": "add", "path": "/metadata/labels/b~1c", "value": "2"},
                {"op": "replace", "path": "/metadata/labels/a", "value": "x"},
                {"op": "add", "path": "/list/-", "value": 3},
                {"op": "remove", "path": "/list/0"},
                {"op": "test", "path": "/list/0", "value": 2},
                {"op": "copy", "from": "/list", "path": "/copy"},
            ]),
        )
        .expect("applies");
        assert_eq!(d["metadata"]["labels"], json!({"a": "x", "b/c": "2"}));
        assert_eq!(d["copy"], json!([2, 3]));
        assert!(json_patch(&mut d, &json!([{"op": "remove", "path": "/nope"}])).is_err());
    }

    // RFC 7386 section 3 example.
    #[test]
    fn merge_patch_rfc7386() {
        let mut d = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut d, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(d, json!({"a": "z", "c": {"d": "e"}}));
    }

    #[test]
    fn webhooks_merge_by_name() {
        // kubectl's client-side apply sends a webhook with only its changed `rules` (atomic):
        // the webhook merges by name, keeping its clientConfig (admissionregistration/v1
        // types.go: webhooks `patchMergeKey:"name"`)
        let mut doc = json!({"webhooks": [{"name": "w", "sideEffects": "None",
            "clientConfig": {"url": "https://x"}, "rules": [{"operations": ["CREATE"]}]}]});
        let patch = json!({"$setElementOrder/webhooks": [{"name": "w"}],
            "webhooks": [{"name": "w", "rules": [{"operations": ["UPDATE"]}]}]});
        strategic_merge_patch(&mut doc, &patch, "ValidatingWebhookConfiguration").expect("patch");
        assert_eq!(
            doc,
            json!({"webhooks": [{"name": "w", "sideEffects": "None",
                "clientConfig": {"url": "https://x"}, "rules": [{"operations": ["UPDATE"]}]}]})
        );
    }

    // k8s.io/apimachinery/pkg/util/strategicpatch/patch_test.go: merge by key, $patch
    // delete, primitive set merge (finalizers).
    #[test]
    fn strategic_merge_by_key() {
        let mut d = json!({"metadata": {"finalizers": ["a"]}, "spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "v1", "env": [{"name": "A", "value": "1"}]},
            {"name": "side", "image": "s"}]}}}});
        strategic_merge_patch(
            &mut d,
            &json!({"metadata": {"finalizers": ["b"]}, "spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "v2", "env": [{"name": "B", "value": "2"}]},
                {"name": "side", "$patch": "delete"}]}}}}),
            "Deployment",
        )
        .expect("applies");
        assert_eq!(d["metadata"]["finalizers"], json!(["a", "b"]));
        let c = &d["spec"]["template"]["spec"]["containers"];
        assert_eq!(c.as_array().map(Vec::len), Some(1));
        assert_eq!(c[0]["image"], "v2");
        assert_eq!(
            c[0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
        );
    }
}
