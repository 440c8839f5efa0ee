//! Field ownership (`metadata.managedFields`, FieldsV1) and server-side apply
//! (k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager, sigs.k8s.io/structured-merge-diff),
//! simplified: a field set is the set of leaf paths of an object; keyed lists use the merge
//! keys of the built-in kinds (`patch::list_strategy`), other lists are atomic.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::patch::{ListStrategy, Schema, list_strategy, strategic_merge_patch};
use crate::resources::ResourceInfo;
use crate::status::ApiError;
use crate::util;

/// One path element as FieldsV1 spells it: `f:name`, `k:{"name":"app"}`, `v:"x"`.
pub type Path = Vec<String>;
pub type FieldSet = BTreeSet<Path>;

/// The leaf fields of an object (its managed-fields set when one manager wrote all of it).
pub fn field_set(obj: &Value) -> FieldSet {
    let kind = Schema::of(obj);
    let mut out = FieldSet::new();
    let Some(m) = obj.as_object() else { return out };
    for (k, v) in m {
        match k.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                let Some(mm) = v.as_object() else { continue };
                for (mk, mv) in mm {
                    if matches!(
                        mk.as_str(),
                        "labels" | "annotations" | "finalizers" | "ownerReferences"
                    ) {
                        let mut path = vec!["f:metadata".to_owned(), format!("f:{mk}")];
                        let mut names = vec!["metadata".to_owned()];
                        collect(mv, mk, kind, &mut names, &mut path, &mut out);
                    }
                }
            }
            _ => {
                let mut path = vec![format!("f:{k}")];
                let mut names = Vec::new();
                collect(v, k, kind, &mut names, &mut path, &mut out);
            }
        }
    }
    out
}

fn collect(
    v: &Value,
    field: &str,
    kind: Schema,
    names: &mut Vec<String>,
    path: &mut Path,
    out: &mut FieldSet,
) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            names.push(field.to_owned());
            for (k, c) in m {
                path.push(format!("f:{k}"));
                collect(c, k, kind, names, path, out);
                path.pop();
            }
            names.pop();
        }
        Value::Array(items) if !items.is_empty() => match list_strategy(kind, names, field) {
            ListStrategy::Keyed(key) if items.iter().all(|i| i.get(key).is_some()) => {
                names.push(field.to_owned());
                for item in items {
                    let kv = json!({ key: item.get(key) });
                    path.push(format!("k:{kv}"));
                    let mut any = false;
                    if let Some(im) = item.as_object() {
                        for (k, c) in im {
                            any = true;
                            path.push(format!("f:{k}"));
                            collect(c, k, kind, names, path, out);
                            path.pop();
                        }
                    }
                    if !any {
                        out.insert(path.clone());
                    }
                    path.pop();
                }
                names.pop();
            }
            ListStrategy::Set if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
                for item in items {
                    path.push(format!("v:{item}"));
                    out.insert(path.clone());
                    path.pop();
                }
            }
            _ => {
                out.insert(path.clone());
            }
        },
        _ => {
            out.insert(path.clone());
        }
    }
}

/// The value at a field path.
pub fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for p in path {
        if let Some(f) = p.strip_prefix("f:") {
            cur = cur.get(f)?;
        } else if let Some(k) = p.strip_prefix("k:") {
            let want: Map<String, Value> = serde_json::from_str(k).ok()?;
            cur = cur
                .as_array()?
                .iter()
                .find(|item| want.iter().all(|(wk, wv)| item.get(wk) == Some(wv)))?;
        } else if let Some(v) = p.strip_prefix("v:") {
            let want: Value = serde_json::from_str(v).ok()?;
            cur = cur.as_array()?.iter().find(|item| **item == want)?;
        } else {
            return None;
        }
    }
    Some(cur)
}

fn remove_at(obj: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for p in parent {
        let next = if let Some(f) = p.strip_prefix("f:") {
            cur.get_mut(f)
        } else if let Some(k) = p.strip_prefix("k:") {
            let Ok(want) = serde_json::from_str::<Map<String, Value>>(k) else {
                return;
            };
            cur.as_array_mut().and_then(|a| {
                a.iter_mut()
                    .find(|item| want.iter().all(|(wk, wv)| item.get(wk) == Some(wv)))
            })
        } else {
            None
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(f);
        }
    } else if let Some(k) = last.strip_prefix("k:") {
        if let (Ok(want), Some(a)) = (
            serde_json::from_str::<Map<String, Value>>(k),
            cur.as_array_mut(),
        ) {
            a.retain(|item| !want.iter().all(|(wk, wv)| item.get(wk) == Some(wv)));
        }
    } else if let Some(v) = last.strip_prefix("v:")
        && let (Ok(want), Some(a)) = (serde_json::from_str::<Value>(v), cur.as_array_mut())
    {
        a.retain(|item| *item != want);
    }
}

/// FieldsV1 JSON of a set.
pub fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut cur = &mut root;
        for p in path {
            let e = cur.entry(p.clone()).or_insert_with(|| json!({}));
            match e {
                Value::Object(m) => cur = m,
                _ => break,
            }
        }
    }
    Value::Object(root)
}

/// The set of a FieldsV1 JSON value (its leaves; `.` markers are ignored).
pub fn from_fields_v1(v: &Value) -> FieldSet {
    fn walk(v: &Value, path: &mut Path, out: &mut FieldSet) {
        let Some(m) = v.as_object() else { return };
        let children: Vec<(&String, &Value)> =
            m.iter().filter(|(k, _)| k.as_str() != ".").collect();
        if children.is_empty() {
            if !path.is_empty() {
                out.insert(path.clone());
            }
            return;
        }
        for (k, c) in children {
            path.push(k.clone());
            walk(c, path, out);
            path.pop();
        }
    }
    let mut out = FieldSet::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

/// One managedFields entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub subresource: String,
    pub time: String,
    pub fields: FieldSet,
}

pub fn entries(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| {
                    let s = |k: &str| {
                        e.get(k)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    Entry {
                        manager: s("manager"),
                        operation: s("operation"),
                        api_version: s("apiVersion"),
                        subresource: s("subresource"),
                        time: s("time"),
                        fields: e.get("fieldsV1").map(from_fields_v1).unwrap_or_default(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

fn write_entries(obj: &mut Value, list: &[Entry]) {
    let arr: Vec<Value> = list
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.fields),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if arr.is_empty() {
            m.remove("managedFields");
        } else {
            m.insert("managedFields".into(), Value::Array(arr));
        }
    }
}

fn api_version(obj: &Value) -> String {
    obj.get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Records that `manager` (an Update: PUT, PATCH, create) changed `old` into `new`: it owns
/// the fields it changed, and other managers lose them.
pub fn record_update(old: Option<&Value>, new: &mut Value, manager: &str, operation: &str) {
    let mut list = entries(old.unwrap_or(&Value::Null));
    if old.is_none() {
        list = Vec::new();
    }
    if manager.is_empty() {
        write_entries(new, &list);
        return;
    }
    let new_set = field_set(new);
    let changed: FieldSet = match old {
        None => new_set.clone(),
        Some(o) => {
            let old_set = field_set(o);
            new_set
                .iter()
                .filter(|p| value_at(o, p) != value_at(new, p))
                .cloned()
                .chain(old_set.difference(&new_set).cloned())
                .collect()
        }
    };
    for e in list.iter_mut() {
        if e.manager != manager || e.operation != operation {
            e.fields.retain(|p| !changed.contains(p));
        }
    }
    let av = api_version(new);
    let now = util::now_rfc3339();
    let mine: FieldSet = changed
        .into_iter()
        .filter(|p| new_set.contains(p))
        .collect();
    match list
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == operation)
    {
        Some(e) => {
            if !mine.is_empty() {
                e.fields.extend(mine);
                e.time = now;
                e.api_version = av;
            }
            e.fields.retain(|p| new_set.contains(p));
        }
        None => list.push(Entry {
            manager: manager.to_owned(),
            operation: operation.to_owned(),
            api_version: av,
            subresource: String::new(),
            time: now,
            fields: mine,
        }),
    }
    // a field nobody has any more is owned by nobody
    for e in list.iter_mut() {
        e.fields.retain(|p| new_set.contains(p));
    }
    write_entries(new, &list);
}

/// `.spec.containers[name="app"].image`, as conflicts print paths.
pub fn path_string(path: &[String]) -> String {
    let mut s = String::new();
    for p in path {
        if let Some(f) = p.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = p.strip_prefix("k:") {
            let m: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
            s.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = p.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        }
    }
    s
}

/// Server-side apply of `config` by `manager` onto `live` (None: the object is new).
/// Returns the new object with its managedFields.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    info: &ResourceInfo,
) -> Result<Value, ApiError> {
    let cfg_set = field_set(config);
    let av = api_version(config);
    let now = util::now_rfc3339();
    let Some(live) = live else {
        let mut obj = config.clone();
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("managedFields");
        }
        let e = Entry {
            manager: manager.to_owned(),
            operation: "Apply".into(),
            api_version: av,
            subresource: String::new(),
            time: now,
            fields: cfg_set,
        };
        write_entries(&mut obj, &[e]);
        return Ok(obj);
    };
    let mut list = entries(live);
    // conflicts: fields another manager owns with a different value
    let mut conflicts: BTreeMap<(String, String), Vec<Path>> = BTreeMap::new();
    for p in &cfg_set {
        for e in &list {
            if e.manager == manager && e.operation == "Apply" {
                continue;
            }
            if e.fields.contains(p) && value_at(live, p) != value_at(config, p) {
                conflicts
                    .entry((e.manager.clone(), e.api_version.clone()))
                    .or_default()
                    .push(p.clone());
            }
        }
    }
    if !conflicts.is_empty() && !force {
        let total: usize = conflicts.values().map(Vec::len).sum();
        let mut causes = Vec::new();
        let mut parts = Vec::new();
        for ((m, v), paths) in &conflicts {
            let who = format!("conflict with \"{m}\" using {v}");
            for p in paths {
                causes.push(json!({"reason": "FieldManagerConflict", "message": who, "field": path_string(p)}));
            }
            if paths.len() == 1 {
                parts.push(format!("{who}: {}", path_string(&paths[0])));
            } else {
                let lines: Vec<String> = paths
                    .iter()
                    .map(|p| format!("- {}", path_string(p)))
                    .collect();
                parts.push(format!(
                    "conflicts with \"{m}\" using {v}:\n{}",
                    lines.join("\n")
                ));
            }
        }
        let mut e = ApiError::new(
            409,
            "Conflict",
            format!(
                "Apply failed with {total} conflict{}: {}",
                if total == 1 { "" } else { "s" },
                parts.join("\n")
            ),
        );
        e.details = Some(json!({"causes": causes}));
        return Err(e);
    }
    let prev: FieldSet = list
        .iter()
        .find(|e| e.manager == manager && e.operation == "Apply")
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut merged = live.clone();
    // fields this manager applied before and no longer applies, owned by nobody else, go
    for p in prev.difference(&cfg_set) {
        let others = list
            .iter()
            .any(|e| !(e.manager == manager && e.operation == "Apply") && e.fields.contains(p));
        if !others {
            remove_at(&mut merged, p);
        }
    }
    let mut patch = config.clone();
    if let Some(m) = patch.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
        m.remove("resourceVersion");
    }
    let schema = if info.custom {
        Schema::NONE
    } else {
        Schema::of(live)
    };
    strategic_merge_patch(&mut merged, &patch, schema)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if force {
        for e in list.iter_mut() {
            if !(e.manager == manager && e.operation == "Apply") {
                e.fields.retain(|p| !cfg_set.contains(p));
            }
        }
    }
    match list
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == "Apply")
    {
        Some(e) => {
            e.fields = cfg_set;
            e.time = now;
            e.api_version = av;
        }
        None => list.push(Entry {
            manager: manager.to_owned(),
            operation: "Apply".into(),
            api_version: av,
            subresource: String::new(),
            time: now,
            fields: cfg_set,
        }),
    }
    let live_set = field_set(&merged);
    for e in list.iter_mut() {
        e.fields.retain(|p| live_set.contains(p));
    }
    write_entries(&mut merged, &list);
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::builtins;

    fn cm_info() -> ResourceInfo {
        builtins()
            .into_iter()
            .find(|r| r.plural == "configmaps")
            .expect("cm")
    }

    // sigs.k8s.io/structured-merge-diff: an applier conflicts with another manager's field
    // of a different value; force takes it over; fields dropped from the config are removed.
    #[test]
    fn apply_conflicts_and_force() {
        let info = cm_info();
        let mut live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        record_update(None, &mut live, "kubectl-client-side-apply", "Update");
        let fs = live.pointer("/metadata/managedFields/0/fieldsV1").cloned();
        assert_eq!(fs, Some(json!({"f:data": {"f:a": {}, "f:b": {}}})));
        let cfg = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "9"}});
        let e = apply(Some(&live), &cfg, "ssa", false, &info).expect_err("conflict");
        assert_eq!(e.code, 409);
        assert_eq!(
            e.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.a"
        );
        let out = apply(Some(&live), &cfg, "ssa", true, &info).expect("forced");
        assert_eq!(out["data"], json!({"a": "9", "b": "2"}));
        let es = entries(&out);
        assert_eq!(es.len(), 2);
        // the applier drops `a`: it owns it alone now, so it is removed
        let cfg2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"c": "3"}});
        let out2 = apply(Some(&out), &cfg2, "ssa", false, &info).expect("applies");
        assert_eq!(out2["data"], json!({"b": "2", "c": "3"}));
    }

    #[test]
    fn keyed_lists_in_field_sets() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "x"}]}}}});
        let s = field_set(&d);
        let p: Path = vec![
            "f:spec".into(),
            "f:template".into(),
            "f:spec".into(),
            "f:containers".into(),
            "k:{\"name\":\"app\"}".into(),
            "f:image".into(),
        ];
        assert!(s.contains(&p), "{s:?}");
        // keyed lists inside keyed lists: a container's env by name
        let d2 = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "A", "value": "1"}]}]}}}});
        let s2 = field_set(&d2);
        assert!(
            s2.iter()
                .any(|p| p.iter().any(|e| e == "k:{\"name\":\"A\"}")),
            "{s2:?}"
        );
        assert_eq!(value_at(&d, &p), Some(&json!("x")));
        assert_eq!(
            path_string(&p),
            ".spec.template.spec.containers[name=\"app\"].image"
        );
    }
}
