//! Sluice's embedded Kubernetes-compatible API server.
//!
//! One machine, no cluster: every object (Tasks, PipelineRuns, Applications, policies,
//! Secrets and the workloads GitOps deploys) lives in SQLite (WAL mode) and is served with
//! the Kubernetes API's semantics, so that kubectl, kube-rs and Sluice's controllers work the
//! same here as against a real cluster.
//!
//! - [`store`]: SQLite + in-memory copy, the global resourceVersion counter, watch history.
//! - [`resources`]: what is served (built-in kinds, Sluice's CRD groups, user CRDs).
//! - [`server`]: the HTTP API (discovery, CRUD, watch, patch, subresources, Tables).
//! - [`patch`]: JSON patch, merge patch, strategic merge patch; [`apply`]: server-side apply.
//! - [`admission`]: defaulting and validation (`sluice_apis::validate_one`) and the hook the
//!   policy engine plugs into.
//! - [`simnode`]: a simulated node in the spirit of kwok. No container ever runs.
//! - [`limits`]: per-request deadlines and the bounded pool heavy work runs in;
//!   [`supervise`]: panic isolation and restart with backoff for background work;
//!   [`quarantine`]: stored objects that today's checks reject, kept but ignored;
//!   [`decode`]: strict JSON decoding (duplicate fields).
//! - [`encryption`]: kube-apiserver's `EncryptionConfiguration` and the transforms of rows
//!   encrypted at rest; [`audit`]: audit policy and events; [`audit_log`]: the audit log
//!   writer and the request wrapper that feeds it.

pub mod admission;
pub mod apply;
pub mod argo_authz;
pub mod audit;
pub mod audit_log;
pub mod auth;
mod builtin_gen;
pub mod builtin_validation;
pub mod convert;
pub mod decode;
pub mod defaults;
pub mod encryption;
pub mod limits;
pub mod listeners;
pub mod login;
pub mod oidc;
pub mod openapi;
pub mod openapi_pb;
pub mod ops;
pub mod patch;
pub mod proto;
pub mod quarantine;
pub mod resources;
pub mod server;
pub mod simnode;
pub mod status;
pub mod store;
pub mod supervise;
pub mod table;
pub mod tls;
pub mod util;
pub mod virtual_kinds;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use admission::{AdmissionHook, AdmissionRequest, Operation};
pub use server::State;
pub use server::{MetricsSource, PodLogHook, tail_start};
pub use status::ApiError;
pub use store::Store;

/// Errors of starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(std::io::Error),
    #[error("tls: {0}")]
    Tls(String),
    #[error("{0}")]
    Auth(String),
    #[error("{0}")]
    Config(String),
    #[error(
        "cannot mount a router at {0:?}: a prefix starts with '/' and is not one of the API's own paths"
    )]
    Mount(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// How the server starts.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where `db.sqlite`, `token` and `kubeconfig` live; None keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// The admin bearer token; None: the one in DATA/token, or a new random one.
    pub token: Option<String>,
    /// The simulated node; None turns it off.
    pub simulate: Option<simnode::SimOptions>,
    /// How many recent events watches can resume from.
    pub watch_history: usize,
    /// The longest a request may take (kube-apiserver's `--request-timeout`, default 60 s);
    /// `?timeout=` may only lower it. A request over it is a 504 and stores nothing.
    pub request_timeout: Duration,
    /// How many requests' writes, lists and deletes run at once, off the async runtime.
    pub request_workers: usize,
    /// Run small writes (see `server::cheap_write`: bodies and patched objects <= 32 KiB,
    /// every admission hook idle) on the async worker instead of the request pool. Off by
    /// default here; `sluice serve` and `sluice apiserver` turn it on: under the serve
    /// controllers' load it cut a third of the context switches and ~15% of CPU and wall
    /// time, while on an oversubscribed machine it had made bare creates slower
    /// (docs/benchmarks.md, 2026-12-03 and 2026-12-05).
    pub inline_writes: bool,
    /// Per-watch buffer: events and bytes queued for a client that is not reading; a watcher
    /// over either bound for longer than `watch_stall` is closed (see [`server`]).
    pub watch_buffer: server::WatchBuffer,
    /// Users of a static token file (kube-apiserver's `--token-auth-file`).
    pub token_auth_file: Option<PathBuf>,
    /// The `iss` of ServiceAccount tokens (`--service-account-issuer`; default
    /// `https://kubernetes.default.svc.cluster.local`).
    pub service_account_issuer: Option<String>,
    /// Audiences an API token must name one of (`--api-audiences`; default the issuer).
    pub api_audiences: Vec<String>,
    /// Secrets (and other listed resources) encrypted at rest (`--encryption-provider-config`).
    pub encryption_provider_config: Option<PathBuf>,
    /// The audit log (`--audit-log-path`, `--audit-policy-file`, rotation).
    pub audit: Option<audit_log::AuditOptions>,
    /// OpenID Connect bearer tokens (kube-apiserver's `--oidc-*` flags); None: off.
    pub oidc: Option<oidc::OidcOptions>,
}

impl Default for Options {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Options {
            data_dir: None,
            token: None,
            simulate: Some(simnode::SimOptions::default()),
            watch_history: 20_000,
            request_timeout: limits::DEFAULT_REQUEST_TIMEOUT,
            request_workers: (2 * cores).max(4),
            inline_writes: false,
            watch_buffer: server::WatchBuffer::default(),
            token_auth_file: None,
            service_account_issuer: None,
            api_audiences: Vec::new(),
            encryption_provider_config: None,
            audit: None,
            oidc: None,
        }
    }
}

/// How long a client may take over its TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers (hyper's default once a timer is
/// set).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Logs a warning of the server on stderr (the binary's log), with a timestamp.
pub fn log_warning(msg: impl std::fmt::Display) {
    eprintln!("{} sluice apiserver: warning: {msg}", util::now_rfc3339());
}

/// The server: a store, the served resources and the HTTP API over them.
#[derive(Clone)]
pub struct ApiServer {
    state: Arc<State>,
    warnings: Arc<Vec<String>>,
}

impl ApiServer {
    /// Opens the store (creating the data directory), installs Sluice's CRDs and the
    /// initial namespaces on first start.
    ///
    /// The data directory is made 0700 and its files 0600 (existing ones are fixed, with a
    /// warning: they hold the token, the TLS key and every Secret). Stored objects are
    /// re-admitted with today's checks: those that fail are quarantined (kept, served, an
    /// Event records why, controllers ignore them) instead of stopping the server.
    pub fn open(opts: Options) -> Result<Self, Error> {
        let mut warnings = Vec::new();
        let (db, token) = match &opts.data_dir {
            Some(dir) => {
                secure_data_dir(dir, &mut warnings)?;
                let token = match &opts.token {
                    Some(t) => t.clone(),
                    None => load_or_create_token(&dir.join("token"))?,
                };
                (dir.join("db.sqlite"), token)
            }
            None => (
                PathBuf::from(":memory:"),
                opts.token.clone().unwrap_or_else(new_token),
            ),
        };
        let auth = open_auth(&opts)?;
        let enc = match &opts.encryption_provider_config {
            Some(path) => Some(Arc::new(load_encryption_config(path, &mut warnings)?)),
            None => None,
        };
        let store = Store::open_encrypted(&db, opts.watch_history, enc)?;
        if store.rewritten_on_open() > 0 {
            warnings.push(format!(
                "rewrote {} stored objects with the first key of the encryption configuration",
                store.rewritten_on_open()
            ));
        }
        let state = Arc::new(State {
            store,
            registry: RwLock::new(resources::Registry::default()),
            token,
            hooks: RwLock::new(Vec::new()),
            log_hooks: RwLock::new(Vec::new()),
            metrics: RwLock::new(None),
            listener_hook: RwLock::new(None),
            mounts: RwLock::new(Vec::new()),
            tls: std::sync::atomic::AtomicBool::new(false),
            simulate: opts.simulate.clone(),
            pool: limits::Pool::new(opts.request_workers, opts.request_timeout),
            inline_writes: opts.inline_writes,
            watch_buffer: opts.watch_buffer,
            quarantine: RwLock::new(Default::default()),
            auth,
            audit: match &opts.audit {
                Some(a) => audit_log::Auditor::open(a, &mut warnings)?.map(Arc::new),
                None => None,
            },
        });
        state.bootstrap()?;
        warnings.extend(state.readmit_stored());
        for w in &warnings {
            log_warning(w);
        }
        Ok(ApiServer {
            state,
            warnings: Arc::new(warnings),
        })
    }

    /// What starting found and fixed or set aside: loosened permissions, quarantined
    /// objects (each also logged on stderr).
    pub fn startup_warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    pub fn token(&self) -> &str {
        &self.state.token
    }

    /// The HTTP API, bearer token required (health endpoints and /version aside).
    pub fn router(&self) -> axum::Router {
        server::router(self.state.clone(), true)
    }

    /// The HTTP API for in-process clients (kube::Client over this tower service): no TCP,
    /// no token.
    pub fn local_router(&self) -> axum::Router {
        server::router(self.state.clone(), false)
    }

    /// The HTTP API for an in-process client acting as `user` (a controller's
    /// ServiceAccount, [`sluice_auth::bootstrap::controller_user`]): no TCP, no token, each
    /// request authorized by RBAC as that user's.
    pub fn router_as(&self, user: sluice_auth::UserInfo) -> axum::Router {
        server::router_with(self.state.clone(), server::Access::As(Arc::new(user)))
    }

    /// Accepts OpenID Connect ID tokens as `o` says (replacing any OIDC configuration),
    /// loading the provider's keys now when called on a tokio runtime, else from
    /// [`ApiServer::start_background`]. For configurations read from the store (Argo CD's
    /// `oidc.config`) after [`ApiServer::open`].
    pub fn set_oidc(&self, o: &oidc::OidcOptions) -> Result<(), Error> {
        let new = Arc::new(oidc::Oidc::new(o)?);
        if tokio::runtime::Handle::try_current().is_ok() {
            new.start();
        }
        *self
            .state
            .auth
            .oidc
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(new);
        Ok(())
    }

    /// Registers an admission hook (the policy engine), called after built-in validation.
    pub fn add_admission_hook(&self, hook: Arc<dyn AdmissionHook>) {
        self.state
            .hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(hook);
    }

    /// Registers a source of Pod logs (the containers `sluice serve`'s controllers run):
    /// the `log` subresource asks the hooks before answering with the simulated node's line.
    pub fn add_log_hook(&self, hook: Arc<dyn PodLogHook>) {
        self.state
            .log_hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(hook);
    }

    /// Serves `source` at `/metrics`; `public` serves it without the bearer token (a
    /// Prometheus scrape needs no credentials then).
    pub fn set_metrics(&self, source: Arc<dyn MetricsSource>, public: bool) {
        *self
            .state
            .metrics
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some((source, public));
    }

    /// Serves EventListener deliveries (`/listeners/<namespace>/<name>`, no token) with
    /// `hook` on this server's port.
    pub fn set_listener_hook(&self, hook: Arc<dyn listeners::ListenerHook>) {
        *self
            .state
            .listener_hook
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(hook);
    }

    /// Serves `router` for the requests at `prefix` or below it (`/v2` takes `/v2` and
    /// `/v2/...`; a prefix of `/` takes only `/`) on this server's port, before the API and
    /// without its bearer token: the router authenticates what it serves itself (the OCI
    /// registry's `/v2/`, the web UI's assets). A panic in it answers 500. Mounting a prefix
    /// again replaces its router; the API's own paths (`/api`, `/apis`, `/healthz`, ...)
    /// cannot be mounted over, except `/api/webhook` (Argo CD's push webhook).
    pub fn mount(&self, prefix: &str, router: axum::Router) -> Result<(), Error> {
        let prefix = if prefix.len() > 1 {
            prefix.trim_end_matches('/')
        } else {
            prefix
        };
        const RESERVED: &[&str] = &[
            "/api",
            "/apis",
            "/openapi",
            "/version",
            "/healthz",
            "/readyz",
            "/livez",
            "/metrics",
            listeners::PREFIX,
        ];
        let reserved = RESERVED.iter().any(|r| {
            let r = r.trim_end_matches('/');
            prefix == r || prefix.starts_with(&format!("{r}/"))
        });
        // Argo CD's push webhook path is not an API path (the core API is `/api/v1`)
        let reserved = reserved && prefix != "/api/webhook";
        if !prefix.starts_with('/') || reserved {
            return Err(Error::Mount(prefix.to_owned()));
        }
        let mut mounts = self.state.mounts.write().unwrap_or_else(|e| e.into_inner());
        mounts.retain(|(p, _)| p != prefix);
        mounts.push((prefix.to_owned(), router));
        mounts.sort_by_key(|m| std::cmp::Reverse(m.0.len()));
        Ok(())
    }

    /// Starts the simulated node's loop (if enabled) on the current tokio runtime, supervised:
    /// a panic restarts it after a backoff instead of ending it.
    pub fn start_background(&self) {
        if let Some(opts) = self.state.simulate.clone() {
            simnode::spawn(self.state.clone(), opts);
        }
        if let Some(o) = self.state.auth.oidc() {
            o.start();
        }
    }

    /// Serves HTTP on `listener` until the task is dropped.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> Result<(), Error> {
        self.start_background();
        axum::serve(
            listener,
            self.router()
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .map_err(Error::Serve)
    }

    /// Serves HTTPS on `listener` (HTTP/1.1; the certificate of `tls`) until the task is
    /// dropped. kubectl sends the bearer token only over TLS.
    pub async fn serve_tls(
        &self,
        listener: tokio::net::TcpListener,
        tls: &tls::TlsFiles,
    ) -> Result<(), Error> {
        self.start_background();
        self.state
            .tls
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let acceptor = tls::acceptor(tls)?;
        let app = self.router();
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // out of file descriptors and the like: wait instead of spinning
                    log_warning(format!("accepting a connection: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                // a client that never finishes its handshake or its headers is dropped
                let Ok(Ok(stream)) =
                    tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                else {
                    return;
                };
                use tower::ServiceExt as _;
                let app = app.map_request(move |mut r: hyper::Request<hyper::body::Incoming>| {
                    r.extensions_mut().insert(audit_log::PeerAddr(peer));
                    r
                });
                let svc = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    }

    /// Writes a kubeconfig for `server_url` with the admin token, file mode 0600; `ca_pem`
    /// is the certificate to trust for an https URL.
    pub fn write_kubeconfig(
        &self,
        path: &Path,
        server_url: &str,
        ca_pem: Option<&str>,
    ) -> Result<(), Error> {
        let ca = ca_pem
            .map(|p| {
                format!(
                    "    certificate-authority-data: {}\n",
                    tls::base64(p.as_bytes())
                )
            })
            .unwrap_or_default();
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sluice\n  cluster:\n{ca}    server: {server_url}\ncontexts:\n- name: sluice\n  context:\n    cluster: sluice\n    user: admin\n    namespace: default\ncurrent-context: sluice\nusers:\n- name: admin\n  user:\n    token: {}\n",
            self.state.token
        );
        write_private(path, &text)
    }
}

fn new_token() -> String {
    let mut b = [0u8; 32];
    if util::os_random(&mut b).is_err() {
        for chunk in b.chunks_mut(8) {
            let r = util::rand_u64().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
    }
    util::hex(&b)
}

/// Files of the data directory that must be readable by their owner only.
pub const PRIVATE_FILES: &[&str] = &[
    "db.sqlite",
    "db.sqlite-wal",
    "db.sqlite-shm",
    "db.sqlite-journal",
    "token",
    "kubeconfig",
    "tls.key",
    "tls.crt",
    "sa.key",
];

/// Creates the data directory 0700 (or makes an existing one 0700) and makes its files 0600;
/// `db.sqlite` is created 0600 before SQLite opens it, so its -wal and -shm files, which
/// SQLite creates with the database's mode, are 0600 too.
fn secure_data_dir(dir: &Path, warnings: &mut Vec<String>) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io_err(dir))?;
        }
        let fix = |path: &Path, want: u32, what: &str, warnings: &mut Vec<String>| {
            let Ok(meta) = std::fs::metadata(path) else {
                return;
            };
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 == 0 {
                return;
            }
            match std::fs::set_permissions(path, std::fs::Permissions::from_mode(want)) {
                Ok(()) => warnings.push(format!(
                    "{what} {} was readable by other users (mode {mode:04o}); set to {want:04o}",
                    path.display()
                )),
                Err(e) => warnings.push(format!(
                    "{what} {} is readable by other users (mode {mode:04o}) and could not be set to {want:04o}: {e}",
                    path.display()
                )),
            }
        };
        fix(dir, 0o700, "data directory", warnings);
        for f in PRIVATE_FILES {
            fix(&dir.join(f), 0o600, "file", warnings);
        }
        let db = dir.join("db.sqlite");
        if !db.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&db)
                .map_err(io_err(&db))?;
        }
    }
    #[cfg(not(unix))]
    {
        let _ = warnings;
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    Ok(())
}

/// The authenticators of `opts`: the token file's users, and the ServiceAccount token
/// signer with its key from DATA/sa.key (created 0600 on first start; in memory without a
/// data directory).
fn open_auth(opts: &Options) -> Result<auth::Auth, Error> {
    let tokens = match &opts.token_auth_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(io_err(path))?;
            let tf = sluice_auth::tokenfile::TokenFile::parse(&path.display().to_string(), &text)
                .map_err(|e| Error::Auth(e.to_string()))?;
            for w in &tf.warnings {
                log_warning(w);
            }
            Some(tf)
        }
        None => None,
    };
    let key = match &opts.data_dir {
        Some(dir) => {
            let path = dir.join("sa.key");
            match std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| util::unhex(t.trim()))
            {
                Some(k) => k,
                None => {
                    let k =
                        sluice_auth::sa::generate_key().map_err(|e| Error::Auth(e.to_string()))?;
                    write_private(&path, &util::hex(&k))?;
                    k
                }
            }
        }
        None => sluice_auth::sa::generate_key().map_err(|e| Error::Auth(e.to_string()))?,
    };
    let issuer = opts
        .service_account_issuer
        .clone()
        .unwrap_or_else(|| "https://kubernetes.default.svc.cluster.local".to_owned());
    let signer = sluice_auth::sa::Signer::new(&key, &issuer, opts.api_audiences.clone())
        .map_err(|e| Error::Auth(format!("DATA/sa.key: {e}")))?;
    let auth = auth::Auth::new(tokens, Some(signer));
    if let Some(o) = &opts.oidc {
        *auth.oidc.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(oidc::Oidc::new(o)?));
    }
    Ok(auth)
}

/// Reads `--encryption-provider-config`: it holds keys, so it must be readable by its owner
/// only (a looser mode is fixed to 0600 with a warning, as the data directory's files are).
fn load_encryption_config(
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<encryption::EncryptionConfig, Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(io_err(path))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
                Ok(()) => warnings.push(format!(
                    "encryption provider config {} was readable by other users (mode {mode:04o}); set to 0600",
                    path.display()
                )),
                Err(e) => warnings.push(format!(
                    "encryption provider config {} is readable by other users (mode {mode:04o}) and could not be set to 0600: {e}",
                    path.display()
                )),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = warnings;
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    encryption::parse(&path.display().to_string(), &text).map_err(|e| Error::Config(e.to_string()))
}

fn load_or_create_token(path: &Path) -> Result<String, Error> {
    match std::fs::read_to_string(path) {
        Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_owned()),
        _ => {
            let t = new_token();
            write_private(path, &t)?;
            Ok(t)
        }
    }
}

/// Writes a file readable by its owner only.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    o.mode(0o600);
    let mut f = o.open(path).map_err(io_err(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io_err(path))?;
    }
    f.write_all(text.as_bytes()).map_err(io_err(path))
}
