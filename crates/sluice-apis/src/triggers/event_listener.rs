//! `EventListener`: the HTTP sink that runs triggers (inline, by `triggerRef`, or selected by
//! label/namespace) on each event.
//!
//! Upstream: tektoncd/triggers `pkg/apis/triggers/v1beta1/event_listener_types.go`,
//! `event_listener_validation.go`, `event_listener_defaults.go`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sluice_core::selector::Selector;
use sluice_core::{FieldError, FieldErrors, FieldPath, Object};

use super::trigger::{
    TriggerInterceptor, TriggerSpecBinding, TriggerSpecTemplate, check_interceptor_ref,
    check_references, validate_bindings, validate_interceptors, validate_template,
};
use super::{GROUP, TriggersFlags, decode_object, not_found, nullable, validate_object_meta};
use crate::Context;
use crate::meta::{NameRule, ObjectMeta};

/// `triggers.tekton.dev/EventListener`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventListener {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: EventListenerSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

impl EventListener {
    /// `SetDefaults` (event_listener_defaults.go): `replicas: 0` becomes 1, binding and
    /// interceptor kinds are defaulted. (The default service account comes from the
    /// cluster's `config-defaults-triggers` and is not applied here.)
    pub fn set_defaults(&mut self) {
        if let Some(k) = self
            .spec
            .resources
            .as_mut()
            .and_then(|r| r.kubernetes_resource.as_mut())
            && k.replicas == Some(0)
        {
            k.replicas = Some(1);
        }
        for t in &mut self.spec.triggers {
            super::trigger::default_bindings(&mut t.bindings);
            for ic in &mut t.interceptors {
                ic.set_defaults();
            }
        }
        for g in &mut self.spec.trigger_groups {
            for ic in &mut g.interceptors {
                ic.set_defaults();
            }
        }
    }
}

/// `EventListenerSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventListenerSpec {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub service_account_name: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub triggers: Vec<EventListenerTrigger>,
    /// Alpha (`enable-api-fields: alpha`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub trigger_groups: Vec<EventListenerTriggerGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<NamespaceSelector>,
    /// `metav1.LabelSelector` selecting Triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Alpha (`enable-api-fields: alpha`).
    #[serde(
        default,
        rename = "cloudEventURI",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub cloud_event_uri: String,
}

/// `EventListenerTrigger`: an inline trigger, or a `triggerRef` to a Trigger.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventListenerTrigger {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub bindings: Vec<TriggerSpecBinding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TriggerSpecTemplate>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub trigger_ref: String,
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

/// `EventListenerTriggerGroup`: Triggers selected by labels/namespaces sharing interceptors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventListenerTriggerGroup {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub interceptors: Vec<TriggerInterceptor>,
    #[serde(default)]
    pub trigger_selector: EventListenerTriggerSelector,
}

/// `EventListenerTriggerSelector`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventListenerTriggerSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<NamespaceSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<Value>,
}

/// `NamespaceSelector`: namespace names, `*` for all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_names: Vec<String>,
}

/// `Resources`: the shape of the sink (a Deployment + Service, or a custom resource).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_resource: Option<KubernetesResource>,
    /// A raw object shaped like a `duckv1.WithPod` (e.g. a Knative Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_resource: Option<Value>,
}

/// `KubernetesResource`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub service_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_load_balancer_class: Option<String>,
    /// `duckv1.WithPodSpec`: `{template: {metadata, spec: PodSpec}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Value>,
}

/// The PodSpec fields an EventListener sink may set (`podSpecMask`); the rest are
/// "must not set the field(s)". `securityContext` is allowed since upstream's
/// eventlistener-securitycontext example.
const POD_FIELDS_ALLOWED: &[&str] = &[
    "serviceAccountName",
    "containers",
    "tolerations",
    "nodeSelector",
    "securityContext",
];

/// The container fields allowed (`containerFieldMask`).
const CONTAINER_FIELDS_ALLOWED: &[&str] = &["resources", "env", "securityContext"];

/// `v1alpha1` kubernetesResource containers may also set probes
/// (`containerFieldMaskForKubernetes`).
const CONTAINER_PROBES: &[&str] = &["livenessProbe", "readinessProbe", "startupProbe"];

/// Env vars that come as a pair (`reservedEnvVars`).
const TLS_ENV: &[&str] = &["TLS_CERT", "TLS_KEY"];

/// Validates an `EventListener` object.
pub fn validate(obj: &Object, ctx: &Context<'_>, v1alpha1: bool) -> FieldErrors {
    let (el, mut errs) = match decode_object::<EventListener>(obj) {
        Ok(d) => d,
        Err(e) => return e,
    };
    errs.also(validate_object_meta(
        &el.metadata,
        NameRule::Dns1123Subdomain,
    ));
    if let Some(name) = &el.metadata.name
        && name.len() > 60
    {
        // `el-` prefixes the generated Service name.
        errs.push(FieldError::invalid(
            "metadata.name",
            format!("eventListener name '{name}' must be no more than 60 characters long"),
        ));
    }
    let flags = TriggersFlags::from_set(ctx.set);
    errs.also(validate_spec(&el.spec, v1alpha1, &flags).via_field("spec"));
    errs.also(check_spec_references(&el.spec, obj.namespace(), ctx).via_field("spec"));
    errs
}

/// `EventListenerSpec.validate`. Paths are relative to the spec.
pub fn validate_spec(s: &EventListenerSpec, v1alpha1: bool, flags: &TriggersFlags) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let ns_names = s
        .namespace_selector
        .as_ref()
        .is_some_and(|n| !n.match_names.is_empty());
    if s.label_selector.is_none()
        && !ns_names
        && s.trigger_groups.is_empty()
        && s.triggers.is_empty()
    {
        errs.push(FieldError::missing_one_of(
            "",
            &[
                "labelSelector",
                "namespaceSelector",
                "triggerGroups",
                "triggers",
            ],
        ));
    }
    for (i, t) in s.triggers.iter().enumerate() {
        errs.also(validate_trigger(t, v1alpha1).via_field_index("triggers", i));
    }
    if let Some(ls) = &s.label_selector
        && let Err(e) = Selector::from_label_selector(ls)
    {
        errs.also(e.via_field("labelSelector"));
    }
    if let Some(r) = &s.resources {
        errs.also(validate_resources(r, v1alpha1).via_field("resources"));
    }
    if !s.trigger_groups.is_empty() {
        match flags.require_alpha("triggerGroups", "spec.triggerGroups") {
            Some(e) if e.severity == sluice_core::Severity::Error => errs.push(e),
            gate => {
                errs.extend(gate);
                for (i, g) in s.trigger_groups.iter().enumerate() {
                    errs.also(validate_group(g, v1alpha1).via_field_index("triggerGroups", i));
                }
            }
        }
    }
    if !s.cloud_event_uri.is_empty() {
        errs.extend(flags.require_alpha("cloudEventURI", "spec.CloudEventURI"));
    }
    errs
}

/// `EventListenerTrigger.validate`. Paths are relative to the trigger.
pub fn validate_trigger(t: &EventListenerTrigger, v1alpha1: bool) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if t.template.is_none() && t.trigger_ref.is_empty() {
        errs.push(FieldError::missing_one_of("", &["template", "triggerRef"]));
    }
    if !t.trigger_ref.is_empty()
        && (t.template.is_some() || !t.bindings.is_empty() || !t.interceptors.is_empty())
    {
        errs.push(FieldError::multiple_one_of(
            "",
            &["triggerRef", "template or bindings or interceptors"],
        ));
    }
    errs.also(validate_bindings(&t.bindings, v1alpha1));
    if let Some(tmpl) = &t.template {
        errs.also(validate_template(tmpl, v1alpha1));
    }
    errs.also(validate_interceptors(&t.interceptors, v1alpha1));
    // The name becomes the value of label `tekton.dev/trigger`.
    if !sluice_core::names::label_value(&t.name).is_empty() {
        errs.push(FieldError::invalid(
            "name",
            format!("trigger name '{}' must be a valid label value", t.name),
        ));
    }
    errs
}

fn validate_group(g: &EventListenerTriggerGroup, v1alpha1: bool) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let sel = &g.trigger_selector;
    let ns_names = sel
        .namespace_selector
        .as_ref()
        .is_some_and(|n| !n.match_names.is_empty());
    if sel.label_selector.is_none() && !ns_names {
        errs.push(FieldError::missing_one_of(
            "triggerSelector",
            &["labelSelector", "namespaceSelector"],
        ));
    }
    if let Some(ls) = &sel.label_selector
        && let Err(e) = Selector::from_label_selector(ls)
    {
        errs.also(e.via_field("labelSelector").via_field("triggerSelector"));
    }
    if g.interceptors.is_empty() {
        errs.push(FieldError::missing("interceptors"));
    }
    errs.also(validate_interceptors(&g.interceptors, v1alpha1));
    errs
}

/// `validateKubernetesObject` / `validateCustomObject`. Paths start at `resources`.
fn validate_resources(r: &Resources, v1alpha1: bool) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if r.kubernetes_resource.is_some() && r.custom_resource.is_some() {
        errs.push(FieldError::multiple_one_of(
            "",
            &["kubernetesResource", "customResource"],
        ));
        return errs;
    }
    if let Some(k) = &r.kubernetes_resource {
        let mut e = FieldErrors::new();
        if let Some(n) = k.replicas
            && n < 0
        {
            e.push(FieldError::invalid("replicas", n));
        }
        if let Some(spec) = &k.spec {
            let probes = if v1alpha1 { CONTAINER_PROBES } else { &[] };
            e.also(validate_with_pod_spec(spec, probes).via_field("spec"));
        }
        errs.also(e.via_field("kubernetesResource"));
    }
    if let Some(c) = &r.custom_resource {
        let mut e = FieldErrors::new();
        match c.as_object() {
            None => e.push(FieldError::invalid("", "expected an object")),
            Some(m) => {
                if let Some(spec) = m.get("spec") {
                    e.also(validate_with_pod_spec(spec, &[]).via_field("spec"));
                }
            }
        }
        errs.also(e.via_field("customResource"));
    }
    errs
}

/// Checks `{template: {spec: PodSpec}}`. Paths start inside it.
fn validate_with_pod_spec(v: &Value, extra_container_fields: &[&str]) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let Some(pod) = v.pointer("/template/spec") else {
        return errs;
    };
    let Some(pod) = pod.as_object() else {
        if !pod.is_null() {
            errs.push(FieldError::invalid("template.spec", "expected an object"));
        }
        return errs;
    };
    let base = FieldPath::root().field("template").field("spec");
    errs.also(disallowed(pod, POD_FIELDS_ALLOWED, &base));
    if let Some(Value::Array(containers)) = pod.get("containers") {
        if containers.len() > 1 {
            errs.push(FieldError::new(
                base.clone().field("containers"),
                "expected exactly one, got both",
            ));
        }
        if containers.len() == 1
            && let Some(c) = containers[0].as_object()
        {
            let cpath = base.clone().field("containers").index(0);
            let allowed: Vec<&str> = CONTAINER_FIELDS_ALLOWED
                .iter()
                .chain(extra_container_fields)
                .copied()
                .collect();
            errs.also(disallowed(c, &allowed, &cpath));
            if let Some(Value::Array(env)) = c.get("env") {
                errs.also(validate_env(env, &cpath.field("env")));
            }
        }
    }
    errs
}

fn disallowed(m: &Map<String, Value>, allowed: &[&str], base: &FieldPath) -> FieldErrors {
    m.iter()
        .filter(|(k, v)| !allowed.contains(&k.as_str()) && !is_zero(v))
        .map(|(k, _)| FieldError::disallowed(base.clone().field(k.clone())))
        .collect::<Vec<_>>()
        .into()
}

/// Go's zero value: a field set to it is indistinguishable from an absent one.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
    }
}

/// `validateEnv`: only `name` and `valueFrom.secretKeyRef`; TLS_CERT and TLS_KEY together.
fn validate_env(env: &[Value], base: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut tls = Vec::new();
    for (i, e) in env.iter().enumerate() {
        let Some(m) = e.as_object() else { continue };
        let at = base.clone().index(i);
        errs.also(disallowed(m, &["name", "valueFrom"], &at));
        if let Some(Value::Object(vf)) = m.get("valueFrom") {
            errs.also(disallowed(
                vf,
                &["secretKeyRef"],
                &at.clone().field("valueFrom"),
            ));
        }
        if let Some(name) = m.get("name").and_then(Value::as_str)
            && TLS_ENV.contains(&name)
        {
            tls.push(name.to_owned());
        }
    }
    if tls.len() == 1 {
        errs.push(FieldError::new(
            base.clone(),
            format!(
                "Expected env's are TLS_CERT and TLS_KEY, but got only one env {}",
                tls[0]
            ),
        ));
    }
    errs
}

/// Cross-object checks: inline triggers' refs and params, `triggerRef`s, trigger groups'
/// interceptors. Paths are relative to the spec.
fn check_spec_references(
    s: &EventListenerSpec,
    namespace: Option<&str>,
    ctx: &Context<'_>,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, t) in s.triggers.iter().enumerate() {
        let mut e = FieldErrors::new();
        if !t.trigger_ref.is_empty() {
            if ctx
                .set
                .find(GROUP, "Trigger", namespace, &t.trigger_ref)
                .is_none()
            {
                e.push(not_found("triggerRef", "Trigger", &t.trigger_ref));
            }
        } else {
            e.also(check_references(
                &t.bindings,
                t.template.as_ref(),
                &t.interceptors,
                namespace,
                ctx,
            ));
        }
        errs.also(e.via_field_index("triggers", i));
    }
    for (i, g) in s.trigger_groups.iter().enumerate() {
        for (j, ic) in g.interceptors.iter().enumerate() {
            errs.also(
                check_interceptor_ref(ic, namespace, ctx)
                    .via_field_index("interceptors", j)
                    .via_field_index("triggerGroups", i),
            );
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ObjectSet;
    use serde_json::json;

    fn run(docs: &[Value]) -> Vec<String> {
        let objs: Vec<Object> = docs.iter().cloned().map(Object::new).collect();
        let set = ObjectSet::new(objs.iter());
        let ctx = Context::new(&set);
        crate::validate_one(&objs[0], &ctx)
            .iter()
            .map(|e| format!("{} {}: {}", e.severity, e.path, e.message))
            .collect()
    }

    fn el(spec: Value) -> Value {
        json!({"apiVersion": "triggers.tekton.dev/v1beta1", "kind": "EventListener",
               "metadata": {"name": "el", "namespace": "ns"}, "spec": spec})
    }

    // tektoncd/triggers v1beta1/event_listener_validation.go: one of labelSelector,
    // namespaceSelector, triggerGroups, triggers; template or triggerRef, not both; trigger
    // names are label values.
    #[test]
    fn spec_rules() {
        assert_eq!(
            run(&[el(json!({}))]),
            [
                "error spec: expected exactly one, got neither: labelSelector, namespaceSelector, triggerGroups, triggers"
            ]
        );
        let m = run(&[el(json!({"triggers": [
            {"name": "a b"},
            {"triggerRef": "t", "template": {"ref": "x"}}
        ]}))]);
        assert!(
            m.contains(
                &"error spec.triggers[0]: expected exactly one, got neither: template, triggerRef"
                    .to_owned()
            ),
            "{m:#?}"
        );
        assert!(m.contains(&"error spec.triggers[0].name: invalid value: trigger name 'a b' must be a valid label value".to_owned()), "{m:#?}");
        assert!(m.contains(&"error spec.triggers[1]: expected exactly one, got both: triggerRef, template or bindings or interceptors".to_owned()), "{m:#?}");
        assert!(
            m.contains(
                &"warning spec.triggers[1].triggerRef: Trigger \"t\" not found among the inputs"
                    .to_owned()
            ),
            "{m:#?}"
        );
    }

    // podSpecMask / containerFieldMask / validateEnv.
    #[test]
    fn sink_resources() {
        let m = run(&[el(json!({
            "triggers": [{"triggerRef": "t"}],
            "resources": {
                "kubernetesResource": {"replicas": -1, "spec": {"template": {"spec": {
                    "volumes": [{"name": "v"}],
                    "containers": [{"image": "x", "resources": {}, "env": [
                        {"name": "A", "value": "1"},
                        {"name": "TLS_CERT", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
                    ]}]
                }}}}
            }
        }))]);
        let want = [
            "error spec.resources.kubernetesResource.replicas: invalid value: -1",
            "error spec.resources.kubernetesResource.spec.template.spec.volumes: must not set the field(s)",
            "error spec.resources.kubernetesResource.spec.template.spec.containers[0].image: must not set the field(s)",
            "error spec.resources.kubernetesResource.spec.template.spec.containers[0].env[0].value: must not set the field(s)",
            "error spec.resources.kubernetesResource.spec.template.spec.containers[0].env: Expected env's are TLS_CERT and TLS_KEY, but got only one env TLS_CERT",
        ];
        for w in want {
            assert!(m.contains(&w.to_owned()), "{w}\n{m:#?}");
        }
        let m = run(&[el(json!({
            "triggers": [{"triggerRef": "t"}],
            "resources": {"kubernetesResource": {}, "customResource": {}}
        }))]);
        assert!(m.contains(&"error spec.resources: expected exactly one, got both: kubernetesResource, customResource".to_owned()), "{m:#?}");
    }

    // version_validation.go: triggerGroups and cloudEventURI need enable-api-fields=alpha.
    #[test]
    fn alpha_fields() {
        let spec = json!({"cloudEventURI": "http://x", "triggerGroups": [{"name": "g",
            "interceptors": [{"ref": {"name": "cel"}}],
            "triggerSelector": {"labelSelector": {"matchLabels": {"a": "b"}}}}]});
        let m = run(&[el(spec.clone())]);
        assert!(m.iter().all(|m| m.starts_with("warning ")), "{m:#?}");
        assert_eq!(m.len(), 2, "{m:#?}");
        let cm = |v: &str| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "feature-flags-triggers", "namespace": "tekton-pipelines"},
                   "data": {"enable-api-fields": v}})
        };
        let m = run(&[el(spec.clone()), cm("stable")]);
        assert!(m.contains(&"error spec.triggerGroups: spec.triggerGroups requires \"enable-api-fields\" feature gate to be \"alpha\" but it is \"stable\"".to_owned()), "{m:#?}");
        assert!(run(&[el(spec), cm("alpha")]).is_empty());
    }

    #[test]
    fn defaults() {
        let mut e: EventListener = serde_json::from_value(el(json!({
            "triggers": [{"bindings": [{"ref": "b"}], "interceptors": [{"ref": {"name": "x"}}]}],
            "resources": {"kubernetesResource": {"replicas": 0}}
        })))
        .expect("el");
        e.set_defaults();
        assert_eq!(e.spec.triggers[0].bindings[0].kind, "TriggerBinding");
        assert_eq!(
            e.spec.triggers[0].interceptors[0].r#ref.kind,
            "ClusterInterceptor"
        );
        let r = e.spec.resources.and_then(|r| r.kubernetes_resource);
        assert_eq!(r.and_then(|k| k.replicas), Some(1));
    }

    #[test]
    fn long_names() {
        let name = "e".repeat(61);
        let m = run(&[
            json!({"apiVersion": "triggers.tekton.dev/v1beta1", "kind": "EventListener",
            "metadata": {"name": name}, "spec": {"triggers": [{"triggerRef": "t"}]}}),
        ]);
        assert!(
            m[0].starts_with("error metadata.name: invalid value: eventListener name"),
            "{m:#?}"
        );
    }
}
