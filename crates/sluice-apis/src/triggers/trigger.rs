//! `Trigger` and the pieces every trigger is made of (bindings, template, interceptors),
//! shared with the inline triggers of an `EventListener`.
//!
//! Upstream: tektoncd/triggers `pkg/apis/triggers/v1beta1/trigger_types.go`,
//! `trigger_validation.go`, `trigger_defaults.go`; the `v1alpha1` legacy inline interceptors
//! (`github`, `gitlab`, `bitbucket`, `cel`) from `v1alpha1/trigger_types.go`. What happens at
//! event time follows `pkg/template/resource.go` and `pkg/template/event.go`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, FieldPath, Object};

use super::trigger_template::{TriggerTemplateSpec, param_references};
use super::{GROUP, Param, decode_object, is_false, not_found, nullable, validate_object_meta};
use crate::Context;
use crate::meta::{NameRule, ObjectMeta};

/// `triggers.tekton.dev/Trigger`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: TriggerSpec,
}

/// `TriggerSpec`: bindings and a template, optionally behind interceptors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerSpec {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub bindings: Vec<TriggerSpecBinding>,
    #[serde(default)]
    pub template: TriggerSpecTemplate,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub interceptors: Vec<TriggerInterceptor>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub service_account_name: String,
}

/// A binding: a reference to a (Cluster)TriggerBinding, or one inline `name`/`value` param.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerSpecBinding {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub r#ref: String,
    /// `TriggerBinding` (the default) or `ClusterTriggerBinding`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub kind: String,
    #[serde(
        default,
        rename = "apiversion",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub api_version: String,
}

/// `TriggerBindingKind` values.
pub const NAMESPACED_TRIGGER_BINDING_KIND: &str = "TriggerBinding";
pub const CLUSTER_TRIGGER_BINDING_KIND: &str = "ClusterTriggerBinding";

impl TriggerSpecBinding {
    /// The kind after defaulting (`defaultBindings`: empty means `TriggerBinding`).
    pub fn effective_kind(&self) -> &str {
        if self.kind.is_empty() {
            NAMESPACED_TRIGGER_BINDING_KIND
        } else {
            &self.kind
        }
    }
}

/// The template: a reference to a TriggerTemplate or an embedded spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerSpecTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#ref: Option<String>,
    #[serde(
        default,
        rename = "apiversion",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<TriggerTemplateSpec>,
}

/// An interceptor: a `ref` to a (Cluster)Interceptor with `params`, or an old-style
/// `webhook`; in `v1alpha1` also the deprecated inline `github`/`gitlab`/`bitbucket`/`cel`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerInterceptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "InterceptorRef::is_empty")]
    pub r#ref: InterceptorRef,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub params: Vec<InterceptorParam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookInterceptor>,
    /// `v1alpha1` only (`DeprecatedGitHub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<ScmInterceptor>,
    /// `v1alpha1` only (`DeprecatedGitLab`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitlab: Option<ScmInterceptor>,
    /// `v1alpha1` only (`DeprecatedBitbucket`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitbucket: Option<ScmInterceptor>,
    /// `v1alpha1` only (`DeprecatedCEL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cel: Option<CelInterceptor>,
}

/// `InterceptorRef`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterceptorRef {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    /// `ClusterInterceptor` (the default) or `NamespacedInterceptor`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub kind: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub api_version: String,
}

impl InterceptorRef {
    pub fn is_empty(&self) -> bool {
        self.name.is_empty() && self.kind.is_empty() && self.api_version.is_empty()
    }
}

/// `InterceptorKind` values.
pub const CLUSTER_INTERCEPTOR_KIND: &str = "ClusterInterceptor";
pub const NAMESPACED_INTERCEPTOR_KIND: &str = "NamespacedInterceptor";

/// The interceptors Triggers installs as ClusterInterceptors (`cmd/interceptors`).
pub const CORE_INTERCEPTORS: &[&str] = &["cel", "github", "gitlab", "bitbucket", "slack"];

/// `InterceptorParams`: a name and any JSON value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterceptorParam {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default)]
    pub value: Value,
}

/// `WebhookInterceptor` (old-style webhook interceptor Service).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookInterceptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ref: Option<ObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub header: Vec<WebhookHeader>,
}

/// `corev1.ObjectReference`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub kind: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub uid: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub api_version: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub resource_version: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub field_path: String,
}

/// A webhook header (`pipeline v1beta1.Param`: a string or an array of strings).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookHeader {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default)]
    pub value: Value,
}

/// `SecretRef`: one key of one Secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub secret_key: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub secret_name: String,
}

/// The deprecated inline `github` / `gitlab` / `bitbucket` interceptors of `v1alpha1`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScmInterceptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub event_types: Vec<String>,
}

/// The deprecated inline `cel` interceptor of `v1alpha1`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CelInterceptor {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub filter: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub overlays: Vec<CelOverlay>,
}

/// `CELOverlay`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CelOverlay {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub key: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub expression: String,
}

/// Parameters of the core GitHub interceptor (`GitHubInterceptor` in `v1beta1`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GithubOptions {
    #[serde(default, skip_serializing_if = "is_false")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_access_token: Option<SecretRef>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub check_type: String,
}

impl Trigger {
    /// `SetDefaults` (trigger_defaults.go): binding kinds default to `TriggerBinding`,
    /// interceptor ref kinds to `ClusterInterceptor`.
    pub fn set_defaults(&mut self) {
        default_bindings(&mut self.spec.bindings);
        for ic in &mut self.spec.interceptors {
            ic.set_defaults();
        }
    }
}

/// `defaultBindings`: an empty binding kind becomes `TriggerBinding`.
pub fn default_bindings(bindings: &mut [TriggerSpecBinding]) {
    for b in bindings {
        if b.kind.is_empty() {
            b.kind = NAMESPACED_TRIGGER_BINDING_KIND.to_owned();
        }
    }
}

impl TriggerInterceptor {
    /// `defaultInterceptorKind`: an empty ref kind becomes `ClusterInterceptor`.
    pub fn set_defaults(&mut self) {
        if self.r#ref.kind.is_empty() {
            self.r#ref.kind = CLUSTER_INTERCEPTOR_KIND.to_owned();
        }
    }

    /// `GetName`: the ref name, or the legacy inline interceptor's name.
    pub fn effective_name(&self) -> &str {
        if !self.r#ref.name.is_empty() {
            &self.r#ref.name
        } else if self.bitbucket.is_some() {
            "bitbucket"
        } else if self.cel.is_some() {
            "cel"
        } else if self.github.is_some() {
            "github"
        } else if self.gitlab.is_some() {
            "gitlab"
        } else {
            ""
        }
    }

    /// The ref kind after defaulting (`defaultInterceptorKind`).
    pub fn effective_kind(&self) -> &str {
        if self.r#ref.kind.is_empty() {
            CLUSTER_INTERCEPTOR_KIND
        } else {
            &self.r#ref.kind
        }
    }

    fn legacy_fields(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.github.is_some() {
            v.push("github");
        }
        if self.gitlab.is_some() {
            v.push("gitlab");
        }
        if self.bitbucket.is_some() {
            v.push("bitbucket");
        }
        if self.cel.is_some() {
            v.push("cel");
        }
        v
    }
}

/// Validates a `Trigger` object.
pub fn validate(obj: &Object, ctx: &Context<'_>, v1alpha1: bool) -> FieldErrors {
    let (t, mut errs) = match decode_object::<Trigger>(obj) {
        Ok(d) => d,
        Err(e) => return e,
    };
    errs.also(validate_object_meta(
        &t.metadata,
        NameRule::Dns1123SubdomainMax63,
    ));
    errs.also(validate_trigger_spec(&t.spec, v1alpha1).via_field("spec"));
    errs.also(
        check_references(
            &t.spec.bindings,
            Some(&t.spec.template),
            &t.spec.interceptors,
            obj.namespace(),
            ctx,
        )
        .via_field("spec"),
    );
    errs
}

/// `TriggerSpec.validate`: bindings, the required template, interceptors. Paths are relative
/// to the spec.
pub fn validate_trigger_spec(spec: &TriggerSpec, v1alpha1: bool) -> FieldErrors {
    let mut errs = validate_bindings(&spec.bindings, v1alpha1);
    errs.also(validate_template(&spec.template, v1alpha1));
    errs.also(validate_interceptors(&spec.interceptors, v1alpha1));
    errs
}

/// `triggerSpecBindingArray.validate`. Paths start at `bindings`.
pub fn validate_bindings(bindings: &[TriggerSpecBinding], _v1alpha1: bool) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, b) in bindings.iter().enumerate() {
        let at = |f: &str| FieldPath::root().field("bindings").index(i).field(f);
        if !b.r#ref.is_empty() {
            if !b.name.is_empty() {
                errs.push(FieldError::multiple_one_of(
                    FieldPath::root().field("bindings").index(i),
                    &["ref", "name"],
                ));
            } else if b.effective_kind() != NAMESPACED_TRIGGER_BINDING_KIND
                && b.effective_kind() != CLUSTER_TRIGGER_BINDING_KIND
            {
                errs.push(FieldError::invalid(at("kind"), "invalid kind"));
            }
            if b.value.is_some() {
                errs.push(FieldError::warning(
                    at("value"),
                    "value is ignored on a binding that has a ref",
                ));
            }
        } else if !b.name.is_empty() {
            match &b.value {
                None => errs.push(FieldError::missing(at("value"))),
                Some(v) => {
                    errs.also(
                        super::validate_binding_value(v)
                            .into_iter()
                            .map(|mut e| {
                                e.path = at("value");
                                e
                            })
                            .collect::<Vec<_>>(),
                    );
                }
            }
        } else {
            errs.push(FieldError::missing_one_of(
                FieldPath::root().field("bindings").index(i),
                &["ref", "spec", "name"],
            ));
        }
    }
    errs
}

/// `TriggerSpecTemplate.validate`. Paths start at `template`.
pub fn validate_template(t: &TriggerSpecTemplate, v1alpha1: bool) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if !t.api_version.is_empty() {
        let ok = if v1alpha1 {
            t.api_version == "v1alpha1"
        } else {
            t.api_version == "v1alpha1" || t.api_version == "v1beta1"
        };
        if !ok {
            errs.push(FieldError::invalid(
                "template.apiversion",
                "invalid apiVersion",
            ));
        }
    }
    match (&t.spec, &t.r#ref) {
        (Some(_), Some(_)) => errs.push(FieldError::multiple_one_of("template", &["spec", "ref"])),
        (None, None) => errs.push(FieldError::missing_one_of("template", &["spec", "ref"])),
        (Some(spec), None) => {
            errs.also(
                super::trigger_template::validate_spec(spec)
                    .via_field("spec")
                    .via_field("template"),
            );
        }
        (None, Some(r)) if r.is_empty() => errs.push(FieldError::missing("template.ref")),
        (None, Some(_)) => {}
    }
    errs
}

/// Validates every interceptor. Paths start at `interceptors`.
pub fn validate_interceptors(list: &[TriggerInterceptor], v1alpha1: bool) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, ic) in list.iter().enumerate() {
        errs.also(validate_interceptor(ic, v1alpha1).via_field_index("interceptors", i));
    }
    errs
}

/// `TriggerInterceptor.validate` (both versions), plus the params of the core interceptors.
/// Paths are relative to the interceptor.
pub fn validate_interceptor(ic: &TriggerInterceptor, v1alpha1: bool) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let legacy = ic.legacy_fields();
    if !v1alpha1 {
        // The deprecated inline interceptors are not part of v1beta1: strict decoding
        // rejects them as unknown fields.
        for f in &legacy {
            errs.push(FieldError::new(
                *f,
                format!("unknown field \"{f}\" (v1alpha1 only; in v1beta1 use ref: {{name: {f}}} with params)"),
            ));
        }
    }
    if ic.webhook.is_none() && legacy.is_empty() && ic.r#ref.name.is_empty() {
        errs.push(FieldError::missing("ref.name"));
    }
    let mut set: Vec<&str> = Vec::new();
    if ic.webhook.is_some() {
        set.push("webhook");
    }
    if v1alpha1 {
        set.extend(legacy.iter().copied());
    }
    if set.len() > 1 {
        errs.push(FieldError::multiple_one_of("", &set));
    }
    if !ic.r#ref.name.is_empty() && !set.is_empty() {
        errs.push(FieldError::warning(
            "ref",
            format!(
                "ref and {} are both set; only the ref is used",
                set.join(", ")
            ),
        ));
    }
    if let Some(w) = &ic.webhook {
        errs.also(validate_webhook(w).via_field("webhook"));
    }
    if v1alpha1
        && ic.r#ref.name.is_empty()
        && let Some(c) = &ic.cel
    {
        if c.filter.is_empty() && c.overlays.is_empty() {
            errs.push(FieldError::multiple_one_of("cel", &["filter", "overlays"]));
        }
        for (j, o) in c.overlays.iter().enumerate() {
            errs.also(
                validate_overlay_fields(o)
                    .via_field_index("overlays", j)
                    .via_field("cel"),
            );
        }
    }
    if !ic.r#ref.name.is_empty() {
        let kind = ic.effective_kind();
        if kind != CLUSTER_INTERCEPTOR_KIND && kind != NAMESPACED_INTERCEPTOR_KIND {
            errs.push(FieldError::warning(
                "ref.kind",
                format!(
                    "unknown interceptor kind {kind:?}; expected {CLUSTER_INTERCEPTOR_KIND} or {NAMESPACED_INTERCEPTOR_KIND}"
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        for (j, p) in ic.params.iter().enumerate() {
            if p.name.is_empty() {
                errs.push(FieldError::missing(
                    FieldPath::root().field("params").index(j).field("name"),
                ));
            } else if !seen.insert(p.name.as_str()) {
                errs.push(FieldError::warning(
                    FieldPath::root().field("params").index(j).field("name"),
                    format!(
                        "param {:?} is given more than once; the last one wins",
                        p.name
                    ),
                ));
            }
        }
        if kind == CLUSTER_INTERCEPTOR_KIND && CORE_INTERCEPTORS.contains(&ic.r#ref.name.as_str()) {
            errs.also(validate_core_params(&ic.r#ref.name, &ic.params));
        }
    }
    errs
}

fn validate_overlay_fields(o: &CelOverlay) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if o.key.is_empty() {
        errs.push(FieldError::missing("key"));
    }
    if o.expression.is_empty() {
        errs.push(FieldError::missing("expression"));
    }
    errs
}

/// The webhook interceptor checks of `TriggerInterceptor.validate`. Paths start at `webhook`.
fn validate_webhook(w: &WebhookInterceptor) -> FieldErrors {
    let mut errs = FieldErrors::new();
    match &w.object_ref {
        None => errs.push(FieldError::missing("objectRef")),
        Some(r) => {
            if r.kind.is_empty() {
                errs.push(FieldError::missing("objectRef.kind"));
            } else if r.kind != "Service" {
                errs.push(FieldError::invalid("objectRef.kind", "invalid kind"));
            }
            if r.api_version.is_empty() {
                errs.push(FieldError::missing("objectRef.apiVersion"));
            } else if r.api_version != "v1" {
                errs.push(FieldError::invalid(
                    "objectRef.apiVersion",
                    "invalid apiVersion",
                ));
            }
        }
    }
    for (i, h) in w.header.iter().enumerate() {
        let at = |f: &str| FieldPath::root().field("header").index(i).field(f);
        if h.name.is_empty() || canonical_header_key(&h.name) != h.name {
            errs.push(FieldError::invalid(at("name"), "invalid header name"));
        }
        let empty = match &h.value {
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => true,
        };
        if empty {
            errs.push(FieldError::invalid(at("value"), "invalid header value"));
        }
    }
    errs
}

/// Go's `http.CanonicalHeaderKey` for valid tokens: each dash-separated word capitalised.
pub fn canonical_header_key(s: &str) -> String {
    if s.bytes()
        .any(|b| b == b' ' || !b.is_ascii() || b.is_ascii_control())
    {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut upper = true;
    for c in s.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

/// The params each core interceptor decodes (`interceptors.UnmarshalParams` into its params
/// struct): a value of the wrong type makes the interceptor answer "failed to parse
/// interceptor params" on every event, so it is an error; a name it does not know is ignored
/// (a warning). Paths start at `params`.
fn validate_core_params(name: &str, params: &[InterceptorParam]) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let known: &[&str] = match name {
        "cel" => &["filter", "overlays"],
        "github" => &["secretRef", "eventTypes", "addChangedFiles", "githubOwners"],
        "gitlab" | "bitbucket" => &["secretRef", "eventTypes"],
        "slack" => &["requestedFields"],
        _ => &[],
    };
    let fail = |j: usize, msg: String| {
        FieldError::new(
            FieldPath::root().field("params").index(j).field("value"),
            format!(
                "{msg} (the {name} interceptor fails every event: failed to parse interceptor params)"
            ),
        )
    };
    for (j, p) in params.iter().enumerate() {
        if !known.contains(&p.name.as_str()) {
            if !p.name.is_empty() {
                errs.push(FieldError::warning(
                    FieldPath::root().field("params").index(j).field("name"),
                    format!(
                        "the {name} interceptor has no param {:?} (it takes {}); the value is ignored",
                        p.name,
                        known.join(", ")
                    ),
                ));
            }
            continue;
        }
        let v = &p.value;
        match p.name.as_str() {
            "filter" if !(v.is_string() || v.is_null()) => {
                errs.push(fail(
                    j,
                    format!("filter must be a string, got {}", json_type(v)),
                ));
            }
            "overlays" => match v {
                Value::Null => {}
                Value::Array(items) => {
                    for (k, o) in items.iter().enumerate() {
                        let at = FieldPath::root()
                            .field("params")
                            .index(j)
                            .field("value")
                            .index(k);
                        let Some(m) = o.as_object() else {
                            errs.push(FieldError::new(
                                at,
                                format!(
                                    "an overlay must be an object with key and expression, got {}",
                                    json_type(o)
                                ),
                            ));
                            continue;
                        };
                        for f in ["key", "expression"] {
                            match m.get(f) {
                                Some(Value::String(s)) if !s.is_empty() => {}
                                Some(Value::String(_)) | None | Some(Value::Null) => {
                                    errs.push(FieldError::missing(at.clone().field(f)));
                                }
                                Some(other) => errs.push(FieldError::new(
                                    at.clone().field(f),
                                    format!(
                                        "{f} must be a string, got {} (the cel interceptor fails every event: failed to parse interceptor params)",
                                        json_type(other)
                                    ),
                                )),
                            }
                        }
                        for k2 in m.keys() {
                            if k2 != "key" && k2 != "expression" {
                                errs.push(FieldError::warning(
                                    at.clone().field(k2),
                                    format!("unknown overlay field {k2:?}; it is ignored"),
                                ));
                            }
                        }
                    }
                }
                other => errs.push(fail(
                    j,
                    format!("overlays must be a list, got {}", json_type(other)),
                )),
            },
            "secretRef" => match v {
                Value::Object(m) => {
                    for f in ["secretName", "secretKey"] {
                        match m.get(f) {
                            Some(Value::String(s)) if !s.is_empty() => {}
                            Some(Value::String(_)) | None | Some(Value::Null) => {
                                errs.push(FieldError::missing(
                                    FieldPath::root()
                                        .field("params")
                                        .index(j)
                                        .field("value")
                                        .field(f),
                                ));
                            }
                            Some(other) => errs.push(fail(
                                j,
                                format!("secretRef.{f} must be a string, got {}", json_type(other)),
                            )),
                        }
                    }
                }
                Value::Null => {}
                other => errs.push(fail(
                    j,
                    format!(
                        "secretRef must be an object with secretName and secretKey, got {}",
                        json_type(other)
                    ),
                )),
            },
            "eventTypes" | "requestedFields" => match v {
                Value::Null => {}
                Value::Array(items) if items.iter().all(Value::is_string) => {}
                other => errs.push(fail(
                    j,
                    format!(
                        "{} must be a list of strings, got {}",
                        p.name,
                        json_type(other)
                    ),
                )),
            },
            "addChangedFiles" | "githubOwners" => {
                if !(v.is_object() || v.is_null()) {
                    errs.push(fail(
                        j,
                        format!("{} must be an object, got {}", p.name, json_type(v)),
                    ));
                } else if let Err(e) = serde_json::from_value::<GithubOptions>(v.clone()) {
                    errs.push(fail(j, format!("{}: {e}", p.name)));
                }
            }
            _ => {}
        }
    }
    errs
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The params a set of bindings provides, as the sink resolves them
/// (`resolveBindingsToParams`), each with the path of the binding it comes from.
struct ResolvedBindings {
    params: Vec<(String, FieldPath)>,
    /// Every binding resolved (no ref missing from the inputs).
    complete: bool,
}

/// The template a trigger uses, resolved.
enum ResolvedTemplate {
    Found {
        spec: TriggerTemplateSpec,
        path: FieldPath,
        label: String,
    },
    Unresolved,
}

/// Cross-object checks of one trigger (an EventListener's inline trigger or a Trigger's
/// spec): binding, template and interceptor refs resolve among the inputs, and when the
/// bindings and the template all resolve, the params they exchange match. Paths are
/// relative to the trigger (`bindings[1].ref`, `template.ref`).
pub fn check_references(
    bindings: &[TriggerSpecBinding],
    template: Option<&TriggerSpecTemplate>,
    interceptors: &[TriggerInterceptor],
    namespace: Option<&str>,
    ctx: &Context<'_>,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, ic) in interceptors.iter().enumerate() {
        errs.also(check_interceptor_ref(ic, namespace, ctx).via_field_index("interceptors", i));
    }
    let resolved = resolve_bindings(bindings, namespace, ctx, &mut errs);
    let tmpl = match template {
        Some(t) => resolve_template(t, namespace, ctx, &mut errs),
        None => return errs,
    };
    let ResolvedTemplate::Found { spec, path, label } = tmpl else {
        return errs;
    };

    // Duplicate names across all bindings: `duplicate param name: X`, every event fails.
    let mut first: BTreeMap<&str, &FieldPath> = BTreeMap::new();
    for (name, p) in &resolved.params {
        if let Some(prev) = first.get(name.as_str()) {
            errs.push(FieldError::new(
                p.clone(),
                format!(
                    "duplicate param name: {name} (also bound at {prev}); the EventListener fails every event for this trigger: failed to resolve bindings"
                ),
            ));
        } else {
            first.insert(name, p);
        }
    }
    let declared: BTreeMap<&str, &super::ParamSpec> =
        spec.params.iter().map(|p| (p.name.as_str(), p)).collect();
    for (name, p) in &resolved.params {
        if !declared.contains_key(name.as_str()) {
            errs.push(FieldError::warning(
                p.clone(),
                format!("binding param {name:?} is not declared by {label}; it is unused"),
            ));
        }
    }
    if resolved.complete {
        let provided: BTreeSet<&str> = resolved.params.iter().map(|(n, _)| n.as_str()).collect();
        let refs = param_references(&spec);
        for ps in &spec.params {
            if ps.default.is_some() || provided.contains(ps.name.as_str()) {
                continue;
            }
            let in_name = refs.iter().any(|r| r.name == ps.name && r.in_object_name);
            let literal = format!("$(tt.params.{})", ps.name);
            if in_name {
                errs.push(FieldError::new(
                    path.clone(),
                    format!(
                        "param {:?} of {label} has no default and no binding provides it; {literal} stays in a resource name, which the API server rejects on every event",
                        ps.name
                    ),
                ));
            } else {
                errs.push(FieldError::warning(
                    path.clone(),
                    format!(
                        "param {:?} of {label} has no default and no binding provides it; the resources are created with the literal text {literal}",
                        ps.name
                    ),
                ));
            }
        }
    }
    errs
}

fn resolve_bindings(
    bindings: &[TriggerSpecBinding],
    namespace: Option<&str>,
    ctx: &Context<'_>,
    errs: &mut FieldErrors,
) -> ResolvedBindings {
    let mut out = ResolvedBindings {
        params: Vec::new(),
        complete: true,
    };
    for (i, b) in bindings.iter().enumerate() {
        let base = FieldPath::root().field("bindings").index(i);
        if !b.r#ref.is_empty() {
            let kind = b.effective_kind();
            let ns = if kind == CLUSTER_TRIGGER_BINDING_KIND {
                None
            } else {
                namespace
            };
            if kind != NAMESPACED_TRIGGER_BINDING_KIND && kind != CLUSTER_TRIGGER_BINDING_KIND {
                out.complete = false;
                continue;
            }
            match ctx.set.find(GROUP, kind, ns, &b.r#ref) {
                Some(o) => {
                    let params: Vec<Param> = o
                        .value()
                        .pointer("/spec/params")
                        .cloned()
                        .and_then(|v| serde_json::from_value(v).ok())
                        .unwrap_or_default();
                    for p in params {
                        out.params.push((p.name, base.clone().field("ref")));
                    }
                }
                None => {
                    out.complete = false;
                    errs.push(not_found(base.field("ref"), kind, &b.r#ref));
                }
            }
        } else if !b.name.is_empty() {
            out.params.push((b.name.clone(), base.field("name")));
        }
    }
    out
}

fn resolve_template(
    t: &TriggerSpecTemplate,
    namespace: Option<&str>,
    ctx: &Context<'_>,
    errs: &mut FieldErrors,
) -> ResolvedTemplate {
    match (&t.spec, &t.r#ref) {
        (Some(spec), None) => ResolvedTemplate::Found {
            spec: spec.clone(),
            path: FieldPath::root().field("template").field("spec"),
            label: "the embedded template".to_owned(),
        },
        (None, Some(name)) if !name.is_empty() => {
            match ctx.set.find(GROUP, "TriggerTemplate", namespace, name) {
                Some(o) => {
                    let spec = o
                        .value()
                        .get("spec")
                        .cloned()
                        .and_then(|v| serde_json::from_value::<TriggerTemplateSpec>(v).ok());
                    match spec {
                        Some(spec) => ResolvedTemplate::Found {
                            spec,
                            path: FieldPath::root().field("template").field("ref"),
                            label: format!("TriggerTemplate {name:?}"),
                        },
                        None => ResolvedTemplate::Unresolved,
                    }
                }
                None => {
                    errs.push(not_found("template.ref", "TriggerTemplate", name));
                    ResolvedTemplate::Unresolved
                }
            }
        }
        _ => ResolvedTemplate::Unresolved,
    }
}

/// An interceptor ref names a ClusterInterceptor (or, with kind `NamespacedInterceptor`, an
/// Interceptor in the trigger's namespace) that is a core interceptor or among the inputs.
/// Also the Secrets a core interceptor's `secretRef` names. Paths are relative to the
/// interceptor.
pub fn check_interceptor_ref(
    ic: &TriggerInterceptor,
    namespace: Option<&str>,
    ctx: &Context<'_>,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let name = ic.r#ref.name.as_str();
    if !name.is_empty() {
        let found = match ic.effective_kind() {
            CLUSTER_INTERCEPTOR_KIND => Some((
                CLUSTER_INTERCEPTOR_KIND,
                CORE_INTERCEPTORS.contains(&name)
                    || ctx
                        .set
                        .find(GROUP, CLUSTER_INTERCEPTOR_KIND, None, name)
                        .is_some(),
            )),
            NAMESPACED_INTERCEPTOR_KIND => Some((
                "Interceptor",
                ctx.set
                    .find(GROUP, "Interceptor", namespace, name)
                    .is_some(),
            )),
            _ => None,
        };
        if let Some((kind, false)) = found {
            errs.push(not_found("ref.name", kind, name));
        }
        if CORE_INTERCEPTORS.contains(&name) {
            for (j, p) in ic.params.iter().enumerate() {
                if p.name == "secretRef"
                    && let Ok(sr) = serde_json::from_value::<SecretRef>(p.value.clone())
                {
                    errs.also(
                        check_secret(&sr, namespace, ctx)
                            .via_field("value")
                            .via_field_index("params", j),
                    );
                }
            }
        }
    }
    for (field, legacy) in [
        ("github", &ic.github),
        ("gitlab", &ic.gitlab),
        ("bitbucket", &ic.bitbucket),
    ] {
        if let Some(sr) = legacy.as_ref().and_then(|l| l.secret_ref.as_ref()) {
            errs.also(
                check_secret(sr, namespace, ctx)
                    .via_field("secretRef")
                    .via_field(field),
            );
        }
    }
    errs
}

/// When the Secret of a `secretRef` is among the inputs, it has the key. A Secret absent
/// from the inputs is not reported: Secrets are usually created outside the manifests
/// (sealed or external secrets), as the Tekton checks of Secret volumes assume too. Paths are
/// relative to the secretRef.
fn check_secret(sr: &SecretRef, namespace: Option<&str>, ctx: &Context<'_>) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if sr.secret_name.is_empty() {
        return errs;
    }
    match ctx.set.find("", "Secret", namespace, &sr.secret_name) {
        None => {}
        Some(s) => {
            let has = |f: &str| {
                s.value()
                    .get(f)
                    .and_then(Value::as_object)
                    .is_some_and(|m| m.contains_key(&sr.secret_key))
            };
            if !sr.secret_key.is_empty() && !has("data") && !has("stringData") {
                errs.push(FieldError::warning(
                    "secretKey",
                    format!(
                        "Secret {:?} has no key {:?}; the interceptor fails every event",
                        sr.secret_name, sr.secret_key
                    ),
                ));
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ObjectSet;
    use serde_json::json;

    fn run(docs: &[Value]) -> Vec<FieldErrors> {
        let objs: Vec<Object> = docs.iter().cloned().map(Object::new).collect();
        let set = ObjectSet::new(objs.iter());
        let ctx = Context::new(&set);
        objs.iter().map(|o| crate::validate_one(o, &ctx)).collect()
    }

    fn msgs(e: &FieldErrors) -> Vec<String> {
        e.iter()
            .map(|e| format!("{} {}: {}", e.severity, e.path, e.message))
            .collect()
    }

    // tektoncd/triggers v1beta1/trigger_validation.go: template ref xor spec; bindings with
    // a ref take no name; an inline binding needs a value; a binding needs ref or name.
    #[test]
    fn trigger_spec_rules() {
        let out = run(&[json!({
            "apiVersion": "triggers.tekton.dev/v1beta1", "kind": "Trigger",
            "metadata": {"name": "t"},
            "spec": {
                "bindings": [
                    {"ref": "b", "name": "x"},
                    {"name": "y"},
                    {},
                    {"ref": "b", "kind": "Other"}
                ],
                "template": {},
                "interceptors": [{"params": []}]
            }
        })]);
        let m = msgs(&out[0]);
        assert!(
            m.contains(
                &"error spec.bindings[0]: expected exactly one, got both: ref, name".to_owned()
            ),
            "{m:#?}"
        );
        assert!(
            m.contains(&"error spec.bindings[1].value: missing field(s)".to_owned()),
            "{m:#?}"
        );
        assert!(
            m.contains(
                &"error spec.bindings[2]: expected exactly one, got neither: ref, spec, name"
                    .to_owned()
            ),
            "{m:#?}"
        );
        assert!(
            m.contains(&"error spec.bindings[3].kind: invalid value: invalid kind".to_owned()),
            "{m:#?}"
        );
        assert!(
            m.contains(
                &"error spec.template: expected exactly one, got neither: spec, ref".to_owned()
            ),
            "{m:#?}"
        );
        assert!(
            m.contains(&"error spec.interceptors[0].ref.name: missing field(s)".to_owned()),
            "{m:#?}"
        );
    }

    // v1beta1 has no inline cel/github interceptors (trigger_types.go); v1alpha1 does.
    #[test]
    fn legacy_interceptors_only_in_v1alpha1() {
        let tr = |v: &str| {
            json!({
                "apiVersion": format!("triggers.tekton.dev/{v}"), "kind": "Trigger",
                "metadata": {"name": "t"},
                "spec": {
                    "interceptors": [{"cel": {"filter": "true"}}],
                    "template": {"ref": "tt"}
                }
            })
        };
        let out = run(&[tr("v1beta1"), tr("v1alpha1")]);
        assert!(
            msgs(&out[0])
                .iter()
                .any(|m| m.starts_with("error spec.interceptors[0].cel: unknown field")),
            "{:#?}",
            msgs(&out[0])
        );
        assert!(!out[1].has_errors(), "{:#?}", msgs(&out[1]));
    }

    // pkg/interceptors/cel/cel.go: params are decoded into {filter string, overlays
    // [{key, expression}]}; a wrong type fails every event.
    #[test]
    fn core_interceptor_params() {
        let out = run(&[json!({
            "apiVersion": "triggers.tekton.dev/v1beta1", "kind": "Trigger",
            "metadata": {"name": "t"},
            "spec": {
                "interceptors": [
                    {"ref": {"name": "cel"}, "params": [
                        {"name": "filter", "value": 3},
                        {"name": "overlays", "value": [{"key": "k"}]},
                        {"name": "filtr", "value": "x"}
                    ]},
                    {"ref": {"name": "github"}, "params": [
                        {"name": "eventTypes", "value": "push"}
                    ]},
                    {"ref": {"name": "my-interceptor"}}
                ],
                "template": {"ref": "tt"}
            }
        })]);
        let m = msgs(&out[0]);
        assert!(
            m.iter().any(|m| m.starts_with(
                "error spec.interceptors[0].params[0].value: filter must be a string"
            )),
            "{m:#?}"
        );
        assert!(
            m.contains(
                &"error spec.interceptors[0].params[1].value[0].expression: missing field(s)"
                    .to_owned()
            ),
            "{m:#?}"
        );
        assert!(m.iter().any(|m| m.starts_with("warning spec.interceptors[0].params[2].name: the cel interceptor has no param \"filtr\"")), "{m:#?}");
        assert!(
            m.iter().any(|m| m.starts_with(
                "error spec.interceptors[1].params[0].value: eventTypes must be a list of strings"
            )),
            "{m:#?}"
        );
        assert!(m.contains(&"warning spec.interceptors[2].ref.name: ClusterInterceptor \"my-interceptor\" not found among the inputs".to_owned()), "{m:#?}");
        assert!(
            m.contains(
                &"warning spec.template.ref: TriggerTemplate \"tt\" not found among the inputs"
                    .to_owned()
            ),
            "{m:#?}"
        );
    }

    // pkg/template/resource.go resolveBindingsToParams: duplicate names across the bindings
    // of a trigger fail every event; event.go: a template param nobody provides and without
    // a default leaves "$(tt.params.x)" in the created resource.
    #[test]
    fn bindings_against_template() {
        let out = run(&[
            json!({
                "apiVersion": "triggers.tekton.dev/v1beta1", "kind": "Trigger",
                "metadata": {"name": "t", "namespace": "ns"},
                "spec": {
                    "bindings": [
                        {"ref": "tb"},
                        {"name": "a", "value": "$(body.a)"},
                        {"ref": "ctb", "kind": "ClusterTriggerBinding"}
                    ],
                    "template": {"ref": "tt"}
                }
            }),
            json!({"apiVersion": "triggers.tekton.dev/v1beta1", "kind": "TriggerBinding",
                   "metadata": {"name": "tb", "namespace": "ns"},
                   "spec": {"params": [{"name": "a", "value": "$(body.x)"}, {"name": "extra", "value": "1"}]}}),
            json!({"apiVersion": "triggers.tekton.dev/v1beta1", "kind": "ClusterTriggerBinding",
                   "metadata": {"name": "ctb"},
                   "spec": {"params": [{"name": "c", "value": "$(header.X)"}]}}),
            json!({"apiVersion": "triggers.tekton.dev/v1beta1", "kind": "TriggerTemplate",
                   "metadata": {"name": "tt", "namespace": "ns"},
                   "spec": {"params": [{"name": "a"}, {"name": "c"}, {"name": "missing"}, {"name": "named"}, {"name": "d", "default": "x"}],
                            "resourcetemplates": [{"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
                               "metadata": {"generateName": "run-$(tt.params.named)-"},
                               "spec": {"params": [{"name": "m", "value": "$(tt.params.missing)"}]}}]}}),
        ]);
        let m = msgs(&out[0]);
        assert!(
            m.iter()
                .any(|m| m.starts_with("error spec.bindings[1].name: duplicate param name: a")),
            "{m:#?}"
        );
        assert!(m.iter().any(|m| m.starts_with("warning spec.bindings[0].ref: binding param \"extra\" is not declared by TriggerTemplate \"tt\"")), "{m:#?}");
        assert!(m.iter().any(|m| m.starts_with("warning spec.template.ref: param \"missing\" of TriggerTemplate \"tt\" has no default")), "{m:#?}");
        assert!(
            m.iter().any(|m| m.starts_with(
                "error spec.template.ref: param \"named\" of TriggerTemplate \"tt\" has no default"
            )),
            "{m:#?}"
        );
        assert_eq!(m.len(), 4, "{m:#?}");
    }

    // Strict decoding (kubectl fieldValidation=Strict, knative DisallowUnknownFields): unknown
    // fields are reported with their paths, also inside lists read through `nullable`;
    // `resourceTemplates` is not `resourcetemplates` (tektoncd/triggers#1648).
    #[test]
    fn unknown_fields_are_reported() {
        let out = run(&[json!({
            "apiVersion": "triggers.tekton.dev/v1beta1", "kind": "Trigger",
            "metadata": {"name": "t"},
            "spec": {
                "bindings": [{"ref": "b", "namespace": "x"}],
                "template": {"spec": {"resourceTemplates": []}},
                "interceptors": [{"ref": {"name": "cel"}, "params": null}]
            }
        })]);
        let m = msgs(&out[0]);
        assert!(
            m.contains(
                &"error spec.bindings[0].namespace: unknown field \"spec.bindings[0].namespace\""
                    .to_owned()
            ),
            "{m:#?}"
        );
        assert!(m.contains(&"error spec.template.spec.resourceTemplates: unknown field \"spec.template.spec.resourceTemplates\"".to_owned()), "{m:#?}");
        assert!(
            m.contains(&"error spec.template.spec.resourcetemplates: missing field(s)".to_owned()),
            "{m:#?}"
        );
    }

    // trigger_defaults.go: kinds are defaulted.
    #[test]
    fn defaults() {
        let mut t: Trigger = serde_json::from_value(json!({"spec": {
            "bindings": [{"ref": "b"}, {"ref": "c", "kind": "ClusterTriggerBinding"}],
            "interceptors": [{"ref": {"name": "cel"}}]}}))
        .expect("trigger");
        t.set_defaults();
        assert_eq!(t.spec.bindings[0].kind, "TriggerBinding");
        assert_eq!(t.spec.bindings[1].kind, "ClusterTriggerBinding");
        assert_eq!(t.spec.interceptors[0].r#ref.kind, "ClusterInterceptor");
    }

    #[test]
    fn header_keys_are_canonical() {
        assert_eq!(canonical_header_key("foo-trig-header1"), "Foo-Trig-Header1");
        assert_eq!(canonical_header_key("X-GitHub-Event"), "X-Github-Event");
    }
}
