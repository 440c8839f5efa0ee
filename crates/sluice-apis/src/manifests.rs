//! Loading a set of manifest files and validating them together: what `sluice validate`
//! (and, before it runs anything, `sluice run`) does once the caller has read the files.
//!
//! - Every document is loaded with positions; a file that is not valid YAML is reported at
//!   its line and the rest of the set is still validated.
//! - Documents with none of `apiVersion`, `kind`, `metadata`, `spec` are not Kubernetes
//!   objects (Helm values, app config) and are skipped, and listed as skipped.
//! - A `kustomization.yaml` may omit `apiVersion`/`kind` (kustomize defaults them); files that
//!   a kustomization names as patches or generator inputs are inputs of a build, not objects
//!   to apply, and are not validated as objects.
//! - Findings carry file, line and column.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;
use sluice_core::object::{LoadedFile, load_objects};
use sluice_core::{
    FieldErrors, FieldPath, InnerError, Limits, LoadedObject, Object, Pos, Severity,
};

use crate::ObjectSet;
use crate::set::Context;

/// One input file, already read by the caller.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user gave it (`-` for stdin); used in messages and to resolve the
    /// relative paths a kustomization names.
    pub name: String,
    pub text: String,
}

/// Options for [`validate_files`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub limits: Limits,
    /// Overrides the Tekton feature flags found among the inputs.
    pub tekton_flags: Option<crate::tekton::FeatureFlags>,
    /// Tekton feature-flag keys and values applied over the flags found among the inputs.
    pub tekton_flag_overrides: Vec<(String, String)>,
    /// Checks of other crates run on every object after its own validation, with paths
    /// relative to the object (the binary adds `sluice_triggers::validate_cel`, which needs
    /// a CEL parser this crate does not depend on).
    pub extra_checks: Vec<fn(&Object) -> FieldErrors>,
    /// Checks of other crates that find problems inside a string value (an embedded script):
    /// each finding is placed at its line and column inside the string as the file writes
    /// it (`sluice_core::yaml::inner_pos`; the binary adds `sluice_health`'s Lua check).
    pub inner_checks: Vec<fn(&Object) -> Vec<InnerError>>,
}

/// The object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A finding located in a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Located {
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// The field path within the object (empty for file-level problems).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    pub message: String,
}

impl Located {
    /// `path:line:col: error|warning: Kind/name: field.path: message`
    pub fn render(&self) -> String {
        let mut s = format!(
            "{}:{}:{}: {}: ",
            self.file, self.line, self.column, self.severity
        );
        match &self.object {
            Some(o) if o.name.is_empty() => s.push_str(&format!("{}: ", o.kind)),
            Some(o) => s.push_str(&format!("{}/{}: ", o.kind, o.name)),
            None => {}
        }
        if !self.path.is_empty() {
            s.push_str(&self.path);
            s.push_str(": ");
        }
        s.push_str(&self.message);
        s
    }
}

/// A document that was not validated, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub file: Arc<str>,
    pub document: usize,
    pub reason: String,
}

/// Everything [`validate_files`] found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub findings: Vec<Located>,
    pub files: usize,
    pub objects: usize,
    pub skipped: Vec<Skipped>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count()
    }
}

const KUSTOMIZATION_NAMES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn dir_name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..i],
        None => "",
    }
}

/// Joins `rel` to `dir` and removes `.` and `x/..` lexically.
pub fn join_normalized(dir: &str, rel: &str) -> String {
    let joined = if rel.starts_with('/') || dir.is_empty() {
        rel.to_owned()
    } else {
        format!("{dir}/{rel}")
    };
    let absolute = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(last) if *last != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let s = parts.join("/");
    if absolute { format!("/{s}") } else { s }
}

/// Paths (relative to the kustomization) of the files a kustomization uses as build inputs
/// rather than as resources: patches, generator sources, replacement and config files.
fn kustomization_inputs(k: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let strings = sluice_core::json::string_list;
    out.extend(strings(k.get("patchesStrategicMerge")));
    out.extend(strings(k.get("configurations")));
    out.extend(strings(k.get("crds")));
    for field in ["patches", "patchesJson6902", "replacements"] {
        if let Some(items) = k.get(field).and_then(Value::as_array) {
            out.extend(
                items
                    .iter()
                    .filter_map(|p| p.get("path")?.as_str().map(str::to_owned)),
            );
        }
    }
    for field in ["configMapGenerator", "secretGenerator"] {
        if let Some(items) = k.get(field).and_then(Value::as_array) {
            for g in items {
                for f in strings(g.get("files")) {
                    // `key=path` names the key explicitly
                    let path = f.split_once('=').map_or(f.as_str(), |(_, p)| p);
                    out.push(path.to_owned());
                }
                out.extend(strings(g.get("envs")));
                if let Some(e) = g.get("env").and_then(Value::as_str) {
                    out.push(e.to_owned());
                }
            }
        }
    }
    if let Some(p) = k.pointer("/openapi/path").and_then(Value::as_str) {
        out.push(p.to_owned());
    }
    out
}

/// Whether a document that is not a loadable object still looks like a Kubernetes manifest
/// (and so deserves an error rather than being skipped): a mapping with one of the object
/// keys, or a top-level list of such mappings.
fn is_k8s_shaped(v: &Value) -> bool {
    match v {
        Value::Object(_) => ["apiVersion", "kind", "metadata", "spec"]
            .iter()
            .any(|k| v.get(k).is_some()),
        Value::Array(items) => items.iter().any(|i| i.is_object() && is_k8s_shaped(i)),
        _ => false,
    }
}

/// Loads and validates `files` together.
pub fn validate_files(files: &[SourceFile], opts: &Options) -> Report {
    let mut report = Report {
        files: files.len(),
        ..Report::default()
    };
    let mut loaded: Vec<(usize, LoadedFile)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let is_kustomization = KUSTOMIZATION_NAMES.contains(&base_name(&f.name));
        let text = if is_kustomization {
            with_kustomization_defaults(&f.text)
        } else {
            None
        };
        match load_objects(&f.name, text.as_deref().unwrap_or(&f.text), &opts.limits) {
            Ok(lf) => loaded.push((i, lf)),
            Err(e) => report.findings.push(Located {
                file: Arc::from(f.name.as_str()),
                line: e.pos().line,
                column: e.pos().col,
                severity: Severity::Error,
                object: None,
                path: String::new(),
                message: e.message(),
            }),
        }
    }

    // Files used as build inputs by a kustomization among the inputs.
    let mut build_inputs: HashSet<String> = HashSet::new();
    for (i, lf) in &loaded {
        for o in &lf.objects {
            if o.object.kind() == "Kustomization" || o.object.kind() == "Component" {
                let dir = dir_name(&files[*i].name);
                for rel in kustomization_inputs(o.object.value()) {
                    build_inputs.insert(join_normalized(dir, &rel));
                }
            }
        }
    }

    let mut objects: Vec<LoadedObject> = Vec::new();
    for (i, lf) in loaded {
        let name = &files[i].name;
        if build_inputs.contains(&join_normalized("", name)) {
            let mut docs: Vec<usize> = lf
                .objects
                .iter()
                .map(|o| o.source.document)
                .chain(lf.problems.iter().map(|p| p.document))
                .collect();
            docs.dedup();
            for d in docs {
                report.skipped.push(Skipped {
                    file: Arc::from(name.as_str()),
                    document: d,
                    reason: "a kustomization's build input (patch or generator source)".to_owned(),
                });
            }
            continue;
        }
        for p in lf.problems {
            let doc_value = p.value.as_ref();
            if doc_value.is_some_and(|v| !is_k8s_shaped(v)) {
                report.skipped.push(Skipped {
                    file: Arc::from(name.as_str()),
                    document: p.document,
                    reason: "not a Kubernetes object (no apiVersion, kind, metadata or spec)"
                        .to_owned(),
                });
                continue;
            }
            report.findings.push(Located {
                file: Arc::from(name.as_str()),
                line: p.pos.line,
                column: p.pos.col,
                severity: Severity::Error,
                object: None,
                path: String::new(),
                message: p.message,
            });
        }
        objects.extend(lf.objects);
    }

    report.objects = objects.len();
    let plain: Vec<&Object> = objects.iter().map(|o| &o.object).collect();
    let set = ObjectSet::new(plain);
    let mut ctx = Context::new(&set);
    if let Some(flags) = &opts.tekton_flags {
        ctx = ctx.with_tekton_flags(flags.clone());
    } else if !opts.tekton_flag_overrides.is_empty() {
        let mut flags = crate::tekton::FeatureFlags::from_set(&set);
        for (k, v) in &opts.tekton_flag_overrides {
            flags.set(k, v);
        }
        ctx = ctx.with_tekton_flags(flags);
    }
    for obj in &objects {
        for e in crate::validate_one(&obj.object, &ctx) {
            report
                .findings
                .push(locate(obj, &e.path, e.severity, e.message));
        }
        for check in &opts.extra_checks {
            for e in check(&obj.object) {
                report
                    .findings
                    .push(locate(obj, &e.path, e.severity, e.message));
            }
        }
        for check in &opts.inner_checks {
            for e in check(&obj.object) {
                let mut f = locate(obj, &e.error.path, e.error.severity, e.error.message);
                let key_pos = obj.locate(&e.value);
                let text = files
                    .iter()
                    .find(|sf| *sf.name == *obj.source.file)
                    .map(|sf| sf.text.as_str());
                let Pos { line, col } =
                    text.map_or(key_pos, |t| sluice_core::yaml::inner_pos(t, key_pos, e.at));
                f.line = line;
                f.column = col;
                report.findings.push(f);
            }
        }
    }
    report.findings.sort_by(|a, b| {
        let fa = files.iter().position(|f| *f.name == *a.file);
        let fb = files.iter().position(|f| *f.name == *b.file);
        (fa, a.line, a.column).cmp(&(fb, b.line, b.column))
    });
    report
}

fn locate(obj: &LoadedObject, path: &FieldPath, severity: Severity, message: String) -> Located {
    let Pos { line, col } = obj.locate(path);
    let o = &obj.object;
    Located {
        file: obj.source.file.clone(),
        line,
        column: col,
        severity,
        object: Some(ObjectRef {
            api_version: o.api_version().to_owned(),
            kind: o.kind().to_owned(),
            name: match o.name() {
                "" => o.generate_name().to_owned(),
                n => n.to_owned(),
            },
            namespace: o.namespace().map(str::to_owned),
        }),
        path: path.to_string(),
        message,
    }
}

/// kustomize defaults `apiVersion` and `kind` of a kustomization file; appending the lines
/// keeps every original position intact. `None` when nothing needs adding.
fn with_kustomization_defaults(text: &str) -> Option<String> {
    let has = |key: &str| text.lines().any(|l| l.starts_with(key));
    let mut extra = String::new();
    if !has("apiVersion:") {
        extra.push_str("apiVersion: kustomize.config.k8s.io/v1beta1\n");
    }
    if !has("kind:") {
        extra.push_str("kind: Kustomization\n");
    }
    if extra.is_empty() {
        return None;
    }
    let mut s = text.to_owned();
    if !s.ends_with('\n') && !s.is_empty() {
        s.push('\n');
    }
    s.push_str(&extra);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_paths() {
        assert_eq!(join_normalized("a/b", "../c/./d.yaml"), "a/c/d.yaml");
        assert_eq!(join_normalized("", "../x"), "../x");
        assert_eq!(join_normalized("../s/m", "p.yaml"), "../s/m/p.yaml");
        assert_eq!(join_normalized("/r", "../../x"), "/x");
    }

    #[test]
    fn skips_non_objects_and_build_inputs() {
        let files = vec![
            SourceFile {
                name: "k/kustomization.yaml".into(),
                text: "resources: [d.yaml]\npatches:\n- path: p.yaml\n".into(),
            },
            SourceFile {
                name: "k/p.yaml".into(),
                text: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: 2}\n".into(),
            },
            SourceFile {
                name: "values.yaml".into(),
                text: "replicaCount: 2\nimage: {tag: x}\n".into(),
            },
            SourceFile {
                name: "bad.yaml".into(),
                text: "kind: Task\nmetadata: {name: x}\n".into(),
            },
            SourceFile {
                name: "broken.yaml".into(),
                text: "a: [1\n".into(),
            },
        ];
        let r = validate_files(&files, &Options::default());
        assert_eq!(r.skipped.len(), 2, "{:?}", r.skipped);
        let rendered: Vec<String> = r.findings.iter().map(Located::render).collect();
        assert!(
            rendered
                .iter()
                .any(|l| l.starts_with("bad.yaml:1:1: error: ")),
            "{rendered:?}"
        );
        assert!(
            rendered.iter().any(|l| l.starts_with("broken.yaml:")),
            "{rendered:?}"
        );
        assert_eq!(r.objects, 1);
    }
}
