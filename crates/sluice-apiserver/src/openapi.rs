//! The schemas of `/openapi/v3/{api/v1, apis/G/V}`: what `kubectl explain` reads.
//!
//! Built-in kinds use upstream's definitions, generated from k8s-openapi 0.25's v1_32 sources
//! into `openapi_gen.json.gz` by `tests/openapi_schemas.rs` (which fails when the committed
//! file is stale): `{NAME: schema}` with kube-apiserver's names (`io.k8s.api.apps.v1.Deployment`),
//! `#/components/schemas/NAME` refs and `x-kubernetes-group-version-kind` on every kind. The
//! file is decompressed and parsed once, on the first /openapi request, and kept.
//!
//! A document carries the schemas of its group-version's kinds and every definition they
//! reference, as kube-apiserver's per-group-version documents do (kube-openapi builds each
//! one from the definitions its paths reach), so every `$ref` resolves within the document.
//! Custom resources carry their CRD's `openAPIV3Schema`, named as kube-apiserver names them
//! (reversed group, version, kind: `dev.tekton.v1.PipelineRun`), with `metadata` pointing at
//! ObjectMeta when the CRD leaves it a bare object (apiextensions-apiserver's builder does).

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::resources::{Registry, ResourceInfo};

static GENERATED: &[u8] = include_bytes!("openapi_gen.json.gz");

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const REF_PREFIX: &str = "#/components/schemas/";

/// The generated definitions, and the definition of each (group, version, kind).
struct Builtins {
    schemas: Map<String, Value>,
    by_gvk: HashMap<(String, String, String), String>,
}

fn builtins() -> &'static Builtins {
    static B: OnceLock<Builtins> = OnceLock::new();
    B.get_or_init(|| {
        let mut text = String::new();
        // The file is this crate's own, checked by tests/openapi_schemas.rs: a decoding
        // failure leaves the built-in kinds with their envelope schemas.
        let schemas = match flate2::read::GzDecoder::new(GENERATED).read_to_string(&mut text) {
            Ok(_) => serde_json::from_str::<Map<String, Value>>(&text).unwrap_or_default(),
            Err(_) => Map::new(),
        };
        let mut by_gvk = HashMap::new();
        for (name, s) in &schemas {
            for g in s["x-kubernetes-group-version-kind"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let f = |k: &str| g[k].as_str().unwrap_or_default().to_owned();
                by_gvk.insert((f("group"), f("version"), f("kind")), name.clone());
            }
        }
        Builtins { schemas, by_gvk }
    })
}

/// kube-apiserver's definition name of a custom resource's schema: the group's labels
/// reversed, then version and kind (apiextensions-apiserver `builder.go`).
fn crd_name(group: &str, version: &str, kind: &str) -> String {
    let mut labels: Vec<&str> = group.split('.').collect();
    labels.reverse();
    format!("{}.{version}.{kind}", labels.join("."))
}

/// The definition names a schema references.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(REF_PREFIX))
            {
                out.push(r.to_owned());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// The schema of one served kind: (definition name, schema).
fn kind_schema(r: &ResourceInfo, version: &str) -> (String, Value) {
    let gvk = json!([{"group": r.group, "version": version, "kind": r.kind}]);
    if let Some((_, s)) = r.schemas.iter().find(|(v, _)| v == version) {
        let mut s = s.clone();
        let bare_meta = s["properties"]["metadata"]
            .as_object()
            .is_none_or(|m| m.get("properties").is_none() && m.get("$ref").is_none());
        if s["properties"].is_object() && bare_meta {
            s["properties"]["metadata"] = json!({
                "allOf": [{"$ref": format!("{REF_PREFIX}{OBJECT_META}")}],
                "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
            });
        }
        s["x-kubernetes-group-version-kind"] = gvk;
        return (crd_name(&r.group, version, &r.kind), s);
    }
    let b = builtins();
    let key = (r.group.clone(), version.to_owned(), r.kind.clone());
    if let Some(name) = b.by_gvk.get(&key)
        && let Some(s) = b.schemas.get(name)
    {
        return (name.clone(), s.clone());
    }
    let mut s = crate::resources::envelope_schema(&r.kind, &r.api_version(version));
    s["x-kubernetes-group-version-kind"] = gvk;
    let group = if r.group.is_empty() { "core" } else { &r.group };
    (format!("{group}.{version}.{}", r.kind), s)
}

/// The resources a group-version document describes.
pub fn served<'a>(reg: &'a Registry, group: &str, version: &str) -> Vec<&'a ResourceInfo> {
    reg.all()
        .iter()
        .filter(|r| r.group == group && r.versions.iter().any(|v| v == version))
        .map(|r| &**r)
        .collect()
}

/// `components.schemas` of a group-version document: its kinds and every definition they
/// reference, transitively.
pub fn components(kinds: &[&ResourceInfo], version: &str) -> Map<String, Value> {
    let b = builtins();
    let mut out = Map::new();
    let mut todo = Vec::new();
    for r in kinds {
        let (name, s) = kind_schema(r, version);
        refs(&s, &mut todo);
        out.insert(name, s);
    }
    let mut seen: BTreeSet<String> = out.keys().cloned().collect();
    while let Some(n) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        if let Some(s) = b.schemas.get(&n) {
            refs(s, &mut todo);
            out.insert(n, s.clone());
        }
    }
    out.sort_keys();
    out
}

/// The hash of a group-version document (`?hash=` of its `serverRelativeURL`, its ETag):
/// kube-openapi's is the SHA-512 of the document's bytes, upper-case hex. This one digests
/// what the document is built from, the generated definitions and the kinds of the
/// group-version with their CRD schemas, so /openapi/v3 need not build every document.
pub fn hash(kinds: &[&ResourceInfo], version: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA512);
    ctx.update(GENERATED);
    ctx.update(version.as_bytes());
    for r in kinds {
        for part in [&r.group, &r.kind, &r.plural] {
            ctx.update(part.as_bytes());
            ctx.update(b"\0");
        }
        ctx.update(if r.namespaced { b"N" } else { b"C" });
        if let Some((_, s)) = r.schemas.iter().find(|(v, _)| v == version) {
            ctx.update(s.to_string().as_bytes());
        }
        ctx.update(b"\n");
    }
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// The fields of a built-in object that upstream's schema of its kind does not declare, as
/// kube-apiserver's strict decoding names them (`spec.template.spec.containers[0].bogus`,
/// apimachinery's `UnknownFieldPathError`), for `fieldValidation` Strict and Warn. Empty for
/// a kind with no generated schema (custom resources).
pub fn unknown_fields(group: &str, version: &str, kind: &str, obj: &Value) -> Vec<String> {
    let b = builtins();
    let key = (group.to_owned(), version.to_owned(), kind.to_owned());
    let Some(s) = b.by_gvk.get(&key).and_then(|n| b.schemas.get(n)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk_unknown(b, obj, s, "", &mut out);
    out
}

/// Upstream's schema of a built-in kind (`apiVersion` as objects carry it), for strategic
/// merge patch's list strategies (`patch::Schema`).
pub(crate) fn builtin_kind_schema(api_version: &str, kind: &str) -> Option<&'static Value> {
    let b = builtins();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let key = (group.to_owned(), version.to_owned(), kind.to_owned());
    b.by_gvk.get(&key).and_then(|n| b.schemas.get(n))
}

/// [`deref`] over the generated definitions.
pub(crate) fn resolve(s: &'static Value) -> &'static Value {
    deref(builtins(), s)
}

/// A schema with its `$ref` / single `allOf` followed (at most a few levels).
fn deref<'a>(b: &'a Builtins, mut s: &'a Value) -> &'a Value {
    for _ in 0..8 {
        if let Some(r) = s
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(REF_PREFIX))
        {
            match b.schemas.get(r) {
                Some(t) => s = t,
                None => return s,
            }
        } else if let Some([one]) = s.get("allOf").and_then(Value::as_array).map(Vec::as_slice)
            && s.get("properties").is_none()
        {
            s = one;
        } else {
            return s;
        }
    }
    s
}

fn walk_unknown(b: &Builtins, v: &Value, s: &Value, path: &str, out: &mut Vec<String>) {
    let s = deref(b, s);
    if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Object(m) => {
            let props = s.get("properties").and_then(Value::as_object);
            let extra = s.get("additionalProperties").filter(|a| a.is_object());
            if props.is_none() && extra.is_none() {
                // an open object (RawExtension, JSON, IntOrString...): nothing to check
                return;
            }
            for (k, x) in m {
                if let Some(p) = props.and_then(|p| p.get(k)) {
                    walk_unknown(b, x, p, &join(k), out);
                } else if let Some(a) = extra {
                    walk_unknown(b, x, a, &join(k), out);
                } else {
                    out.push(join(k));
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = s.get("items") {
                for (i, x) in a.iter().enumerate() {
                    walk_unknown(b, x, items, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` of every document the default registry serves names a schema of that
    /// document (kubectl explain resolves them within the group-version document).
    #[test]
    fn every_ref_of_every_document_resolves() {
        let reg = Registry::default();
        let mut gvs: BTreeSet<(String, String)> = BTreeSet::new();
        for r in reg.all() {
            for v in &r.versions {
                gvs.insert((r.group.clone(), v.clone()));
            }
        }
        assert!(gvs.len() > 20, "{gvs:?}");
        for (g, v) in gvs {
            let kinds = served(&reg, &g, &v);
            let doc = components(&kinds, &v);
            let mut all = Vec::new();
            refs(&Value::Object(doc.clone()), &mut all);
            for r in all {
                assert!(doc.contains_key(&r), "{g}/{v}: dangling $ref {r}");
            }
            for k in &kinds {
                let (name, s) = kind_schema(k, &v);
                assert!(doc.contains_key(&name), "{g}/{v}: {name}");
                // a built-in kind has upstream's schema, not the envelope
                if !k.custom
                    && builtins()
                        .by_gvk
                        .contains_key(&(g.clone(), v.clone(), k.kind.clone()))
                {
                    let meta = s["properties"]["metadata"].to_string();
                    assert!(meta.contains(OBJECT_META), "{name}: {meta}");
                }
            }
        }
    }

    #[test]
    fn built_in_kinds_have_upstream_schemas() {
        let b = builtins();
        assert!(b.schemas.len() > 400, "{}", b.schemas.len());
        let key = ("apps".to_owned(), "v1".to_owned(), "Deployment".to_owned());
        assert_eq!(b.by_gvk[&key], "io.k8s.api.apps.v1.Deployment");
        let se = &b.schemas["io.k8s.api.core.v1.SELinuxOptions"];
        assert_eq!(
            se["properties"]["level"]["description"],
            "Level is SELinux level label that applies to the container."
        );
    }

    #[test]
    fn unknown_fields_of_a_built_in_kind_are_named_as_strict_decoding_names_them() {
        let d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"a": "b"}, "bogusMeta": 1},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [
                    {"name": "c", "image": "i", "resources": {"limits": {"cpu": "1"}}},
                    {"name": "d", "image": "i", "bogus": 1, "ports": [{"containerPort": 80, "nope": true}]},
                ]},
            }},
            "status": {"replicas": 1},
        });
        assert_eq!(
            unknown_fields("apps", "v1", "Deployment", &d),
            [
                "metadata.bogusMeta",
                "spec.template.spec.containers[1].bogus",
                "spec.template.spec.containers[1].ports[0].nope",
            ]
        );
        // an open field (a ConfigMap's data map, a CRD's schema) is not checked further
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}});
        assert!(unknown_fields("", "v1", "ConfigMap", &cm).is_empty());
        assert!(unknown_fields("example.com", "v1", "Widget", &cm).is_empty());
    }

    #[test]
    fn crd_schemas_are_named_as_kube_apiserver_names_them() {
        assert_eq!(
            crd_name("tekton.dev", "v1", "PipelineRun"),
            "dev.tekton.v1.PipelineRun"
        );
    }
}
