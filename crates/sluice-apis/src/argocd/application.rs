//! `Application` (argoproj/argo-cd `pkg/apis/application/v1alpha1/types.go`): types, defaults
//! and validation.
//!
//! The v1alpha1 CRD is permissive; Argo CD checks an Application when it reconciles it
//! (`util/argo/argo.go` `ValidatePermissions`, `ValidateDestination`) and reports an
//! `InvalidSpecError` condition. Those checks are errors here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, Object};

use super::appproject::AppProject;
use crate::Context;
use crate::meta::{NameRule, ObjectMeta, validate_meta};

fn is_false(b: &bool) -> bool {
    !*b
}

/// An `Application`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ApplicationSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Value>,
}

/// `ApplicationSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    #[serde(default)]
    pub destination: ApplicationDestination,
    /// Empty means `default` (`NormalizeApplicationSpec`).
    #[serde(default)]
    pub project: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<SyncPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_differences: Vec<ResourceIgnoreDifferences>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<Info>,
    /// Defaults to 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ApplicationSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_hydrator: Option<Value>,
}

pub const DEFAULT_PROJECT: &str = "default";
pub const DEFAULT_REVISION_HISTORY_LIMIT: i64 = 10;

impl ApplicationSpec {
    /// `GetProject`: the project, `default` when empty.
    pub fn project(&self) -> &str {
        if self.project.is_empty() {
            DEFAULT_PROJECT
        } else {
            &self.project
        }
    }

    /// `HasMultipleSources`.
    pub fn has_multiple_sources(&self) -> bool {
        !self.sources.is_empty()
    }

    /// The sources Argo CD uses: `sources` when set, else `source`.
    pub fn effective_sources(&self) -> Vec<ApplicationSource> {
        if self.has_multiple_sources() {
            self.sources.clone()
        } else {
            vec![self.source.clone().unwrap_or_default()]
        }
    }
}

/// `ApplicationSource`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSource {
    #[serde(rename = "repoURL", default)]
    pub repo_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<ApplicationSourceHelm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<ApplicationSourceKustomize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<ApplicationSourceDirectory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<ApplicationSourcePlugin>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chart: String,
    #[serde(rename = "ref", default, skip_serializing_if = "String::is_empty")]
    pub ref_: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// `ApplicationSourceHelm`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceHelm {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value_files: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<HelmParameter>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub release_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub values: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_parameters: Vec<HelmFileParameter>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub pass_credentials: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_missing_value_files: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_crds: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_object: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kube_version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_versions: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_tests: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_schema_validation: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmParameter {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub force_string: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmFileParameter {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub path: String,
}

/// `ApplicationSourceKustomize`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceKustomize {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_prefix: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_suffix: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub force_common_labels: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub force_common_annotations: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub common_annotations_envsubst: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<KustomizeReplica>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub label_without_selector: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kube_version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_versions: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_missing_components: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub label_include_templates: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizeReplica {
    #[serde(default)]
    pub name: String,
    /// intstr.IntOrString.
    #[serde(default)]
    pub count: Value,
}

/// `ApplicationSourceDirectory`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceDirectory {
    #[serde(default, skip_serializing_if = "is_false")]
    pub recurse: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonnet: Option<ApplicationSourceJsonnet>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exclude: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub include: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceJsonnet {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_vars: Vec<JsonnetVar>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tlas: Vec<JsonnetVar>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libs: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonnetVar {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub code: bool,
}

/// `ApplicationSourcePlugin`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourcePlugin {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<ApplicationSourcePluginParameter>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvEntry {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourcePluginParameter {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array: Option<Vec<String>>,
}

/// `ApplicationDestination`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDestination {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// `SyncPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated: Option<SyncPolicyAutomated>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_namespace_metadata: Option<ManagedNamespaceMetadata>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicyAutomated {
    #[serde(default, skip_serializing_if = "is_false")]
    pub prune: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub self_heal: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_empty: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryStrategy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub refresh: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub duration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub max_duration: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedNamespaceMetadata {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `ResourceIgnoreDifferences`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceIgnoreDifferences {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json_pointers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jq_path_expressions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_fields_managers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// Sync options Argo CD knows (the v1beta1 CRD's list, `pkg/apis/application/v1beta1`).
pub const KNOWN_SYNC_OPTIONS: &[&str] = &[
    "SkipDryRunOnMissingResource=true",
    "Prune=false",
    "Validate=false",
    "PruneLast=true",
    "Replace=true",
    "Replace=false",
    "Force=true",
    "ServerSideApply=true",
    "ServerSideApply=false",
    "Delete=false",
    "Delete=confirm",
    "ApplyOutOfSyncOnly=true",
    "ApplyOutOfSyncOnly=false",
    "Prune=confirm",
    "ClientSideApplyMigration=true",
    "ClientSideApplyMigration=false",
    "PrunePropagationPolicy=background",
    "PrunePropagationPolicy=foreground",
    "PrunePropagationPolicy=orphan",
    "CreateNamespace=true",
    "RespectIgnoreDifferences=true",
    "FailOnSharedResource=true",
    "Validate=true",
    "SkipDryRunOnMissingResource=false",
    "PruneLast=false",
    "CreateNamespace=false",
    "RespectIgnoreDifferences=false",
    "FailOnSharedResource=false",
];

/// What the spec checks may assume about string values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A real Application: values are final.
    Final,
    /// An ApplicationSet template before rendering: strings with `{{` are not final.
    Template,
}

fn templated(mode: Mode, s: &str) -> bool {
    mode == Mode::Template && s.contains("{{")
}

/// Validates an Application spec; paths start at the spec. Cross-object checks (project)
/// are done by [`validate_project_refs`].
pub fn validate_spec(spec: &ApplicationSpec, mode: Mode) -> FieldErrors {
    let mut errs = FieldErrors::new();
    // Sources (util/argo/argo.go validateSourcePermissions).
    if spec.has_multiple_sources() {
        if spec.source.is_some() {
            errs.push(FieldError::warning(
                "source",
                "ignored: spec.sources is set, and Argo CD uses spec.sources only",
            ));
        }
        for (i, src) in spec.sources.iter().enumerate() {
            if src.repo_url.is_empty()
                || (src.path.is_empty() && src.chart.is_empty() && src.ref_.is_empty())
            {
                errs.push(
                    FieldError::new(
                        "",
                        "spec.source.repoURL and either source.path, source.chart, or source.ref are required for source",
                    )
                    .via_index(i)
                    .via_field("sources"),
                );
                continue;
            }
            errs.also(validate_source(src).via_field_index("sources", i));
        }
    } else {
        let src = spec.source.clone().unwrap_or_default();
        if src.repo_url.is_empty() || (src.path.is_empty() && src.chart.is_empty()) {
            errs.push(FieldError::new(
                "source",
                "spec.source.repoURL and either spec.source.path or spec.source.chart are required",
            ));
        } else {
            errs.also(validate_source(&src).via_field("source"));
        }
    }
    // Destination (ValidateDestination, errDestinationMissing).
    let d = &spec.destination;
    if !d.name.is_empty() && !d.server.is_empty() {
        errs.push(FieldError::new(
            "destination",
            format!(
                "application destination can't have both name and server defined: {} {}",
                d.name, d.server
            ),
        ));
    } else if d.name.is_empty() && d.server.is_empty() {
        errs.push(FieldError::new(
            "destination.server",
            "Destination server missing from app spec",
        ));
    }
    if !d.namespace.is_empty() && !templated(mode, &d.namespace) {
        // Argo CD accepts any string here; syncing into it fails.
        for m in sluice_core::names::dns1123_label(&d.namespace) {
            errs.push(FieldError::warning(
                "destination.namespace",
                format!(
                    "invalid namespace {:?}: {m} (resources cannot be synced into it)",
                    d.namespace
                ),
            ));
        }
    }
    // Sync policy.
    if let Some(sp) = &spec.sync_policy {
        for (i, opt) in sp.sync_options.iter().enumerate() {
            if templated(mode, opt) {
                continue;
            }
            if !KNOWN_SYNC_OPTIONS.contains(&opt.as_str()) {
                errs.push(FieldError::warning(
                    format!("syncPolicy.syncOptions[{i}]").as_str(),
                    format!("unknown sync option {opt:?}: Argo CD ignores it"),
                ));
            }
        }
        let has = |o: &str| sp.sync_options.iter().any(|s| s == o);
        for (a, b) in [
            ("Replace=true", "Replace=false"),
            ("ServerSideApply=true", "ServerSideApply=false"),
            ("Prune=false", "Prune=confirm"),
            ("Delete=false", "Delete=confirm"),
        ] {
            if has(a) && has(b) {
                errs.push(FieldError::new(
                    "syncPolicy.syncOptions",
                    format!("cannot have both {a} and {b}"),
                ));
            }
        }
        if let Some(retry) = &sp.retry
            && let Some(b) = &retry.backoff
        {
            for (f, v) in [("duration", &b.duration), ("maxDuration", &b.max_duration)] {
                if !v.is_empty()
                    && !templated(mode, v)
                    && crate::rollouts::parse_go_duration(v).is_none()
                {
                    errs.push(FieldError::warning(
                        format!("syncPolicy.retry.backoff.{f}").as_str(),
                        format!("time: invalid duration {v:?} (retries fail to parse it)"),
                    ));
                }
            }
        }
    }
    for (i, d) in spec.ignore_differences.iter().enumerate() {
        if d.kind.is_empty() {
            errs.push(FieldError::warning(
                format!("ignoreDifferences[{i}].kind").as_str(),
                "ignoreDifferences entries must have a kind: this entry matches no resource",
            ));
        }
    }
    errs
}

fn validate_source(src: &ApplicationSource) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if !src.chart.is_empty() && src.target_revision.is_empty() {
        errs.push(FieldError::new(
            "targetRevision",
            "spec.source.targetRevision is required if the manifest source is a helm chart",
        ));
    }
    let types: Vec<&str> = [
        ("Helm", src.helm.is_some()),
        ("Kustomize", src.kustomize.is_some()),
        ("Directory", src.directory.is_some()),
        ("Plugin", src.plugin.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(n, _)| n)
    .collect();
    if types.len() > 1 {
        // reposerver: `multiple application sources defined: %s`.
        errs.push(FieldError::new(
            "",
            format!("multiple application sources defined: {}", types.join(",")),
        ));
    }
    errs
}

/// Checks `spec.project` against the AppProjects among the inputs (only when there are
/// some): the project must exist (`default` always does), and it must permit the sources and
/// destination (`IsSourcePermitted`, `IsDestinationPermitted`).
pub fn validate_project_refs(
    spec: &ApplicationSpec,
    namespace: Option<&str>,
    ctx: &Context<'_>,
    mode: Mode,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let projects: Vec<&Object> = ctx.set.of_kind(super::GROUP, "AppProject").collect();
    if projects.is_empty() || templated(mode, &spec.project) {
        return errs;
    }
    let name = spec.project();
    let Some(obj) = ctx.set.find(super::GROUP, "AppProject", namespace, name) else {
        if name != DEFAULT_PROJECT {
            errs.push(FieldError::new(
                "project",
                format!("Application referencing project {name} which does not exist"),
            ));
        }
        return errs;
    };
    let Ok((proj, _)) = crate::decode::decode::<AppProject>(obj.value()) else {
        return errs;
    };
    let sources: Vec<(String, &ApplicationSource)> = if spec.has_multiple_sources() {
        spec.sources
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("sources[{i}].repoURL"), s))
            .collect()
    } else {
        spec.source
            .iter()
            .map(|s| ("source.repoURL".to_owned(), s))
            .collect()
    };
    for (path, src) in sources {
        if src.repo_url.is_empty() || templated(mode, &src.repo_url) {
            continue;
        }
        if !proj.spec.is_source_permitted(&src.repo_url) {
            errs.push(FieldError::new(
                path.as_str(),
                format!(
                    "application repo {} is not permitted in project '{}'",
                    src.repo_url, name
                ),
            ));
        }
    }
    let d = &spec.destination;
    if !d.server.is_empty()
        && !templated(mode, &d.server)
        && !templated(mode, &d.namespace)
        && !proj.spec.is_destination_permitted(d)
    {
        errs.push(FieldError::new(
            "destination",
            format!(
                "application destination server '{}' and namespace '{}' do not match any of the allowed destinations in project '{}'",
                d.server, d.namespace, name
            ),
        ));
    }
    errs
}

/// Validates an `Application` object.
pub fn validate(obj: &Object, ctx: &Context<'_>) -> FieldErrors {
    let (app, mut errs) = match crate::decode::decode::<Application>(obj.value()) {
        Ok(x) => x,
        Err(e) => return e,
    };
    errs.also(validate_meta(&app.metadata, NameRule::Dns1123Subdomain));
    errs.also(validate_spec(&app.spec, Mode::Final).via_field("spec"));
    errs.also(
        validate_project_refs(&app.spec, obj.namespace(), ctx, Mode::Final).via_field("spec"),
    );
    errs
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

    fn app(spec: Value) -> Value {
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
               "metadata": {"name": "a", "namespace": "argocd"}, "spec": spec})
    }

    #[test]
    fn destination_rules() {
        // util/argo/argo.go ValidateDestination; controller test
        // `application destination can't have both name and server defined: another-cluster https://localhost:6443`.
        let errs = check(app(json!({
            "source": {"repoURL": "https://g/r.git", "path": "."},
            "destination": {"name": "in-cluster", "server": "https://kubernetes.default.svc"}
        })));
        assert_eq!(
            errs,
            [
                "spec.destination|application destination can't have both name and server defined: in-cluster https://kubernetes.default.svc"
            ]
        );
        let errs = check(app(
            json!({"source": {"repoURL": "https://g/r.git", "path": "."}}),
        ));
        assert_eq!(
            errs,
            ["spec.destination.server|Destination server missing from app spec"]
        );
    }

    #[test]
    fn source_rules() {
        // util/argo/argo.go validateSourcePermissions.
        let errs = check(app(json!({
            "source": {"repoURL": "https://g/r.git"},
            "destination": {"server": "https://kubernetes.default.svc"}
        })));
        assert_eq!(
            errs,
            [
                "spec.source|spec.source.repoURL and either spec.source.path or spec.source.chart are required"
            ]
        );
        let errs = check(app(json!({
            "sources": [{"repoURL": "https://charts", "chart": "x"}, {"repoURL": "https://g", "ref": "values"}, {"path": "x"}],
            "destination": {"server": "https://kubernetes.default.svc"}
        })));
        assert_eq!(
            errs,
            [
                "spec.sources[0].targetRevision|spec.source.targetRevision is required if the manifest source is a helm chart",
                "spec.sources[2]|spec.source.repoURL and either source.path, source.chart, or source.ref are required for source"
            ]
        );
        let errs = check(app(json!({
            "source": {"repoURL": "https://g/r.git", "path": ".", "helm": {}, "kustomize": {}},
            "destination": {"server": "https://kubernetes.default.svc"},
            "bogus": 1
        })));
        assert_eq!(
            errs,
            [
                "spec.bogus|unknown field \"spec.bogus\"",
                "spec.source|multiple application sources defined: Helm,Kustomize"
            ]
        );
    }

    #[test]
    fn project_must_exist_when_projects_given() {
        // controller/appcontroller.go: `Application referencing project %s which does not exist`.
        let a = Object::new(app(json!({
            "project": "team-a",
            "source": {"repoURL": "https://g/r.git", "path": "."},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"}
        })));
        let p = Object::new(
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": {"name": "team-b", "namespace": "argocd"},
            "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}]}}),
        );
        let set = crate::ObjectSet::new([&a, &p]);
        let ctx = Context::new(&set);
        let errs: Vec<String> = validate(&a, &ctx)
            .iter()
            .map(|e| e.message.clone())
            .collect();
        assert_eq!(
            errs,
            ["Application referencing project team-a which does not exist"]
        );
        let p2 = Object::new(
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": {"name": "team-a", "namespace": "argocd"},
            "spec": {"sourceRepos": ["https://other/*"], "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "y"}]}}),
        );
        let set = crate::ObjectSet::new([&a, &p2]);
        let ctx = Context::new(&set);
        let errs: Vec<String> = validate(&a, &ctx)
            .iter()
            .map(|e| e.message.clone())
            .collect();
        assert_eq!(
            errs,
            [
                "application repo https://g/r.git is not permitted in project 'team-a'",
                "application destination server 'https://kubernetes.default.svc' and namespace 'x' do not match any of the allowed destinations in project 'team-a'"
            ]
        );
    }
}
