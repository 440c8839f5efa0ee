//! Strategic merge patches and JSON 6902 patches.

use serde_json::{Map, Value};

/// API groups whose kinds kustomize knows from its built-in OpenAPI schema; lists in other
/// kinds (custom resources) are replaced, not merged.
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "extensions",
    "scheduling.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "node.k8s.io",
    "certificates.k8s.io",
];

/// The patch merge key of list `field` (k8s.io/api `patchMergeKey` tags), given the field
/// that holds the list's parent.
fn merge_key(parent: Option<&str>, field: &str) -> Option<&'static str> {
    Some(match field {
        "containers" | "initContainers" | "ephemeralContainers" => "name",
        "env" | "volumes" | "imagePullSecrets" | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "ownerReferences" => "uid",
        "conditions" => "type",
        // admissionregistration's (Validating|Mutating)WebhookConfiguration.webhooks
        "webhooks" if parent.is_none() => "name",
        "ports" => match parent {
            Some("containers" | "initContainers" | "ephemeralContainers") => "containerPort",
            _ => "port",
        },
        _ => return None,
    })
}

/// Whether lists of `group` objects are merged by key.
pub fn is_builtin_group(group: &str) -> bool {
    BUILTIN_GROUPS.contains(&group)
}

/// Applies a strategic merge patch to `target` (a whole object).
pub fn strategic_merge(target: &mut Value, patch: &Value, builtin: bool) {
    let keys = if builtin { Keys::Builtin } else { Keys::None };
    merge_value(target, patch, keys, None, None);
    if builtin {
        dedupe_keyed_lists(target, None);
    }
}

/// kyaml's merge walks the whole target and rebuilds every associative list by key: items
/// with the same key collapse to one, at the first one's place, holding the last one's
/// content. Ports are keyed with their protocol. `holder` is the field holding `v`.
fn dedupe_keyed_lists(v: &mut Value, holder: Option<&str>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if let Value::Array(items) = child
                    && let Some(key) = merge_key(holder, k)
                    && items.iter().all(Value::is_object)
                {
                    // an empty `{}` item has no key and goes
                    items.retain(|it| it.as_object().is_none_or(|m| !m.is_empty()));
                    let ident = |it: &Value| {
                        let main = it.get(key)?.clone();
                        let protocol = if k == "ports" {
                            it.get("protocol").cloned().unwrap_or(Value::Null)
                        } else {
                            Value::Null
                        };
                        Some((main, protocol))
                    };
                    let ids: Vec<Option<(Value, Value)>> = items.iter().map(ident).collect();
                    let has_dups = ids
                        .iter()
                        .enumerate()
                        .any(|(i, id)| id.is_some() && ids[..i].iter().any(|x| x == id));
                    if has_dups {
                        let old = std::mem::take(items);
                        let mut kept: Vec<(Option<(Value, Value)>, Value)> = Vec::new();
                        for (id, it) in ids.into_iter().zip(old) {
                            match kept.iter_mut().find(|(x, _)| id.is_some() && *x == id) {
                                Some(slot) => slot.1 = it,
                                None => kept.push((id, it)),
                            }
                        }
                        *items = kept.into_iter().map(|(_, it)| it).collect();
                    }
                }
                dedupe_keyed_lists(child, Some(k));
            }
        }
        Value::Array(items) => {
            for it in items {
                dedupe_keyed_lists(it, holder);
            }
        }
        _ => {}
    }
}

/// Applies a strategic merge patch with list merge keys from an OpenAPI schema
/// (`openapi: {path: ...}`): `definitions` of the document and the kind's own schema node;
/// lists whose property has `x-kubernetes-patch-strategy: merge` merge by
/// `x-kubernetes-patch-merge-key`.
pub fn strategic_merge_schema(
    target: &mut Value,
    patch: &Value,
    definitions: &Map<String, Value>,
    node: &Value,
) {
    merge_value(
        target,
        patch,
        Keys::Schema(definitions, Some(node)),
        None,
        None,
    );
}

/// The schema node (under `definitions`) of the kind `group/version/kind`, found by its
/// `x-kubernetes-group-version-kind`.
pub fn schema_for<'a>(
    definitions: &'a Map<String, Value>,
    group: &str,
    version: &str,
    kind: &str,
) -> Option<&'a Value> {
    definitions.values().find(|d| {
        d.get("x-kubernetes-group-version-kind")
            .and_then(Value::as_array)
            .is_some_and(|gvks| {
                gvks.iter().any(|g| {
                    g.get("group").and_then(Value::as_str).unwrap_or_default() == group
                        && g.get("version").and_then(Value::as_str) == Some(version)
                        && g.get("kind").and_then(Value::as_str) == Some(kind)
                })
            })
    })
}

/// Where list merge keys come from.
#[derive(Clone, Copy)]
enum Keys<'a> {
    /// Lists are replaced.
    None,
    /// k8s.io/api's patchMergeKey tags.
    Builtin,
    /// An OpenAPI schema: the definitions and the node for the current value.
    Schema(&'a Map<String, Value>, Option<&'a Value>),
}

impl<'a> Keys<'a> {
    fn resolve(defs: &'a Map<String, Value>, node: Option<&'a Value>) -> Option<&'a Value> {
        let mut node = node?;
        for _ in 0..16 {
            match node.get("$ref").and_then(Value::as_str) {
                Some(r) => node = defs.get(r.trim_start_matches("#/definitions/"))?,
                None => return Some(node),
            }
        }
        None
    }

    fn field(self, k: &str) -> Keys<'a> {
        match self {
            Keys::Schema(defs, node) => {
                let n = Keys::resolve(defs, node)
                    .and_then(|n| n.get("properties"))
                    .and_then(|p| p.get(k));
                Keys::Schema(defs, n)
            }
            other => other,
        }
    }

    fn items(self) -> Keys<'a> {
        match self {
            Keys::Schema(defs, node) => {
                Keys::Schema(defs, Keys::resolve(defs, node).and_then(|n| n.get("items")))
            }
            other => other,
        }
    }

    fn merge_key(self, parent: Option<&str>, field: Option<&str>) -> Option<&'a str> {
        match self {
            Keys::None => None,
            Keys::Builtin => field.and_then(|f| merge_key(parent, f)),
            Keys::Schema(defs, node) => {
                let n = Keys::resolve(defs, node)?;
                let strategy = n
                    .get("x-kubernetes-patch-strategy")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !strategy.split(',').any(|s| s == "merge") {
                    return None;
                }
                n.get("x-kubernetes-patch-merge-key")
                    .and_then(Value::as_str)
            }
        }
    }
}

/// Whether a patch map carries `$patch: delete`.
fn deletes(v: &Value) -> bool {
    v.get("$patch").and_then(Value::as_str) == Some("delete")
}

/// kyaml's merge2 (kustomize's strategic merge): only `$patch` is a directive; other `$`
/// keys (`$setElementOrder/...`, `$retainKeys`, `$deleteFromPrimitiveList/...`) are plain
/// fields and stay in the output. A null clears a field; `$patch: delete` on a map removes
/// it, `$patch: replace` puts the patch's map in its place.
fn merge_value(
    target: &mut Value,
    patch: &Value,
    keys: Keys<'_>,
    parent: Option<&str>,
    field: Option<&str>,
) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            if p.get("$patch").and_then(Value::as_str) == Some("replace") {
                if let Some(v) = added(patch, keys, parent, field) {
                    *t = match v {
                        Value::Object(m) => m,
                        _ => Map::new(),
                    };
                }
                return;
            }
            for (k, pv) in p {
                if k == "$patch" {
                    continue;
                }
                if pv.is_null() || deletes(pv) {
                    t.remove(k);
                    continue;
                }
                // a list item's fields are held by the list's field
                let holder = field.or(parent);
                match t.get_mut(k) {
                    Some(tv) if !tv.is_null() => {
                        merge_value(tv, pv, keys.field(k), holder, Some(k))
                    }
                    _ => {
                        if let Some(v) = added(pv, keys.field(k), holder, Some(k)) {
                            t.insert(k.clone(), v);
                        }
                    }
                }
            }
        }
        (Value::Array(t), Value::Array(p)) => match keys.merge_key(parent, field) {
            Some(key)
                if field == Some("ports")
                    && matches!(keys, Keys::Builtin)
                    && p.iter().chain(t.iter()).all(Value::is_object)
                    && p.iter()
                        .chain(t.iter())
                        .any(|i| i.get("protocol").is_some()) =>
            {
                merge_ports(t, p, key, keys.items(), field);
            }
            Some(key) if p.iter().all(Value::is_object) && t.iter().all(Value::is_object) => {
                merge_list(t, p, key, keys.items(), field);
            }
            _ => *t = p.clone(),
        },
        (t, p) => {
            if let Some(v) = added(p, keys, parent, field) {
                *t = v;
            }
        }
    }
}

/// What a patch value becomes where the target has nothing (kyaml walks it against an
/// empty destination): maps lose `$patch` and their null fields (none at all when
/// `$patch: delete`), associative lists are walked item by item, other lists and scalars
/// are copied as they are (nulls and `$patch` inside them included).
fn added(v: &Value, keys: Keys<'_>, parent: Option<&str>, field: Option<&str>) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if deletes(v) {
                return None;
            }
            let mut out = Map::new();
            for (k, child) in m {
                if k == "$patch" || child.is_null() {
                    continue;
                }
                if let Some(c) = added(child, keys.field(k), field.or(parent), Some(k)) {
                    out.insert(k.clone(), c);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => match keys.merge_key(parent, field) {
            Some(_) if items.iter().all(Value::is_object) => Some(Value::Array(
                items
                    .iter()
                    .filter_map(|it| added(it, keys.items(), field, None))
                    .collect(),
            )),
            _ => Some(v.clone()),
        },
        other => Some(other.clone()),
    }
}

/// `ports` where some item names a protocol: kyaml keys them by port and protocol as
/// written. An item with the same port and protocol merges in place; one with the same port
/// whose protocol is written on one side only is dropped; the others are new and go before
/// the target's items, in the patch's order (observed with kubectl kustomize v5.5.0).
fn merge_ports(t: &mut Vec<Value>, p: &[Value], key: &str, keys: Keys<'_>, field: Option<&str>) {
    let mut new = Vec::new();
    for pi in p {
        let (port, proto) = (pi.get(key), pi.get("protocol"));
        if port.is_none() {
            continue;
        }
        let same = t
            .iter()
            .position(|x| x.get(key) == port && x.get("protocol") == proto);
        if deletes(pi) {
            if let Some(i) = same {
                t.remove(i);
            }
            continue;
        }
        if let Some(i) = same {
            merge_value(&mut t[i], pi, keys, field, None);
            continue;
        }
        let half = t
            .iter()
            .any(|x| x.get(key) == port && x.get("protocol").is_some() != proto.is_some());
        if !half {
            new.extend(added(pi, keys, field, None));
        }
    }
    new.append(t);
    *t = new;
}

/// An associative list: the patch's items first, in the patch's order (merged into the
/// matching items), then the target's other items in their order (apimachinery SMP order).
fn merge_list(t: &mut Vec<Value>, p: &[Value], key: &str, keys: Keys<'_>, field: Option<&str>) {
    // an item `$patch: replace` makes the patch's other items the whole list
    if p.iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *t = p
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .filter_map(|i| added(i, keys, field, None))
            .collect();
        return;
    }
    // kyaml walks an associative list by its keys: an empty `{}` item has none and goes
    let mut rest: Vec<Option<Value>> = std::mem::take(t)
        .into_iter()
        .filter(|i| i.as_object().is_none_or(|m| !m.is_empty()))
        .map(Some)
        .collect();
    let mut out = Vec::new();
    // kyaml walks each key value once, with the first patch item that has it: later items
    // with a key already seen are not used
    let mut seen: Vec<&Value> = Vec::new();
    for pi in p {
        let pk = pi.get(key);
        if let Some(k) = pk {
            if seen.contains(&k) {
                continue;
            }
            seen.push(k);
        }
        // a patch item without the key (kyaml walks it by the value "", which matches
        // every item that has the key field): the target's items not merged yet go, and it
        // goes too; keyed items after it find nothing to merge with (pinned against kubectl
        // kustomize v5.5.0: tests/realworld_classes.rs keyless_items_in_keyed_lists)
        if pk.is_none() && pi.as_object().is_some_and(|m| !m.is_empty()) && !deletes(pi) {
            rest.clear();
            continue;
        }
        let found = rest
            .iter()
            .position(|x| x.as_ref().is_some_and(|x| pk.is_some() && x.get(key) == pk));
        if deletes(pi) {
            if let Some(i) = found {
                rest[i] = None;
            }
            continue;
        }
        match found {
            Some(i) => {
                let mut item = rest[i].take().unwrap_or(Value::Null);
                merge_value(&mut item, pi, keys, field, None);
                out.push(item);
            }
            None => out.extend(added(pi, keys, field, None)),
        }
    }
    out.extend(rest.into_iter().flatten());
    *t = out;
}

/// Why a JSON patch could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonPatchError {
    #[error("{0}")]
    Message(String),
}

fn unescape(seg: &str) -> String {
    seg.replace("~1", "/").replace("~0", "~")
}

fn pointer_parts(path: &str) -> Result<Vec<String>, JsonPatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(JsonPatchError::Message(format!(
            "invalid JSON pointer: {path:?}"
        )));
    };
    Ok(rest.split('/').map(unescape).collect())
}

/// evanphx/json-patch `findObject`: the container holding the last segment of `parts`, or
/// None where a step on the way is missing or not a container.
fn find_container<'a>(root: &'a mut Value, parents: &[String]) -> Option<&'a mut Value> {
    let mut cur = root;
    for p in parents {
        cur = match cur {
            Value::Object(m) => m.get_mut(p.as_str()),
            Value::Array(a) => p.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }?;
    }
    matches!(cur, Value::Object(_) | Value::Array(_)).then_some(cur)
}

fn msg(s: String) -> JsonPatchError {
    JsonPatchError::Message(s)
}

fn invalid_index(key: &str) -> String {
    format!("Unable to access invalid index: {key}: invalid index referenced")
}

/// `container.add`: an object's key is set; a list takes `-` (append) or an index up to its
/// length.
fn put(con: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match con {
        Value::Object(m) => {
            m.insert(key.to_owned(), value);
            Ok(())
        }
        Value::Array(a) => {
            if key == "-" {
                a.push(value);
                return Ok(());
            }
            match key.parse::<usize>() {
                Ok(i) if i <= a.len() => {
                    a.insert(i, value);
                    Ok(())
                }
                _ => Err(invalid_index(key)),
            }
        }
        _ => Err(invalid_index(key)),
    }
}

/// `container.get`: an object's missing key reads as null (no error); a list's index must
/// exist.
fn peek(con: &Value, key: &str) -> Result<Value, String> {
    match con {
        Value::Object(m) => Ok(m.get(key).cloned().unwrap_or(Value::Null)),
        Value::Array(a) => key
            .parse::<usize>()
            .ok()
            .and_then(|i| a.get(i).cloned())
            .ok_or_else(|| invalid_index(key)),
        _ => Err(invalid_index(key)),
    }
}

/// `container.remove`.
fn take(con: &mut Value, key: &str) -> Result<Value, String> {
    match con {
        Value::Object(m) => m
            .shift_remove(key)
            .ok_or_else(|| format!("Unable to remove nonexistent key: {key}: missing value")),
        Value::Array(a) => match key.parse::<usize>() {
            Ok(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(invalid_index(key)),
        },
        _ => Err(invalid_index(key)),
    }
}

/// Splits a pointer into its parent segments and last key (None for the root).
fn split(path: &str) -> Result<Option<(Vec<String>, String)>, JsonPatchError> {
    let mut parts = pointer_parts(path)?;
    Ok(parts.pop().map(|last| (parts, last)))
}

/// Applies RFC 6902 operations with evanphx/json-patch v5's semantics and messages (what
/// kustomize uses): `replace` of a missing object key adds it, `copy` from a missing object
/// key copies null.
pub fn json_patch(root: &mut Value, ops: &[Value]) -> Result<(), JsonPatchError> {
    for op in ops {
        let s = |k: &str| op.get(k).and_then(Value::as_str).unwrap_or_default();
        let path = s("path");
        let value = op.get("value").cloned().unwrap_or(Value::Null);
        let kind = s("op");
        match kind {
            "add" | "replace" | "remove" | "test" => {
                let Some((parents, key)) = split(path)? else {
                    match kind {
                        "add" | "replace" => *root = value,
                        "test" if *root != value => {
                            return Err(msg(format!("testing value {path} failed: test failed")));
                        }
                        "test" => {}
                        _ => return Err(msg("cannot remove the root".into())),
                    }
                    continue;
                };
                let Some(con) = find_container(root, &parents) else {
                    return Err(msg(match kind {
                        "add" | "remove" => format!(
                            "{kind} operation does not apply: doc is missing path: \"{path}\": missing value"
                        ),
                        "replace" => format!(
                            "replace operation does not apply: doc is missing path: {path}: missing value"
                        ),
                        _ => format!(
                            "test operation does not apply: is missing path: {path}: missing value"
                        ),
                    }));
                };
                match kind {
                    "add" => put(con, &key, value)
                        .map_err(|e| msg(format!("error in add for path: '{path}': {e}")))?,
                    "remove" => {
                        take(con, &key)
                            .map_err(|e| msg(format!("error in remove for path: '{path}': {e}")))?;
                    }
                    "replace" => {
                        if con.is_array() {
                            peek(con, &key).map_err(|_| {
                                msg(format!(
                                    "replace operation does not apply: doc is missing key: {path}: missing value"
                                ))
                            })?;
                            let _ = take(con, &key);
                        }
                        put(con, &key, value).map_err(|e| {
                            msg(format!("error in replace for path: '{path}': {e}"))
                        })?;
                    }
                    _ => {
                        let have = peek(con, &key).unwrap_or(Value::Null);
                        if have != value {
                            return Err(msg(format!("testing value {path} failed: test failed")));
                        }
                    }
                }
            }
            "move" | "copy" => {
                let from = s("from");
                let Some((fparents, fkey)) = split(from)? else {
                    return Err(msg(format!(
                        "{kind} operation does not apply: doc is missing from path: {from}: missing value"
                    )));
                };
                let Some(con) = find_container(root, &fparents) else {
                    return Err(msg(format!(
                        "{kind} operation does not apply: doc is missing from path: {from}: missing value"
                    )));
                };
                let v = if kind == "move" {
                    take(con, &fkey)
                        .map_err(|e| msg(format!("error in move for path: '{fkey}': {e}")))?
                } else {
                    peek(con, &fkey)
                        .map_err(|e| msg(format!("error in copy for from: '{from}': {e}")))?
                };
                let Some((parents, key)) = split(path)? else {
                    *root = v;
                    continue;
                };
                let Some(con) = find_container(root, &parents) else {
                    return Err(msg(format!(
                        "{kind} operation does not apply: doc is missing destination path: {path}: missing value"
                    )));
                };
                put(con, &key, v)
                    .map_err(|e| msg(format!("error in {kind} for path: '{path}': {e}")))?;
            }
            other => {
                return Err(msg(format!("Unexpected kind: {other}")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Pinned with kubectl kustomize v5.5.0: patch items first in patch order, then the
    /// rest of the target's items (k8s.io/apimachinery strategicpatch ordering).
    #[test]
    fn associative_lists_merge_by_key() {
        let mut t = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}]}});
        let p = json!({"spec": {"containers": [{"name": "n"}, {"name": "b", "image": "y"}]}});
        strategic_merge(&mut t, &p, true);
        assert_eq!(
            t,
            json!({"spec": {"containers": [{"name": "n"}, {"name": "b", "image": "y"}, {"name": "a", "image": "x"}]}})
        );
    }

    #[test]
    fn json6902_ops() {
        let mut t = json!({"a": [1, 2], "b": {"c": 1}});
        json_patch(
            &mut t,
            &[
                json!({"op": "add", "path": "/a/-", "value": 3}),
                json!({"op": "replace", "path": "/b/c", "value": 2}),
                json!({"op": "remove", "path": "/a/0"}),
            ],
        )
        .expect("applies");
        assert_eq!(t, json!({"a": [2, 3], "b": {"c": 2}}));
    }
}
