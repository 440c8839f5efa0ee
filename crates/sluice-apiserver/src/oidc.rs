//! OpenID Connect bearer tokens (kube-apiserver's `--oidc-*` flags): the I/O edge of
//! `sluice_auth::oidc`. The provider's discovery document
//! (`<issuer>/.well-known/openid-configuration`) and its JWKS (`jwks_uri`) are fetched over
//! HTTPS (roots: `--oidc-ca-file`, else the host's), in the background from the server's
//! start and retried until they load, as kube-apiserver's authenticator initialises
//! asynchronously (oidc.go `New`: `wait.PollImmediateUntil(10*time.Second, ...)`); the retry
//! backs off from 10 s to 5 min (an unreachable provider — a laptop away from the company's
//! SSO named in argocd-cm — is not logged every 10 s), and a token of the issuer makes the
//! documents be fetched at once (rate-limited), so a provider back up is seen at once.
//!
//! Requests never wait on the network but for key rotation: a token of the issuer signed
//! with a key the cached set does not have (go-oidc's RemoteKeySet refetches then) makes one
//! request fetch the JWKS again, at most once per [`REFRESH_INTERVAL`], bounded by
//! [`FETCH_TIMEOUT`]; concurrent requests wait for that one fetch. Tokens that are not JWTs
//! of the issuer are left to the other authenticators; every failure is a bare 401.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use sluice_auth::UserInfo;
use sluice_auth::oidc::{KeySet, Verifier};

use crate::{Error, log_warning, util};

/// A fetch of the discovery document or the JWKS, connection included, takes at most this.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Tokens with an unknown key make the JWKS be fetched again at most once per this.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// Until the provider answers, its documents are asked for again after this, doubled after
/// each failure up to [`INIT_RETRY_MAX`] (a token of the issuer still makes them be fetched
/// at once, once per [`REFRESH_INTERVAL`]).
pub const INIT_RETRY: Duration = Duration::from_secs(10);
/// The longest wait between two background attempts (an unreachable provider is logged
/// that often, not every 10 s).
pub const INIT_RETRY_MAX: Duration = Duration::from_secs(300);
/// The largest discovery document or JWKS read.
pub const MAX_DOCUMENT: usize = 1 << 20;
/// How long a verified token is answered from the cache (kube-apiserver caches successful
/// token authentications for 10 s: options/authentication.go `TokenSuccessCacheTTL`), never
/// past its `exp`.
pub const CACHE_TTL_SECONDS: i64 = 10;
/// The most tokens cached; when full, expired entries go, then all.
pub const CACHE_MAX: usize = 4096;

/// The `--oidc-*` flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcOptions {
    pub flags: sluice_auth::oidc::Options,
    /// `--oidc-ca-file`: PEM roots that verify the provider's certificate (default: the
    /// host's roots).
    pub ca_file: Option<PathBuf>,
    /// PEM roots given inline (Argo CD's `rootCA`), used when there is no `ca_file`.
    pub ca_pem: Option<String>,
    /// The browser login of the UI through this provider (None: tokens only).
    pub login: Option<LoginOptions>,
}

/// The UI's login through the provider (the authorization code flow with PKCE).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginOptions {
    /// What the login button names (`name` of Argo CD's `oidc.config`).
    pub name: String,
    /// `clientSecret` (resolved), for a confidential client; a public one has none.
    pub client_secret: Option<String>,
    /// `requestedScopes` (default: openid, profile, email, groups).
    pub scopes: Vec<String>,
}

/// A login begun and not finished: where the page goes after it, the PKCE verifier, when.
struct Pending {
    verifier: String,
    redirect_uri: String,
    next: String,
    at: Instant,
}

/// At most this many logins wait for their callback; the oldest go first.
const MAX_PENDING: usize = 1024;
/// A login not finished within this is forgotten.
const PENDING_TTL: Duration = Duration::from_secs(600);

/// The OIDC authenticator: the checked flags, the provider's cached keys.
pub struct Oidc {
    pub verifier: Verifier,
    tls: tokio_rustls::TlsConnector,
    keys: RwLock<Option<Arc<KeySet>>>,
    jwks_uri: Mutex<Option<String>>,
    /// When a request last made the keys be fetched again.
    last_refresh: Mutex<Option<Instant>>,
    /// One refetch at a time; the others wait for it and use its keys.
    refresh: tokio::sync::Mutex<()>,
    /// Bumped on every new key set.
    generation: AtomicU64,
    /// How many times the JWKS was fetched (for tests and logs).
    fetches: AtomicU64,
    /// Verified tokens (by SHA-256): the user and until when (unix seconds) it is answered.
    cache: Mutex<std::collections::HashMap<[u8; 32], (UserInfo, i64)>>,
    started: AtomicBool,
    login: Option<LoginOptions>,
    /// The discovery document's endpoints once loaded (authorization, token).
    endpoints: Mutex<Option<(Option<String>, Option<String>)>>,
    /// Logins begun, by `state`.
    pending: Mutex<std::collections::HashMap<String, Pending>>,
}

fn auth_err(e: impl std::fmt::Display) -> Error {
    Error::Auth(e.to_string())
}

impl Oidc {
    /// Checks the flags and reads the CA file; nothing is fetched yet ([`Oidc::start`]).
    pub fn new(o: &OidcOptions) -> Result<Self, Error> {
        let verifier = Verifier::new(&o.flags).map_err(auth_err)?;
        let mut roots = rustls::RootCertStore::empty();
        let pem = match (&o.ca_file, &o.ca_pem) {
            (Some(path), _) => Some((
                format!("--oidc-ca-file {}", path.display()),
                std::fs::read(path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?,
            )),
            (None, Some(pem)) => Some(("rootCA".to_owned(), pem.clone().into_bytes())),
            (None, None) => None,
        };
        match pem {
            Some((what, pem)) => {
                use rustls::pki_types::CertificateDer;
                use rustls::pki_types::pem::PemObject as _;
                for c in CertificateDer::pem_slice_iter(&pem) {
                    let c = c.map_err(|e| auth_err(format!("{what}: {e}")))?;
                    roots.add(c).map_err(|e| auth_err(format!("{what}: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(auth_err(format!("{what}: no PEM certificate in it")));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for c in found.certs {
                    let _ = roots.add(c);
                }
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Oidc {
            verifier,
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            keys: RwLock::new(None),
            jwks_uri: Mutex::new(None),
            last_refresh: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
            cache: Mutex::new(Default::default()),
            started: AtomicBool::new(false),
            login: o.login.clone(),
            endpoints: Mutex::new(None),
            pending: Mutex::new(Default::default()),
        })
    }

    /// Starts loading the provider's documents on the current tokio runtime (once), retrying
    /// after [`INIT_RETRY`], then longer (up to [`INIT_RETRY_MAX`]), until they load.
    pub fn start(self: &Arc<Self>) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let mut wait = INIT_RETRY;
            loop {
                if me.keys().is_some() {
                    return;
                }
                let result = {
                    let _one = me.refresh.lock().await;
                    if me.keys().is_some() {
                        return;
                    }
                    me.load().await
                };
                match result {
                    Ok(()) => return,
                    Err(e) => log_warning(format!(
                        "oidc authenticator: initializing for issuer {:?}: {e} (retrying in {} s)",
                        me.verifier.issuer_url,
                        wait.as_secs()
                    )),
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(INIT_RETRY_MAX);
            }
        });
    }

    /// The cached keys, None until the provider's documents loaded.
    pub fn keys(&self) -> Option<Arc<KeySet>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many times the JWKS was fetched.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }

    /// The user of `token` with the cached keys (no network): for callers that cannot wait.
    pub fn authenticate_cached(&self, token: &str) -> Option<UserInfo> {
        if !self.verifier.is_ours(token) {
            return None;
        }
        if let Some(u) = self.cached(token) {
            return Some(u);
        }
        let keys = self.keys()?;
        self.verify(token, &keys).ok()
    }

    fn digest(token: &str) -> [u8; 32] {
        let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        let mut k = [0u8; 32];
        k.copy_from_slice(d.as_ref());
        k
    }

    fn cached(&self, token: &str) -> Option<UserInfo> {
        let now = util::unix_now();
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(&Self::digest(token)) {
            Some((u, until)) if now <= *until => Some(u.clone()),
            _ => None,
        }
    }

    /// Verifies with `keys` and caches a success.
    fn verify(&self, token: &str, keys: &KeySet) -> Result<UserInfo, sluice_auth::oidc::OidcError> {
        let now = util::unix_now();
        let (u, exp) = self.verifier.verify_with_expiry(token, keys, now)?;
        let until = exp.min(now + CACHE_TTL_SECONDS);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.retain(|_, (_, t)| now <= *t);
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(Self::digest(token), (u.clone(), until));
        Ok(u)
    }

    /// The user of `token`, None (401, or another authenticator) otherwise. A token of the
    /// issuer whose key is not cached makes the keys be fetched again (rate-limited).
    pub async fn authenticate(&self, token: &str) -> Option<UserInfo> {
        if !self.verifier.is_ours(token) {
            return None;
        }
        if let Some(u) = self.cached(token) {
            return Some(u);
        }
        let keys = self.keys();
        if let Some(keys) = &keys {
            match self.verify(token, keys) {
                Ok(u) => return Some(u),
                Err(e) if e.rotation_may_help() => {}
                Err(_) => return None,
            }
        }
        // an unknown key, or the documents not loaded yet: fetch again, once per interval
        let seen = self.generation.load(Ordering::SeqCst);
        let _one = tokio::time::timeout(FETCH_TIMEOUT, self.refresh.lock())
            .await
            .ok()?;
        if self.generation.load(Ordering::SeqCst) == seen {
            {
                let mut last = self.last_refresh.lock().unwrap_or_else(|e| e.into_inner());
                if last.is_some_and(|t| t.elapsed() < REFRESH_INTERVAL) {
                    return None;
                }
                *last = Some(Instant::now());
            }
            if let Err(e) = self.load().await {
                log_warning(format!(
                    "oidc authenticator: fetching the keys of issuer {:?}: {e}",
                    self.verifier.issuer_url
                ));
                return None;
            }
        }
        let keys = self.keys()?;
        self.verify(token, &keys).ok()
    }

    /// Fetches the discovery document (until one loaded) and the JWKS, each bounded by
    /// [`FETCH_TIMEOUT`], and caches the keys.
    async fn load(&self) -> Result<(), String> {
        let known = self
            .jwks_uri
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let jwks_uri = match known {
            Some(u) => u,
            None => {
                let url = sluice_auth::oidc::discovery_url(&self.verifier.issuer_url);
                let body = self.get(&url).await?;
                let d = sluice_auth::oidc::parse_discovery(&self.verifier.issuer_url, &body)
                    .map_err(|e| format!("{url}: {e}"))?;
                *self.jwks_uri.lock().unwrap_or_else(|e| e.into_inner()) = Some(d.jwks_uri.clone());
                *self.endpoints.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((d.authorization_endpoint.clone(), d.token_endpoint.clone()));
                d.jwks_uri
            }
        };
        let body = self.get(&jwks_uri).await?;
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let set = sluice_auth::oidc::parse_jwks(&body).map_err(|e| format!("{jwks_uri}: {e}"))?;
        if set.keys.is_empty() {
            return Err(format!(
                "{jwks_uri}: no usable signing key ({})",
                set.skipped.join("; ")
            ));
        }
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(set));
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        tokio::time::timeout(FETCH_TIMEOUT, self.request(url, None))
            .await
            .map_err(|_| format!("GET {url}: no answer within {} s", FETCH_TIMEOUT.as_secs()))?
    }

    /// POSTs a form to `url` (the token endpoint), bounded as a fetch.
    async fn post_form(&self, url: &str, body: String) -> Result<Vec<u8>, String> {
        tokio::time::timeout(FETCH_TIMEOUT, self.request(url, Some(body)))
            .await
            .map_err(|_| format!("POST {url}: no answer within {} s", FETCH_TIMEOUT.as_secs()))?
    }

    /// GET `url`, or POST `form` to it; the body of a 200 answer (of a token endpoint: of
    /// a 400 too, which carries the OAuth error).
    async fn request(&self, url: &str, form: Option<String>) -> Result<Vec<u8>, String> {
        let verb = if form.is_some() { "POST" } else { "GET" };
        let err = |e: &dyn std::fmt::Display| format!("{verb} {url}: {e}");
        let (host, port, path) = split_https(url).ok_or_else(|| err(&"not an https URL"))?;
        let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| err(&e))?;
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| err(&e))?;
        let tls = self.tls.connect(name, tcp).await.map_err(|e| err(&e))?;
        let (mut send, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .map_err(|e| err(&e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let authority = if port == 443 {
            host.clone()
        } else if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let b = hyper::Request::builder()
            .uri(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::ACCEPT, "application/json");
        let is_post = form.is_some();
        let req = match form {
            Some(f) => b
                .method(hyper::Method::POST)
                .header(
                    hyper::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(http_body_util::Full::new(Bytes::from(f))),
            None => b.body(http_body_util::Full::new(Bytes::new())),
        }
        .map_err(|e| err(&e))?;
        let resp = send.send_request(req).await.map_err(|e| err(&e))?;
        let status = resp.status();
        if status != hyper::StatusCode::OK && !(is_post && status == hyper::StatusCode::BAD_REQUEST)
        {
            return Err(err(&format!("status {status}")));
        }
        let body = http_body_util::Limited::new(resp.into_body(), MAX_DOCUMENT)
            .collect()
            .await
            .map_err(|e| err(&format!("{e} (at most {MAX_DOCUMENT} bytes are read)")))?;
        Ok(body.to_bytes().to_vec())
    }
}

impl Oidc {
    /// The discovery document's token endpoint (`token`) or authorization endpoint.
    fn endpoint(&self, token: bool) -> Option<String> {
        let eps = self.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        let (auth, tok) = eps.as_ref()?;
        if token { tok.clone() } else { auth.clone() }
    }

    /// What the UI's login page offers: the button's name, when a browser login is
    /// configured and the provider has an authorization endpoint.
    pub fn login_name(&self) -> Option<String> {
        let l = self.login.as_ref()?;
        self.endpoint(false)?;
        Some(if l.name.is_empty() {
            "SSO".to_owned()
        } else {
            l.name.clone()
        })
    }

    /// Begins a login: remembers a new `state` with its PKCE verifier and where the page
    /// goes after, and returns the URL of the provider's authorization endpoint.
    pub fn begin_login(&self, redirect_uri: &str, next: &str) -> Result<String, String> {
        use sluice_auth::oidc_login as ol;
        let login = self.login.as_ref().ok_or("no OIDC login is configured")?;
        let endpoint = self.endpoint(false).ok_or(
            "the provider's discovery document has no authorization_endpoint (or is not loaded yet)",
        )?;
        let random = |n: usize| -> Result<String, String> {
            let mut b = vec![0u8; n];
            getrandom::fill(&mut b).map_err(|e| format!("no randomness: {e}"))?;
            Ok(ol::url_safe(&b))
        };
        let state = random(24)?;
        let verifier = random(32)?;
        let scopes: Vec<String> = if login.scopes.is_empty() {
            ol::DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect()
        } else {
            login.scopes.clone()
        };
        let url = ol::authorize_url(
            &endpoint,
            &self.verifier.client_id,
            redirect_uri,
            &scopes,
            &state,
            &ol::pkce_challenge(&verifier),
        );
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.retain(|_, v| v.at.elapsed() < PENDING_TTL);
        if p.len() >= MAX_PENDING
            && let Some(oldest) = p.iter().min_by_key(|(_, v)| v.at).map(|(k, _)| k.clone())
        {
            p.remove(&oldest);
        }
        p.insert(
            state,
            Pending {
                verifier,
                redirect_uri: redirect_uri.to_owned(),
                next: next.to_owned(),
                at: Instant::now(),
            },
        );
        Ok(url)
    }

    /// Ends a login: the `state` must be one this server began (once), the code is
    /// exchanged at the token endpoint, the ID token verified as any bearer token. Returns
    /// the token and where the page goes next.
    pub async fn finish_login(&self, state: &str, code: &str) -> Result<(String, String), String> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(state)
            .filter(|p| p.at.elapsed() < PENDING_TTL)
            .ok_or("unknown or expired login state")?;
        let login = self.login.as_ref().ok_or("no OIDC login is configured")?;
        let endpoint = self
            .endpoint(true)
            .ok_or("the provider's discovery document has no token_endpoint")?;
        let body = sluice_auth::oidc_login::token_request(
            code,
            &pending.redirect_uri,
            &self.verifier.client_id,
            login.client_secret.as_deref(),
            &pending.verifier,
        );
        let answer = self.post_form(&endpoint, body).await?;
        let token = sluice_auth::oidc_login::id_token_of(&answer).map_err(|e| e.to_string())?;
        if self.authenticate(&token).await.is_none() {
            return Err(
                "the provider's ID token does not verify (issuer, audience, signature or expiry)"
                    .into(),
            );
        }
        Ok((token, pending.next))
    }
}

/// Host, port and path (with query) of an `https://` URL.
fn split_https(url: &str) -> Option<(String, u16, String)> {
    let rest = url.strip_prefix("https://")?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path
    };
    if authority.contains('@') || authority.is_empty() {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 443,
            None => return None,
        };
        (h.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().ok()?),
            None => (authority.to_owned(), 443),
        }
    };
    (!host.is_empty()).then_some((host, port, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            split_https("https://idp.example.com/keys"),
            Some(("idp.example.com".into(), 443, "/keys".into()))
        );
        assert_eq!(
            split_https("https://127.0.0.1:8443"),
            Some(("127.0.0.1".into(), 8443, "/".into()))
        );
        assert_eq!(
            split_https("https://[::1]:9/a?b=c"),
            Some(("::1".into(), 9, "/a?b=c".into()))
        );
        assert_eq!(
            split_https("https://h?x"),
            Some(("h".into(), 443, "/?x".into()))
        );
        for bad in [
            "http://h/",
            "https://",
            "https://u@h/",
            "https://h:x/",
            "https://[::1/",
        ] {
            assert_eq!(split_https(bad), None, "{bad}");
        }
    }

    #[test]
    fn flags_are_checked_at_start() {
        let o = OidcOptions {
            flags: sluice_auth::oidc::Options::new("http://insecure", "k"),
            ca_file: None,
            ca_pem: None,
            login: None,
        };
        let e = Oidc::new(&o).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("--oidc-issuer-url: \"http://insecure\": must use the https scheme")
        );
        let o = OidcOptions {
            flags: sluice_auth::oidc::Options::new("https://idp", "k"),
            ca_file: Some("/nonexistent/ca.pem".into()),
            ca_pem: None,
            login: None,
        };
        assert!(Oidc::new(&o).is_err());
        let o = OidcOptions {
            flags: sluice_auth::oidc::Options::new("https://idp", "k"),
            ca_file: None,
            ca_pem: Some("not a certificate".into()),
            login: None,
        };
        let e = Oidc::new(&o).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("rootCA: no PEM certificate in it"));
    }

    fn b64url(data: &[u8]) -> String {
        crate::tls::base64(data)
            .trim_end_matches('=')
            .replace('+', "-")
            .replace('/', "_")
    }

    /// A provider that accepts connections and never answers costs the first token of its
    /// issuer one wait of FETCH_TIMEOUT; the next ones within REFRESH_INTERVAL none, and
    /// tokens of other issuers never wait.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_silent_provider_costs_one_bounded_wait() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "https://127.0.0.1:{}",
            silent.local_addr().expect("addr").port()
        );
        let o = Oidc::new(&OidcOptions {
            flags: sluice_auth::oidc::Options::new(&url, "k"),
            ca_file: None,
            ca_pem: None,
            login: None,
        })
        .expect("options");
        let token = |iss: &str| {
            format!(
                "{}.{}.c2ln",
                b64url(br#"{"alg":"RS256","kid":"k1"}"#),
                b64url(
                    format!(r#"{{"iss":"{iss}","aud":"k","sub":"x","exp":9999999999}}"#).as_bytes()
                )
            )
        };
        let t = Instant::now();
        assert!(o.authenticate(&token(&url)).await.is_none());
        let first = t.elapsed();
        assert!(
            first >= FETCH_TIMEOUT - Duration::from_millis(100)
                && first < FETCH_TIMEOUT + Duration::from_secs(2),
            "{first:?}"
        );
        let t = Instant::now();
        assert!(o.authenticate(&token(&url)).await.is_none());
        assert!(o.authenticate(&token("https://other")).await.is_none());
        assert!(o.authenticate("not-a-jwt").await.is_none());
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(o.fetches(), 0);
        drop(silent);
    }

    /// A verified token is answered from the cache for CACHE_TTL_SECONDS (kube-apiserver's
    /// token success cache), even after its key left the set; then verified again.
    #[test]
    fn verified_tokens_are_cached_briefly() {
        use ring::signature::KeyPair as _;
        let rng = ring::rand::SystemRandom::new();
        let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("key");
        let pair =
            ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("key");
        let p = pair.public_key().as_ref();
        let jwks = format!(
            r#"{{"keys":[{{"kty":"EC","crv":"P-256","kid":"e1","x":"{}","y":"{}"}}]}}"#,
            b64url(&p[1..33]),
            b64url(&p[33..65])
        );
        let mut flags = sluice_auth::oidc::Options::new("https://idp.example.com", "k");
        flags.signing_algs = vec!["ES256".into()];
        flags.username_prefix = Some("-".into());
        let o = Oidc::new(&OidcOptions {
            flags,
            ca_file: None,
            ca_pem: None,
            login: None,
        })
        .expect("options");
        let message = format!(
            "{}.{}",
            b64url(br#"{"alg":"ES256","kid":"e1"}"#),
            b64url(
                format!(
                    r#"{{"iss":"https://idp.example.com","aud":"k","sub":"jane","exp":{}}}"#,
                    util::unix_now() + 600
                )
                .as_bytes()
            )
        );
        let sig = pair.sign(&rng, message.as_bytes()).expect("sign");
        let token = format!("{message}.{}", b64url(sig.as_ref()));
        let set = |text: &str| {
            *o.keys.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(
                sluice_auth::oidc::parse_jwks(text.as_bytes()).expect("jwks"),
            ));
        };
        set(&jwks);
        assert_eq!(
            o.authenticate_cached(&token).map(|u| u.username).as_deref(),
            Some("jane")
        );
        set(r#"{"keys":[]}"#);
        assert!(
            o.authenticate_cached(&token).is_some(),
            "answered from the cache"
        );
        for (_, until) in o.cache.lock().expect("cache").values_mut() {
            *until = util::unix_now() - 1;
        }
        assert!(o.authenticate_cached(&token).is_none(), "verified again");
    }

    proptest::proptest! {
        #[test]
        fn split_never_panics(s in "\\PC{0,60}") {
            let _ = split_https(&s);
            let _ = split_https(&format!("https://{s}"));
        }
    }

    #[test]
    fn logins_begin_with_a_fresh_state_and_end_once() {
        let o = Oidc::new(&OidcOptions {
            flags: sluice_auth::oidc::Options::new("https://idp.example", "argo-cd"),
            ca_file: None,
            ca_pem: None,
            login: Some(LoginOptions::default()),
        })
        .expect("oidc");
        // the discovery document is not loaded yet: nothing to offer
        assert_eq!(o.login_name(), None);
        assert!(o.begin_login("https://h/auth/callback", "/").is_err());
        *o.endpoints.lock().expect("lock") = Some((
            Some("https://idp.example/auth".into()),
            // a loopback port nothing listens on (no network in tests)
            Some("https://127.0.0.1:1/token".into()),
        ));
        assert_eq!(o.login_name().as_deref(), Some("SSO"));
        let url = o
            .begin_login("https://h/auth/callback", "/#/apps")
            .expect("begins");
        assert!(
            url.starts_with("https://idp.example/auth?response_type=code&client_id=argo-cd&redirect_uri=https%3A%2F%2Fh%2Fauth%2Fcallback&scope=openid%20profile%20email%20groups&state="),
            "{url}"
        );
        let q = url.split_once('?').map(|x| x.1).unwrap_or_default();
        let state = sluice_auth::oidc_login::query_value(q, "state").expect("state");
        let challenge = sluice_auth::oidc_login::query_value(q, "code_challenge").expect("pkce");
        {
            let p = o.pending.lock().expect("lock");
            let pending = p.get(&state).expect("remembered");
            assert_eq!(
                sluice_auth::oidc_login::pkce_challenge(&pending.verifier),
                challenge
            );
            assert_eq!(pending.next, "/#/apps");
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // an unknown state is refused without asking the provider
        let e = rt
            .block_on(o.finish_login("forged", "code"))
            .expect_err("unknown state");
        assert_eq!(e, "unknown or expired login state");
        // a state is used once, whatever the provider answers (here: nothing listens)
        assert!(rt.block_on(o.finish_login(&state, "code")).is_err());
        assert!(o.pending.lock().expect("lock").get(&state).is_none());
        // pending logins are bounded
        for _ in 0..MAX_PENDING + 5 {
            o.begin_login("https://h/auth/callback", "/")
                .expect("begins");
        }
        assert_eq!(o.pending.lock().expect("lock").len(), MAX_PENDING);
    }
}
