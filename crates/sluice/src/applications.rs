//! The Argo CD Application controller of `sluice serve` (`sluice_kube::application`), where
//! its repositories come from, and Argo CD's push webhook (`/api/webhook`).
//!
//! Repositories are Git, through one shared `sluice_git::RepoCache` of bare mirrors under
//! DATA/repos: Applications read manifests from the tree of the commit their
//! targetRevision resolves to (`sluice_git::GitSources`), and a push webhook forgets a
//! repository's refs and refreshes the Applications that follow the pushed revision.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use sluice_git::{CacheOptions, GitSources, RepoCache};
use sluice_kube::application::{AppOptions, Sources};

/// The repositories of one server: the cache and the Application sources over it.
#[derive(Clone)]
pub struct Repositories {
    pub cache: Arc<RepoCache>,
    pub sources: Arc<GitSources>,
}

/// The repository cache in `data`/repos.
pub fn repositories(data: &Path) -> anyhow::Result<Repositories> {
    let dir = data.join("repos");
    let cache = Arc::new(
        RepoCache::new(CacheOptions::new(&dir))
            .with_context(|| format!("{}: opening the repository cache", dir.display()))?,
    );
    let sources = Arc::new(GitSources::new(cache.clone()));
    Ok(Repositories { cache, sources })
}

/// The ApplicationSet controller's options: git generators read through the same cache.
pub fn appset_options(repos: &Repositories) -> sluice_kube::application::appset::AppSetOptions {
    let cache = repos.cache.clone();
    sluice_kube::application::appset::AppSetOptions {
        repos: Arc::new(move || Box::new(sluice_git::GitRepos::new(cache.clone()))),
        controller_namespace: "argocd".into(),
    }
}

/// The controller's options: sources read from Git through `repos`.
pub fn options(repos: &Repositories) -> AppOptions {
    let sources: Arc<dyn Sources> = repos.sources.clone();
    AppOptions::new(sources)
}

/// Adds Helm chart repositories (`source.chart`, crate::helm_repos) to `opts`' sources:
/// archives cached under `data`/helm-charts, credentials from the repository Secrets of
/// the controller's namespace read through `client`. Call from the runtime.
pub fn with_helm_repos(
    opts: &mut AppOptions,
    data: &Path,
    client: &sluice_kube::application::webhook::Client,
) {
    let handle = tokio::runtime::Handle::current();
    let client = client.clone();
    let ns = opts.controller_namespace.clone();
    let secrets = move || {
        handle.block_on(async {
            let secrets =
                sluice_kube::application::clusters::labelled_secrets(&client, &ns, "repository")
                    .await
                    .unwrap_or_default();
            let certs =
                sluice_kube::application::clusters::config_map(&client, &ns, "argocd-tls-certs-cm")
                    .await
                    .unwrap_or_default();
            (secrets, certs)
        })
    };
    opts.sources = Arc::new(crate::helm_repos::HelmRepoSources {
        inner: opts.sources.clone(),
        cache_dir: data.join("helm-charts"),
        secrets: Arc::new(secrets),
    });
}

#[derive(Clone)]
struct WebhookState {
    client: sluice_kube::application::webhook::Client,
    namespace: String,
    sources: Arc<dyn Sources>,
}

/// `POST /api/webhook` (Argo CD's path) for the server's port: pushes from GitHub, GitLab
/// and Bitbucket refresh the Applications of the pushed repository and revision.
pub fn webhook_router(
    client: sluice_kube::application::webhook::Client,
    opts: &AppOptions,
) -> axum::Router {
    let state = WebhookState {
        client,
        namespace: opts.controller_namespace.clone(),
        sources: opts.sources.clone(),
    };
    axum::Router::new()
        .route("/api/webhook", axum::routing::post(webhook))
        .layer(axum::extract::DefaultBodyLimit::max(
            sluice_gitops::webhook::MAX_PAYLOAD_BYTES,
        ))
        .with_state(state)
}

async fn webhook(
    axum::extract::State(st): axum::extract::State<WebhookState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, String) {
    let hdrs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let reply = sluice_kube::application::webhook::handle(
        &st.client,
        &st.namespace,
        st.sources.as_ref(),
        &hdrs,
        &body,
    )
    .await;
    let status = axum::http::StatusCode::from_u16(reply.status)
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    (status, format!("{}\n", reply.message))
}
