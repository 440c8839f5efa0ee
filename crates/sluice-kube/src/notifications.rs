//! The notifications controller (Argo CD notifications, `sluice_notify`): watches
//! Applications (PipelineRuns are handed in by their controller when they end); for an object with subscriptions
//! (`notifications.argoproj.io/subscribe.*` annotations — on the Application, or on the
//! PipelineRun or its Pipeline) it reads `argocd-notifications-cm` and
//! `argocd-notifications-secret` from the controller namespace, runs the subscribed
//! triggers, sends what turned true (webhook and Slack services over [`crate::http_out`],
//! 3 attempts a second apart as upstream's retrying client) and keeps what was sent in the
//! object's `notified.notifications.argoproj.io` annotation, so each event is sent once.
//! A send that still fails is forgotten (tried again on the next reconcile, a minute later)
//! and recorded as a Warning Event `NotificationFailed` on the object; upstream keeps a
//! failed `oncePer` send as sent. Configuration problems are Warning Events
//! `NotificationConfigError`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::ApiResource;
use kube::runtime::controller::Action;
use serde_json::{Value, json};
use sluice_notify::{Config, NOTIFIED_ANNOTATION, SUBSCRIBE_PREFIX, State};

use crate::Error;

/// The name of the ConfigMap and Secret, in the controller namespace.
pub const CONFIGMAP: &str = "argocd-notifications-cm";
pub const SECRET: &str = "argocd-notifications-secret";
/// The namespace of the ConfigMap and Secret (Argo CD's).
pub const CONTROLLER_NAMESPACE: &str = "argocd";

/// State of the controller.
pub struct NotifyCtx {
    client: Client,
    /// Where argocd-notifications-cm and -secret are read (`argocd`).
    namespace: String,
    instance: String,
    /// The notified state this process last wrote, by object uid: the watch cache may not
    /// have it yet when the next event comes, and sending from its older copy would send
    /// twice (upstream updates its informer store with the patched object for the same
    /// reason).
    written: std::sync::Mutex<std::collections::HashMap<String, Option<String>>>,
}

fn app_ar() -> ApiResource {
    crate::gvk("argoproj.io", "v1alpha1", "Application", "applications")
}
fn pipelinerun_ar() -> ApiResource {
    crate::gvk("tekton.dev", "v1", "PipelineRun", "pipelineruns")
}
fn pipeline_ar() -> ApiResource {
    crate::gvk("tekton.dev", "v1", "Pipeline", "pipelines")
}

fn has_subscriptions(v: &Value) -> bool {
    v.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|a| a.keys().any(|k| k.starts_with(SUBSCRIBE_PREFIX)))
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl NotifyCtx {
    async fn get(&self, ar: &ApiResource, ns: &str, name: &str) -> Option<Value> {
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, ar);
        match api.get_opt(name).await {
            Ok(Some(o)) => serde_json::to_value(o).ok(),
            _ => None,
        }
    }

    /// The ConfigMap's data and the Secret's decoded data.
    async fn config(&self) -> (serde_json::Map<String, Value>, BTreeMap<String, String>) {
        let cm = self
            .get(
                &crate::gvk("", "v1", "ConfigMap", "configmaps"),
                &self.namespace,
                CONFIGMAP,
            )
            .await;
        let secret = self
            .get(
                &crate::gvk("", "v1", "Secret", "secrets"),
                &self.namespace,
                SECRET,
            )
            .await;
        let data = cm
            .as_ref()
            .and_then(|c| c.get("data"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut secrets = BTreeMap::new();
        if let Some(d) = secret
            .as_ref()
            .and_then(|s| s.get("data"))
            .and_then(Value::as_object)
        {
            use base64::Engine as _;
            for (k, v) in d {
                if let Some(bytes) = v
                    .as_str()
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                {
                    secrets.insert(k.clone(), String::from_utf8_lossy(&bytes).into_owned());
                }
            }
        }
        (data, secrets)
    }

    async fn event(&self, obj: &Value, type_: &str, reason: &str, message: &str) {
        crate::events::record_with(
            &self.client,
            &self.instance,
            "notifications-controller",
            obj,
            type_,
            reason,
            message,
        )
        .await;
    }
}

/// Sends one request with up to 3 attempts, a second apart; `Err` with the last error.
fn deliver(r: &sluice_notify::Request) -> Result<(), String> {
    let mut last = String::new();
    for attempt in 0..3 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        match crate::http_out::send(&crate::http_out::Request {
            method: &r.method,
            url: &r.url,
            headers: &r.headers,
            body: r.body.as_bytes(),
            insecure_skip_verify: r.insecure_skip_verify,
        }) {
            Ok((status, _)) if (200..300).contains(&status) => return Ok(()),
            Ok((status, body)) => {
                let body = String::from_utf8_lossy(&body);
                let body: String = body.chars().take(200).collect();
                last = format!(
                    "request to {} has failed with error code {status} : {body}",
                    r.url
                );
                // a client error will not change on retry
                if (400..500).contains(&status) && status != 429 {
                    break;
                }
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Runs the triggers of one object (`obj` with the annotations subscriptions are read
/// from), sends, and writes the notified state to the stored object `target`.
async fn process(
    ctx: &NotifyCtx,
    ar: &ApiResource,
    target: &Value,
    obj: &Value,
    var: &str,
) -> Result<Action, Error> {
    let (data, secrets) = ctx.config().await;
    let uid = target
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let ours = ctx.written.lock().ok().and_then(|w| w.get(&uid).cloned());
    let before = match ours {
        Some(v) => v,
        None => target
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(NOTIFIED_ANNOTATION))
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    let mut state = State::from_annotation(before.as_deref());
    // the configuration (not Send: its templates) lives only in this synchronous part
    let (problems, warnings, deliveries) = {
        let (cfg, problems) = Config::parse(&data, &secrets, var);
        let plan = sluice_notify::plan(&cfg, obj, &mut state, now_secs());
        let deliveries: Vec<_> = plan
            .sends
            .iter()
            .map(|send| (send.clone(), sluice_notify::requests(&cfg, send, obj)))
            .collect();
        (problems, plan.warnings, deliveries)
    };
    if !problems.is_empty() {
        let msg = problems
            .iter()
            .map(|p| format!("{CONFIGMAP} {}: {}", p.field, p.message))
            .collect::<Vec<_>>()
            .join("; ");
        ctx.event(target, "Warning", "NotificationConfigError", &msg)
            .await;
    }
    for w in &warnings {
        ctx.event(target, "Warning", "NotificationConfigError", w)
            .await;
    }
    let mut failed = false;
    for (send, reqs) in deliveries {
        let result = match reqs {
            Ok(reqs) => tokio::task::spawn_blocking(move || reqs.iter().try_for_each(deliver))
                .await
                .unwrap_or_else(|e| Err(e.to_string())),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            failed = true;
            state.forget(&send.key);
            let msg = format!(
                "failed to deliver notification {} to {}:{}: {e}",
                send.trigger, send.dest.service, send.dest.recipient
            );
            eprintln!("notifications: {msg}");
            ctx.event(target, "Warning", "NotificationFailed", &msg)
                .await;
        }
    }
    let after = state.to_annotation();
    if after != before {
        let ns = target
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let name = target
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), ns, ar);
        let patch = json!({"metadata": {"annotations": {NOTIFIED_ANNOTATION: after}}});
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        if let Ok(mut w) = ctx.written.lock() {
            w.insert(uid, after);
        }
    }
    Ok(if failed {
        Action::requeue(Duration::from_secs(60))
    } else {
        Action::await_change()
    })
}

async fn reconcile_app(obj: Arc<DynamicObject>, ctx: Arc<NotifyCtx>) -> Result<Action, Error> {
    let mut app = serde_json::to_value(&*obj)?;
    if !has_subscriptions(&app) {
        return Ok(Action::await_change());
    }
    app["apiVersion"] = json!("argoproj.io/v1alpha1");
    app["kind"] = json!("Application");
    process(&ctx, &app_ar(), &app, &app, "app").await
}

/// A PipelineRun that has just finished (called by the PipelineRun controller, so runs cost
/// no second watch cache): subscriptions of its own and of its Pipeline (the run's win); a
/// failed send is tried again once a minute later.
pub async fn notify_run(client: Client, namespace: String, mut run: Value) {
    run["apiVersion"] = json!("tekton.dev/v1");
    run["kind"] = json!("PipelineRun");
    let ctx = NotifyCtx {
        client,
        namespace,
        instance: format!("sluice-{}", std::process::id()),
        written: Default::default(),
    };
    let mut view = run.clone();
    let pipeline = run
        .pointer("/spec/pipelineRef/name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let ns = run
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if let Some(p) = pipeline
        && let Some(pl) = ctx.get(&pipeline_ar(), &ns, &p).await
        && let Some(subs) = pl
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
    {
        let mine = view["metadata"]["annotations"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut merged = serde_json::Map::new();
        for (k, v) in subs.iter().filter(|(k, _)| k.starts_with(SUBSCRIBE_PREFIX)) {
            merged.insert(k.clone(), v.clone());
        }
        merged.extend(mine);
        view["metadata"]["annotations"] = Value::Object(merged);
    }
    if !has_subscriptions(&view) {
        return;
    }
    for attempt in 0..2 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        match process(&ctx, &pipelinerun_ar(), &run, &view, "pipelinerun").await {
            Ok(a) if a == Action::await_change() => return,
            Ok(_) => {}
            Err(e) => eprintln!("notifications: {ns}/{}: {e}", run["metadata"]["name"]),
        }
        // the notified state written: read the run again for the retry
        if let Some(fresh) = ctx
            .get(
                &pipelinerun_ar(),
                &ns,
                run["metadata"]["name"].as_str().unwrap_or(""),
            )
            .await
        {
            let ann = fresh.pointer("/metadata/annotations").cloned();
            run["metadata"]["annotations"] = ann.clone().unwrap_or(json!({}));
            if let Some(a) = ann.and_then(|a| a.get(NOTIFIED_ANNOTATION).cloned()) {
                view["metadata"]["annotations"][NOTIFIED_ANNOTATION] = a;
            }
        }
    }
}

fn error_policy<T>(obj: Arc<DynamicObject>, err: &Error, _ctx: Arc<T>) -> Action {
    eprintln!(
        "notifications: {}/{}: {err}",
        obj.metadata.namespace.as_deref().unwrap_or(""),
        obj.metadata.name.as_deref().unwrap_or("")
    );
    Action::requeue(Duration::from_secs(10))
}

/// Runs the notifications controller of Applications until the API goes away or the future
/// is dropped (PipelineRuns: [`notify_run`], called when a run ends).
pub async fn run(client: Client, namespace: &str) {
    let ctx = Arc::new(NotifyCtx {
        client: client.clone(),
        namespace: namespace.to_owned(),
        instance: format!("sluice-{}", std::process::id()),
        written: Default::default(),
    });
    // templates read the whole Application but its managedFields, which the cache drops
    crate::trimmed_controller(
        Api::<DynamicObject>::all_with(client, &app_ar()),
        app_ar(),
        |o| o.metadata.managed_fields = None,
    )
    .run(reconcile_app, error_policy, ctx)
    .for_each(|_| futures::future::ready(()))
    .await;
}

/// [`run`], restarted after a panic with a backoff.
pub async fn run_supervised(client: Client, namespace: String) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let (c, ns) = (client.clone(), namespace.clone());
        match tokio::spawn(async move { run(c, &ns).await }).await {
            Ok(()) => return,
            Err(e) => eprintln!("error: notifications controller panicked: {e}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}
