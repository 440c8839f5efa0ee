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
        let mut schemas = match flate2::read::GzDecoder::new(GENERATED).read_to_string(&mut text) {
            Ok(_) => serde_json::from_str::<Map<String, Value>>(&text).unwrap_or_default(),
            Err(_) => Map::new(),
        };
        // k8s-openapi leaves out the two `retainKeys` patch strategies of the built-in
        // types, which kube-apiserver's documents carry (api/openapi-spec/swagger.json;
        // apps/v1 types.go DeploymentSpec.Strategy `patchStrategy:"retainKeys"`, core/v1
        // types.go PodSpec.Volumes `patchStrategy:"merge,retainKeys"`): kubectl computes its
        // strategic merge patches from /openapi/v2 and adds `$retainKeys` only where they say
        for (def, field, strategy) in [
            (
                "io.k8s.api.apps.v1.DeploymentSpec",
                "strategy",
                "retainKeys",
            ),
            ("io.k8s.api.core.v1.PodSpec", "volumes", "merge,retainKeys"),
        ] {
            if let Some(p) = schemas
                .get_mut(def)
                .and_then(|d| d.pointer_mut(&format!("/properties/{field}")))
                .and_then(Value::as_object_mut)
            {
                p.insert("x-kubernetes-patch-strategy".into(), json!(strategy));
            }
        }
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

/// A schema of the v3 documents as Swagger 2.0 writes it (kube-openapi keeps one model and
/// renders both): `#/definitions/` refs, a ref with its own description as a `$ref` with
/// siblings (v2 has no `allOf` wrapping there), `Quantity`'s `oneOf` as `type: string`,
/// IntOrString as `type: string, format: int-or-string`, and the OpenAPI 3 keywords
/// Swagger 2.0 lacks (`nullable`, `oneOf`, `anyOf`, `not`) dropped, as apiextensions
/// does for a CRD's v2 schema.
fn to_v2(v: &Value) -> Value {
    let Value::Object(m) = v else {
        return v.clone();
    };
    let mut out = Map::new();
    for (k, x) in m {
        match k.as_str() {
            "$ref" => {
                let r = x.as_str().unwrap_or_default();
                let name = r.strip_prefix(REF_PREFIX).unwrap_or(r);
                out.insert(k.clone(), json!(format!("#/definitions/{name}")));
            }
            "allOf" => match x.as_array().map(Vec::as_slice) {
                Some([one]) if one.get("$ref").is_some() => {
                    if let Value::Object(o) = to_v2(one) {
                        out.extend(o);
                    }
                }
                _ => {
                    let all = x.as_array().into_iter().flatten().map(to_v2).collect();
                    out.insert(k.clone(), Value::Array(all));
                }
            },
            "oneOf" | "anyOf" => {
                let string = x
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|t| t.get("type").and_then(Value::as_str) == Some("string"));
                if string && !m.contains_key("type") {
                    out.insert("type".into(), json!("string"));
                }
            }
            "nullable" | "not" => {}
            "x-kubernetes-int-or-string" if x == &Value::Bool(true) => {
                out.insert("type".into(), json!("string"));
                out.insert("format".into(), json!("int-or-string"));
            }
            // maps of names to schemas keep their names
            "properties" | "patternProperties" | "definitions" => {
                let props = x
                    .as_object()
                    .map(|p| p.iter().map(|(n, s)| (n.clone(), to_v2(s))).collect())
                    .unwrap_or_default();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" | "additionalProperties" | "additionalItems" => {
                out.insert(k.clone(), to_v2(x));
            }
            _ => {
                out.insert(k.clone(), x.clone());
            }
        }
    }
    Value::Object(out)
}

/// The ETag of `/openapi/v2`: a digest of every group-version document's hash.
pub fn hash_v2(reg: &Registry) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA512);
    let mut gvs = vec![(String::new(), "v1".to_owned())];
    for (g, vs) in reg.groups() {
        gvs.extend(vs.into_iter().map(|v| (g.clone(), v)));
    }
    for (g, v) in gvs {
        ctx.update(g.as_bytes());
        ctx.update(v.as_bytes());
        ctx.update(hash(&served(reg, &g, &v), &v).as_bytes());
    }
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// `/openapi/v2`: one Swagger 2.0 document of every served kind, generated from the same
/// definitions as the v3 documents (`x-kubernetes-group-version-kind` on the kinds, the list
/// and patch extensions), with the resource paths: each operation carries
/// `x-kubernetes-action` and `x-kubernetes-group-version-kind`, and PATCH `consumes` the
/// patch types the server accepts for the kind (strategic merge patch for built-in kinds
/// only), which is where kubectl's v2 client looks them up (`GetConsumes`).
pub fn swagger_v2(reg: &Registry, version_info: &str) -> Value {
    let b = builtins();
    let mut defs = Map::new();
    let mut todo = Vec::new();
    let mut paths = Map::new();
    let params_write = json!([
        {"name": "dryRun", "in": "query", "type": "string", "uniqueItems": true,
         "description": "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed"},
        {"name": "fieldManager", "in": "query", "type": "string", "uniqueItems": true},
        {"name": "fieldValidation", "in": "query", "type": "string", "uniqueItems": true,
         "description": "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict"},
    ]);
    for r in reg.all() {
        for version in &r.versions {
            let (name, s) = kind_schema(r, version);
            refs(&s, &mut todo);
            defs.insert(name.clone(), s);
            let gvk = json!({"group": r.group, "version": version, "kind": r.kind});
            let prefix = if r.group.is_empty() {
                format!("/api/{version}")
            } else {
                format!("/apis/{}/{version}", r.group)
            };
            let base = if r.namespaced {
                format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
            } else {
                format!("{prefix}/{}", r.plural)
            };
            let body_ref = json!({"$ref": format!("#/definitions/{name}")});
            let ok = json!({"200": {"description": "OK", "schema": body_ref}});
            let id = |verb: &str| {
                let g: String = r
                    .group
                    .split('.')
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .enumerate()
                    .map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c })
                    .collect();
                let v: String = version
                    .chars()
                    .enumerate()
                    .map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c })
                    .collect();
                let scope = if r.namespaced { "Namespaced" } else { "" };
                format!(
                    "{verb}{}{v}{scope}{}",
                    if g.is_empty() { "Core".into() } else { g },
                    r.kind
                )
            };
            let op = |verb: &str, action: &str, extra: Value| {
                let mut o = json!({
                    "operationId": id(verb),
                    "produces": ["application/json", "application/yaml"],
                    "schemes": ["https"],
                    "tags": [if r.group.is_empty() { format!("core_{version}") } else { format!("{}_{version}", r.group.replace('.', "_")) }],
                    "responses": ok,
                    "x-kubernetes-action": action,
                    "x-kubernetes-group-version-kind": gvk,
                });
                if let (Value::Object(o), Value::Object(e)) = (&mut o, extra) {
                    o.extend(e);
                }
                o
            };
            let body = |required: bool| {
                let mut p = params_write.as_array().cloned().unwrap_or_default();
                p.insert(
                    0,
                    json!({"name": "body", "in": "body", "required": required, "schema": body_ref}),
                );
                Value::Array(p)
            };
            let mut patch_types = vec![
                "application/json-patch+json",
                "application/merge-patch+json",
            ];
            if !r.custom {
                patch_types.push("application/strategic-merge-patch+json");
            }
            patch_types.push("application/apply-patch+yaml");
            let patch_params = {
                let mut p = params_write.as_array().cloned().unwrap_or_default();
                p.insert(0, json!({"name": "body", "in": "body", "required": true,
                    "schema": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}));
                p.push(
                    json!({"name": "force", "in": "query", "type": "boolean", "uniqueItems": true}),
                );
                Value::Array(p)
            };
            paths.insert(
                base.clone(),
                json!({
                    "get": op("list", "list", json!({})),
                    "post": op("create", "post", json!({"consumes": ["*/*"], "parameters": body(true)})),
                }),
            );
            paths.insert(
                format!("{base}/{{name}}"),
                json!({
                    "get": op("read", "get", json!({})),
                    "put": op("replace", "put", json!({"consumes": ["*/*"], "parameters": body(true)})),
                    "patch": op("patch", "patch", json!({"consumes": patch_types, "parameters": patch_params})),
                    "delete": op("delete", "delete", json!({"consumes": ["*/*"]})),
                }),
            );
        }
    }
    let mut seen: BTreeSet<String> = defs.keys().cloned().collect();
    while let Some(n) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        if let Some(s) = b.schemas.get(&n) {
            refs(s, &mut todo);
            defs.insert(n, s.clone());
        }
    }
    defs.insert(
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch".into(),
        json!({"description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.", "type": "object"}),
    );
    defs.sort_keys();
    let definitions: Map<String, Value> = defs.iter().map(|(k, v)| (k.clone(), to_v2(v))).collect();
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": version_info},
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {"BearerToken": {"description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey"}},
        "security": [{"BearerToken": []}],
    })
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
    fn swagger_v2_is_one_self_contained_document_of_every_served_kind() {
        let reg = Registry::default();
        let doc = swagger_v2(&reg, "v1.32.0");
        assert_eq!(doc["swagger"], "2.0");
        let defs = doc["definitions"].as_object().expect("definitions");
        // upstream's retainKeys strategies (api/openapi-spec/swagger.json), which kubectl
        // turns into `$retainKeys` in the patches of `kubectl apply`
        assert_eq!(
            defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]["x-kubernetes-patch-strategy"],
            "retainKeys"
        );
        assert_eq!(
            defs["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"]["x-kubernetes-patch-strategy"],
            "merge,retainKeys"
        );
        // every `$ref` names a definition of the document, in Swagger 2.0's form
        fn v2_refs(v: &Value, out: &mut Vec<String>) {
            let Value::Object(m) = v else { return };
            assert!(m.get("allOf").is_none() && m.get("oneOf").is_none(), "{v}");
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                out.push(r.to_owned());
            }
            for k in ["properties", "patternProperties"] {
                if let Some(p) = m.get(k).and_then(Value::as_object) {
                    p.values().for_each(|x| v2_refs(x, out));
                }
            }
            for k in ["items", "additionalProperties", "schema"] {
                if let Some(x) = m.get(k) {
                    v2_refs(x, out);
                }
            }
        }
        let mut all = Vec::new();
        defs.values().for_each(|d| v2_refs(d, &mut all));
        for item in doc["paths"].as_object().expect("paths").values() {
            for op in item.as_object().expect("operations").values() {
                for r in op["responses"]
                    .as_object()
                    .into_iter()
                    .flat_map(|r| r.values())
                {
                    v2_refs(r, &mut all);
                }
                for p in op["parameters"].as_array().into_iter().flatten() {
                    v2_refs(p, &mut all);
                }
            }
        }
        assert!(all.len() > 1000);
        for r in all {
            let name = r.strip_prefix("#/definitions/").expect("v2 ref");
            assert!(defs.contains_key(name), "dangling {r}");
        }
        let deploy = &defs["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            deploy["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
        );
        assert_eq!(
            deploy["properties"]["spec"]["$ref"],
            "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
        );
        let c = &defs["io.k8s.api.core.v1.Container"]["properties"];
        assert_eq!(c["ports"]["x-kubernetes-patch-merge-key"], "containerPort");
        assert_eq!(
            defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"],
            "string"
        );
        let ios = &defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
        assert_eq!(
            (&ios["type"], &ios["format"]),
            (&json!("string"), &json!("int-or-string"))
        );
        // every served kind, built-in or custom, with its operations
        for r in reg.all() {
            for v in &r.versions {
                let (name, _) = kind_schema(r, v);
                assert!(defs.contains_key(&name), "{name}");
            }
        }
        let p = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(p["x-kubernetes-action"], "patch");
        assert_eq!(p["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(p["consumes"].to_string().contains("strategic-merge-patch"));
        // a custom resource's PATCH takes no strategic merge patch (apiextensions-apiserver)
        let mut with_crd = Registry::default();
        with_crd.upsert_crd(&json!({"apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition", "metadata": {"name": "gadgets.example.com"},
            "spec": {"group": "example.com", "scope": "Cluster",
                "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object"}}}]}}));
        let doc = swagger_v2(&with_crd, "v1.32.0");
        let p = &doc["paths"]["/apis/example.com/v1/gadgets/{name}"]["patch"];
        assert_eq!(p["x-kubernetes-group-version-kind"]["kind"], "Gadget");
        assert!(!p["consumes"].to_string().contains("strategic-merge-patch"));
    }

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
