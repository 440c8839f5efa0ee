//! The OCI registry (sluice-registry) inside `sluice serve`: mounted at `/v2` on the API
//! server's port, its store under DATA/registry, credentials the server's token (the one
//! the kubeconfig carries). See docs/registry.md.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

/// The registry's flags on `sluice serve`.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Directory of the OCI registry's store (default DATA/registry).
    #[arg(long, value_name = "DIR")]
    pub registry_dir: Option<PathBuf>,
    /// Let clients pull (GET/HEAD) from the registry without credentials; pushes still
    /// need the server's token.
    #[arg(long)]
    pub registry_anonymous_pull: bool,
    /// Largest blob the registry accepts, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = sluice_registry::store::DEFAULT_MAX_BLOB_BYTES)]
    pub registry_max_blob: u64,
    /// Seconds between garbage collections of unreferenced blobs (0: never). A blob
    /// younger than the interval is kept, so a push in progress is never collected.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub registry_gc_interval: u64,
    /// Garbage collection also unlinks untagged manifests (distribution's
    /// `garbage-collect --delete-untagged`): those no tag reaches, directly, through an
    /// image index, or as a referrer of a kept manifest; then their blobs go.
    #[arg(long)]
    pub registry_gc_delete_untagged: bool,
}

/// The API server's users for the registry: a credential is a user's when the API server
/// authenticates it (token file, ServiceAccount token, OIDC ID token with cached keys); what
/// the user may do is RBAC on `repositories.registry.sluice.dev` (docs/registry.md):
/// `get` to pull, `create` to push, `delete` to delete, `list` for the catalog; the
/// resource name is the repository, and a repository `NS/...` is also checked in namespace
/// `NS` (a Role there covers it, as a Harbor project).
#[derive(Clone)]
struct ApiUsers(std::sync::Arc<sluice_apiserver::server::State>);

impl std::fmt::Debug for ApiUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiUsers")
    }
}

impl sluice_registry::auth::Users for ApiUsers {
    fn known(&self, credential: &str) -> bool {
        sluice_apiserver::auth::authenticate_token(&self.0, credential).is_some()
    }

    fn allowed(&self, credential: &str, need: &sluice_registry::auth::Need) -> bool {
        use sluice_auth::rbac::Attributes;
        use sluice_registry::auth::Need;
        let Some(user) = sluice_apiserver::auth::authenticate_token(&self.0, credential) else {
            return false;
        };
        let (verb, name) = match need {
            Need::Any => return true,
            Need::Catalog => ("list", ""),
            Need::Repo { name, action } => (
                match *action {
                    "pull" => "get",
                    "push" => "create",
                    _ => "delete",
                },
                name.as_str(),
            ),
        };
        let mut a = Attributes::resource(verb, REGISTRY_GROUP, "repositories", "");
        a.name = name.to_string();
        if sluice_apiserver::auth::allowed(&self.0, &user, &a) {
            return true;
        }
        match name.split_once('/') {
            Some((ns, _)) => {
                a.namespace = ns.to_string();
                sluice_apiserver::auth::allowed(&self.0, &user, &a)
            }
            None => false,
        }
    }
}

/// The API group of the `repositories` RBAC rules name.
pub(crate) const REGISTRY_GROUP: &str = "registry.sluice.dev";

/// Opens the store and mounts the registry at `/v2` of `server`.
pub(crate) fn mount(
    server: &sluice_apiserver::ApiServer,
    args: &RegistryArgs,
    data: &Path,
    url: &str,
) -> anyhow::Result<()> {
    let root = args
        .registry_dir
        .clone()
        .unwrap_or_else(|| data.join("registry"));
    let reg = sluice_registry::Registry::open(sluice_registry::Options {
        root: root.clone(),
        auth: sluice_registry::Auth {
            token: Some(server.token().to_string()),
            anonymous_pull: args.registry_anonymous_pull,
            plain_http: url.starts_with("http://"),
            users: Some(std::sync::Arc::new(ApiUsers(server.state().clone()))),
        },
        max_blob_bytes: args.registry_max_blob,
    })
    .with_context(|| format!("opening the registry store in {}", root.display()))?;
    if args.registry_gc_interval > 0 {
        let every = std::time::Duration::from_secs(args.registry_gc_interval);
        let reg = reg.clone();
        let opts = sluice_registry::store::GcOptions {
            grace: every,
            delete_untagged: args.registry_gc_delete_untagged,
        };
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match reg.store().gc_with(opts).await {
                    Ok(s) if s.blobs_removed > 0 || s.manifests_removed > 0 => {
                        sluice_apiserver::log_warning(format!(
                            "registry: garbage collection removed {} untagged manifests, {} blobs ({} bytes)",
                            s.manifests_removed, s.blobs_removed, s.bytes_freed
                        ))
                    }
                    Ok(_) => {}
                    Err(e) => {
                        sluice_apiserver::log_warning(format!("registry: garbage collection: {e}"))
                    }
                }
            }
        });
    }
    server
        .mount("/v2", reg.router())
        .context("mounting the registry at /v2")?;
    let host = url.split("://").nth(1).unwrap_or(url);
    println!(
        "  registry:   {host}/v2/ (OCI; user any, password the token of DATA/token{}), store {}",
        if args.registry_anonymous_pull {
            "; pulls anonymous"
        } else {
            ""
        },
        root.display()
    );
    Ok(())
}
