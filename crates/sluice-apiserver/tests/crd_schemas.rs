//! `src/crd_schemas_gen.json.gz` — the `spec` schemas of the CRDs Sluice installs at startup
//! (Tekton, Triggers, Argo CD, Argo Rollouts, Kyverno), which `/openapi/v2` and `/openapi/v3`
//! serve and `kubectl explain pipelinerun.spec.pipelineRef` reads — is generated from the
//! serde types of `sluice-apis` (the types the server decodes and validates these kinds with),
//! read as Rust syntax (syn): each struct's fields under their JSON names (`rename_all`,
//! `rename`, `flatten`, `skip`), its doc comments as descriptions, `Option`/`Box` unwrapped,
//! `Vec` as arrays, maps as `additionalProperties`, unit enums as strings. A type with a
//! hand-written `Deserialize` (e.g. Tekton's ParamValue: a string, an array or an object) and
//! `serde_json::Value` are left open. Every object keeps `x-kubernetes-preserve-unknown-fields`
//! (these schemas describe, they do not prune: a field the types do not model is kept).
//!
//! It fails when the committed file is stale:
//! `SLUICE_REGEN=1 cargo test -p sluice-apiserver --test crd_schemas` rewrites it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use syn::{Attribute, Fields, GenericArgument, Item, PathArguments, Type};

/// A type of sluice-apis: its module directory, doc text and definition.
struct Def {
    dir: String,
    doc: String,
    item: Item,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("reads sluice-apis/src")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn doc_of(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    lines.join(" ").trim().to_owned()
}

/// The `#[serde(...)]` words of an item or field: (`rename_all`, `rename`, flags).
fn serde_attrs(attrs: &[Attribute]) -> (Option<String>, Option<String>, BTreeSet<String>) {
    let (mut rename_all, mut rename, mut flags) = (None, None, BTreeSet::new());
    for a in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = a.parse_nested_meta(|m| {
            let name = m
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            if let Ok(v) = m.value() {
                if let Ok(s) = v.parse::<syn::LitStr>() {
                    match name.as_str() {
                        "rename_all" => rename_all = Some(s.value()),
                        "rename" => rename = Some(s.value()),
                        _ => {
                            flags.insert(name);
                        }
                    }
                } else {
                    // e.g. `rename(deserialize = "...")`: not used by these types
                    let _ = v.parse::<syn::Expr>();
                }
            } else {
                flags.insert(name);
            }
            Ok(())
        });
    }
    (rename_all, rename, flags)
}

fn derives_deserialize(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .any(|a| {
            let mut found = false;
            let _ = a.parse_nested_meta(|m| {
                if m.path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "Deserialize")
                {
                    found = true;
                }
                Ok(())
            });
            found
        })
}

fn rename(ident: &str, rule: Option<&str>) -> String {
    let ident = ident.trim_start_matches("r#");
    match rule {
        Some("camelCase") => {
            let mut out = String::new();
            let mut up = false;
            for c in ident.chars() {
                if c == '_' {
                    up = true;
                } else if up {
                    out.extend(c.to_uppercase());
                    up = false;
                } else {
                    out.push(c);
                }
            }
            out
        }
        Some("kebab-case") => ident.replace('_', "-"),
        Some("lowercase") => ident.to_lowercase(),
        Some("UPPERCASE") => ident.to_uppercase(),
        Some("PascalCase") => {
            let camel = rename(ident, Some("camelCase"));
            let mut c = camel.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
        _ => ident.to_owned(),
    }
}

fn open() -> Value {
    json!({"x-kubernetes-preserve-unknown-fields": true})
}

struct Gen<'a> {
    defs: &'a BTreeMap<String, Vec<Def>>,
    stack: Vec<String>,
}

impl<'a> Gen<'a> {
    fn find(&self, name: &str, dir: &str) -> Option<&'a Def> {
        let defs: &'a BTreeMap<String, Vec<Def>> = self.defs;
        let defs = defs.get(name)?;
        defs.iter().find(|d| d.dir == dir).or_else(|| defs.first())
    }

    fn ty(&mut self, t: &Type, dir: &str) -> Value {
        let Type::Path(p) = t else { return open() };
        let Some(seg) = p.path.segments.last() else {
            return open();
        };
        let args: Vec<&Type> = match &seg.arguments {
            PathArguments::AngleBracketed(a) => a
                .args
                .iter()
                .filter_map(|g| match g {
                    GenericArgument::Type(t) => Some(t),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let name = seg.ident.to_string();
        match name.as_str() {
            "String" | "str" => json!({"type": "string"}),
            "bool" => json!({"type": "boolean"}),
            "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" => {
                json!({"type": "integer"})
            }
            "f32" | "f64" => json!({"type": "number"}),
            "Option" | "Box" | "Arc" | "Rc" if !args.is_empty() => self.ty(args[0], dir),
            "Vec" | "BTreeSet" | "HashSet" | "IndexSet" if !args.is_empty() => {
                json!({"type": "array", "items": self.ty(args[0], dir)})
            }
            "BTreeMap" | "HashMap" | "IndexMap" if args.len() == 2 => {
                json!({"type": "object", "additionalProperties": self.ty(args[1], dir)})
            }
            "Value" => open(),
            "ObjectMeta" => json!({"type": "object"}),
            _ => self.named(&name, dir),
        }
    }

    fn named(&mut self, name: &str, dir: &str) -> Value {
        if self.stack.len() > 24 || self.stack.iter().any(|s| s == name) {
            return json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
        }
        let Some(def) = self.find(name, dir) else {
            return open();
        };
        let (dir, doc, item) = (def.dir.as_str(), def.doc.as_str(), &def.item);
        self.stack.push(name.to_owned());
        let mut s = match &item {
            Item::Struct(st) if derives_deserialize(&st.attrs) => match &st.fields {
                Fields::Named(f) => self.object(&st.attrs, f, dir),
                Fields::Unnamed(f) if f.unnamed.len() == 1 => match f.unnamed.first() {
                    Some(inner) => self.ty(&inner.ty, dir),
                    None => open(),
                },
                _ => open(),
            },
            Item::Enum(e) if derives_deserialize(&e.attrs) => {
                let (rule, _, flags) = serde_attrs(&e.attrs);
                let unit = e.variants.iter().all(|v| matches!(v.fields, Fields::Unit));
                if unit && !flags.contains("untagged") {
                    let values: Vec<Value> = e
                        .variants
                        .iter()
                        .map(|v| {
                            let (_, r, _) = serde_attrs(&v.attrs);
                            json!(
                                r.unwrap_or_else(|| rename(&v.ident.to_string(), rule.as_deref()))
                            )
                        })
                        .collect();
                    json!({"type": "string", "enum": values})
                } else {
                    open()
                }
            }
            _ => open(),
        };
        self.stack.pop();
        if !doc.is_empty()
            && let Some(m) = s.as_object_mut()
        {
            m.insert("description".into(), json!(doc));
        }
        s
    }

    fn object(&mut self, attrs: &[Attribute], fields: &syn::FieldsNamed, dir: &str) -> Value {
        let (rule, _, _) = serde_attrs(attrs);
        let mut props = Map::new();
        for f in &fields.named {
            let Some(ident) = &f.ident else { continue };
            let (_, rename_to, flags) = serde_attrs(&f.attrs);
            if flags.contains("skip") || flags.contains("skip_deserializing") {
                continue;
            }
            let mut s = self.ty(&f.ty, dir);
            if flags.contains("flatten") {
                if let Some(p) = s.get("properties").and_then(Value::as_object) {
                    props.extend(p.clone());
                }
                continue;
            }
            let doc = doc_of(&f.attrs);
            if !doc.is_empty()
                && let Some(m) = s.as_object_mut()
            {
                m.insert("description".into(), json!(doc));
            }
            let name = rename_to.unwrap_or_else(|| rename(&ident.to_string(), rule.as_deref()));
            props.insert(name, s);
        }
        json!({"type": "object", "properties": props, "x-kubernetes-preserve-unknown-fields": true})
    }
}

/// (apiVersion, kind, module directory, root type) of each bootstrap CRD version the types
/// describe (Tekton's v1 types, not its v1beta1 ones; the other versions keep the envelope).
const KINDS: &[(&str, &str, &str, &str)] = &[
    ("tekton.dev/v1", "Task", "tekton", "Task"),
    ("tekton.dev/v1", "Pipeline", "tekton", "Pipeline"),
    ("tekton.dev/v1", "TaskRun", "tekton", "TaskRun"),
    ("tekton.dev/v1", "PipelineRun", "tekton", "PipelineRun"),
    ("tekton.dev/v1beta1", "StepAction", "tekton", "StepAction"),
    (
        "triggers.tekton.dev/v1beta1",
        "EventListener",
        "triggers",
        "EventListener",
    ),
    (
        "triggers.tekton.dev/v1beta1",
        "Trigger",
        "triggers",
        "Trigger",
    ),
    (
        "triggers.tekton.dev/v1beta1",
        "TriggerBinding",
        "triggers",
        "TriggerBinding",
    ),
    (
        "triggers.tekton.dev/v1beta1",
        "ClusterTriggerBinding",
        "triggers",
        "TriggerBinding",
    ),
    (
        "triggers.tekton.dev/v1beta1",
        "TriggerTemplate",
        "triggers",
        "TriggerTemplate",
    ),
    (
        "triggers.tekton.dev/v1alpha1",
        "ClusterInterceptor",
        "triggers",
        "ClusterInterceptor",
    ),
    (
        "triggers.tekton.dev/v1alpha1",
        "Interceptor",
        "triggers",
        "Interceptor",
    ),
    (
        "argoproj.io/v1alpha1",
        "Application",
        "argocd",
        "Application",
    ),
    (
        "argoproj.io/v1alpha1",
        "ApplicationSet",
        "argocd",
        "ApplicationSet",
    ),
    ("argoproj.io/v1alpha1", "AppProject", "argocd", "AppProject"),
    ("argoproj.io/v1alpha1", "Rollout", "rollouts", "Rollout"),
    (
        "argoproj.io/v1alpha1",
        "AnalysisTemplate",
        "rollouts",
        "AnalysisTemplate",
    ),
    (
        "argoproj.io/v1alpha1",
        "ClusterAnalysisTemplate",
        "rollouts",
        "AnalysisTemplate",
    ),
    (
        "argoproj.io/v1alpha1",
        "AnalysisRun",
        "rollouts",
        "AnalysisRun",
    ),
    ("kyverno.io/v1", "ClusterPolicy", "kyverno", "KyvernoPolicy"),
    ("kyverno.io/v1", "Policy", "kyverno", "KyvernoPolicy"),
];

fn generate() -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sluice-apis/src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut defs: BTreeMap<String, Vec<Def>> = BTreeMap::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("reads a source file");
        let Ok(file) = syn::parse_file(&text) else {
            continue;
        };
        let rel = f.strip_prefix(&src).unwrap_or(f);
        let dir = rel
            .components()
            .next()
            .filter(|_| rel.components().count() > 1)
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        // inline modules (`mod v1beta1 { ... }`) too
        let mut items: Vec<Item> = file.items;
        while let Some(item) = items.pop() {
            let (name, doc) = match &item {
                Item::Struct(s) => (s.ident.to_string(), doc_of(&s.attrs)),
                Item::Enum(e) => (e.ident.to_string(), doc_of(&e.attrs)),
                Item::Mod(_) => {
                    if let Item::Mod(m) = item
                        && let Some((_, inner)) = m.content
                    {
                        items.extend(inner);
                    }
                    continue;
                }
                _ => continue,
            };
            defs.entry(name).or_default().push(Def {
                dir: dir.clone(),
                doc,
                item,
            });
        }
    }
    let mut out = Map::new();
    for (group, kind, dir, root) in KINDS {
        let mut g = Gen {
            defs: &defs,
            stack: Vec::new(),
        };
        let s = g.named(root, dir);
        let spec = s["properties"]["spec"].clone();
        assert!(
            spec["properties"].is_object(),
            "{group}/{kind}: {root}'s spec has no fields: {spec}"
        );
        let mut entry = json!({"spec": spec});
        if s["properties"]["status"]["properties"].is_object() {
            entry["status"] = s["properties"]["status"].clone();
        }
        out.insert(format!("{group}/{kind}"), entry);
    }
    let mut text = serde_json::to_string(&Value::Object(out)).expect("serializes");
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
fn the_generated_crd_schemas_are_current() {
    let text = generate();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/crd_schemas_gen.json.gz");
    if std::env::var_os("SLUICE_REGEN").is_some() {
        std::fs::write(&file, gz(&text)).expect("writes src/crd_schemas_gen.json.gz");
    }
    let mut committed = String::new();
    if let Ok(bytes) = std::fs::read(&file) {
        let _ = flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut committed);
    }
    assert!(
        committed == text,
        "src/crd_schemas_gen.json.gz is stale: run SLUICE_REGEN=1 cargo test -p sluice-apiserver --test crd_schemas"
    );
    let doc: Value = serde_json::from_str(&text).expect("json");
    // tekton PipelineRunSpec: pipelineRef.name, params, taskRunTemplate.serviceAccountName
    let pr = &doc["tekton.dev/v1/PipelineRun"]["spec"]["properties"];
    assert_eq!(pr["pipelineRef"]["properties"]["name"]["type"], "string");
    assert_eq!(pr["params"]["type"], "array");
    assert_eq!(
        pr["taskRunTemplate"]["properties"]["serviceAccountName"]["type"],
        "string"
    );
    // argo-cd ApplicationSpec: source.helm.valueFiles
    let app = &doc["argoproj.io/v1alpha1/Application"]["spec"]["properties"];
    assert_eq!(
        app["source"]["properties"]["helm"]["properties"]["valueFiles"]["type"],
        "array"
    );
}
