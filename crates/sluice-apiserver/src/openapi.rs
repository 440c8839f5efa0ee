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
    fn crd_schemas_are_named_as_kube_apiserver_names_them() {
        assert_eq!(
            crd_name("tekton.dev", "v1", "PipelineRun"),
            "dev.tekton.v1.PipelineRun"
        );
    }
}
