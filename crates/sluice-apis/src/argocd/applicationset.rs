//! `ApplicationSet` (argoproj/argo-cd `pkg/apis/application/v1alpha1/applicationset_types.go`):
//! types, validation, and template rendering for the generators whose parameters are known
//! without a cluster or a repository (`list`, and `matrix` of those).
//!
//! Upstream rules (applicationset/generators/matrix.go, merge.go, the generator docs'
//! "Restrictions"): a matrix has exactly two child generators, a merge at least two and at
//! least one merge key, a child entry holds exactly one generator, combination generators
//! nest only once, and `goTemplateOptions` are Go `text/template` options. Templates that do
//! not parse are errors wherever they are; for `list` generators every element is rendered
//! and the generated Application is validated as an Application.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sluice_core::{FieldError, FieldErrors, FieldPath, Object, Severity};
use sluice_expr::appset::{self, Engine, GoOptions, Params, TemplateError};

use super::application::{self, ApplicationSpec, Mode};
use crate::Context;
use crate::meta::{NameRule, ObjectMeta, validate_meta};

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSet {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ApplicationSetSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetSpec {
    #[serde(default, skip_serializing_if = "is_false")]
    pub go_template: bool,
    #[serde(default)]
    pub generators: Vec<ApplicationSetGenerator>,
    #[serde(default)]
    pub template: ApplicationSetTemplate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<ApplicationSetSyncPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<ApplicationSetStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserved_fields: Option<ApplicationPreservedFields>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub go_template_options: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub apply_nested_selectors: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_application_differences: Vec<ApplicationSetResourceIgnoreDifferences>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_patch: Option<String>,
}

/// `ApplicationSetTemplate`: Application metadata and spec, with string fields templated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetTemplate {
    #[serde(default)]
    pub metadata: ApplicationSetTemplateMeta,
    #[serde(default)]
    pub spec: ApplicationSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetTemplateMeta {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

/// One generator entry. Matrix and merge children are the same type here; how deep they
/// may nest is checked by validation (upstream uses `ApplicationSetNestedGenerator` and
/// `ApplicationSetTerminalGenerator`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetGenerator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<ListGenerator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<ClusterGenerator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitGenerator>,
    #[serde(
        rename = "scmProvider",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub scm_provider: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_decision_resource: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<MatrixGenerator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeGenerator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<Value>,
    /// Post-selector (`metav1.LabelSelector`) on the generated parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Value>,
}

impl ApplicationSetGenerator {
    /// The names of the generators set in this entry.
    pub fn kinds(&self) -> Vec<&'static str> {
        [
            ("list", self.list.is_some()),
            ("clusters", self.clusters.is_some()),
            ("git", self.git.is_some()),
            ("scmProvider", self.scm_provider.is_some()),
            (
                "clusterDecisionResource",
                self.cluster_decision_resource.is_some(),
            ),
            ("pullRequest", self.pull_request.is_some()),
            ("matrix", self.matrix.is_some()),
            ("merge", self.merge.is_some()),
            ("plugin", self.plugin.is_some()),
            ("oci", self.oci.is_some()),
        ]
        .into_iter()
        .filter(|(_, s)| *s)
        .map(|(n, _)| n)
        .collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListGenerator {
    #[serde(default)]
    pub elements: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ApplicationSetTemplate>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub elements_yaml: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterGenerator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ApplicationSetTemplate>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub flat_list: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitGenerator {
    #[serde(rename = "repoURL", default)]
    pub repo_url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directories: Vec<GitDirectoryGeneratorItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<GitFileGeneratorItem>,
    #[serde(default)]
    pub revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeue_after_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ApplicationSetTemplate>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path_param_prefix: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitDirectoryGeneratorItem {
    #[serde(default)]
    pub path: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub exclude: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitFileGeneratorItem {
    #[serde(default)]
    pub path: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub exclude: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatrixGenerator {
    #[serde(default)]
    pub generators: Vec<ApplicationSetGenerator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ApplicationSetTemplate>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeGenerator {
    #[serde(default)]
    pub generators: Vec<ApplicationSetGenerator>,
    #[serde(default)]
    pub merge_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ApplicationSetTemplate>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetSyncPolicy {
    #[serde(default, skip_serializing_if = "is_false")]
    pub preserve_resources_on_deletion: bool,
    /// `create-only`, `create-update`, `create-delete`, `sync`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applications_sync: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetStrategy {
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_sync: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deletion_order: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationPreservedFields {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetResourceIgnoreDifferences {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json_pointers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jq_path_expressions: Vec<String>,
}

/// At most this many parameter sets are rendered per ApplicationSet.
const MAX_PARAM_SETS: usize = 500;

/// One set of generator parameters and where it came from.
#[derive(Debug, Clone)]
struct ParamSet {
    origin: String,
    params: Params,
}

fn engine_of(spec: &ApplicationSetSpec) -> Engine {
    if spec.go_template {
        // Invalid options are reported on their own; the valid ones still apply.
        let valid = spec
            .go_template_options
            .iter()
            .filter(|o| GoOptions::parse([o.as_str()]).is_ok());
        Engine::Go(GoOptions::parse(valid.map(String::as_str)).unwrap_or_default())
    } else {
        Engine::Fast
    }
}

fn contains_template(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{"),
        Value::Array(a) => a.iter().any(contains_template),
        Value::Object(m) => m
            .iter()
            .any(|(k, x)| k.contains("{{") || contains_template(x)),
        _ => false,
    }
}

/// The parameter sets of a generator entry when they are known statically; `None` when they
/// come from a cluster, a repository or an API. Errors Argo CD reports while generating
/// are pushed to `errs` (paths relative to the ApplicationSet).
fn static_params(
    raw: &Value,
    path: &str,
    go: bool,
    interpolated: bool,
    errs: &mut FieldErrors,
) -> Option<Vec<ParamSet>> {
    let m = raw.as_object()?;
    if m.contains_key("selector") {
        return None;
    }
    if let Some(list) = m.get("list") {
        if list
            .get("elementsYaml")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            return None;
        }
        let elements = list.get("elements").and_then(Value::as_array)?;
        if interpolated && elements.iter().any(contains_template) {
            return None;
        }
        let mut out = Vec::new();
        for (i, el) in elements.iter().enumerate() {
            let at = format!("{path}.list.elements[{i}]");
            let Some(obj) = el.as_object() else {
                errs.push(FieldError::new(
                    at.as_str(),
                    "error unmarshling list element: expected an object",
                ));
                continue;
            };
            let params = if go {
                Params::Nested(Value::Object(obj.clone()))
            } else {
                match appset::fasttemplate_params_of_element(obj) {
                    Ok(p) => Params::Flat(p),
                    Err(e) => {
                        // applicationset/generators/list.go: non-goTemplate elements hold strings.
                        errs.push(FieldError::new(at.as_str(), e));
                        continue;
                    }
                }
            };
            out.push(ParamSet { origin: at, params });
        }
        return Some(out);
    }
    if let Some(matrix) = m.get("matrix") {
        let gens = matrix.get("generators").and_then(Value::as_array)?;
        if gens.len() != 2 {
            return None;
        }
        let mut sink = FieldErrors::new();
        let a = static_params(
            &gens[0],
            &format!("{path}.matrix.generators[0]"),
            go,
            false,
            &mut sink,
        )?;
        let b = static_params(
            &gens[1],
            &format!("{path}.matrix.generators[1]"),
            go,
            true,
            &mut sink,
        )?;
        errs.also(sink);
        let mut out = Vec::new();
        for x in &a {
            for y in &b {
                if out.len() >= MAX_PARAM_SETS {
                    return Some(out);
                }
                let origin = format!("{} and {}", x.origin, y.origin);
                let params = match (&x.params, &y.params) {
                    (Params::Nested(xa), Params::Nested(yb)) => {
                        // mergo.Merge(tmp, b) then (tmp, a) with override: maps merge
                        // deeply, a's values win.
                        let mut merged = yb.clone();
                        mergo_override(&mut merged, xa);
                        Params::Nested(merged)
                    }
                    (Params::Flat(xa), Params::Flat(yb)) => {
                        let mut merged = xa.clone();
                        let mut bad = None;
                        for (k, v) in yb {
                            match merged.get(k) {
                                Some(old) if old != v => {
                                    bad = Some(format!(
                                        "failed to combine string maps with merging params for the matrix generator: found duplicate key {k} with different value, a: {old} ,b: {v}"
                                    ));
                                }
                                _ => {
                                    merged.insert(k.clone(), v.clone());
                                }
                            }
                        }
                        if let Some(msg) = bad {
                            errs.push(FieldError::new(
                                format!("{path}.matrix").as_str(),
                                format!("{msg} ({origin})"),
                            ));
                            continue;
                        }
                        Params::Flat(merged)
                    }
                    _ => return None,
                };
                out.push(ParamSet { origin, params });
            }
        }
        return Some(out);
    }
    None
}

/// `mergo.Merge(dst, src, mergo.WithOverride)` on generic maps: nested maps merge, other
/// non-empty values of `src` replace those of `dst`.
fn mergo_override(dst: &mut Value, src: &Value) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, v) in s {
                match d.get_mut(k) {
                    Some(dv) if dv.is_object() && v.is_object() => mergo_override(dv, v),
                    Some(_) if v.is_null() => {}
                    _ => {
                        d.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (d, s) => *d = s.clone(),
    }
}

/// Overlays `over` on `base` as Argo CD merges a generator's template onto the
/// ApplicationSet's (non-empty values of the generator's template win).
fn merge_template(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let merged = match out.get(k) {
                    Some(bv) => merge_template(bv, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (b, Value::Null) => b.clone(),
        (b, Value::String(s)) if s.is_empty() => b.clone(),
        (_, o) => o.clone(),
    }
}

/// The template a top-level generator renders with.
fn effective_template(spec_raw: &Value, gen_raw: &Value) -> Value {
    let base = spec_raw.get("template").cloned().unwrap_or(Value::Null);
    let own = gen_raw.as_object().and_then(|m| {
        m.iter()
            .filter(|(k, _)| *k != "selector")
            .find_map(|(_, g)| g.get("template").cloned())
    });
    match own {
        Some(o) => merge_template(&base, &o),
        None => base,
    }
}

fn template_error_message(e: &TemplateError, go: bool) -> String {
    match e {
        TemplateError::Parse { .. } if go => format!("failed to parse template: {e}"),
        TemplateError::Parse { .. } => format!("failed to parse template: {e}"),
        TemplateError::Exec(m) => format!("failed to execute go template: {m}"),
        TemplateError::Unsupported(m) => m.clone(),
        TemplateError::Limit(m) => format!("failed to render template: {m}"),
    }
}

/// Checks that every string under `v` parses; findings are pushed with `prefix` + path.
fn check_syntax(v: &Value, prefix: &str, engine: Engine, errs: &mut FieldErrors) {
    for (p, s) in appset::template_strings(v) {
        if let Err(e) = appset::check_syntax(&s, engine) {
            let path = join_path(prefix, &p);
            errs.push(FieldError::new(
                path.as_str(),
                template_error_message(&e, matches!(engine, Engine::Go(_))),
            ));
        }
    }
}

fn join_path(prefix: &str, p: &FieldPath) -> String {
    let rest = p.to_string();
    if rest.is_empty() {
        prefix.to_owned()
    } else if rest.starts_with('[') {
        format!("{prefix}{rest}")
    } else {
        format!("{prefix}.{rest}")
    }
}

/// Validates generator entries (recursively); `depth` counts enclosing matrix/merge.
fn validate_generators(
    gens: &[ApplicationSetGenerator],
    prefix: &str,
    depth: usize,
    errs: &mut FieldErrors,
) {
    for (i, g) in gens.iter().enumerate() {
        let at = format!("{prefix}[{i}]");
        let kinds = g.kinds();
        if depth > 0 {
            match kinds.len() {
                0 => errs.push(FieldError::new(
                    at.as_str(),
                    "child generator generated no parameters: the entry defines no generator",
                )),
                1 => {}
                // applicationset/generators/matrix.go ErrMoreThenOneInnerGenerators.
                _ => errs.push(FieldError::new(
                    at.as_str(),
                    format!(
                        "found more than one generator in matrix.Generators ({})",
                        kinds.join(", ")
                    ),
                )),
            }
            for (k, has_template) in [
                (
                    "list",
                    g.list.as_ref().is_some_and(|x| x.template.is_some()),
                ),
                (
                    "clusters",
                    g.clusters.as_ref().is_some_and(|x| x.template.is_some()),
                ),
                ("git", g.git.as_ref().is_some_and(|x| x.template.is_some())),
            ] {
                if has_template {
                    errs.push(FieldError::warning(
                        format!("{at}.{k}.template").as_str(),
                        "template overrides on child generators of matrix and merge are not processed",
                    ));
                }
            }
        } else if kinds.is_empty() {
            errs.push(FieldError::warning(
                at.as_str(),
                "the generator entry defines no generator and generates no Applications",
            ));
        }
        if let Some(m) = &g.matrix {
            let p = format!("{at}.matrix");
            if depth >= 2 {
                errs.push(FieldError::new(
                    p.as_str(),
                    "combination-type generators (matrix or merge) can only be nested once",
                ));
            }
            if m.generators.len() < 2 {
                errs.push(FieldError::new(
                    format!("{p}.generators").as_str(),
                    "found less than two generators, Matrix support only two",
                ));
            } else if m.generators.len() > 2 {
                errs.push(FieldError::new(
                    format!("{p}.generators").as_str(),
                    "found more than two generators, Matrix support only two",
                ));
            }
            validate_generators(&m.generators, &format!("{p}.generators"), depth + 1, errs);
        }
        if let Some(m) = &g.merge {
            let p = format!("{at}.merge");
            if depth >= 2 {
                errs.push(FieldError::new(
                    p.as_str(),
                    "combination-type generators (matrix or merge) can only be nested once",
                ));
            }
            if m.generators.len() < 2 {
                errs.push(FieldError::new(
                    format!("{p}.generators").as_str(),
                    "found less than two generators, Merge requires two or more",
                ));
            }
            if m.merge_keys.is_empty() {
                errs.push(FieldError::new(
                    format!("{p}.mergeKeys").as_str(),
                    "no merge keys were specified, Merge requires at least one",
                ));
            }
            validate_generators(&m.generators, &format!("{p}.generators"), depth + 1, errs);
        }
        if let Some(git) = &g.git
            && git.directories.is_empty()
            && git.files.is_empty()
        {
            errs.push(FieldError::warning(
                format!("{at}.git").as_str(),
                "the git generator has neither directories nor files and generates no parameters",
            ));
        }
    }
}

/// The matrix children Argo CD renders as templates (the second of each matrix), with paths.
fn interpolated_children(gens: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    let Some(arr) = gens.as_array() else {
        return;
    };
    for (i, g) in arr.iter().enumerate() {
        let at = format!("{prefix}[{i}]");
        if let Some(children) = g.pointer("/matrix/generators").and_then(Value::as_array) {
            if let Some(second) = children.get(1) {
                out.push((format!("{at}.matrix.generators[1]"), second.clone()));
            }
            interpolated_children(
                &Value::Array(children.first().cloned().into_iter().collect()),
                &format!("{at}.matrix.generators"),
                out,
            );
        }
        if let Some(children) = g.pointer("/merge/generators") {
            interpolated_children(children, &format!("{at}.merge.generators"), out);
        }
    }
}

/// Builds the Application a rendered template describes.
fn application_of(rendered: &Value, appset_ns: Option<&str>) -> Value {
    let mut meta = rendered
        .get("metadata")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    if let (Some(m), Some(ns)) = (meta.as_object_mut(), appset_ns)
        && !m.contains_key("namespace")
    {
        m.insert("namespace".into(), Value::String(ns.to_owned()));
    }
    serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": meta,
        "spec": rendered.get("spec").cloned().unwrap_or(Value::Object(Map::new())),
    })
}

/// Validates an `ApplicationSet` object.
pub fn validate(obj: &Object, ctx: &Context<'_>) -> FieldErrors {
    let (aset, mut errs) = match crate::decode::decode::<ApplicationSet>(obj.value()) {
        Ok(x) => x,
        Err(e) => return e,
    };
    errs.also(validate_meta(&aset.metadata, NameRule::Dns1123Subdomain));
    let spec = &aset.spec;
    let raw_spec = obj.value().get("spec").cloned().unwrap_or(Value::Null);
    if raw_spec.get("generators").is_none() {
        errs.push(FieldError::new("spec.generators", "Required value"));
    } else if spec.generators.is_empty() {
        errs.push(FieldError::warning(
            "spec.generators",
            "no generators: the ApplicationSet generates no Applications",
        ));
    }
    if raw_spec.get("template").is_none() {
        errs.push(FieldError::new("spec.template", "Required value"));
    }
    // goTemplateOptions are text/template options (Template.Option panics on others).
    for (i, o) in spec.go_template_options.iter().enumerate() {
        if let Err(e) = GoOptions::parse([o.as_str()]) {
            errs.push(FieldError::new(
                format!("spec.goTemplateOptions[{i}]").as_str(),
                e,
            ));
        }
    }
    if !spec.go_template && !spec.go_template_options.is_empty() {
        errs.push(FieldError::warning(
            "spec.goTemplateOptions",
            "goTemplateOptions have no effect without goTemplate: true",
        ));
    }
    // CRD enum (`+kubebuilder:validation:Enum=create-only;create-update;create-delete;sync`).
    if let Some(policy) = spec
        .sync_policy
        .as_ref()
        .and_then(|p| p.applications_sync.as_deref())
    {
        const POLICIES: &[&str] = &["create-only", "create-update", "create-delete", "sync"];
        if !POLICIES.contains(&policy) {
            errs.push(FieldError::new(
                "spec.syncPolicy.applicationsSync",
                format!(
                    "Unsupported value: {policy:?}: supported values: \"create-only\", \"create-update\", \"create-delete\", \"sync\""
                ),
            ));
        }
    }
    validate_generators(&spec.generators, "spec.generators", 0, &mut errs);
    let engine = engine_of(spec);
    let go = spec.go_template;

    // Syntax of every template string: the template, generator templates, templatePatch and
    // the generators themselves (matrix children are interpolated with parameters).
    let mut syntax = FieldErrors::new();
    if let Some(t) = raw_spec.get("template") {
        check_syntax(t, "spec.template", engine, &mut syntax);
    }
    if let Some(p) = &spec.template_patch {
        check_syntax(
            &Value::String(p.clone()),
            "spec.templatePatch",
            engine,
            &mut syntax,
        );
    }
    // Matrix interpolates its second child generator with the first one's parameters
    // (generators/matrix.go getParams -> interpolateGenerator); other generator fields are
    // not templates.
    let mut interpolated = Vec::new();
    if let Some(g) = raw_spec.get("generators") {
        interpolated_children(g, "spec.generators", &mut interpolated);
    }
    for (path, v) in &interpolated {
        check_syntax(v, path, engine, &mut syntax);
    }
    let syntax_failed = syntax.has_errors();
    errs.also(syntax);
    if syntax_failed {
        return errs;
    }

    // Render what can be rendered; validate the rest as a template.
    let mut found: BTreeMap<(String, String, Severity), Vec<String>> = BTreeMap::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut template_checked = false;
    let raw_gens = raw_spec
        .get("generators")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut param_errs = FieldErrors::new();
    // One budget for every rendering of this ApplicationSet (appset::TEMPLATE_LIMITS): a
    // template that cannot render one Application within it is an error; past the first,
    // the budget only ends the checking, as MAX_PARAM_SETS does.
    let budget = appset::template_budget();
    let mut rendered = 0usize;
    'generators: for (i, graw) in raw_gens.iter().enumerate() {
        let tmpl = effective_template(&raw_spec, graw);
        let gpath = format!("spec.generators[{i}]");
        match static_params(graw, &gpath, go, false, &mut param_errs) {
            Some(sets) => {
                for ps in sets.iter().take(MAX_PARAM_SETS) {
                    let r = Render {
                        engine,
                        patch: spec.template_patch.as_deref(),
                        ns: obj.namespace(),
                        ctx,
                        budget: &budget,
                        first: rendered == 0,
                    };
                    rendered += 1;
                    if r.one(&tmpl, ps, &mut found, &mut names) == Rendered::OutOfBudget {
                        break 'generators;
                    }
                }
            }
            None => {
                if !template_checked {
                    template_checked = true;
                    check_template_unrendered(&tmpl, obj.namespace(), ctx, &mut found);
                }
            }
        }
    }
    errs.also(param_errs);
    for ((path, msg, sev), origins) in found {
        let origin = match origins.len() {
            0 => String::new(),
            1 => format!(" (Application generated from {})", origins[0]),
            n => format!(
                " (Applications generated from {} and {} more)",
                origins[0],
                n - 1
            ),
        };
        let text = format!("{msg}{origin}");
        errs.push(match sev {
            Severity::Error => FieldError::new(path.as_str(), text),
            Severity::Warning => FieldError::warning(path.as_str(), text),
        });
    }
    errs
}

/// What rendering one parameter set needs besides the template and the set.
struct Render<'a, 'c> {
    engine: Engine,
    patch: Option<&'a str>,
    ns: Option<&'a str>,
    ctx: &'a Context<'c>,
    budget: &'a appset::Budget,
    /// The first rendering: over the budget it is an error of the template.
    first: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Rendered {
    Done,
    OutOfBudget,
}

type Found = BTreeMap<(String, String, Severity), Vec<String>>;

impl Render<'_, '_> {
    fn one(
        &self,
        tmpl: &Value,
        ps: &ParamSet,
        found: &mut Found,
        names: &mut BTreeMap<String, String>,
    ) -> Rendered {
        render_one(tmpl, ps, self, found, names);
        if self.budget.exceeded().is_some() {
            Rendered::OutOfBudget
        } else {
            Rendered::Done
        }
    }
}

fn render_one(
    tmpl: &Value,
    ps: &ParamSet,
    r: &Render<'_, '_>,
    found: &mut Found,
    names: &mut BTreeMap<String, String>,
) {
    let (engine, patch, ns, ctx) = (r.engine, r.patch, r.ns, r.ctx);
    let go = matches!(engine, Engine::Go(_));
    let rendered = match appset::render_value_in(tmpl, engine, &ps.params, r.budget) {
        Ok(r) => r,
        Err(list) => {
            for (p, e) in list {
                if e.is_unsupported() {
                    return;
                }
                if matches!(e, TemplateError::Limit(_)) && !r.first {
                    return;
                }
                found
                    .entry((
                        join_path("spec.template", &p),
                        template_error_message(&e, go),
                        Severity::Error,
                    ))
                    .or_default()
                    .push(ps.origin.clone());
            }
            return;
        }
    };
    if let Some(patch) = patch {
        if let Err(e) = appset::render_str_in(patch, engine, &ps.params, r.budget)
            && !e.is_unsupported()
            && (r.first || !matches!(e, TemplateError::Limit(_)))
        {
            found
                .entry((
                    "spec.templatePatch".to_owned(),
                    template_error_message(&e, go),
                    Severity::Error,
                ))
                .or_default()
                .push(ps.origin.clone());
        }
        // The patch may change anything: the generated Application is not checked further.
        return;
    }
    let app = Object::new(application_of(&rendered, ns));
    let name = app.name().to_owned();
    if !name.is_empty() {
        if let Some(first) = names.get(&name) {
            if first != &ps.origin {
                found
                    .entry((
                        "spec.template.metadata.name".to_owned(),
                        format!("ApplicationSet contains applications with duplicate name: {name}"),
                        Severity::Error,
                    ))
                    .or_default()
                    .push(ps.origin.clone());
            }
        } else {
            names.insert(name, ps.origin.clone());
        }
    }
    for e in application::validate(&app, ctx) {
        found
            .entry((
                join_path("spec.template", &e.path),
                format!("generated Application: {}", e.message),
                e.severity,
            ))
            .or_default()
            .push(ps.origin.clone());
    }
}

/// Checks a template whose parameters are unknown: presence rules only, templated strings
/// are taken as valid.
fn check_template_unrendered(
    tmpl: &Value,
    ns: Option<&str>,
    ctx: &Context<'_>,
    found: &mut BTreeMap<(String, String, Severity), Vec<String>>,
) {
    let Ok((t, _)) = crate::decode::decode::<ApplicationSetTemplate>(tmpl) else {
        return;
    };
    let mut errs = application::validate_spec(&t.spec, Mode::Template).via_field("spec");
    errs.also(
        application::validate_project_refs(&t.spec, ns, ctx, Mode::Template).via_field("spec"),
    );
    if t.metadata.name.is_empty() {
        errs.push(FieldError::new(
            "metadata.name",
            "name or generateName is required",
        ));
    } else if !t.metadata.name.contains("{{") {
        for m in sluice_core::names::dns1123_subdomain(&t.metadata.name) {
            errs.push(FieldError::invalid(
                "metadata.name",
                format!("{:?}: {m}", t.metadata.name),
            ));
        }
    }
    for e in errs {
        found
            .entry((join_path("spec.template", &e.path), e.message, e.severity))
            .or_default();
    }
}

/// Every list element (anywhere in the generators) with its path.
fn list_elements(gens: &Value, prefix: &str, out: &mut Vec<(String, Map<String, Value>)>) {
    let Some(arr) = gens.as_array() else {
        return;
    };
    for (i, g) in arr.iter().enumerate() {
        let at = format!("{prefix}[{i}]");
        if let Some(els) = g.pointer("/list/elements").and_then(Value::as_array) {
            for (j, el) in els.iter().enumerate() {
                if let Some(m) = el.as_object() {
                    out.push((format!("{at}.list.elements[{j}]"), m.clone()));
                }
            }
        }
        for k in ["matrix", "merge"] {
            if let Some(children) = g.get(k).and_then(|m| m.get("generators")) {
                list_elements(children, &format!("{at}.{k}.generators"), out);
            }
        }
    }
}

/// Lint (not an upstream finding, Argo CD accepts it silently): parameters that list
/// generators define and that no template, template patch or generator ever reads. One
/// warning per parameter name, at its first occurrence.
pub fn unused_generator_params(appset: &Object) -> Vec<FieldError> {
    let spec = appset.value().get("spec").cloned().unwrap_or(Value::Null);
    let go = spec
        .get("goTemplate")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut strings: Vec<String> = Vec::new();
    for key in ["template", "generators"] {
        if let Some(v) = spec.get(key) {
            strings.extend(appset::template_strings(v).into_iter().map(|(_, s)| s));
        }
    }
    if let Some(p) = spec.get("templatePatch").and_then(Value::as_str) {
        strings.push(p.to_owned());
    }
    let mut used: BTreeSet<String> = BTreeSet::new();
    for s in &strings {
        if !s.contains("{{") {
            continue;
        }
        if go {
            match appset::parse_go_template(s) {
                Ok(t) => match t.referenced_fields() {
                    Some(fields) => used.extend(fields),
                    None => return Vec::new(),
                },
                Err(_) => return Vec::new(),
            }
        } else if let Ok(tags) = appset::fasttemplate_tags(s) {
            for t in tags {
                used.insert(t.to_owned());
                if let Some((head, _)) = t.split_once('.') {
                    used.insert(head.to_owned());
                }
            }
        }
    }
    // mergeKeys name parameters too.
    let gens = spec.get("generators").cloned().unwrap_or(Value::Null);
    collect_merge_keys(&gens, &mut used);
    let mut elements = Vec::new();
    list_elements(&gens, "spec.generators", &mut elements);
    let mut reported = BTreeSet::new();
    let mut out = Vec::new();
    for (path, el) in elements {
        for k in el.keys() {
            if used.contains(k) || reported.contains(k) {
                continue;
            }
            reported.insert(k.clone());
            out.push(FieldError::warning(
                format!("{path}.{k}").as_str(),
                format!(
                    "generator parameter {k:?} is never used by the template: Argo CD ignores it"
                ),
            ));
        }
    }
    out
}

fn collect_merge_keys(gens: &Value, used: &mut BTreeSet<String>) {
    if let Some(arr) = gens.as_array() {
        for g in arr {
            if let Some(keys) = g.pointer("/merge/mergeKeys").and_then(Value::as_array) {
                used.extend(keys.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            for k in ["matrix", "merge"] {
                if let Some(children) = g.get(k).and_then(|m| m.get("generators")) {
                    collect_merge_keys(children, used);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> Vec<String> {
        let obj = Object::new(v);
        let set = crate::ObjectSet::new([&obj]);
        let ctx = Context::new(&set);
        validate(&obj, &ctx)
            .iter()
            .map(|e| format!("{}|{}", e.path, e.message))
            .collect()
    }

    fn aset(spec: Value) -> Value {
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
               "metadata": {"name": "s", "namespace": "argocd"}, "spec": spec})
    }

    fn tmpl(name: &str) -> Value {
        json!({"metadata": {"name": name}, "spec": {"project": "default",
            "source": {"repoURL": "https://g/r.git", "path": "apps", "targetRevision": "HEAD"},
            "destination": {"server": "{{url}}", "namespace": "x"}}})
    }

    #[test]
    fn matrix_and_merge_shape() {
        // applicationset/generators/matrix.go and merge.go error values; docs
        // Generators-Matrix.md "Restrictions" (nesting once, one generator per entry).
        let errs = check(aset(json!({
            "generators": [
                {"matrix": {"generators": [{"clusters": {}}]}},
                {"merge": {"generators": [{"clusters": {}, "git": {"repoURL": "x", "revision": "HEAD", "files": [{"path": "a"}]}}, {"list": {"elements": []}}]}},
                {"matrix": {"generators": [{"clusters": {}}, {"matrix": {"generators": [{"clusters": {}}, {"matrix": {"generators": [{"clusters": {}}, {"clusters": {}}]}}]}}]}}
            ],
            "template": tmpl("{{name}}")
        })));
        assert_eq!(
            errs,
            [
                "spec.generators[0].matrix.generators|found less than two generators, Matrix support only two",
                "spec.generators[1].merge.mergeKeys|no merge keys were specified, Merge requires at least one",
                "spec.generators[1].merge.generators[0]|found more than one generator in matrix.Generators (clusters, git)",
                "spec.generators[2].matrix.generators[1].matrix.generators[1].matrix|combination-type generators (matrix or merge) can only be nested once",
            ]
        );
    }

    #[test]
    fn list_elements_render_and_validate() {
        let errs = check(aset(json!({
            "generators": [{"list": {"elements": [
                {"name": "ok", "url": "https://a"},
                {"name": "Bad_Name", "url": "https://b"},
                {"name": "n", "url": 3}
            ]}}],
            "template": tmpl("{{name}}")
        })));
        assert_eq!(
            errs,
            [
                "spec.generators[0].list.elements[2]|error parsing value as string (url is not a string)",
                "spec.template.metadata.name|generated Application: invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*') (Application generated from spec.generators[0].list.elements[1])",
            ]
        );
    }

    #[test]
    fn go_templates() {
        let mut t = tmpl("{{ .name | lower }}");
        t["spec"]["destination"]["server"] = json!("{{ .url }}");
        let errs = check(aset(json!({
            "goTemplate": true,
            "goTemplateOptions": ["missingkey=error", "bogus"],
            "generators": [{"list": {"elements": [{"name": "A", "url": "https://a"}, {"name": "b"}]}}],
            "template": t
        })));
        assert_eq!(
            errs,
            [
                "spec.goTemplateOptions[1]|unrecognized option: bogus",
                "spec.template.spec.destination.server|failed to execute go template: 1:4: map has no entry for key \"url\" (Application generated from spec.generators[0].list.elements[1])",
            ]
        );
        let mut t = tmpl("{{ .name | nosuchfunc }}");
        t["spec"]["destination"]["server"] = json!("https://x");
        let errs = check(aset(json!({
            "goTemplate": true,
            "generators": [{"clusters": {}}],
            "template": t
        })));
        assert_eq!(
            errs,
            [
                "spec.template.metadata.name|failed to parse template: 1:12: function \"nosuchfunc\" not defined"
            ]
        );
    }

    // Issue 18: Go templates nested 100,000 deep are refused where they are written (Go's
    // message for parentheses, text/template/parse maxStackDepth); a template that renders
    // without bound is an error at its path, found within the budget.
    #[test]
    fn deep_and_runaway_templates() {
        let deep = format!(
            "{{{{ {}.name{} }}}}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        let ifs = format!(
            "{}x{}",
            "{{ if .name }}".repeat(100_000),
            "{{ end }}".repeat(100_000)
        );
        for (name, want) in [
            (deep, "max expression depth exceeded"),
            (ifs, "control structures nest deeper than 100 levels"),
        ] {
            let mut t = tmpl(&name);
            t["spec"]["destination"]["server"] = json!("https://x");
            let errs = check(aset(json!({
                "goTemplate": true,
                "generators": [{"list": {"elements": [{"name": "a"}]}}],
                "template": t
            })));
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert!(
                errs[0].starts_with("spec.template.metadata.name|failed to parse template: 1:")
                    && errs[0].ends_with(want),
                "{}",
                errs[0]
            );
        }
        let mut t = tmpl("{{ .name }}{{ range 1000000000 }}x{{ end }}");
        t["spec"]["destination"]["server"] = json!("https://x");
        let start = std::time::Instant::now();
        let errs = check(aset(json!({
            "goTemplate": true,
            "generators": [{"list": {"elements": [{"name": "a"}, {"name": "b"}]}}],
            "template": t
        })));
        assert_eq!(
            errs,
            [
                "spec.template.metadata.name|failed to render template: template execution exceeded its budget of 1000000 steps (Application generated from spec.generators[0].list.elements[0])"
            ]
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn duplicate_names() {
        // applicationset/controllers: "ApplicationSet %s contains applications with duplicate name: %s".
        let errs = check(aset(json!({
            "generators": [{"list": {"elements": [{"name": "a", "url": "https://a"}, {"name": "a", "url": "https://b"}]}}],
            "template": tmpl("{{name}}")
        })));
        assert_eq!(
            errs,
            [
                "spec.template.metadata.name|ApplicationSet contains applications with duplicate name: a (Application generated from spec.generators[0].list.elements[1])"
            ]
        );
    }

    #[test]
    fn applications_sync_enum() {
        let errs = check(aset(json!({
            "generators": [{"list": {"elements": [{"name": "a", "url": "https://a"}]}}],
            "syncPolicy": {"applicationsSync": "create"},
            "template": tmpl("{{name}}")
        })));
        assert_eq!(
            errs,
            [
                "spec.syncPolicy.applicationsSync|Unsupported value: \"create\": supported values: \"create-only\", \"create-update\", \"create-delete\", \"sync\""
            ]
        );
    }

    #[test]
    fn unused_params() {
        let obj = Object::new(aset(json!({
            "generators": [{"list": {"elements": [{"name": "a", "url": "https://a", "extra": "x"}]}}],
            "template": tmpl("{{name}}")
        })));
        let w = unused_generator_params(&obj);
        assert_eq!(w.len(), 1);
        assert_eq!(
            w[0].path.to_string(),
            "spec.generators[0].list.elements[0].extra"
        );
    }
}
