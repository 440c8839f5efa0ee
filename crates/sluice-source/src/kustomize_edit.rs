//! The Application's `source.kustomize` overrides written into the kustomization, as Argo
//! CD's repo-server does (`util/kustomize/kustomize.go` `Build`: `kustomize edit set
//! nameprefix|namesuffix|image|replicas|namespace`, `kustomize edit add label|annotation
//! --force`, `add component`, and the `patches` appended to the kustomization).

use serde_json::{Map, Value};

use crate::Error;

fn spec_err(path: &str, message: impl Into<String>) -> Error {
    Error::Spec {
        path: path.to_string(),
        message: message.into(),
    }
}

/// Whether the `source.kustomize` block asks for any edit.
pub fn has_edits(k: &Value) -> bool {
    [
        "namePrefix",
        "nameSuffix",
        "images",
        "replicas",
        "commonLabels",
        "commonAnnotations",
        "namespace",
        "components",
        "patches",
    ]
    .iter()
    .any(|f| match k.get(*f) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
        Some(_) => true,
    })
}

/// Applies the overrides `k` (the Application's `spec.source.kustomize`) to the
/// kustomization `kust` (parsed), in the order Argo CD runs its edits.
pub fn apply(kust: &mut Value, k: &Value, path: &str) -> Result<(), Error> {
    if !kust.is_object() {
        *kust = Value::Object(Map::new());
    }
    let Some(m) = kust.as_object_mut() else {
        return Ok(());
    };
    for f in ["namePrefix", "nameSuffix"] {
        if let Some(s) = k.get(f).and_then(Value::as_str)
            && !s.is_empty()
        {
            m.insert(f.to_string(), Value::String(s.to_string()));
        }
    }
    if let Some(images) = k.get("images") {
        let Some(list) = images.as_array() else {
            return Err(spec_err(
                &format!("{path}.images"),
                "expected a list of images",
            ));
        };
        for (i, img) in list.iter().enumerate() {
            let Some(s) = img.as_str() else {
                return Err(spec_err(
                    &format!("{path}.images[{i}]"),
                    "expected a string",
                ));
            };
            set_image(m, s).map_err(|e| spec_err(&format!("{path}.images[{i}]"), e))?;
        }
    }
    if let Some(reps) = k.get("replicas").and_then(Value::as_array) {
        for (i, r) in reps.iter().enumerate() {
            let name = r.get("name").and_then(Value::as_str).unwrap_or("");
            let count = match r.get("count") {
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s)) => s.parse::<i64>().ok(),
                _ => None,
            };
            let (true, Some(count)) = (!name.is_empty(), count) else {
                return Err(spec_err(
                    &format!("{path}.replicas[{i}]"),
                    "expected name and an integer count",
                ));
            };
            let list = list_field(m, "replicas");
            match list
                .iter_mut()
                .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
            {
                Some(e) => e["count"] = Value::from(count),
                None => list.push(serde_json::json!({"name": name, "count": count})),
            }
        }
    }
    for (f, key) in [
        ("commonLabels", "commonLabels"),
        ("commonAnnotations", "commonAnnotations"),
    ] {
        if let Some(add) = k.get(f).and_then(Value::as_object) {
            let e = m
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !e.is_object() {
                *e = Value::Object(Map::new());
            }
            if let Some(dst) = e.as_object_mut() {
                for (kk, v) in add {
                    dst.insert(kk.clone(), v.clone());
                }
            }
        }
    }
    if let Some(ns) = k.get("namespace").and_then(Value::as_str)
        && !ns.is_empty()
    {
        m.insert("namespace".into(), Value::String(ns.to_string()));
    }
    if let Some(cs) = k.get("components").and_then(Value::as_array) {
        let list = list_field(m, "components");
        for c in cs {
            if !list.contains(c) {
                list.push(c.clone());
            }
        }
    }
    if let Some(ps) = k.get("patches").and_then(Value::as_array) {
        list_field(m, "patches").extend(ps.iter().cloned());
    }
    Ok(())
}

fn list_field<'a>(m: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let e = m
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !e.is_array() {
        *e = Value::Array(Vec::new());
    }
    match e {
        Value::Array(a) => a,
        _ => unreachable!("just made an array"),
    }
}

/// Splits `name[:tag][@digest]` (a tag's `:` comes after the last `/`).
fn split_image(s: &str) -> (String, Option<String>, Option<String>) {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (s, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(i) => (
            rest[..slash + i].to_string(),
            Some(rest[slash + i + 1..].to_string()),
            digest,
        ),
        None => (rest.to_string(), None, digest),
    }
}

/// `kustomize edit set image ARG`: `[name=]newName[:tag][@digest]`.
fn set_image(m: &mut Map<String, Value>, arg: &str) -> Result<(), String> {
    let (name, rest) = match arg.split_once('=') {
        Some((n, r)) => (n.to_string(), r),
        None => (split_image(arg).0, arg),
    };
    if name.is_empty() || rest.is_empty() {
        return Err(format!(
            "invalid image {arg:?}: expected [name=]image[:tag][@digest]"
        ));
    }
    let (new_name, tag, digest) = split_image(rest);
    let list = list_field(m, "images");
    let idx = list
        .iter()
        .position(|e| e.get("name").and_then(Value::as_str) == Some(name.as_str()));
    let entry = match idx {
        Some(i) => &mut list[i],
        None => {
            list.push(serde_json::json!({"name": name}));
            let last = list.len() - 1;
            &mut list[last]
        }
    };
    let Some(e) = entry.as_object_mut() else {
        return Err("images entry is not a mapping".into());
    };
    if new_name != name && !new_name.is_empty() && new_name != "*" {
        e.insert("newName".into(), Value::String(new_name));
    }
    if let Some(t) = tag {
        e.insert("newTag".into(), Value::String(t));
        e.remove("digest");
    }
    if let Some(d) = digest {
        e.insert("digest".into(), Value::String(d));
        e.remove("newTag");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // argo-cd util/kustomize/kustomize.go Build: each override becomes a `kustomize edit`
    #[test]
    fn edits_the_kustomization() {
        let mut k = json!({"resources": ["a.yaml"], "images": [{"name": "nginx", "newTag": "1"}]});
        let o = json!({
            "namePrefix": "dev-", "nameSuffix": "-x",
            "images": ["nginx:2", "redis=registry.local/redis:7", "busybox@sha256:abc"],
            "replicas": [{"name": "web", "count": 3}],
            "commonLabels": {"team": "a"}, "commonAnnotations": {"note": "n"},
            "namespace": "dev",
            "patches": [{"target": {"kind": "Deployment"}, "patch": "- op: add\n  path: /x\n  value: 1"}]
        });
        assert!(has_edits(&o));
        apply(&mut k, &o, "spec.source.kustomize").expect("apply");
        assert_eq!(k["namePrefix"], "dev-");
        assert_eq!(k["nameSuffix"], "-x");
        assert_eq!(
            k["images"],
            json!([{"name": "nginx", "newTag": "2"},
                   {"name": "redis", "newName": "registry.local/redis", "newTag": "7"},
                   {"name": "busybox", "digest": "sha256:abc"}])
        );
        assert_eq!(k["replicas"], json!([{"name": "web", "count": 3}]));
        assert_eq!(k["commonLabels"], json!({"team": "a"}));
        assert_eq!(k["namespace"], "dev");
        assert_eq!(k["patches"].as_array().map(Vec::len), Some(1));
        assert_eq!(split_image("host:5000/app:1.0").1.as_deref(), Some("1.0"));
        assert_eq!(split_image("host:5000/app").1, None);
        let bad = apply(&mut k, &json!({"replicas": [{"name": "web"}]}), "p");
        assert!(matches!(bad, Err(Error::Spec { .. })));
    }
}
