//! OpenID Connect bearer tokens in `sluice apiserver` with the real kubectl, as
//! kube-apiserver's `--oidc-*` flags accept them (kubernetes.io/docs/reference/access-authn-authz/
//! authentication/#openid-connect-tokens; staging/src/k8s.io/apiserver/plugin/pkg/
//! authenticator/token/oidc/oidc.go). A local issuer written here — an HTTPS server on
//! loopback with a self-signed certificate serving the discovery document and the JWKS —
//! mints RS256 ID tokens; `kubectl --token=<id token>` then acts as the user of the `email`
//! claim with the `groups` claim (prefixed `oidc:`), RBAC deciding as for any user. Expired,
//! wrongly signed and wrong-audience tokens are 401; after the issuer rotates its key (new
//! kid) a token of the new key is accepted, the JWKS being fetched again once, and tokens
//! of unknown keys do not make it be fetched again within the refresh interval.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::apiserver_kubectl::{Server, err, kubectl_available, out, temp_dir};

const CLIENT_ID: &str = "kubernetes";

/// An RSA signing key with its kid.
#[derive(Clone)]
pub(crate) struct Key {
    kid: String,
    der: Vec<u8>,
}

impl Key {
    pub(crate) fn new(kid: &str) -> Key {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let k = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("rsa key");
        Key {
            kid: kid.to_owned(),
            der: k.to_pkcs1_der().expect("der").as_bytes().to_vec(),
        }
    }

    fn with_kid(&self, kid: &str) -> Key {
        Key {
            kid: kid.to_owned(),
            der: self.der.clone(),
        }
    }

    fn jwk(&self) -> Value {
        use base64::Engine as _;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let pair = ring::rsa::KeyPair::from_der(&self.der).expect("ring rsa");
        let c = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
        json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": b64(&c.n), "e": b64(&c.e)})
    }

    fn sign(&self, claims: &Value) -> String {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&h, claims, &EncodingKey::from_rsa_der(&self.der)).expect("sign")
    }
}

#[derive(Default)]
struct IssuerState {
    keys: Vec<Key>,
    jwks_fetches: usize,
    /// Codes the authorization endpoint issued: (client_id, redirect_uri, code_challenge).
    codes: std::collections::HashMap<String, (String, String, String)>,
    /// The client secret the token endpoint requires (None: a public client).
    client_secret: Option<String>,
    /// Who logs in at the authorization endpoint (email, groups).
    user: (String, Value),
}

/// The OIDC provider: discovery, JWKS, and an authorization and a token endpoint (the user
/// is logged in already) over HTTPS on a loopback port.
pub(crate) struct Issuer {
    pub(crate) url: String,
    pub(crate) ca_file: PathBuf,
    state: Arc<Mutex<IssuerState>>,
    _rt: tokio::runtime::Runtime,
}

struct TlsListener {
    tcp: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((s, a)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(t) = self.tls.accept(s).await {
                return (t, a);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

impl Issuer {
    pub(crate) fn start(dir: &std::path::Path, key: Key) -> Issuer {
        let files = sluice_apiserver::tls::generate().expect("certificate");
        let ca_file = dir.join("issuer-ca.pem");
        std::fs::write(&ca_file, &files.cert_pem).expect("ca file");
        let tls = sluice_apiserver::tls::acceptor(&files).expect("acceptor");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let tcp = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let port = tcp.local_addr().expect("addr").port();
        let url = format!("https://127.0.0.1:{port}");
        let state = Arc::new(Mutex::new(IssuerState {
            keys: vec![key],
            user: ("jane@example.com".into(), json!(["sre"])),
            ..Default::default()
        }));
        let discovery = json!({
            "issuer": url,
            "jwks_uri": format!("{url}/keys"),
            "authorization_endpoint": format!("{url}/authorize"),
            "token_endpoint": format!("{url}/token"),
            "id_token_signing_alg_values_supported": ["RS256"],
        });
        let st = state.clone();
        let (st_auth, st_token, iss) = (state.clone(), state.clone(), url.clone());
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || {
                    let d = discovery.to_string();
                    async move { d }
                }),
            )
            .route(
                "/keys",
                axum::routing::get(move || {
                    let mut s = st.lock().expect("state");
                    s.jwks_fetches += 1;
                    let keys: Vec<Value> = s.keys.iter().map(Key::jwk).collect();
                    let body = json!({ "keys": keys }).to_string();
                    async move { body }
                }),
            )
            // the user is logged in already: a code at once, back to the redirect URI
            .route(
                "/authorize",
                axum::routing::get(move |q: axum::extract::RawQuery| {
                    let q = q.0.unwrap_or_default();
                    let v = |k: &str| sluice_auth::oidc_login::query_value(&q, k).unwrap_or_default();
                    let mut s = st_auth.lock().expect("state");
                    assert_eq!(v("response_type"), "code");
                    assert_eq!(v("code_challenge_method"), "S256");
                    assert!(v("scope").split(' ').any(|x| x == "openid"), "{q}");
                    let code = format!("code-{}", s.codes.len());
                    s.codes.insert(code.clone(), (v("client_id"), v("redirect_uri"), v("code_challenge")));
                    let to = format!("{}?code={code}&state={}", v("redirect_uri"), sluice_auth::oidc_login::form_encode(&v("state")));
                    async move { axum::response::Redirect::to(&to) }
                }),
            )
            // RFC 6749 4.1.3 with the PKCE verifier checked against the code's challenge
            .route(
                "/token",
                axum::routing::post(move |body: String| {
                    let v = |k: &str| sluice_auth::oidc_login::query_value(&body, k).unwrap_or_default();
                    let mut s = st_token.lock().expect("state");
                    let answer = match s.codes.remove(&v("code")) {
                        Some((client, redirect, challenge))
                            if v("grant_type") == "authorization_code"
                                && client == v("client_id")
                                && redirect == v("redirect_uri")
                                && challenge == sluice_auth::oidc_login::pkce_challenge(&v("code_verifier"))
                                && s.client_secret.as_deref().is_none_or(|c| c == v("client_secret")) =>
                        {
                            let now = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .map(|d| d.as_secs() as i64)
                                .unwrap_or(0);
                            let (email, groups) = s.user.clone();
                            let claims = json!({
                                "iss": iss, "aud": client, "sub": format!("id-{email}"),
                                "email": email, "email_verified": true, "groups": groups,
                                "iat": now - 5, "exp": now + 600,
                            });
                            let id = s.keys[0].sign(&claims);
                            (axum::http::StatusCode::OK, json!({"access_token": "a", "token_type": "Bearer", "id_token": id}).to_string())
                        }
                        _ => (axum::http::StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}).to_string()),
                    };
                    async move { answer }
                }),
            );
        rt.spawn(async move {
            let _ = axum::serve(TlsListener { tcp, tls }, app).await;
        });
        Issuer {
            url,
            ca_file,
            state,
            _rt: rt,
        }
    }

    fn rotate(&self, key: Key) {
        self.state.lock().expect("state").keys = vec![key];
    }

    fn fetches(&self) -> usize {
        self.state.lock().expect("state").jwks_fetches
    }

    fn claims(&self, email: &str, groups: Value, exp_in: i64) -> Value {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        json!({
            "iss": self.url, "aud": CLIENT_ID, "sub": format!("id-{email}"), "email": email,
            "email_verified": true, "groups": groups, "hd": "example.com",
            "iat": now - 5, "nbf": now - 5, "exp": now + exp_in,
        })
    }
}

fn unauthorized(s: &Server, token: &str) -> bool {
    let o = s.kubectl(&["--token", token, "get", "pods", "-n", "dev"], None);
    !o.status.success() && err(&o).contains("Unauthorized")
}

#[test]
fn oidc_tokens_rbac_expiry_and_key_rotation() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed (scripts/test installs it): skipped");
        return;
    }
    let dir = temp_dir("oidc");
    let k1 = Key::new("key-1");
    let issuer = Issuer::start(&dir, k1.clone());
    let ca = issuer.ca_file.to_string_lossy().into_owned();
    let s = Server::start_with(
        dir,
        0,
        &[
            "--oidc-issuer-url",
            &issuer.url,
            "--oidc-client-id",
            CLIENT_ID,
            "--oidc-ca-file",
            &ca,
            "--oidc-username-claim",
            "email",
            "--oidc-groups-claim",
            "groups",
            "--oidc-groups-prefix",
            "oidc:",
            "--oidc-required-claim",
            "hd=example.com",
        ],
    );
    // the admin token (not a JWT) still works: other tokens fall through to it
    s.ok(&["create", "namespace", "dev"], None);
    s.ok(&["create", "namespace", "prod"], None);
    s.ok(
        &[
            "run",
            "web",
            "-n",
            "dev",
            "--image",
            "nginx",
            "--restart=Never",
        ],
        None,
    );
    s.ok(
        &[
            "create",
            "secret",
            "generic",
            "db",
            "-n",
            "prod",
            "--from-literal=p=x",
        ],
        None,
    );
    s.ok(
        &[
            "create",
            "rolebinding",
            "developers-edit",
            "--clusterrole=edit",
            "--group=oidc:developers",
            "-n",
            "dev",
        ],
        None,
    );

    let jane = k1.sign(&issuer.claims("jane@example.com", json!(["developers"]), 600));
    // the server loads the provider's documents in the background from its start (waiting
    // for it keeps requests from fetching them, which would start the refresh interval)
    let start = std::time::Instant::now();
    while issuer.fetches() == 0 && start.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let o = loop {
        let o = s.kubectl(
            &["--token", &jane, "get", "pods", "-n", "dev", "-o", "name"],
            None,
        );
        if o.status.success() || start.elapsed() > std::time::Duration::from_secs(20) {
            break o;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o).trim(), "pod/web");
    let who = s.json(&["--token", &jane, "auth", "whoami", "-o", "json"]);
    assert_eq!(who["status"]["userInfo"]["username"], "jane@example.com");
    assert_eq!(
        who["status"]["userInfo"]["groups"],
        json!(["oidc:developers", "system:authenticated"])
    );
    // edit in dev, nothing in prod
    let o = s.kubectl(&["--token", &jane, "get", "secrets", "-n", "prod"], None);
    assert!(!o.status.success());
    assert!(
        err(&o).contains(r#"secrets is forbidden: User "jane@example.com" cannot list resource "secrets" in API group "" in the namespace "prod""#),
        "{}",
        err(&o)
    );
    // groups as a single string (oidc.go stringOrArray)
    let solo = k1.sign(&issuer.claims("sam@example.com", json!("developers"), 600));
    let o = s.kubectl(
        &["--token", &solo, "get", "pods", "-n", "dev", "-o", "name"],
        None,
    );
    assert!(o.status.success(), "{}", err(&o));
    // not in the group: authenticated, forbidden
    let eve = k1.sign(&issuer.claims("eve@example.com", json!(["qa"]), 600));
    let o = s.kubectl(&["--token", &eve, "get", "pods", "-n", "dev"], None);
    assert!(
        err(&o).contains(r#"User "eve@example.com" cannot list resource "pods""#),
        "{}",
        err(&o)
    );

    // 401: expired, wrongly signed (another key under the known kid), wrong audience,
    // missing required claim, email not verified
    let expired = k1.sign(&issuer.claims("jane@example.com", json!(["developers"]), -60));
    assert!(unauthorized(&s, &expired), "expired");
    let forged =
        Key::new("key-1").sign(&issuer.claims("jane@example.com", json!(["developers"]), 600));
    assert!(unauthorized(&s, &forged), "wrong signature");
    let mut c = issuer.claims("jane@example.com", json!(["developers"]), 600);
    c["aud"] = json!(["argo-cd"]);
    assert!(unauthorized(&s, &k1.sign(&c)), "wrong audience");
    let mut c = issuer.claims("jane@example.com", json!(["developers"]), 600);
    c["hd"] = json!("evil.com");
    assert!(unauthorized(&s, &k1.sign(&c)), "required claim");
    let mut c = issuer.claims("jane@example.com", json!(["developers"]), 600);
    c["email_verified"] = json!(false);
    assert!(unauthorized(&s, &k1.sign(&c)), "email not verified");
    assert_eq!(
        issuer.fetches(),
        1,
        "known kids never make the keys be fetched again"
    );

    // key rotation: a token of the new key is accepted after one refetch
    let k2 = Key::new("key-2");
    issuer.rotate(k2.clone());
    let jane2 = k2.sign(&issuer.claims("jane@example.com", json!(["developers"]), 600));
    let rotated = std::time::Instant::now();
    let o = s.kubectl(
        &["--token", &jane2, "get", "pods", "-n", "dev", "-o", "name"],
        None,
    );
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o).trim(), "pod/web");
    assert_eq!(issuer.fetches(), 2);
    // the old key is gone (a token it signed that the server has not seen; one verified in
    // the last 10 s may be answered from the cache, as kube-apiserver's token cache does);
    // unknown kids do not refetch again within the interval
    let old = k1.sign(&issuer.claims("joe@example.com", json!(["developers"]), 600));
    assert!(unauthorized(&s, &old), "the rotated-out key");
    let stranger = k2.with_kid("key-9");
    for _ in 0..3 {
        let t = stranger.sign(&issuer.claims("jane@example.com", json!(["developers"]), 600));
        assert!(unauthorized(&s, &t), "unknown kid");
    }
    // at most one JWKS fetch per refresh interval (10 s; a slow machine may pass one)
    let intervals = rotated.elapsed().as_secs() / 10;
    assert!(
        issuer.fetches() >= 2 && issuer.fetches() as u64 <= 2 + intervals,
        "{} fetches in {:?}",
        issuer.fetches(),
        rotated.elapsed()
    );
    // the admin token is untouched
    s.ok(&["get", "pods", "-n", "dev"], None);
}

/// Without `--oidc-*` flags the server takes the issuer, client id and root CA from Argo
/// CD's `oidc.config` in argocd/argocd-cm at start (argo-cd docs operator-manual/
/// user-management "Existing OIDC provider": `$key` values from argocd-secret; audiences
/// clientID and cliClientID, util/settings/settings.go OAuth2AllowedAudiences), groups from
/// the `groups` claim; usernames keep kube-apiserver's default (`sub`, issuer URL + `#`).
#[test]
fn oidc_from_argocd_cm() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed (scripts/test installs it): skipped");
        return;
    }
    let dir = temp_dir("oidc-argocd");
    let key = Key::new("argo-1");
    let issuer = Issuer::start(&dir, key.clone());
    let ca = std::fs::read_to_string(&issuer.ca_file).expect("ca");
    let s = Server::start_with(dir, 0, &[]);
    s.ok(&["create", "namespace", "argocd"], None);
    s.ok(
        &[
            "create",
            "secret",
            "generic",
            "argocd-secret",
            "-n",
            "argocd",
            "--from-literal=oidc.sluice.clientID=argo-cd",
        ],
        None,
    );
    // `$name:key`: a key of another Secret labelled app.kubernetes.io/part-of=argocd
    let sso = format!("--from-literal=issuer={}", issuer.url);
    s.ok(
        &["create", "secret", "generic", "sso", "-n", "argocd", &sso],
        None,
    );
    s.ok(
        &[
            "label",
            "secret",
            "sso",
            "-n",
            "argocd",
            "app.kubernetes.io/part-of=argocd",
        ],
        None,
    );
    let config = json!({
        "name": "Sluice test issuer", "issuer": "$sso:issuer",
        "clientID": "$oidc.sluice.clientID", "cliClientID": "argo-cd-cli",
        "clientSecret": "$oidc.sluice.clientSecret", "rootCA": ca,
        "requestedScopes": ["openid", "profile", "email", "groups"],
    });
    let cm = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": "argocd"},
        "data": {"oidc.config": config.to_string()},
    });
    s.ok(&["apply", "-f", "-"], Some(&cm.to_string()));
    s.ok(
        &[
            "create",
            "clusterrolebinding",
            "sre-view",
            "--clusterrole=view",
            "--group=sre",
        ],
        None,
    );
    let mut c = issuer.claims("jane@example.com", json!(["sre"]), 600);
    c["aud"] = json!("argo-cd-cli");
    let token = key.sign(&c);
    assert!(unauthorized(&s, &token), "read at start only");
    let s = s.crash_and_restart();
    let start = std::time::Instant::now();
    let o = loop {
        let o = s.kubectl(&["--token", &token, "get", "pods", "-n", "argocd"], None);
        if o.status.success() || start.elapsed() > std::time::Duration::from_secs(20) {
            break o;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(o.status.success(), "{}", err(&o));
    let who = s.json(&["--token", &token, "auth", "whoami", "-o", "json"]);
    assert_eq!(
        who["status"]["userInfo"]["username"],
        format!("{}#id-jane@example.com", issuer.url)
    );
    assert_eq!(
        who["status"]["userInfo"]["groups"],
        json!(["sre", "system:authenticated"])
    );
    // view: no writes
    let o = s.kubectl(
        &[
            "--token",
            &token,
            "create",
            "configmap",
            "x",
            "-n",
            "argocd",
        ],
        None,
    );
    assert!(err(&o).contains("forbidden"), "{}", err(&o));
    // an audience Argo CD does not accept
    c["aud"] = json!("kubernetes");
    assert!(unauthorized(&s, &key.sign(&c)), "wrong audience");

    // the UI's single sign-on, curl playing the browser: /auth/login -> the provider ->
    // /auth/callback -> the token handed over once by /auth/token (argo-cd's
    // /auth/login and /auth/callback; the code flow with PKCE, RFC 7636)
    issuer.state.lock().expect("state").client_secret = Some("s3cret".into());
    s.ok(
        &[
            "patch",
            "secret",
            "argocd-secret",
            "-n",
            "argocd",
            "-p",
            r#"{"stringData":{"oidc.sluice.clientSecret":"s3cret"}}"#,
        ],
        None,
    );
    let s = s.crash_and_restart();
    let base = format!("https://127.0.0.1:{}", s.port());
    let start = std::time::Instant::now();
    let config = loop {
        let c = curl(&["-k", &format!("{base}/auth/config")]).1;
        if c.contains("name") || start.elapsed() > std::time::Duration::from_secs(20) {
            break c;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(
        serde_json::from_str::<Value>(&config).expect("json"),
        json!({"name": "Sluice test issuer"})
    );
    let (head, _) = curl(&["-k", &format!("{base}/auth/login?return_url=%2F%23%2Fapps")]);
    let to_provider = location(&head);
    assert!(
        to_provider.starts_with(&format!("{}/authorize?", issuer.url)),
        "{head}"
    );
    assert!(to_provider.contains("client_id=argo-cd&"), "{to_provider}");
    let ca_file = issuer.ca_file.to_string_lossy().to_string();
    let (head, _) = curl(&["--cacert", &ca_file, &to_provider]);
    let callback = location(&head);
    assert!(
        callback.starts_with(&format!("{base}/auth/callback?code=")),
        "{callback}"
    );
    let (head, _) = curl(&["-k", &callback]);
    assert_eq!(location(&head), "/#/oidc?next=%2F%23%2Fapps", "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: sluice-oidc="))
        .and_then(|l| l.split(';').next())
        .expect("the token's cookie")
        .to_owned();
    assert!(head.contains("HttpOnly; SameSite=Strict"), "{head}");
    // the token is never in a URL
    assert!(!location(&head).contains(&cookie));
    let (_, body) = curl(&[
        "-k",
        "-X",
        "POST",
        "-H",
        &format!("Cookie: sluice-oidc={cookie}"),
        &format!("{base}/auth/token"),
    ]);
    let token = serde_json::from_str::<Value>(&body).expect("json")["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let who = s.json(&["--token", &token, "auth", "whoami", "-o", "json"]);
    assert_eq!(
        who["status"]["userInfo"]["username"],
        format!("{}#id-jane@example.com", issuer.url)
    );
    // a callback is good once: its state is spent
    let (head, _) = curl(&["-k", &callback]);
    assert!(
        location(&head).starts_with(
            "/#/login?error=login%20failed%3A%20unknown%20or%20expired%20login%20state"
        ),
        "{head}"
    );
    // no cookie, no token; a return_url off the site is not followed
    let (head, _) = curl(&["-k", "-X", "POST", &format!("{base}/auth/token")]);
    assert!(
        head.starts_with("HTTP/1.1 401") || head.starts_with("HTTP/2 401"),
        "{head}"
    );
    let (head, _) = curl(&[
        "-k",
        &format!("{base}/auth/login?return_url=https%3A%2F%2Fevil.example"),
    ]);
    let (head, _) = curl(&["--cacert", &ca_file, &location(&head)]);
    let (head, _) = curl(&["-k", &location(&head)]);
    assert_eq!(location(&head), "/#/oidc?next=%2F", "{head}");
}

/// `curl -s -D - ARGS`: the response head (header names lower-cased) and the body.
fn curl(args: &[&str]) -> (String, String) {
    let o = std::process::Command::new("curl")
        .args(["-s", "-D", "-"])
        .args(args)
        .output()
        .expect("curl runs (scripts/deps installs it)");
    let text = String::from_utf8_lossy(&o.stdout).replace('\r', "");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let head = head
        .lines()
        .map(|l| match l.split_once(':') {
            Some((k, v)) => format!("{}:{v}", k.to_ascii_lowercase()),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    (head, body.to_owned())
}

fn location(head: &str) -> String {
    head.lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap_or_default()
        .trim()
        .to_owned()
}
