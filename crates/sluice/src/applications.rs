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

type CredsFn = dyn Fn(&str) -> sluice_git::Credentials + Send + Sync;
type CredsSlot = Arc<std::sync::RwLock<Option<Arc<CredsFn>>>>;

/// The repositories of one server: the cache and the Application sources over it.
#[derive(Clone)]
pub struct Repositories {
    pub cache: Arc<RepoCache>,
    pub sources: Arc<GitSources>,
    /// Where fetches find their credentials (set by [`with_git_credentials`]).
    creds: CredsSlot,
}

fn creds_from(slot: &CredsSlot, url: &str) -> sluice_git::Credentials {
    let f = slot.read().ok().and_then(|g| g.clone());
    f.map(|f| f(url)).unwrap_or_default()
}

/// The repository cache in `data`/repos. `GIT_SSH` names the ssh program (default `ssh`).
pub fn repositories(data: &Path) -> anyhow::Result<Repositories> {
    let dir = data.join("repos");
    let mut opts = CacheOptions::new(&dir);
    if let Some(ssh) = std::env::var_os("GIT_SSH").filter(|s| !s.is_empty()) {
        opts.ssh_program = ssh;
    }
    let cache = Arc::new(
        RepoCache::new(opts)
            .with_context(|| format!("{}: opening the repository cache", dir.display()))?,
    );
    let creds: CredsSlot = Arc::default();
    let slot = creds.clone();
    let sources = Arc::new(
        GitSources::new(cache.clone()).with_credentials(move |url| creds_from(&slot, url)),
    );
    Ok(Repositories {
        cache,
        sources,
        creds,
    })
}

/// Runs `fut` (API reads) to completion from synchronous repository code: on a blocking
/// thread directly; on a runtime worker through `block_in_place`, so the worker's other
/// tasks (the in-process API server among them) move to another thread meanwhile.
fn block_on_api<T>(
    handle: &tokio::runtime::Handle,
    fut: impl std::future::Future<Output = T>,
) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(fut))
        }
        _ => handle.block_on(fut),
    }
}

/// Git repository credentials as Argo CD reads them from the controller's namespace
/// (`namespace`), through `client`: `repository` and `repo-creds` Secrets and argocd-cm
/// `repositories`/`repository.credentials` (sluice_gitops::repocreds, the longest URL prefix
/// winning), argocd-tls-certs-cm (CA certificates per host) and argocd-ssh-known-hosts-cm.
/// Read at most every 3 s; fetches run on blocking threads. Call from the runtime.
pub fn with_git_credentials(
    repos: &Repositories,
    client: &sluice_kube::application::webhook::Client,
    namespace: &str,
) {
    use sluice_gitops::repocreds::{RepoCredsSet, ssh_known_hosts, tls_certs_for};
    type Snapshot = (RepoCredsSet, serde_json::Value, serde_json::Value);
    let handle = tokio::runtime::Handle::current();
    let client = client.clone();
    let ns = namespace.to_owned();
    let last: std::sync::Mutex<Option<(std::time::Instant, Arc<Snapshot>)>> =
        std::sync::Mutex::new(None);
    let read = move || -> Arc<Snapshot> {
        // the lock is never held across the API reads: they are served by this runtime's
        // workers, which other readers may be
        if let Some((at, snap)) = last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            && at.elapsed() < std::time::Duration::from_secs(3)
        {
            return snap.clone();
        }
        let snap = block_on_api(&handle, async {
            use sluice_kube::application::clusters::{config_map, labelled_secrets};
            let mut secrets = labelled_secrets(&client, &ns, "repository")
                .await
                .unwrap_or_default();
            secrets.extend(
                labelled_secrets(&client, &ns, "repo-creds")
                    .await
                    .unwrap_or_default(),
            );
            let cm = config_map(&client, &ns, "argocd-cm")
                .await
                .unwrap_or_default();
            let (set, _errors) = RepoCredsSet::from_objects(&secrets, Some(&cm));
            let tls = config_map(&client, &ns, "argocd-tls-certs-cm")
                .await
                .unwrap_or_default();
            let kh = config_map(&client, &ns, "argocd-ssh-known-hosts-cm")
                .await
                .unwrap_or_default();
            Arc::new((set, tls, kh))
        });
        *last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((std::time::Instant::now(), snap.clone()));
        snap
    };
    let f: Arc<CredsFn> = Arc::new(move |url: &str| {
        let snap = read();
        let (set, tls, kh) = &*snap;
        let mut c = set.resolve(url, "").creds;
        c.tls_ca_certs = tls_certs_for(tls, url);
        c.ssh_known_hosts = ssh_known_hosts(kh);
        c
    });
    if let Ok(mut g) = repos.creds.write() {
        *g = Some(f);
    }
}

/// The ApplicationSet controller's options: git generators read through the same cache.
pub fn appset_options(repos: &Repositories) -> sluice_kube::application::appset::AppSetOptions {
    let cache = repos.cache.clone();
    let slot = repos.creds.clone();
    sluice_kube::application::appset::AppSetOptions {
        repos: Arc::new(move || {
            let slot = slot.clone();
            Box::new(
                sluice_git::GitRepos::new(cache.clone())
                    .with_credentials(move |url| creds_from(&slot, url)),
            )
        }),
        controller_namespace: "argocd".into(),
    }
}

/// The controller's options: sources read from Git through `repos`.
pub fn options(repos: &Repositories) -> AppOptions {
    let sources: Arc<dyn Sources> = repos.sources.clone();
    AppOptions::new(sources)
}

/// Adds Helm chart repositories (`source.chart`, crate::helm_repos) to `opts`' sources:
/// archives cached under `data`/helm-charts, credentials from the repository and repo-creds
/// Secrets of the controller's namespace read through `client`. Call from the runtime.
pub fn with_helm_repos(
    opts: &mut AppOptions,
    data: &Path,
    client: &sluice_kube::application::webhook::Client,
) {
    let handle = tokio::runtime::Handle::current();
    let client = client.clone();
    let ns = opts.controller_namespace.clone();
    let secrets = move || {
        block_on_api(&handle, async {
            let mut secrets = Vec::new();
            for kind in ["repository", "repo-creds"] {
                secrets.extend(
                    sluice_kube::application::clusters::labelled_secrets(&client, &ns, kind)
                        .await
                        .unwrap_or_default(),
                );
            }
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
