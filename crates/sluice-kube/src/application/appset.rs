//! The ApplicationSet controller: generates each ApplicationSet's Applications with
//! `sluice_gitops::appset` (the cluster Secrets read through the client, git generators
//! through the [`Repos`] the server hands in — sluice-git's mirrors, the same cache the
//! Application controller reads) and creates, updates and deletes the Applications it owns
//! (`ownerReferences` to the ApplicationSet), as the upstream controller does:
//! `spec.syncPolicy.applicationsSync` (`create-only`, `create-update`, `create-delete`,
//! `sync`) limits what it changes; errors become the `ErrorOccurred` condition.
//!
//! Refreshed at each change of the ApplicationSet, every `requeueAfterSeconds` of its git
//! generators (default 180 s, as upstream), and on the
//! `argocd.argoproj.io/application-set-refresh` annotation (set by the push webhook;
//! removed once done).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use serde_json::{Value, json};
use sluice_gitops::repo::Repos;

use super::app_ar;
use crate::Error;

/// The field manager of the Applications it writes.
pub const FIELD_MANAGER: &str = "argocd-applicationset-controller";
/// The annotation the push webhook sets on ApplicationSets with a git generator of the
/// pushed repository.
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/application-set-refresh";
/// Upstream's default `requeueAfterSeconds` of git generators.
pub const DEFAULT_REQUEUE: Duration = Duration::from_secs(180);

/// A fresh view of the repositories for one generation (each (repoURL, revision) is
/// resolved once per view).
pub type ReposFactory = dyn Fn() -> Box<dyn Repos + Send> + Send + Sync;

/// How the ApplicationSet controller runs.
#[derive(Clone)]
pub struct AppSetOptions {
    pub repos: Arc<ReposFactory>,
    /// Where Argo CD cluster Secrets are read (besides the ApplicationSet's namespace).
    pub controller_namespace: String,
}

struct Ctx {
    client: Client,
    opts: AppSetOptions,
}

pub(crate) fn appset_ar() -> kube::core::ApiResource {
    crate::gvk(
        "argoproj.io",
        "v1alpha1",
        "ApplicationSet",
        "applicationsets",
    )
}

/// Runs the controller until the API goes away or the future is dropped.
pub async fn run(client: Client, opts: AppSetOptions) -> Result<(), Error> {
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        opts,
    });
    let api: Api<DynamicObject> = Api::all_with(client, &appset_ar());
    Controller::new_with(api, watcher::Config::default(), appset_ar())
        .run(reconcile, error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
    Ok(())
}

/// [`run`], restarted after an error or a panic with a backoff.
pub async fn run_supervised(client: Client, opts: AppSetOptions) {
    let mut backoff = Duration::from_secs(1);
    loop {
        match tokio::spawn(run(client.clone(), opts.clone())).await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => eprintln!("error: applicationset controller stopped: {e}"),
            Err(e) => eprintln!("error: applicationset controller panicked: {e}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

fn error_policy(_obj: Arc<DynamicObject>, err: &Error, _ctx: Arc<Ctx>) -> Action {
    eprintln!("applicationset controller: {err}");
    Action::requeue(Duration::from_secs(5))
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// The shortest `requeueAfterSeconds` of the git generators (nested ones included), or
/// the default when there is a git generator without one; `None` without git generators.
pub fn requeue_after(spec: &Value) -> Option<Duration> {
    fn walk(v: &Value, out: &mut Option<Duration>) {
        if let Some(g) = v.get("git") {
            let d = g
                .get("requeueAfterSeconds")
                .and_then(Value::as_u64)
                .map_or(DEFAULT_REQUEUE, |n| Duration::from_secs(n.max(1)));
            *out = Some(out.map_or(d, |o| o.min(d)));
        }
        for k in ["matrix", "merge"] {
            if let Some(gs) = v
                .get(k)
                .and_then(|m| m.get("generators"))
                .and_then(Value::as_array)
            {
                for g in gs {
                    walk(g, out);
                }
            }
        }
    }
    let mut out = None;
    for g in spec
        .get("generators")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        walk(g, &mut out);
    }
    out
}

/// The git generators' repository URLs (nested ones included).
pub fn git_repo_urls(spec: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        if let Some(u) = v.pointer("/git/repoURL").and_then(Value::as_str)
            && !out.iter().any(|o| o == u)
        {
            out.push(u.to_owned());
        }
        for k in ["matrix", "merge"] {
            for g in v
                .get(k)
                .and_then(|m| m.get("generators"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                walk(g, out);
            }
        }
    }
    let mut out = Vec::new();
    for g in spec
        .get("generators")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        walk(g, &mut out);
    }
    out
}

async fn cluster_secrets(ctx: &Ctx, ns: &str) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    let mut namespaces = vec![ctx.opts.controller_namespace.clone()];
    if ns != ctx.opts.controller_namespace {
        namespaces.push(ns.to_owned());
    }
    for n in namespaces {
        let api: Api<DynamicObject> = Api::namespaced_with(
            ctx.client.clone(),
            &n,
            &crate::gvk("", "v1", "Secret", "secrets"),
        );
        let lp = ListParams::default().labels("argocd.argoproj.io/secret-type=cluster");
        match api.list(&lp).await {
            Ok(l) => {
                for o in l.items {
                    let mut v = serde_json::to_value(o)?;
                    v["apiVersion"] = json!("v1");
                    v["kind"] = json!("Secret");
                    out.push(v);
                }
            }
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 403 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

async fn reconcile(obj: Arc<DynamicObject>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let mut set = serde_json::to_value(&*obj)?;
    set["apiVersion"] = json!("argoproj.io/v1alpha1");
    set["kind"] = json!("ApplicationSet");
    if set.pointer("/metadata/deletionTimestamp").is_some() {
        return Ok(Action::await_change());
    }
    let ns = s(&set, "/metadata/namespace").to_owned();
    let name = s(&set, "/metadata/name").to_owned();
    let uid = s(&set, "/metadata/uid").to_owned();
    let secrets = cluster_secrets(&ctx, &ns).await?;
    let repos = ctx.opts.repos.clone();
    let set2 = set.clone();
    let generated = tokio::task::spawn_blocking(move || {
        let repos = repos();
        let inputs = sluice_gitops::Inputs {
            objects: &secrets,
            repos: repos.as_ref(),
        };
        sluice_gitops::generate(&set2, &inputs)
    })
    .await
    .map_err(|e| Error::Other(format!("generate task: {e}")))?;
    let requeue = requeue_after(&set["spec"]);
    let status = match generated {
        Err(errs) => {
            let msg = errs
                .iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            conditions(false, &msg)
        }
        Ok(apps) => match apply_apps(&ctx, &set, &ns, &uid, apps).await {
            Ok(()) => conditions(true, "All applications have been generated successfully"),
            Err(e) => conditions(false, &e.to_string()),
        },
    };
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &appset_ar());
    // the status is written only when it changes: the write is a watch event of its own
    let key = |v: &Value| -> Vec<(String, String, String)> {
        v.get("conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    s(c, "/type").to_owned(),
                    s(c, "/status").to_owned(),
                    s(c, "/message").to_owned(),
                )
            })
            .collect()
    };
    let unchanged = set
        .get("status")
        .is_some_and(|old| key(old) == key(&status));
    let body = json!({"status": status});
    if !unchanged
        && let Err(e) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&body))
            .await
    {
        match e {
            kube::Error::Api(ae) if ae.code == 404 => {
                let _ = api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&body))
                    .await;
            }
            e => return Err(e.into()),
        }
    }
    if set
        .pointer(&format!(
            "/metadata/annotations/{}",
            REFRESH_ANNOTATION.replace('/', "~1")
        ))
        .is_some()
    {
        let p = json!({"metadata": {"annotations": {REFRESH_ANNOTATION: null}}});
        let _ = api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&p))
            .await;
    }
    Ok(match requeue {
        Some(d) => Action::requeue(d),
        None => Action::await_change(),
    })
}

fn conditions(ok: bool, message: &str) -> Value {
    let now = sluice_pipeline::status::now();
    json!({"conditions": [
        {"type": "ErrorOccurred", "status": if ok { "False" } else { "True" },
         "reason": if ok { "ApplicationSetUpToDate" } else { "ApplicationGenerationFromParamsError" },
         "message": message, "lastTransitionTime": now},
        {"type": "ResourcesUpToDate", "status": if ok { "True" } else { "False" },
         "reason": if ok { "ApplicationSetUpToDate" } else { "ApplicationGenerationFromParamsError" },
         "message": message, "lastTransitionTime": now},
    ]})
}

/// Creates/updates the generated Applications (server-side apply, owned by the
/// ApplicationSet) and deletes owned ones no longer generated, within the
/// `applicationsSync` policy.
async fn apply_apps(
    ctx: &Ctx,
    set: &Value,
    ns: &str,
    uid: &str,
    apps: Vec<Value>,
) -> Result<(), Error> {
    let policy = set
        .pointer("/spec/syncPolicy/applicationsSync")
        .and_then(Value::as_str)
        .unwrap_or("sync");
    let (update, delete) = match policy {
        "create-only" => (false, false),
        "create-update" => (true, false),
        "create-delete" => (false, true),
        _ => (true, true),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), ns, &app_ar());
    let owner = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
        "name": s(set, "/metadata/name"), "uid": uid,
        "controller": true, "blockOwnerDeletion": true,
    });
    let mut names = BTreeSet::new();
    for mut app in apps {
        let name = s(&app, "/metadata/name").to_owned();
        if name.is_empty() {
            continue;
        }
        app["apiVersion"] = json!("argoproj.io/v1alpha1");
        app["kind"] = json!("Application");
        app["metadata"]["namespace"] = json!(ns);
        app["metadata"]["ownerReferences"] = json!([owner]);
        if let Some(m) = app["metadata"].as_object_mut() {
            m.remove("creationTimestamp");
        }
        if let Some(m) = app.as_object_mut() {
            m.remove("status");
        }
        names.insert(name.clone());
        let exists = api.get_opt(&name).await?.is_some();
        if exists && !update {
            continue;
        }
        let pp = PatchParams::apply(FIELD_MANAGER).force();
        api.patch(&name, &pp, &Patch::Apply(&app)).await?;
    }
    if delete {
        for o in api.list(&ListParams::default()).await?.items {
            let owned = o
                .metadata
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.uid == uid);
            let n = o.metadata.name.clone().unwrap_or_default();
            if owned && !names.contains(&n) {
                match api.delete(&n, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream: a git generator is polled every `requeueAfterSeconds`, 3 minutes when
    /// unset (docs operator-manual/applicationset/Generators-Git.md).
    #[test]
    fn requeue_is_the_shortest_git_interval() {
        let spec = json!({"generators": [
            {"list": {"elements": []}},
            {"matrix": {"generators": [{"git": {"repoURL": "a", "requeueAfterSeconds": 30}},
                                       {"git": {"repoURL": "b"}}]}},
        ]});
        assert_eq!(requeue_after(&spec), Some(Duration::from_secs(30)));
        assert_eq!(git_repo_urls(&spec), ["a", "b"]);
        let spec = json!({"generators": [{"git": {"repoURL": "a"}}]});
        assert_eq!(requeue_after(&spec), Some(DEFAULT_REQUEUE));
        assert_eq!(requeue_after(&json!({"generators": [{"list": {}}]})), None);
    }
}
