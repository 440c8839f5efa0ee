//! `src/openapi_gen.json.gz` — the OpenAPI v3 component schemas of the built-in kinds that
//! `/openapi/v3/...` serves and `kubectl explain` reads — is generated from k8s-openapi 0.25's
//! v1_32 sources. k8s-openapi generates, for every type of kube-apiserver's OpenAPI spec, an
//! `impl crate::schemars::JsonSchema` (behind its `schemars` feature) whose body spells out
//! upstream's schema: descriptions, types, formats, required fields, `$ref`s to the other
//! definitions by their upstream names (`io.k8s.api.apps.v1.Deployment`). schemars 0.8 is not
//! a crate this workspace builds, so this test reads those impls as Rust syntax (syn) and
//! evaluates the schemars expressions into JSON, instead of compiling them.
//!
//! It keeps the definitions reachable from the GA top-level resources (what the server serves,
//! see builtin_table.rs), writes `$ref`s as kube-apiserver's v3 documents do
//! (`#/components/schemas/NAME`, wrapped in `allOf` when the property has its own
//! description), and adds `x-kubernetes-group-version-kind` to every resource kind.
//!
//! It fails when the committed file is stale:
//! `SLUICE_REGEN=1 cargo test -p sluice-apiserver --test openapi_schemas` rewrites it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;

#[path = "support/k8s_src.rs"]
mod k8s_src;
use k8s_src::{k8s_openapi_src, walk};

use serde_json::{Map, Value, json};
use syn::{Expr, ImplItem, Item, Lit, Stmt};

/// The `Field::Key_IDENT` arms of a file's Deserialize impls: Rust ident -> JSON name.
fn json_names(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let l = line.trim();
        let Some((name, rest)) = l.split_once(" => Field::Key_") else {
            continue;
        };
        let (Some(name), Some(ident)) = (
            name.strip_prefix('"').and_then(|n| n.strip_suffix('"')),
            rest.strip_suffix(','),
        ) else {
            continue;
        };
        out.insert(ident.to_owned(), name.to_owned());
    }
    out
}

/// `&mut self.FIELD` -> FIELD
fn self_field(e: &Expr) -> Option<String> {
    let Expr::Reference(r) = e else { return None };
    let Expr::Field(f) = &*r.expr else {
        return None;
    };
    match &f.member {
        syn::Member::Named(n) => Some(n.to_string()),
        syn::Member::Unnamed(_) => None,
    }
}

/// The merge strategy calls of an `impl DeepMerge`: field ident -> strategy.
fn merges_of(imp: &syn::ItemImpl) -> BTreeMap<String, Merge> {
    let mut out = BTreeMap::new();
    for i in &imp.items {
        let ImplItem::Fn(f) = i else { continue };
        for st in &f.block.stmts {
            let Stmt::Expr(Expr::Call(c), _) = st else {
                continue;
            };
            let Expr::Path(p) = &*c.func else { continue };
            let segs: Vec<String> = p
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            if !segs.iter().any(|s| s == "merge_strategies") {
                continue;
            }
            let Some(field) = c.args.first().and_then(self_field) else {
                continue;
            };
            let what = segs[segs.len().saturating_sub(2)..].join("::");
            let m = match what.as_str() {
                "list::atomic" => Merge::ListAtomic,
                "list::set" => Merge::ListSet,
                "map::atomic" => Merge::MapAtomic,
                "list::map" => {
                    // &[|lhs, rhs| lhs.KEY == rhs.KEY, ...]
                    let mut keys = Vec::new();
                    if let Some(Expr::Reference(r)) = c.args.iter().nth(2)
                        && let Expr::Array(a) = &*r.expr
                    {
                        for k in &a.elems {
                            if let Expr::Closure(cl) = k
                                && let Expr::Binary(b) = &*cl.body
                                && let Expr::Field(lf) = &*b.left
                                && let syn::Member::Named(n) = &lf.member
                            {
                                keys.push(n.to_string());
                            }
                        }
                    }
                    assert!(!keys.is_empty(), "list::map of {field} without keys");
                    Merge::ListMap(keys)
                }
                _ => continue,
            };
            out.insert(field, m);
        }
    }
    out
}

/// GA versions (v1, v2), as builtin_table.rs keeps them.
fn is_ga(v: &str) -> bool {
    v.strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// One `impl crate::schemars::JsonSchema` of the sources.
struct Def {
    /// upstream's definition name (`schema_name()`)
    name: String,
    /// the schema, `$ref`s still naming Rust paths (`rust:crate::api::core::v1::Container`)
    schema: Value,
    /// (group, version, kind, top-level served) of the file's `impl crate::Resource`
    gvk: Option<(String, String, String, bool)>,
    /// the merge strategy of each list or map field (JSON name) of its `impl DeepMerge`
    merges: BTreeMap<String, Merge>,
    /// Rust field ident -> JSON name, of the file's types
    idents: BTreeMap<String, String>,
}

/// A field's `crate::merge_strategies::*` call in k8s-openapi's `impl DeepMerge`, which its
/// generator derives from kube-apiserver's OpenAPI spec (k8s-openapi-codegen-common,
/// swagger20/definitions.rs): `x-kubernetes-patch-merge-key` K gives `list::map` by K,
/// `x-kubernetes-patch-strategy: merge` without a key `list::set`; a field with neither takes
/// `x-kubernetes-list-type` / `x-kubernetes-list-map-keys` (default atomic) and
/// `x-kubernetes-map-type`.
#[derive(Debug, Clone, PartialEq)]
enum Merge {
    /// `list::map` by these fields (Rust idents until [`name_keys`] names them as JSON does)
    ListMap(Vec<String>),
    ListSet,
    ListAtomic,
    MapAtomic,
}

type Env = BTreeMap<String, Value>;

fn last_segment(e: &Expr) -> String {
    match e {
        Expr::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn type_path(t: &syn::Type) -> Result<String, String> {
    match t {
        syn::Type::Path(p) => Ok(p
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect::<Vec<_>>()
            .join("::")),
        _ => Err("subschema_for of a non-path type".into()),
    }
}

/// Sets a schemars field on the JSON schema being built: the nested schemars structs
/// (Metadata, ObjectValidation, ArrayValidation, SubschemaValidation) and `extensions` are
/// flattened into the schema object as JSON Schema has them.
fn apply(out: &mut Map<String, Value>, field: &str, v: Value) -> Result<(), String> {
    let key = match field {
        "metadata" | "object" | "array" | "subschemas" | "extensions" => {
            let Value::Object(m) = v else {
                return Err(format!("{field}: not a struct"));
            };
            for (k, v) in m {
                if field == "extensions" {
                    out.insert(k, v);
                } else {
                    apply(out, &k, v)?;
                }
            }
            return Ok(());
        }
        "instance_type" => "type",
        "additional_properties" => "additionalProperties",
        "one_of" => "oneOf",
        "description"
        | "format"
        | "properties"
        | "required"
        | "items"
        | "type"
        | "oneOf"
        | "additionalProperties"
        | "$ref" => field,
        other => return Err(format!("unknown schemars field `{other}`")),
    };
    out.insert(key.to_owned(), v);
    Ok(())
}

fn eval(e: &Expr, env: &mut Env) -> Result<Value, String> {
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Str(s) => Ok(Value::String(s.value())),
            Lit::Bool(b) => Ok(Value::Bool(b.value)),
            _ => Err("unexpected literal".into()),
        },
        Expr::Paren(p) => eval(&p.expr, env),
        Expr::Group(g) => eval(&g.expr, env),
        Expr::Path(p) => {
            let name = last_segment(e);
            if p.path.segments.len() == 1
                && let Some(v) = env.get(&name)
            {
                return Ok(v.clone());
            }
            // InstanceType::{Object, Array, String, Integer, Number, Boolean}
            Ok(Value::String(name.to_lowercase()))
        }
        Expr::Call(c) => {
            let f = last_segment(&c.func);
            match (f.as_str(), c.args.len()) {
                ("Some" | "new" | "Object" | "Single" | "Bool", 1) => eval(&c.args[0], env),
                _ => Err(format!("unexpected call `{f}`")),
            }
        }
        Expr::MethodCall(m) => match m.method.to_string().as_str() {
            "into" | "into_object" => eval(&m.receiver, env),
            "subschema_for" => {
                let ty = m
                    .turbofish
                    .as_ref()
                    .and_then(|t| t.args.first())
                    .ok_or("subschema_for without a type")?;
                let syn::GenericArgument::Type(t) = ty else {
                    return Err("subschema_for of a non-type".into());
                };
                Ok(json!({"$ref": format!("rust:{}", type_path(t)?)}))
            }
            other => Err(format!("unexpected method `{other}`")),
        },
        Expr::Struct(s) => {
            let mut out = Map::new();
            for f in &s.fields {
                let syn::Member::Named(name) = &f.member else {
                    return Err("unnamed struct field".into());
                };
                let v = eval(&f.expr, env)?;
                apply(&mut out, &name.to_string(), v)?;
            }
            Ok(Value::Object(out))
        }
        Expr::Array(a) => {
            let pairs = !a.elems.is_empty() && a.elems.iter().all(|x| matches!(x, Expr::Tuple(_)));
            if pairs {
                let mut out = Map::new();
                for x in &a.elems {
                    let Expr::Tuple(t) = x else { continue };
                    if t.elems.len() != 2 {
                        return Err("tuple of other than two".into());
                    }
                    let Value::String(k) = eval(&t.elems[0], env)? else {
                        return Err("non-string key".into());
                    };
                    let v = eval(&t.elems[1], env)?;
                    out.insert(k, v);
                }
                Ok(Value::Object(out))
            } else {
                a.elems
                    .iter()
                    .map(|x| eval(x, env))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
        }
        Expr::Block(b) => eval_block(&b.block, env),
        // `std::vec![schema, schema]` (the `oneOf` of JSONSchemaPropsOr*)
        Expr::Macro(m) if m.mac.path.segments.last().is_some_and(|s| s.ident == "vec") => {
            use syn::punctuated::Punctuated;
            let items = m
                .mac
                .parse_body_with(Punctuated::<Expr, syn::Token![,]>::parse_terminated)
                .map_err(|e| e.to_string())?;
            items
                .iter()
                .map(|x| eval(x, env))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        _ => Err("unexpected expression".into()),
    }
}

/// `{ let mut schema_obj = __gen.subschema_for::<T>().into_object(); schema_obj.metadata = ...;
/// Schema::Object(schema_obj) }`
fn eval_block(b: &syn::Block, env: &mut Env) -> Result<Value, String> {
    let mut last = Value::Null;
    for s in &b.stmts {
        match s {
            Stmt::Local(l) => {
                let syn::Pat::Ident(id) = &l.pat else {
                    return Err("let of a pattern".into());
                };
                let init = l.init.as_ref().ok_or("let without a value")?;
                let v = eval(&init.expr, env)?;
                env.insert(id.ident.to_string(), v);
            }
            Stmt::Expr(Expr::Assign(a), _) => {
                let Expr::Field(f) = &*a.left else {
                    return Err("assignment to other than a field".into());
                };
                let var = last_segment(&f.base);
                let syn::Member::Named(field) = &f.member else {
                    return Err("assignment to an unnamed field".into());
                };
                let v = eval(&a.right, env)?;
                let Some(Value::Object(obj)) = env.get_mut(&var) else {
                    return Err(format!("assignment to unknown `{var}`"));
                };
                apply(obj, &field.to_string(), v)?;
            }
            Stmt::Expr(e, None) => last = eval(e, env)?,
            _ => return Err("unexpected statement".into()),
        }
    }
    Ok(last)
}

/// The string a `fn NAME() -> String { "...".into() }` returns.
fn fn_string(item: &syn::ImplItemFn) -> Option<String> {
    match item.block.stmts.last()? {
        Stmt::Expr(e, None) => match eval(e, &mut Env::new()).ok()? {
            Value::String(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

fn konst(imp: &syn::ItemImpl, name: &str) -> Option<String> {
    imp.items.iter().find_map(|i| match i {
        ImplItem::Const(c) if c.ident == name => match &c.expr {
            Expr::Lit(l) => match &l.lit {
                Lit::Str(s) => Some(s.value()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    })
}

fn impl_of(imp: &syn::ItemImpl) -> (String, String) {
    let tr = imp
        .trait_
        .as_ref()
        .and_then(|(_, p, _)| p.segments.last())
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    let ty = type_path(&imp.self_ty).unwrap_or_default();
    (tr, ty)
}

/// Every JsonSchema impl of the sources, by Rust path (`crate::api::core::v1::Container`).
fn parse_defs(src: &Path) -> BTreeMap<String, Def> {
    let mut files = Vec::new();
    walk(src, &mut files);
    files.sort();
    let mut out = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable source");
        if !text.contains("JsonSchema for") {
            continue;
        }
        let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let rel = f.strip_prefix(src).expect("under src");
        let module: Vec<String> = rel
            .parent()
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let mut gvk = None;
        let mut defs = Vec::new();
        let names = json_names(&text);
        let mut merges = BTreeMap::new();
        for item in &file.items {
            let Item::Impl(imp) = item else { continue };
            let (tr, ty) = impl_of(imp);
            if tr == "DeepMerge" {
                for (ident, m) in merges_of(imp) {
                    let name = names.get(&ident).cloned().unwrap_or_else(|| {
                        panic!("{}: no JSON name of field {ident}", f.display())
                    });
                    merges.insert(name, m);
                }
            } else if tr == "Resource" {
                let scope_sub = imp.items.iter().any(|i| match i {
                    ImplItem::Type(t) => {
                        type_path(&t.ty).is_ok_and(|p| p.ends_with("SubResourceScope"))
                    }
                    _ => false,
                });
                let (Some(g), Some(v), Some(k), Some(seg)) = (
                    konst(imp, "GROUP"),
                    konst(imp, "VERSION"),
                    konst(imp, "KIND"),
                    konst(imp, "URL_PATH_SEGMENT"),
                ) else {
                    continue;
                };
                let served = is_ga(&v) && !seg.is_empty() && !scope_sub;
                gvk = Some((g, v, k, served));
            } else if tr == "JsonSchema" {
                let mut name = None;
                let mut schema = None;
                for i in &imp.items {
                    let ImplItem::Fn(func) = i else { continue };
                    match func.sig.ident.to_string().as_str() {
                        "schema_name" => name = fn_string(func),
                        "json_schema" => {
                            schema = Some(eval_block(&func.block, &mut Env::new()).unwrap_or_else(
                                |e| panic!("{}: impl JsonSchema for {ty}: {e}", f.display()),
                            ))
                        }
                        _ => {}
                    }
                }
                let name = name.unwrap_or_else(|| panic!("{}: no schema_name", f.display()));
                let schema = schema.unwrap_or_else(|| panic!("{}: no json_schema", f.display()));
                defs.push((format!("crate::{}::{ty}", module.join("::")), name, schema));
            }
        }
        for (path, name, schema) in defs {
            out.insert(
                path,
                Def {
                    name,
                    schema,
                    gvk: gvk.clone(),
                    merges: merges.clone(),
                    idents: names.clone(),
                },
            );
        }
    }
    out
}

/// Rewrites `rust:` refs to `#/components/schemas/NAME`; a ref with siblings (a property's
/// own description) becomes `allOf: [{$ref}]` plus the siblings, as kube-apiserver's v3
/// documents write it. Collects the names referenced.
fn resolve(
    v: &mut Value,
    names: &BTreeMap<String, String>,
    refs: &mut BTreeSet<String>,
) -> Result<(), String> {
    match v {
        Value::Object(m) => {
            if let Some(path) = m
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("rust:"))
            {
                let name = names
                    .get(path)
                    .ok_or_else(|| format!("no definition for {path}"))?
                    .clone();
                refs.insert(name.clone());
                let r = json!(format!("#/components/schemas/{name}"));
                if m.len() == 1 {
                    m.insert("$ref".into(), r);
                } else {
                    m.remove("$ref");
                    m.insert("allOf".into(), json!([{"$ref": r}]));
                }
            }
            for (_, x) in m.iter_mut() {
                resolve(x, names, refs)?;
            }
        }
        Value::Array(a) => {
            for x in a {
                resolve(x, names, refs)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Sorts object keys so the output does not depend on serde_json's `preserve_order`.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let b: BTreeMap<String, Value> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(b.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        x => x,
    }
}

/// The list fields whose k8s-openapi strategy is not their strategic merge patch strategy,
/// as `definition.property`: k8s-openapi gives a field with `x-kubernetes-list-type: map`
/// or `set` and no `x-kubernetes-patch-strategy` the same `list::map`/`list::set` as a
/// field with `patchStrategy:"merge"` (see [`Merge`]), and upstream's strategic merge patch
/// replaces such a list whole. Found, not guessed: the e2e test `apiserver_patch` patches
/// every list of every served kind with real kubectl (`kubectl patch --local --type
/// strategic`, which merges with the Go types' `patchStrategy` tags compiled into it) and
/// fails on any list this table gets wrong.
const NOT_PATCH_MERGED: &[&str] = &[
    "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBindingSpec.validationActions",
    "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyStatus.conditions",
    "io.k8s.api.batch.v1.UncountedTerminatedPods.failed",
    "io.k8s.api.batch.v1.UncountedTerminatedPods.succeeded",
    "io.k8s.api.certificates.v1.CertificateSigningRequestStatus.conditions",
    "io.k8s.api.core.v1.ResourceRequirements.claims",
    "io.k8s.api.storage.v1.CSIDriverSpec.volumeLifecycleModes",
];

/// Adds to `schema` (a definition, refs still `rust:` paths) the list and map extensions
/// kube-apiserver's spec carries, from the definition's `impl DeepMerge`:
/// `x-kubernetes-list-type` (`map` with `x-kubernetes-list-map-keys`, `set`, `atomic`),
/// `x-kubernetes-map-type: atomic`, and for the lists strategic merge patch merges,
/// `x-kubernetes-patch-strategy: merge` with `x-kubernetes-patch-merge-key` (keyed lists).
/// A `list::map` of several keys comes from `x-kubernetes-list-map-keys` alone (a patch merge
/// key is one field), so it is never patch-merged.
fn add_merge_extensions(d: &Def, schema: &mut Value, defs: &BTreeMap<String, Def>) {
    for (prop, m) in &d.merges {
        let Some(p) = schema
            .get_mut("properties")
            .and_then(|ps| ps.get_mut(prop))
            .and_then(Value::as_object_mut)
        else {
            panic!("{}: no property {prop}", d.name)
        };
        let full = format!("{}.{prop}", d.name);
        let patched = !NOT_PATCH_MERGED.contains(&full.as_str());
        match m {
            Merge::ListAtomic => {
                p.insert("x-kubernetes-list-type".into(), json!("atomic"));
            }
            Merge::MapAtomic => {
                p.insert("x-kubernetes-map-type".into(), json!("atomic"));
            }
            Merge::ListSet => {
                p.insert("x-kubernetes-list-type".into(), json!("set"));
                if patched {
                    p.insert("x-kubernetes-patch-strategy".into(), json!("merge"));
                }
            }
            Merge::ListMap(keys) => {
                let item = p
                    .get("items")
                    .and_then(|i| i.get("$ref"))
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("rust:"))
                    .and_then(|r| defs.get(r))
                    .unwrap_or_else(|| panic!("{}.{prop}: list::map of no known item", d.name));
                let keys: Vec<String> = keys
                    .iter()
                    .map(|k| {
                        item.idents.get(k).cloned().unwrap_or_else(|| {
                            panic!("{}.{prop}: key {k} not a field of {}", d.name, item.name)
                        })
                    })
                    .collect();
                p.insert("x-kubernetes-list-type".into(), json!("map"));
                p.insert("x-kubernetes-list-map-keys".into(), json!(keys));
                if let [key] = keys.as_slice()
                    && patched
                {
                    p.insert("x-kubernetes-patch-merge-key".into(), json!(key));
                    p.insert("x-kubernetes-patch-strategy".into(), json!("merge"));
                }
            }
        }
    }
}

/// The generated document: `{NAME: schema}` of every definition reachable from a served kind.
fn generate(src: &Path) -> String {
    let defs = parse_defs(src);
    let names: BTreeMap<String, String> = defs
        .iter()
        .map(|(p, d)| (p.clone(), d.name.clone()))
        .collect();
    let mut by_name: BTreeMap<String, (Value, BTreeSet<String>)> = BTreeMap::new();
    let mut roots = Vec::new();
    for d in defs.values() {
        let mut schema = d.schema.clone();
        add_merge_extensions(d, &mut schema, &defs);
        let mut refs = BTreeSet::new();
        resolve(&mut schema, &names, &mut refs).unwrap_or_else(|e| panic!("{}: {e}", d.name));
        if let Some((g, v, k, served)) = &d.gvk {
            schema["x-kubernetes-group-version-kind"] =
                json!([{"group": g, "kind": k, "version": v}]);
            if *served {
                roots.push(d.name.clone());
            }
        }
        // apimachinery's Quantity declares `OpenAPIV3OneOfTypes() = ["string", "number"]`
        // (pkg/api/resource/quantity.go), so kube-apiserver's v3 documents give it
        // `oneOf` and no `type` (k8s-openapi keeps the v2 `type: string`); kubectl explain
        // then prints `map[string]Quantity` for resource limits.
        if d.name == "io.k8s.apimachinery.pkg.api.resource.Quantity"
            && let Some(m) = schema.as_object_mut()
        {
            m.remove("type");
            m.insert(
                "oneOf".into(),
                json!([{"type": "string"}, {"type": "number"}]),
            );
        }
        by_name.insert(d.name.clone(), (schema, refs));
    }
    let mut keep = BTreeSet::new();
    let mut todo = roots;
    while let Some(n) = todo.pop() {
        if !keep.insert(n.clone()) {
            continue;
        }
        if let Some((_, refs)) = by_name.get(&n) {
            todo.extend(refs.iter().cloned());
        }
    }
    let out: Map<String, Value> = keep
        .iter()
        .filter_map(|n| by_name.get(n).map(|(s, _)| (n.clone(), s.clone())))
        .collect();
    let mut text = serde_json::to_string(&sorted(Value::Object(out))).expect("serializes");
    text.push('\n');
    text
}

fn gz(text: &str) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(text.as_bytes()).expect("compresses");
    enc.finish().expect("compresses")
}

#[test]
fn the_generated_schemas_are_current() {
    let src = k8s_openapi_src()
        .expect("k8s-openapi 0.25.0's sources under $CARGO_HOME/registry/src (run `cargo fetch`)");
    let text = generate(&src);
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/openapi_gen.json.gz");
    if std::env::var_os("SLUICE_REGEN").is_some() {
        std::fs::write(&file, gz(&text)).expect("writes src/openapi_gen.json.gz");
    }
    let mut committed = String::new();
    if let Ok(bytes) = std::fs::read(&file) {
        let _ = flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut committed);
    }
    assert!(
        committed == text,
        "src/openapi_gen.json.gz is stale: run SLUICE_REGEN=1 cargo test -p sluice-apiserver --test openapi_schemas"
    );
    let doc: Value = serde_json::from_str(&text).expect("json");
    let deploy = &doc["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        deploy["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    assert_eq!(
        deploy["properties"]["spec"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"
    );
    assert_eq!(
        doc["io.k8s.api.apps.v1.DeploymentSpec"]["required"],
        json!(["selector", "template"])
    );
    assert_eq!(
        doc["io.k8s.api.core.v1.Container"]["properties"]["ports"]["items"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.ContainerPort"
    );
    // the patch strategies and merge keys of kube-apiserver's spec (k8s.io/api core/v1
    // types.go: `patchStrategy:"merge" patchMergeKey:"name"` on containers...)
    let spec = &doc["io.k8s.api.core.v1.PodSpec"]["properties"];
    assert_eq!(spec["containers"]["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(spec["containers"]["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(spec["volumes"]["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(spec["tolerations"]["x-kubernetes-list-type"], "atomic");
    assert!(
        spec["tolerations"]
            .get("x-kubernetes-patch-strategy")
            .is_none()
    );
    let c = &doc["io.k8s.api.core.v1.Container"]["properties"];
    assert_eq!(c["ports"]["x-kubernetes-patch-merge-key"], "containerPort");
    assert_eq!(c["env"]["x-kubernetes-patch-merge-key"], "name");
    let meta = &doc["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"];
    assert_eq!(meta["finalizers"]["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(meta["finalizers"]["x-kubernetes-list-type"], "set");
    // every correction names a list of a served definition, which is then not patch-merged
    for full in NOT_PATCH_MERGED {
        let (def, prop) = full.rsplit_once('.').expect("definition.property");
        let p = &doc[def]["properties"][prop];
        assert!(
            p["x-kubernetes-list-type"].is_string(),
            "{full}: no such list"
        );
        assert!(p.get("x-kubernetes-patch-strategy").is_none(), "{full}");
    }
    // beta-only definitions are not reachable from a served kind
    assert!(
        doc.get("io.k8s.api.resource.v1beta1.ResourceClaim")
            .is_none()
    );
}
