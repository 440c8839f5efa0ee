//! From a trigger that passed its interceptors to the resources it creates: bindings resolved
//! to params (`ResolveTrigger`, `ResolveParams`), params and `$(uid)` put into the template's
//! resources (`ResolveResources`), and the labels the sink adds (`resources.Create`).
//!
//! Upstream: tektoncd/triggers `pkg/template/resource.go`, `event.go`,
//! `pkg/resources/create.go`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use sluice_apis::triggers::Trigger;
use sluice_apis::triggers::trigger::CLUSTER_TRIGGER_BINDING_KIND;
use sluice_apis::triggers::trigger_template::TriggerTemplateSpec;
use sluice_apis::triggers::{Param, ParamSpec};

use crate::Lookup;
use crate::headers::Headers;
use crate::interceptors::body_json;
use crate::jsonpath;

/// Label keys the sink puts on every resource it creates.
pub const EVENT_LISTENER_LABEL: &str = "triggers.tekton.dev/eventlistener";
pub const TRIGGER_LABEL: &str = "triggers.tekton.dev/trigger";
pub const EVENT_ID_LABEL: &str = "triggers.tekton.dev/triggers-eventid";

/// A trigger with its bindings and template looked up.
pub(crate) struct ResolvedTrigger {
    pub binding_params: Vec<Param>,
    pub template: TriggerTemplateSpec,
    /// How messages name the template (`TriggerTemplate "x"` / `the embedded template`).
    pub template_label: String,
}

/// `ResolveTrigger`: binding refs (namespaced or cluster) and the template ref, in the
/// trigger's namespace.
pub(crate) fn resolve_trigger(t: &Trigger, lookup: &dyn Lookup) -> Result<ResolvedTrigger, String> {
    let ns = t.metadata.namespace.as_deref().unwrap_or("default");
    let mut params: Vec<Param> = Vec::new();
    for b in &t.spec.bindings {
        if !b.name.is_empty() && b.r#ref.is_empty() {
            params.push(Param {
                name: b.name.clone(),
                value: Some(b.value.clone().unwrap_or_default()),
            });
        } else if !b.r#ref.is_empty() && b.kind == CLUSTER_TRIGGER_BINDING_KIND {
            let ctb = lookup.cluster_trigger_binding(&b.r#ref).ok_or_else(|| {
                format!(
                    "failed to resolve bindings: error getting ClusterTriggerBinding {}: clustertriggerbinding.triggers.tekton.dev {:?} not found",
                    b.r#ref, b.r#ref
                )
            })?;
            params.extend(ctb.spec.params);
        } else if !b.r#ref.is_empty() {
            let tb = lookup.trigger_binding(ns, &b.r#ref).ok_or_else(|| {
                format!(
                    "failed to resolve bindings: error getting TriggerBinding {}: triggerbinding.triggers.tekton.dev {:?} not found",
                    b.r#ref, b.r#ref
                )
            })?;
            params.extend(tb.spec.params);
        } else {
            return Err(
                "failed to resolve bindings: invalid binding: neither ref nor name".to_owned(),
            );
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for p in &params {
        if !seen.insert(p.name.as_str()) {
            return Err(format!(
                "failed to resolve bindings: duplicate param name: {}",
                p.name
            ));
        }
    }
    let (template, template_label) = match (&t.spec.template.spec, &t.spec.template.r#ref) {
        (Some(spec), _) => (spec.clone(), "the embedded template".to_owned()),
        (None, r) => {
            let name = r.clone().unwrap_or_default();
            let tt = lookup.trigger_template(ns, &name).ok_or_else(|| {
                format!(
                    "error getting TriggerTemplate {name}: triggertemplate.triggers.tekton.dev {name:?} not found"
                )
            })?;
            (tt.spec, format!("TriggerTemplate {name:?}"))
        }
    };
    Ok(ResolvedTrigger {
        binding_params: params,
        template,
        template_label,
    })
}

/// `ResolveParams`: template defaults, overridden by the bindings' values with their
/// `$(...)` expressions evaluated over the event. A template param that ends with no value
/// is an error (Sluice refuses to create resources that still hold `$(tt.params.x)`).
pub(crate) fn resolve_params(
    rt: &ResolvedTrigger,
    body: &[u8],
    header: &Headers,
    extensions: &Map<String, Value>,
    event_id: &str,
) -> Result<BTreeMap<String, String>, String> {
    let body_value = if body.is_empty() {
        Value::Null
    } else {
        body_json(body, header).map_err(|e| {
            format!(
                "failed to ApplyEventValuesToParams: failed to marshal event: failed to unmarshal request body: {e}"
            )
        })?
    };
    let event = json!({
        "header": header.joined(),
        "body": body_value,
        "extensions": extensions,
        "context": {"eventID": event_id},
    });
    let defaults: BTreeMap<&str, &ParamSpec> = rt
        .template
        .params
        .iter()
        .map(|p| (p.name.as_str(), p))
        .collect();
    let mut all: BTreeMap<String, String> = rt
        .template
        .params
        .iter()
        .filter_map(|p| p.default.clone().map(|d| (p.name.clone(), d)))
        .collect();
    for p in &rt.binding_params {
        let raw = p.value.clone().unwrap_or_default();
        let mut value = raw.clone();
        for (expr, original) in jsonpath::find_expressions(&raw) {
            let v = match jsonpath::eval(&event, &expr) {
                Ok(v) => v,
                Err(e) => match defaults
                    .get(p.name.as_str())
                    .and_then(|d| d.default.clone())
                {
                    Some(d) => d,
                    None => {
                        return Err(format!(
                            "failed to ApplyEventValuesToParams: failed to replace JSONPath value for param {}: {}: {e}",
                            p.name, raw
                        ));
                    }
                },
            };
            value = value.replace(&original, &v);
        }
        all.insert(p.name.clone(), value);
    }
    let missing: Vec<&str> = rt
        .template
        .params
        .iter()
        .filter(|p| !all.contains_key(&p.name))
        .map(|p| p.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} has no value for param(s) {}: no binding provides them and they have no default",
            rt.template_label,
            missing
                .iter()
                .map(|m| format!("{m:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(all)
}

/// What the sink stamps on each resource.
pub(crate) struct Stamp<'a> {
    pub listener: &'a str,
    pub trigger: &'a str,
    pub event_id: &'a str,
    pub namespace: &'a str,
    pub uid: &'a str,
}

/// `ResolveResources` then the labels and namespace of `resources.Create`. Every resource is
/// rendered and checked before any is returned.
pub(crate) fn render(
    rt: &ResolvedTrigger,
    params: &BTreeMap<String, String>,
    stamp: &Stamp<'_>,
) -> Result<Vec<Value>, String> {
    let mut out = Vec::with_capacity(rt.template.resourcetemplates.len());
    for (i, tmpl) in rt.template.resourcetemplates.iter().enumerate() {
        let mut text = serde_json::to_string(tmpl).map_err(|e| e.to_string())?;
        for (name, value) in params {
            let var = format!("$(tt.params.{name})");
            if text.contains(&var) {
                text = text.replace(&var, value);
            }
        }
        text = text.replace("$(uid)", stamp.uid);
        let mut obj: Value = serde_json::from_str(&text).map_err(|e| {
            format!(
                "resourcetemplates[{i}] of {}: couldn't unmarshal json from the TriggerTemplate: {e}",
                rt.template_label
            )
        })?;
        let Some(m) = obj.as_object_mut() else {
            return Err(format!(
                "resourcetemplates[{i}] of {}: not an object",
                rt.template_label
            ));
        };
        for f in ["apiVersion", "kind"] {
            if m.get(f).and_then(Value::as_str).is_none_or(str::is_empty) {
                return Err(format!(
                    "resourcetemplates[{i}] of {}: {f} is required",
                    rt.template_label
                ));
            }
        }
        let meta = m
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(meta) = meta.as_object_mut() else {
            return Err(format!(
                "resourcetemplates[{i}] of {}: metadata is not an object",
                rt.template_label
            ));
        };
        let named = ["name", "generateName"].iter().any(|f| {
            meta.get(*f)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        });
        if !named {
            return Err(format!(
                "resourcetemplates[{i}] of {}: metadata.name or metadata.generateName is required",
                rt.template_label
            ));
        }
        if meta
            .get("namespace")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            meta.insert(
                "namespace".to_owned(),
                Value::String(stamp.namespace.to_owned()),
            );
        }
        let labels = meta
            .entry("labels")
            .or_insert_with(|| Value::Object(Map::new()));
        if labels.is_null() {
            *labels = Value::Object(Map::new());
        }
        let Some(labels) = labels.as_object_mut() else {
            return Err(format!(
                "resourcetemplates[{i}] of {}: .metadata.labels accessor error: not a map",
                rt.template_label
            ));
        };
        if let Some((k, _)) = labels.iter().find(|(_, v)| !v.is_string()) {
            return Err(format!(
                "resourcetemplates[{i}] of {}: .metadata.labels.{k} accessor error: not a string",
                rt.template_label
            ));
        }
        labels.insert(
            EVENT_LISTENER_LABEL.to_owned(),
            Value::String(stamp.listener.to_owned()),
        );
        labels.insert(
            EVENT_ID_LABEL.to_owned(),
            Value::String(stamp.event_id.to_owned()),
        );
        labels.insert(
            TRIGGER_LABEL.to_owned(),
            Value::String(stamp.trigger.to_owned()),
        );
        check_rendered(&obj, i, &rt.template_label)?;
        out.push(obj);
    }
    Ok(out)
}

/// The rendered resource through Sluice's own validation (what `sluice validate` and the
/// API server's admission would reject): a PipelineRun the template breaks is refused here,
/// before anything is created. Warnings (e.g. a pipelineRef not among the inputs) pass.
fn check_rendered(obj: &Value, i: usize, label: &str) -> Result<(), String> {
    let o = sluice_core::Object::new(obj.clone());
    let set = sluice_apis::ObjectSet::new([&o]);
    let ctx = sluice_apis::Context::new(&set);
    let errs: Vec<String> = sluice_apis::validate_one(&o, &ctx)
        .iter()
        .filter(|e| e.severity == sluice_core::Severity::Error)
        .map(|e| {
            if e.path.to_string().is_empty() {
                e.message.clone()
            } else {
                format!("{}: {}", e.path, e.message)
            }
        })
        .collect();
    if errs.is_empty() {
        return Ok(());
    }
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    Err(format!(
        "resourcetemplates[{i}] of {label}: the rendered {kind} is invalid: {}",
        errs.join("; ")
    ))
}

/// A UUID-shaped id for `$(uid)`, derived from the event id and the trigger (the engine has
/// no randomness; event ids are unique, so these are too).
pub(crate) fn derived_uid(event_id: &str, trigger_key: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(event_id.as_bytes());
    h.update([0u8]);
    h.update(trigger_key.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
