//! Resource tracking: how an object is marked as an Application's, as Argo CD does
//! (`util/argo/resource_tracking.go`; docs user-guide/resource_tracking.md). argocd-cm's
//! `application.resourceTrackingMethod`: `label` (the `app.kubernetes.io/instance` label, or
//! argocd-cm `application.instanceLabelKey`), `annotation` (`argocd.argoproj.io/tracking-id:
//! <app>:<group>/<kind>:<namespace>/<name>`) or `annotation+label` (tracked by the
//! annotation, the label informational and truncated to 63 characters).

use serde_json::{Map, Value};

pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
pub const ANNOTATION_TRACKING_ID: &str = "argocd.argoproj.io/tracking-id";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Method {
    #[default]
    Label,
    Annotation,
    AnnotationAndLabel,
}

impl Method {
    /// argocd-cm's value; unknown values fall back to the default, as Argo CD does.
    pub fn parse(s: &str) -> Method {
        match s.trim() {
            "annotation" => Method::Annotation,
            "annotation+label" => Method::AnnotationAndLabel,
            _ => Method::Label,
        }
    }
}

/// How the controller tracks objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tracking {
    pub method: Method,
    pub label_key: String,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            method: Method::Label,
            label_key: LABEL_INSTANCE.to_string(),
        }
    }
}

impl Tracking {
    /// From argocd-cm (`application.resourceTrackingMethod`, `application.instanceLabelKey`).
    pub fn from_configmap(cm: Option<&Value>) -> Tracking {
        let get = |k: &str| {
            cm.and_then(|c| c.pointer("/data"))
                .and_then(|d| d.get(k))
                .and_then(Value::as_str)
        };
        Tracking {
            method: get("application.resourceTrackingMethod")
                .map(Method::parse)
                .unwrap_or_default(),
            label_key: get("application.instanceLabelKey")
                .filter(|s| !s.is_empty())
                .unwrap_or(LABEL_INSTANCE)
                .to_string(),
        }
    }

    /// Marks `obj` as the instance `app`'s (the app name, or `<namespace>_<name>` for apps
    /// outside the controller's namespace).
    pub fn set(&self, obj: &mut Value, app: &str) {
        if matches!(self.method, Method::Annotation | Method::AnnotationAndLabel) {
            let id = tracking_id(obj, app);
            meta_map(obj, "annotations").insert(ANNOTATION_TRACKING_ID.into(), Value::String(id));
        }
        if matches!(self.method, Method::Label | Method::AnnotationAndLabel) {
            let v: String = if self.method == Method::AnnotationAndLabel {
                app.chars().take(63).collect()
            } else {
                app.to_string()
            };
            meta_map(obj, "labels").insert(self.label_key.clone(), Value::String(v));
        }
    }

    /// The app instance a live object belongs to, if any.
    pub fn owner(&self, obj: &Value) -> Option<String> {
        match self.method {
            Method::Label => obj
                .pointer("/metadata/labels")
                .and_then(|l| l.get(&self.label_key))
                .and_then(Value::as_str)
                .map(str::to_string),
            Method::Annotation | Method::AnnotationAndLabel => {
                let id = obj
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(ANNOTATION_TRACKING_ID))
                    .and_then(Value::as_str)?;
                let (app, rest) = id.split_once(':')?;
                // the id must name this very object (a copied annotation does not count)
                (tracking_id(obj, app) == id || rest.is_empty()).then(|| app.to_string())
            }
        }
    }
}

/// The app instance name: the name, or `<namespace>_<name>` when the Application is not
/// in the controller's namespace (Argo CD's apps-in-any-namespace).
pub fn instance_name(app_namespace: &str, app_name: &str, controller_namespace: &str) -> String {
    if app_namespace.is_empty() || app_namespace == controller_namespace {
        app_name.to_string()
    } else {
        format!("{app_namespace}_{app_name}")
    }
}

/// `<app>:<group>/<kind>:<namespace>/<name>`.
pub fn tracking_id(obj: &Value, app: &str) -> String {
    let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let group = av.split_once('/').map_or("", |(g, _)| g);
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let meta = |k: &str| {
        obj.pointer("/metadata")
            .and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    format!(
        "{app}:{group}/{kind}:{}/{}",
        meta("namespace"),
        meta("name")
    )
}

fn meta_map<'a>(obj: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let o = obj.as_object_mut().expect("object");
    let meta = o
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    let m = meta.as_object_mut().expect("object");
    let e = m
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !e.is_object() {
        *e = Value::Object(Map::new());
    }
    e.as_object_mut().expect("object")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // docs user-guide/resource_tracking.md: my-app:apps/Deployment:default/my-deployment
    #[test]
    fn tracking_methods() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "my-deployment", "namespace": "default"}});
        let ann = Tracking {
            method: Method::Annotation,
            ..Tracking::default()
        };
        ann.set(&mut d, "my-app");
        assert_eq!(
            d["metadata"]["annotations"][ANNOTATION_TRACKING_ID],
            "my-app:apps/Deployment:default/my-deployment"
        );
        assert!(d["metadata"].get("labels").is_none());
        assert_eq!(ann.owner(&d).as_deref(), Some("my-app"));
        // copied to another object: not owned
        let mut other = d.clone();
        other["metadata"]["name"] = json!("copy");
        assert_eq!(ann.owner(&other), None);

        let mut c = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}});
        let lab = Tracking::default();
        lab.set(&mut c, "demo");
        assert_eq!(c["metadata"]["labels"][LABEL_INSTANCE], "demo");
        assert_eq!(lab.owner(&c).as_deref(), Some("demo"));
        assert_eq!(tracking_id(&c, "a"), "a:/Namespace:/x");
        let cm = json!({"data": {"application.resourceTrackingMethod": "annotation+label"}});
        assert_eq!(
            Tracking::from_configmap(Some(&cm)).method,
            Method::AnnotationAndLabel
        );
        assert_eq!(instance_name("argocd", "a", "argocd"), "a");
        assert_eq!(instance_name("team", "a", "argocd"), "team_a");
    }
}
