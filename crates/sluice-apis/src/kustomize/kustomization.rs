//! `Kustomization` (`kustomize.config.k8s.io/v1beta1`) and `Component`
//! (`kustomize.config.k8s.io/v1alpha1`): kubernetes-sigs/kustomize `api/types/kustomization.go`
//! and the types it uses (`patch.go`, `image.go`, `replica.go`, `labels.go`, `genargs.go`,
//! `kvpairsources.go`, `generatoroptions.go`, `replacement.go`, `var.go`, `helmchartargs.go`,
//! `sortoptions.go`, `selector.go`, `fieldspec.go`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sluice_core::{FieldError, FieldErrors, Object};

fn is_false(b: &bool) -> bool {
    !*b
}

pub const KUSTOMIZATION_VERSION: &str = "kustomize.config.k8s.io/v1beta1";
pub const KUSTOMIZATION_KIND: &str = "Kustomization";
pub const COMPONENT_VERSION: &str = "kustomize.config.k8s.io/v1alpha1";
pub const COMPONENT_KIND: &str = "Component";

/// A kustomization file (`Kustomization` or `Component`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<KustomizeMeta>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub openapi: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_prefix: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_suffix: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Deprecated: use `labels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Label>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_annotations: Option<BTreeMap<String, String>>,
    /// Deprecated: use `patches`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches_strategic_merge: Option<Vec<String>>,
    /// Deprecated: use `patches`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches_json6902: Option<Vec<Patch>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Patch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    /// Deprecated: use `images`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tags: Option<Vec<Image>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replacements: Vec<ReplacementField>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<Replica>,
    /// Deprecated: use `replacements`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vars: Option<Vec<Var>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_options: Option<SortOptions>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crds: Vec<String>,
    /// Deprecated: use `resources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bases: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_map_generator: Vec<GeneratorArgs>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_generator: Vec<GeneratorArgs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm_globals: Option<HelmGlobals>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub helm_charts: Vec<HelmChart>,
    /// Deprecated: converted to `helmGlobals` and `helmCharts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub helm_chart_inflation_generator: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_options: Option<GeneratorOptions>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configurations: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generators: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transformers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validators: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_metadata: Vec<String>,
}

/// kustomize's own `ObjectMeta` (name, namespace, labels, annotations).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizeMeta {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `Label`: labels added to resources, optionally to selectors and templates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Label {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pairs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub include_selectors: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub include_templates: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldSpec>,
}

/// `FieldSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldSpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub create: bool,
}

/// `Patch`: a strategic merge or JSON 6902 patch, from a file or inline, and its targets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Patch {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub patch: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, bool>,
}

/// `Selector`: a resource id plus label and annotation selectors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label_selector: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub annotation_selector: String,
}

/// `Image`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub new_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub new_tag: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag_suffix: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
}

/// `Replica`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Replica {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default)]
    pub count: i64,
}

/// `ConfigMapArgs` / `SecretArgs` (`GeneratorArgs` + `KvPairSources`; `type` for Secrets).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorArgs {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `create` (default), `merge` or `replace`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub behavior: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub literals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub envs: Vec<String>,
    /// Deprecated: use `envs`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub env: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<GeneratorOptions>,
    /// Secrets only.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub type_: String,
}

/// `GeneratorOptions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorOptions {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_name_suffix_hash: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub immutable: bool,
}

/// `ReplacementField`: an inline replacement or a `path` to a file of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplacementField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetSelector>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceSelector {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<FieldOptions>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<Selector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reject: Vec<Selector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub field_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<FieldOptions>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldOptions {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub delimiter: String,
    #[serde(default)]
    pub index: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub encoding: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub create: bool,
}

/// `Var` (deprecated).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Var {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub objref: VarTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fieldref: Option<FieldSelector>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VarTarget {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldSelector {
    #[serde(
        default,
        rename = "fieldpath",
        skip_serializing_if = "String::is_empty"
    )]
    pub field_path: String,
}

/// `SortOptions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SortOptions {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub order: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_sort_options: Option<LegacySortOptions>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacySortOptions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_first: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_last: Vec<String>,
}

/// `HelmGlobals`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmGlobals {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chart_home: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub config_home: String,
}

/// `HelmChart`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmChart {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repo: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub release_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_values_files: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub values_file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_inline: Option<Value>,
    /// `override` (default), `replace` or `merge`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub values_merge: String,
    #[serde(default, rename = "includeCRDs", skip_serializing_if = "is_false")]
    pub include_crds: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_hooks: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_versions: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kube_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_template: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_tests: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub debug: bool,
}

/// Field names of the kustomization types, for Go's case-insensitive JSON field matching.
const KNOWN_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "openapi",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "resources",
    "components",
    "crds",
    "bases",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "inventory",
    "buildMetadata",
    "name",
    "annotations",
    "pairs",
    "includeSelectors",
    "includeTemplates",
    "fields",
    "group",
    "version",
    "path",
    "create",
    "patch",
    "target",
    "options",
    "labelSelector",
    "annotationSelector",
    "newName",
    "newTag",
    "tagSuffix",
    "digest",
    "count",
    "behavior",
    "literals",
    "files",
    "envs",
    "env",
    "type",
    "disableNameSuffixHash",
    "immutable",
    "source",
    "targets",
    "fieldPath",
    "select",
    "reject",
    "fieldPaths",
    "delimiter",
    "index",
    "encoding",
    "objref",
    "fieldref",
    "fieldpath",
    "order",
    "legacySortOptions",
    "orderFirst",
    "orderLast",
    "chartHome",
    "configHome",
    "repo",
    "releaseName",
    "additionalValuesFiles",
    "valuesFile",
    "valuesInline",
    "valuesMerge",
    "includeCRDs",
    "skipHooks",
    "apiVersions",
    "kubeVersion",
    "nameTemplate",
    "skipTests",
    "debug",
];

/// Keys whose values are free-form maps (label pairs, values...): left as written.
const FREE_FORM: &[&str] = &[
    "commonLabels",
    "commonAnnotations",
    "pairs",
    "labels",
    "annotations",
    "openapi",
    "valuesInline",
    "options",
    "inventory",
    "helmChartInflationGenerator",
];

/// kustomize decodes with Go's `encoding/json`, which matches field names case-insensitively
/// (`patchesJSON6902` is `patchesJson6902`). Renames such keys to their canonical spelling and
/// reports each as a warning.
fn canonicalize(v: &mut Value, path: &mut Vec<String>, warnings: &mut FieldErrors) {
    match v {
        Value::Object(m) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            let mut out = Map::new();
            for k in keys {
                let Some(mut x) = m.remove(&k) else { continue };
                // a var's `fieldref` holds `fieldpath` (kustomize's FieldSelector tag), where
                // a replacement source holds `fieldPath`
                let in_fieldref = path.last().is_some_and(|l| l == "fieldref");
                let canon = if in_fieldref && k.eq_ignore_ascii_case("fieldpath") {
                    "fieldpath".to_owned()
                } else if KNOWN_FIELDS.contains(&k.as_str()) {
                    k.clone()
                } else {
                    KNOWN_FIELDS
                        .iter()
                        .find(|f| f.eq_ignore_ascii_case(&k))
                        .map_or_else(|| k.clone(), |f| (*f).to_owned())
                };
                let mut p = path.join(".");
                if !p.is_empty() {
                    p.push('.');
                }
                p.push_str(&k);
                if canon != k {
                    warnings.push(FieldError::warning(
                        p.as_str(),
                        format!(
                            "kustomize matches field names case-insensitively; write {canon:?}"
                        ),
                    ));
                }
                // `labels` is a free-form map in metadata/generatorOptions, a list at the top.
                let free = FREE_FORM.contains(&canon.as_str()) && !x.is_array();
                if !free {
                    path.push(canon.clone());
                    canonicalize(&mut x, path, warnings);
                    path.pop();
                }
                out.insert(canon, x);
            }
            *m = out;
        }
        Value::Array(items) => {
            for (i, x) in items.iter_mut().enumerate() {
                if let Some(last) = path.last_mut() {
                    let saved = last.clone();
                    last.push_str(&format!("[{i}]"));
                    canonicalize(x, path, warnings);
                    if let Some(l) = path.last_mut() {
                        *l = saved;
                    }
                }
            }
        }
        _ => {}
    }
}

const EDIT_FIX: &str = "Run 'kustomize edit fix' to update your Kustomization automatically.";

/// `CheckDeprecatedFields`, with kustomize's wording (without the leading `# `).
fn deprecations(k: &Kustomization) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut warn = |present: bool, field: &str, instead: &str, experimental: bool| {
        if present {
            errs.push(FieldError::warning(
                field,
                format!(
                    "'{field}' is deprecated. Please use '{instead}' instead. {}{EDIT_FIX}",
                    if experimental { "[EXPERIMENTAL] " } else { "" }
                ),
            ));
        }
    };
    warn(k.bases.is_some(), "bases", "resources", false);
    warn(k.common_labels.is_some(), "commonLabels", "labels", false);
    warn(k.image_tags.is_some(), "imageTags", "images", false);
    warn(
        k.patches_json6902.is_some(),
        "patchesJson6902",
        "patches",
        false,
    );
    warn(
        k.patches_strategic_merge.is_some(),
        "patchesStrategicMerge",
        "patches",
        false,
    );
    warn(k.vars.is_some(), "vars", "replacements", true);
    errs
}

fn looks_like_json6902(patch: &str) -> bool {
    let t = patch.trim_start();
    t.starts_with('[') || t.starts_with("- op:") || t.starts_with("- {")
}

fn validate_patch(p: &Patch, json6902_only: bool) -> FieldErrors {
    let mut errs = FieldErrors::new();
    // plugin/builtin/patchtransformer: path xor patch.
    match (p.path.is_empty(), p.patch.is_empty()) {
        (true, true) => errs.push(FieldError::new("", "must specify one of patch and path in")),
        (false, false) => errs.push(FieldError::new(
            "",
            "patch and path can't be set at the same time",
        )),
        _ => {}
    }
    let needs_target = json6902_only || (!p.patch.is_empty() && looks_like_json6902(&p.patch));
    if needs_target && p.target.is_none() {
        errs.push(FieldError::new("target", "must specify a target for patch"));
    }
    errs
}

fn validate_generator(g: &GeneratorArgs, secret: bool) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if !matches!(g.behavior.as_str(), "" | "create" | "merge" | "replace") {
        errs.push(FieldError::new(
            "behavior",
            format!(
                "Unsupported value: {:?}: supported values: \"create\", \"merge\", \"replace\"",
                g.behavior
            ),
        ));
    }
    if !secret && !g.type_.is_empty() {
        errs.push(FieldError::new("type", "unknown field \"type\""));
    }
    errs
}

/// Validates a kustomization already decoded. Paths start at the file root.
pub fn validate_kustomization(k: &Kustomization) -> FieldErrors {
    let mut errs = FieldErrors::new();
    // EnforceFields.
    if !k.kind.is_empty() && k.kind != KUSTOMIZATION_KIND && k.kind != COMPONENT_KIND {
        errs.push(FieldError::new(
            "kind",
            format!("kind should be {KUSTOMIZATION_KIND} or {COMPONENT_KIND}"),
        ));
    }
    let required = if k.kind == COMPONENT_KIND {
        COMPONENT_VERSION
    } else {
        KUSTOMIZATION_VERSION
    };
    if !k.api_version.is_empty() && k.api_version != required {
        errs.push(FieldError::new(
            "apiVersion",
            format!("apiVersion for {} should be {required}", k.kind),
        ));
    }
    errs.also(deprecations(k));
    // CheckEmpty.
    let mut bare = k.clone();
    bare.api_version.clear();
    bare.kind.clear();
    if bare == Kustomization::default() {
        errs.push(FieldError::new("", "kustomization.yaml is empty"));
    }
    for (i, p) in k.patches.iter().enumerate() {
        errs.also(validate_patch(p, false).via_field_index("patches", i));
    }
    for (i, p) in k.patches_json6902.iter().flatten().enumerate() {
        errs.also(validate_patch(p, true).via_field_index("patchesJson6902", i));
    }
    for (i, g) in k.config_map_generator.iter().enumerate() {
        errs.also(validate_generator(g, false).via_field_index("configMapGenerator", i));
    }
    for (i, g) in k.secret_generator.iter().enumerate() {
        errs.also(validate_generator(g, true).via_field_index("secretGenerator", i));
    }
    for (i, l) in k.labels.iter().enumerate() {
        for key in l.pairs.keys() {
            for m in sluice_core::names::qualified_name(key) {
                errs.push(
                    FieldError::invalid("", format!("{key:?}: {m}"))
                        .via_key(key)
                        .via_field("pairs")
                        .via_index(i)
                        .via_field("labels"),
                );
            }
        }
    }
    if let Some(so) = &k.sort_options
        && !matches!(so.order.as_str(), "" | "legacy" | "fifo")
    {
        errs.push(FieldError::new(
            "sortOptions.order",
            format!(
                "Unsupported value: {:?}: supported values: \"legacy\", \"fifo\"",
                so.order
            ),
        ));
    }
    errs
}

/// Decodes and validates a kustomization object.
pub fn validate(obj: &Object) -> FieldErrors {
    let mut v = obj.value().clone();
    let mut errs = FieldErrors::new();
    canonicalize(&mut v, &mut Vec::new(), &mut errs);
    match crate::decode::decode::<Kustomization>(&v) {
        Ok((k, unknown)) => {
            errs.also(unknown);
            errs.also(validate_kustomization(&k));
        }
        Err(e) => {
            errs.also(e);
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> Vec<(String, String, bool)> {
        validate(&Object::new(v))
            .iter()
            .map(|e| {
                (
                    e.path.to_string(),
                    e.message.clone(),
                    e.severity == sluice_core::Severity::Warning,
                )
            })
            .collect()
    }

    // kustomize's Var is `fieldref: {fieldpath: ...}` (api/types/var.go FieldSelector tag
    // `fieldpath`); Go's encoding/json accepts `fieldRef: {fieldPath: ...}` too
    // (opentelemetry-operator's config/default writes it so).
    #[test]
    fn var_fieldref_fieldpath_in_any_case() {
        let got = check(
            json!({"apiVersion": KUSTOMIZATION_VERSION, "kind": "Kustomization",
            "vars": [{"name": "NS", "objref": {"kind": "Service", "name": "s", "version": "v1"},
                      "fieldRef": {"fieldPath": "metadata.namespace"}}]}),
        );
        let errors: Vec<_> = got.iter().filter(|(_, _, warning)| !warning).collect();
        assert!(errors.is_empty(), "{got:?}");
        assert!(
            got.iter()
                .any(|(p, m, _)| p == "vars[0].fieldref.fieldPath" && m.contains("\"fieldpath\"")),
            "{got:?}"
        );
    }

    // kubernetes-sigs/kustomize api/types/kustomization.go CheckDeprecatedFields.
    #[test]
    fn deprecated_fields_warn_with_kustomize_wording() {
        let got = check(
            json!({"apiVersion": KUSTOMIZATION_VERSION, "kind": "Kustomization",
            "bases": ["../b"], "commonLabels": {"a": "b"}, "vars": [],
            "patchesJSON6902": [{"path": "p.yaml", "target": {"kind": "Deployment"}}]}),
        );
        assert_eq!(got[0].0, "patchesJSON6902");
        assert!(got[0].2);
        let rest: Vec<(&str, &str)> = got[1..]
            .iter()
            .map(|(p, m, _)| (p.as_str(), m.as_str()))
            .collect();
        assert_eq!(
            rest,
            [
                (
                    "bases",
                    "'bases' is deprecated. Please use 'resources' instead. Run 'kustomize edit fix' to update your Kustomization automatically."
                ),
                (
                    "commonLabels",
                    "'commonLabels' is deprecated. Please use 'labels' instead. Run 'kustomize edit fix' to update your Kustomization automatically."
                ),
                (
                    "patchesJson6902",
                    "'patchesJson6902' is deprecated. Please use 'patches' instead. Run 'kustomize edit fix' to update your Kustomization automatically."
                ),
                (
                    "vars",
                    "'vars' is deprecated. Please use 'replacements' instead. [EXPERIMENTAL] Run 'kustomize edit fix' to update your Kustomization automatically."
                ),
            ]
        );
    }

    // api/types/kustomization.go EnforceFields; plugin/builtin/patchtransformer (path xor
    // patch, "must specify a target for patch").
    #[test]
    fn kind_patches_generators() {
        let got = check(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "patches": [{}, {"path": "a", "patch": "b"}, {"patch": "[{\"op\": \"remove\", \"path\": \"/x\"}]"}],
            "configMapGenerator": [{"name": "c", "behavior": "upsert"}],
            "resourcez": []}));
        let got: Vec<(&str, &str)> = got
            .iter()
            .map(|(p, m, _)| (p.as_str(), m.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("resourcez", "unknown field \"resourcez\""),
                ("kind", "kind should be Kustomization or Component"),
                (
                    "apiVersion",
                    "apiVersion for ConfigMap should be kustomize.config.k8s.io/v1beta1"
                ),
                ("patches[0]", "must specify one of patch and path in"),
                ("patches[1]", "patch and path can't be set at the same time"),
                ("patches[2].target", "must specify a target for patch"),
                (
                    "configMapGenerator[0].behavior",
                    "Unsupported value: \"upsert\": supported values: \"create\", \"merge\", \"replace\""
                ),
            ]
        );
    }

    #[test]
    fn component_version_and_empty() {
        let got = check(
            json!({"apiVersion": COMPONENT_VERSION, "kind": "Component", "resources": ["a.yaml"]}),
        );
        assert!(got.is_empty(), "{got:?}");
        let got = check(json!({"apiVersion": KUSTOMIZATION_VERSION, "kind": "Kustomization"}));
        assert_eq!(got[0].1, "kustomization.yaml is empty");
    }
}
