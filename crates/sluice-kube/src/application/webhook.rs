//! Argo CD's `/api/webhook`: a Git push (GitHub, GitLab, Bitbucket Cloud and Server
//! payloads, parsed and verified by `sluice_gitops::webhook` with the secrets of
//! `argocd-secret`) refreshes the Applications whose source follows the pushed revision of
//! that repository, as argo-cd `util/webhook` does: the repository's cached refs are
//! forgotten ([`Sources::invalidate`]) and each Application gets the
//! `argocd.argoproj.io/refresh: normal` annotation (`argo.RefreshApp`), which makes the
//! controller reconcile it at once instead of at the next poll.

use base64::Engine as _;
/// The client the handler talks to the API with (re-exported for the binary).
pub use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use sluice_gitops::repocreds::same_url;
use sluice_gitops::webhook::{
    Parsed, PushEvent, WebhookSecrets, parse, same_repo, source_revision_has_changed,
};

use super::{REFRESH_ANNOTATION, Sources, app_ar};

/// The reply to one request: HTTP status and a message for the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub message: String,
}

/// The webhook secrets of `argocd-secret` in `namespace` (none: requests are not
/// authenticated, as upstream with empty secrets).
pub async fn secrets(client: &Client, namespace: &str) -> Result<WebhookSecrets, String> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &crate::gvk("", "v1", "Secret", "secrets"),
    );
    let Some(obj) = api
        .get_opt("argocd-secret")
        .await
        .map_err(|e| format!("reading secret {namespace}/argocd-secret: {e}"))?
    else {
        return Ok(WebhookSecrets::default());
    };
    let v = serde_json::to_value(obj).map_err(|e| e.to_string())?;
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(data) = v.get("data").and_then(Value::as_object) {
        for (k, val) in data {
            if let Some(b) = val.as_str()
                && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b)
            {
                pairs.push((k.clone(), bytes));
            }
        }
    }
    if let Some(data) = v.get("stringData").and_then(Value::as_object) {
        for (k, val) in data {
            if let Some(s) = val.as_str() {
                pairs.push((k.clone(), s.as_bytes().to_vec()));
            }
        }
    }
    Ok(WebhookSecrets::from_argocd_secret(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
    ))
}

/// Whether an Application source at `repo_url` names the repository a payload gave as
/// `web_url`: upstream's web URL pattern (`same_repo`), or the same normalised URL (a
/// `file://` repository, whose payload carries its clone URL).
pub fn matches(web_url: &str, repo_url: &str) -> bool {
    same_repo(web_url, repo_url) || same_url(web_url, repo_url)
}

/// The `(namespace, name)`s of the Applications `push` refreshes among `apps`, and the
/// repository URLs whose cached refs it invalidates. Pure.
pub fn affected(apps: &[Value], push: &PushEvent) -> (Vec<(String, String)>, Vec<String>) {
    let mut hit = Vec::new();
    let mut urls: Vec<String> = Vec::new();
    for app in apps {
        let spec = &app["spec"];
        let one = spec.get("source").into_iter();
        let many = spec
            .get("sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        let mut refresh = false;
        for src in one.chain(many) {
            let repo = src.get("repoURL").and_then(Value::as_str).unwrap_or("");
            let target = src
                .get("targetRevision")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !repo.is_empty()
                && push.web_urls.iter().any(|w| matches(w, repo))
                && source_revision_has_changed(target, &push.revision, push.touched_head)
            {
                refresh = true;
                if !urls.iter().any(|u| u == repo) {
                    urls.push(repo.to_owned());
                }
            }
        }
        if refresh {
            let md = &app["metadata"];
            hit.push((
                md["namespace"].as_str().unwrap_or("").to_owned(),
                md["name"].as_str().unwrap_or("").to_owned(),
            ));
        }
    }
    (hit, urls)
}

/// Handles one `POST /api/webhook`: 400 with the reason for a request that is not a
/// verified push or ping of a known provider, else 200 once the affected Applications are
/// marked for refresh.
pub async fn handle(
    client: &Client,
    controller_namespace: &str,
    sources: &dyn Sources,
    headers: &[(String, String)],
    body: &[u8],
) -> Reply {
    let secrets = match secrets(client, controller_namespace).await {
        Ok(s) => s,
        Err(e) => {
            return Reply {
                status: 503,
                message: e,
            };
        }
    };
    let hdrs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let push = match parse(&hdrs, body, &secrets) {
        Err(e) => {
            return Reply {
                status: 400,
                message: e.to_string(),
            };
        }
        Ok(Parsed::Ignored(what)) => {
            return Reply {
                status: 200,
                message: format!("ignored: {what}"),
            };
        }
        Ok(Parsed::Push(p)) => p,
    };
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &app_ar());
    let apps = match api.list(&ListParams::default()).await {
        Ok(l) => l
            .items
            .into_iter()
            .filter_map(|o| serde_json::to_value(o).ok())
            .collect::<Vec<_>>(),
        Err(e) => {
            return Reply {
                status: 503,
                message: format!("listing Applications: {e}"),
            };
        }
    };
    let (hit, urls) = affected(&apps, &push);
    for u in push.web_urls.iter().chain(urls.iter()) {
        sources.invalidate(u);
    }
    let patch = json!({"metadata": {"annotations": {REFRESH_ANNOTATION: "normal"}}});
    let mut refreshed = 0usize;
    for (ns, name) in &hit {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &app_ar());
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => refreshed += 1,
            Err(e) => eprintln!("webhook: refreshing application {ns}/{name}: {e}"),
        }
    }
    // ApplicationSets with a git generator of the pushed repository regenerate at once
    // (upstream's `argocd.argoproj.io/application-set-refresh`)
    let sets: Api<DynamicObject> = Api::all_with(client.clone(), &super::appset::appset_ar());
    let mut sets_refreshed = 0usize;
    if let Ok(l) = sets.list(&ListParams::default()).await {
        let p = json!({"metadata": {"annotations": {super::appset::REFRESH_ANNOTATION: "true"}}});
        for o in l.items {
            let v = serde_json::to_value(&o).unwrap_or(Value::Null);
            let hit = super::appset::git_repo_urls(&v["spec"])
                .iter()
                .any(|r| push.web_urls.iter().any(|w| matches(w, r)));
            let (Some(ns), Some(name)) =
                (o.metadata.namespace.as_deref(), o.metadata.name.as_deref())
            else {
                continue;
            };
            if hit {
                for r in super::appset::git_repo_urls(&v["spec"]) {
                    sources.invalidate(&r);
                }
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client.clone(), ns, &super::appset::appset_ar());
                if api
                    .patch(name, &PatchParams::default(), &Patch::Merge(&p))
                    .await
                    .is_ok()
                {
                    sets_refreshed += 1;
                }
            }
        }
    }
    Reply {
        status: 200,
        message: format!(
            "push to {} ({}): {refreshed} application(s), {sets_refreshed} applicationset(s) refreshed",
            push.web_urls.first().map_or("", String::as_str),
            if push.revision.is_empty() {
                "no revision"
            } else {
                push.revision.as_str()
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str, repo: &str, rev: &str) -> Value {
        json!({"metadata": {"namespace": "argocd", "name": name},
            "spec": {"source": {"repoURL": repo, "targetRevision": rev, "path": "."}}})
    }

    /// argo-cd `util/webhook`: an app follows a push when its repoURL names the pushed
    /// repository (web URL pattern) and its targetRevision is the pushed branch, or HEAD
    /// when the default branch moved (docs operator-manual/webhook.md).
    #[test]
    fn push_selects_apps_of_the_repository_and_revision() {
        let apps = vec![
            app("head", "https://github.com/org/repo.git", "HEAD"),
            app("main", "git@github.com:org/repo.git", "main"),
            app("dev", "https://github.com/org/repo", "dev"),
            app("other", "https://github.com/org/other", "HEAD"),
            app("local", "file:///tmp/r", "HEAD"),
        ];
        let push = PushEvent {
            web_urls: vec!["https://github.com/org/repo".into()],
            revision: "main".into(),
            touched_head: true,
            ..PushEvent::default()
        };
        let (hit, urls) = affected(&apps, &push);
        let names: Vec<&str> = hit.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, ["head", "main"]);
        assert_eq!(urls.len(), 2);
        let local = PushEvent {
            web_urls: vec!["file:///tmp/r/".into(), "FILE:///tmp/r.git".into()],
            revision: "main".into(),
            touched_head: true,
            ..PushEvent::default()
        };
        let (hit, _) = affected(&apps, &local);
        assert!(hit.iter().any(|(_, n)| n == "local"), "{hit:?}");
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            "[a-zA-Z:/@._-]{0,24}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("spec".to_owned()),
                        Just("source".to_owned()),
                        Just("sources".to_owned()),
                        Just("repoURL".to_owned()),
                        Just("targetRevision".to_owned()),
                        Just("metadata".to_owned()),
                        Just("git".to_owned()),
                        Just("matrix".to_owned()),
                        Just("generators".to_owned()),
                        Just("requeueAfterSeconds".to_owned()),
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Applications and ApplicationSets of any shape (the API stores what users wrote)
        /// never make the webhook's selection or the generator walks panic.
        #[test]
        fn any_object_shape_is_handled(apps in proptest::collection::vec(arb_json(), 0..4),
                                       url in "[a-z:/.]{0,20}", rev in "[a-z/]{0,10}") {
            let push = PushEvent { web_urls: vec![url], revision: rev, touched_head: true,
                ..PushEvent::default() };
            let _ = affected(&apps, &push);
            for a in &apps {
                let _ = crate::application::appset::requeue_after(&a["spec"]);
                let _ = crate::application::appset::git_repo_urls(&a["spec"]);
                let _ = crate::application::repo_urls(&a["spec"]);
            }
        }
    }
}
