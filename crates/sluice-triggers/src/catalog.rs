//! The objects the sink reads while it handles an event, behind one trait ([`Lookup`]) so the
//! server can answer from its store; [`ObjectCatalog`] answers from a list of objects (tests,
//! `sluice` commands that work on files).

use std::collections::BTreeMap;

use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sluice_apis::triggers::{
    ClusterInterceptor, ClusterTriggerBinding, EventListener, Interceptor, Trigger, TriggerBinding,
    TriggerTemplate,
};

/// Read access to the objects of the cluster that an event needs. Namespaced getters take the
/// namespace first; every answer is a copy (the sink never holds a lock across an event).
/// `Sync` because CEL expressions run on a thread of their own and read Secrets from there.
pub trait Lookup: Sync {
    fn event_listener(&self, namespace: &str, name: &str) -> Option<EventListener>;
    fn trigger(&self, namespace: &str, name: &str) -> Option<Trigger>;
    /// Every Trigger of `namespace`, or of all namespaces when `None`, in a stable order.
    fn triggers(&self, namespace: Option<&str>) -> Vec<Trigger>;
    fn trigger_binding(&self, namespace: &str, name: &str) -> Option<TriggerBinding>;
    fn cluster_trigger_binding(&self, name: &str) -> Option<ClusterTriggerBinding>;
    fn trigger_template(&self, namespace: &str, name: &str) -> Option<TriggerTemplate>;
    fn cluster_interceptor(&self, name: &str) -> Option<ClusterInterceptor>;
    fn interceptor(&self, namespace: &str, name: &str) -> Option<Interceptor>;
    /// The decoded value of `key` in Secret `namespace/name` (`data` is base64, `stringData`
    /// plain), or why there is none.
    fn secret_value(&self, namespace: &str, name: &str, key: &str) -> Result<Vec<u8>, String>;
}

/// A [`Lookup`] over a fixed list of objects (any kinds; the ones the sink does not read are
/// ignored). Objects that do not decode as their kind are skipped and listed in `skipped`.
#[derive(Debug, Clone, Default)]
pub struct ObjectCatalog {
    event_listeners: Vec<EventListener>,
    triggers: Vec<Trigger>,
    bindings: Vec<TriggerBinding>,
    cluster_bindings: Vec<ClusterTriggerBinding>,
    templates: Vec<TriggerTemplate>,
    cluster_interceptors: Vec<ClusterInterceptor>,
    interceptors: Vec<Interceptor>,
    /// (namespace, name) -> key -> value.
    secrets: BTreeMap<(String, String), BTreeMap<String, Vec<u8>>>,
    /// `kind/namespace/name: error` of objects that did not decode.
    pub skipped: Vec<String>,
}

fn ns_of(meta: &sluice_apis::meta::ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("default")
}

fn name_of(meta: &sluice_apis::meta::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}

impl ObjectCatalog {
    /// Builds the catalog. Namespaced objects without `metadata.namespace` are put in
    /// `default_namespace`, as `kubectl apply -n` would.
    pub fn new(objects: impl IntoIterator<Item = Value>, default_namespace: &str) -> Self {
        let mut c = ObjectCatalog::default();
        for mut obj in objects {
            let api_version = obj
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let kind = obj
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let cluster_scoped = matches!(
                kind.as_str(),
                "ClusterTriggerBinding" | "ClusterInterceptor"
            );
            if !cluster_scoped
                && let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut)
                && !meta.contains_key("namespace")
            {
                meta.insert(
                    "namespace".to_owned(),
                    Value::String(default_namespace.to_owned()),
                );
            }
            let triggers_kind = api_version.starts_with("triggers.tekton.dev/");
            match (triggers_kind, kind.as_str()) {
                (true, "EventListener") => c.push(obj, |c, v| c.event_listeners.push(v)),
                (true, "Trigger") => c.push(obj, |c, v| c.triggers.push(v)),
                (true, "TriggerBinding") => c.push(obj, |c, v| c.bindings.push(v)),
                (true, "ClusterTriggerBinding") => c.push(obj, |c, v| c.cluster_bindings.push(v)),
                (true, "TriggerTemplate") => c.push(obj, |c, v| c.templates.push(v)),
                (true, "ClusterInterceptor") => c.push(obj, |c, v| c.cluster_interceptors.push(v)),
                (true, "Interceptor") => c.push(obj, |c, v| c.interceptors.push(v)),
                (false, "Secret") if api_version == "v1" => c.add_secret(&obj),
                _ => {}
            }
        }
        c.triggers.sort_by(|a, b| {
            (ns_of(&a.metadata), name_of(&a.metadata))
                .cmp(&(ns_of(&b.metadata), name_of(&b.metadata)))
        });
        c
    }

    fn push<T: DeserializeOwned>(&mut self, obj: Value, add: impl FnOnce(&mut Self, T)) {
        let label = format!(
            "{}/{}/{}",
            obj.get("kind").and_then(Value::as_str).unwrap_or(""),
            obj.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or(""),
            obj.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
        );
        match serde_json::from_value::<T>(obj) {
            Ok(v) => add(self, v),
            Err(e) => self.skipped.push(format!("{label}: {e}")),
        }
    }

    fn add_secret(&mut self, obj: &Value) {
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut data = BTreeMap::new();
        if let Some(m) = obj.get("data").and_then(Value::as_object) {
            for (k, v) in m {
                let Some(s) = v.as_str() else { continue };
                match base64::engine::general_purpose::STANDARD.decode(s) {
                    Ok(b) => {
                        data.insert(k.clone(), b);
                    }
                    Err(e) => self
                        .skipped
                        .push(format!("Secret/{ns}/{name}: data.{k}: {e}")),
                }
            }
        }
        // stringData wins over data, as the API server merges it.
        if let Some(m) = obj.get("stringData").and_then(Value::as_object) {
            for (k, v) in m {
                if let Some(s) = v.as_str() {
                    data.insert(k.clone(), s.as_bytes().to_vec());
                }
            }
        }
        self.secrets.insert((ns.to_owned(), name.to_owned()), data);
    }
}

fn find<'a, T>(
    items: &'a [T],
    meta: impl Fn(&T) -> &sluice_apis::meta::ObjectMeta,
    namespace: Option<&str>,
    name: &str,
) -> Option<&'a T> {
    items.iter().find(|i| {
        let m = meta(i);
        name_of(m) == name && namespace.is_none_or(|ns| ns_of(m) == ns)
    })
}

impl Lookup for ObjectCatalog {
    fn event_listener(&self, namespace: &str, name: &str) -> Option<EventListener> {
        find(
            &self.event_listeners,
            |o| &o.metadata,
            Some(namespace),
            name,
        )
        .cloned()
    }
    fn trigger(&self, namespace: &str, name: &str) -> Option<Trigger> {
        find(&self.triggers, |o| &o.metadata, Some(namespace), name).cloned()
    }
    fn triggers(&self, namespace: Option<&str>) -> Vec<Trigger> {
        self.triggers
            .iter()
            .filter(|t| namespace.is_none_or(|ns| ns_of(&t.metadata) == ns))
            .cloned()
            .collect()
    }
    fn trigger_binding(&self, namespace: &str, name: &str) -> Option<TriggerBinding> {
        find(&self.bindings, |o| &o.metadata, Some(namespace), name).cloned()
    }
    fn cluster_trigger_binding(&self, name: &str) -> Option<ClusterTriggerBinding> {
        find(&self.cluster_bindings, |o| &o.metadata, None, name).cloned()
    }
    fn trigger_template(&self, namespace: &str, name: &str) -> Option<TriggerTemplate> {
        find(&self.templates, |o| &o.metadata, Some(namespace), name).cloned()
    }
    fn cluster_interceptor(&self, name: &str) -> Option<ClusterInterceptor> {
        find(&self.cluster_interceptors, |o| &o.metadata, None, name).cloned()
    }
    fn interceptor(&self, namespace: &str, name: &str) -> Option<Interceptor> {
        find(&self.interceptors, |o| &o.metadata, Some(namespace), name).cloned()
    }
    fn secret_value(&self, namespace: &str, name: &str, key: &str) -> Result<Vec<u8>, String> {
        let data = self
            .secrets
            .get(&(namespace.to_owned(), name.to_owned()))
            .ok_or_else(|| format!("secrets {name:?} not found"))?;
        data.get(key)
            .cloned()
            .ok_or_else(|| format!("cannot find {key} in secret {namespace}/{name}"))
    }
}
