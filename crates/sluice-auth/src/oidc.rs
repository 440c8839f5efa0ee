//! OpenID Connect ID tokens as kube-apiserver's `--oidc-*` flags accept them, without I/O:
//! the caller fetches `<issuer>/.well-known/openid-configuration` and its `jwks_uri`, hands
//! the bytes to [`parse_discovery`] and [`parse_jwks`], and asks [`Verifier::verify`] with the
//! time (`now`, seconds since the epoch).
//!
//! Behaviour follows upstream:
//! - the flags and their defaults: kubernetes pkg/kubeapiserver/options/authentication.go
//!   (`--oidc-username-claim` defaults to `sub`; without `--oidc-username-prefix`, claims
//!   other than `email` are prefixed with the issuer URL and `#`; `-` disables prefixing;
//!   `--oidc-signing-algs` defaults to RS256);
//! - the checks: staging/src/k8s.io/apiserver/plugin/pkg/authenticator/token/oidc/oidc.go
//!   (`untrustedIssuer`/`hasCorrectIssuer` decide whether a token is this issuer's at all,
//!   `getUsername` with `email_verified`, `getGroups` with a string or a list,
//!   `requiredClaims` as strings, `getCredentialID`: a `jti` becomes the extra
//!   `authentication.kubernetes.io/credential-id` `JTI=<jti>`) and go-oidc v3 verify.go, which it calls (issuer equal,
//!   audience contains the client id, expired when `exp` is before now with no leeway,
//!   `nbf` with five minutes of leeway, `iat` not checked, the header's `alg` among the
//!   supported ones, the key by `kid` or, without one, any key of the set).

use std::collections::BTreeMap;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use crate::UserInfo;

/// go-oidc's leeway for `nbf` (verify.go: "5 minutes since this is what other OpenID
/// Connect providers do to deal with clock skew"). `exp` has none.
pub const NBF_LEEWAY_SECONDS: i64 = 300;

/// The path of the discovery document under the issuer URL.
pub const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// Why a configuration, a provider's document or a token was refused. The API server
/// answers every token error with a bare 401; the text is for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    #[error("{flag}: {why}")]
    Config { flag: &'static str, why: String },
    #[error("discovery document: {0}")]
    Discovery(String),
    #[error("JWKS: {0}")]
    Jwks(String),
    #[error("oidc: malformed jwt: {0}")]
    Malformed(String),
    #[error("oidc: id token issued by a different provider, expected {expected:?} got {got:?}")]
    Issuer { expected: String, got: String },
    #[error("oidc: expected audience {expected:?} got {got:?}")]
    Audience {
        expected: Vec<String>,
        got: Vec<String>,
    },
    #[error("oidc: token is expired (exp {exp}, now {now})")]
    Expired { exp: i64, now: i64 },
    #[error("oidc: current time {now} before the nbf (not before) time: {nbf}")]
    NotYetValid { nbf: i64, now: i64 },
    #[error("oidc: id token signed with unsupported algorithm, expected {expected:?} got {got:?}")]
    Algorithm { expected: Vec<String>, got: String },
    /// No key of the set has the token's `kid` (or, for a token without one, none verifies
    /// it): the provider may have rotated its keys, so fetching them again may help.
    #[error("oidc: no signing key {}", .0.as_deref().map_or("verifies a token without kid".to_owned(), |k| format!("with kid {k:?}")))]
    UnknownKey(Option<String>),
    #[error("oidc: failed to verify id token signature")]
    Signature,
    #[error("oidc: parse username claims {claim:?}: {why}")]
    UsernameClaim { claim: String, why: String },
    #[error("oidc: parse 'email_verified' claim: {0}")]
    EmailVerifiedClaim(String),
    #[error("oidc: email not verified")]
    EmailNotVerified,
    #[error("oidc: parse groups claim {claim:?}: {why}")]
    GroupsClaim { claim: String, why: String },
    #[error("oidc: required claim {0} not present in ID token")]
    RequiredClaimMissing(String),
    #[error("oidc: parse claim {0}: not a string")]
    RequiredClaimType(String),
    #[error("oidc: required claim {claim} value does not match. Got = {got}, want = {want}")]
    RequiredClaimMismatch {
        claim: String,
        got: String,
        want: String,
    },
}

impl OidcError {
    /// Whether fetching the provider's keys again might make the token verify (key rotation).
    pub fn rotation_may_help(&self) -> bool {
        matches!(self, OidcError::UnknownKey(_))
    }
}

/// The `--oidc-*` flags, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `--oidc-issuer-url`: https, the `iss` of accepted tokens.
    pub issuer_url: String,
    /// `--oidc-client-id`: one of the token's audiences.
    pub client_id: String,
    /// More audiences accepted besides the client id (Argo CD's `cliClientID` and
    /// `allowedAudiences`; kube-apiserver's flags have none).
    pub extra_audiences: Vec<String>,
    /// `--oidc-username-claim` (default `sub`).
    pub username_claim: String,
    /// `--oidc-username-prefix`; None or empty: the issuer URL and `#` unless the claim is
    /// `email`; `-`: no prefix.
    pub username_prefix: Option<String>,
    /// `--oidc-groups-claim`; None: no groups.
    pub groups_claim: Option<String>,
    /// `--oidc-groups-prefix`.
    pub groups_prefix: String,
    /// `--oidc-required-claim key=value` (repeatable).
    pub required_claims: BTreeMap<String, String>,
    /// `--oidc-signing-algs` (default RS256).
    pub signing_algs: Vec<String>,
}

impl Options {
    /// The flags with their defaults, for `issuer_url` and `client_id`.
    pub fn new(issuer_url: &str, client_id: &str) -> Self {
        Options {
            issuer_url: issuer_url.to_owned(),
            client_id: client_id.to_owned(),
            extra_audiences: Vec::new(),
            username_claim: "sub".to_owned(),
            username_prefix: None,
            groups_claim: None,
            groups_prefix: String::new(),
            required_claims: BTreeMap::new(),
            signing_algs: vec!["RS256".to_owned()],
        }
    }
}

/// Parses one `--oidc-required-claim` value (`key=value`, split at the first `=`, as
/// cliflag.MapStringStringNoSplit).
pub fn parse_required_claim(s: &str) -> Result<(String, String), OidcError> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(OidcError::Config {
            flag: "--oidc-required-claim",
            why: format!("{s:?}: expected key=value"),
        }),
    }
}

/// Checks an https issuer URL as kube-apiserver's validation does (https scheme, a host, no
/// user info, query or fragment).
fn check_https_url(flag: &'static str, url: &str) -> Result<(), OidcError> {
    let bad = |why: &str| OidcError::Config {
        flag,
        why: format!("{url:?}: {why}"),
    };
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| bad("must use the https scheme"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    if host.contains('@') {
        return Err(bad("must not contain user info"));
    }
    if url.contains('?') {
        return Err(bad("must not contain a query"));
    }
    if url.contains('#') {
        return Err(bad("must not contain a fragment"));
    }
    Ok(())
}

fn algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        _ => return None,
    })
}

/// The key type and curve an algorithm needs.
fn needs(alg: Algorithm) -> (&'static str, Option<&'static str>) {
    match alg {
        Algorithm::ES256 => ("EC", Some("P-256")),
        Algorithm::ES384 => ("EC", Some("P-384")),
        _ => ("RSA", None),
    }
}

/// One verification key of a JWKS.
#[derive(Clone)]
pub struct Key {
    pub kid: Option<String>,
    /// `kty`: RSA or EC.
    pub kty: String,
    /// `crv` of an EC key.
    pub crv: Option<String>,
    /// `alg`, when the key names one.
    pub alg: Option<String>,
    key: DecodingKey,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("kty", &self.kty)
            .field("crv", &self.crv)
            .field("alg", &self.alg)
            .finish()
    }
}

/// A provider's signing keys (its JWKS), and what was skipped in it.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    pub keys: Vec<Key>,
    /// Keys that were left out, and why (`keys[3]: kty "OKP" is not supported`).
    pub skipped: Vec<String>,
}

impl KeySet {
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().filter_map(|k| k.kid.as_deref()).collect()
    }
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn parse_key(v: &Value) -> Result<Key, String> {
    if !v.is_object() {
        return Err("not an object".into());
    }
    if let Some(u) = str_field(v, "use")
        && u != "sig"
    {
        return Err(format!("use {u:?} is not sig"));
    }
    let kty = str_field(v, "kty").ok_or("no kty")?;
    let alg = str_field(v, "alg").map(str::to_owned);
    if let Some(a) = &alg
        && algorithm(a).is_none()
    {
        return Err(format!("alg {a:?} is not supported"));
    }
    let field = |k: &str| str_field(v, k).ok_or_else(|| format!("no {k}"));
    let (key, crv) = match kty {
        "RSA" => (
            DecodingKey::from_rsa_components(field("n")?, field("e")?)
                .map_err(|e| format!("RSA key: {e}"))?,
            None,
        ),
        "EC" => {
            let crv = field("crv")?;
            if crv != "P-256" && crv != "P-384" {
                return Err(format!("crv {crv:?} is not supported"));
            }
            (
                DecodingKey::from_ec_components(field("x")?, field("y")?)
                    .map_err(|e| format!("EC key: {e}"))?,
                Some(crv.to_owned()),
            )
        }
        other => return Err(format!("kty {other:?} is not supported")),
    };
    Ok(Key {
        kid: str_field(v, "kid").map(str::to_owned),
        kty: kty.to_owned(),
        crv,
        alg,
        key,
    })
}

/// Parses a JWKS (`{"keys": [...]}`, RFC 7517). Keys that cannot verify signatures here
/// (encryption keys, other key types or curves) are skipped and listed in `skipped`; a
/// document that is not a key set is an error.
pub fn parse_jwks(bytes: &[u8]) -> Result<KeySet, OidcError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| OidcError::Jwks(e.to_string()))?;
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| OidcError::Jwks("keys: expected a list".into()))?;
    let mut set = KeySet::default();
    for (i, k) in keys.iter().enumerate() {
        match parse_key(k) {
            Ok(key) => set.keys.push(key),
            Err(why) => set.skipped.push(format!("keys[{i}]: {why}")),
        }
    }
    Ok(set)
}

/// What Sluice reads of a provider's discovery document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub issuer: String,
    pub jwks_uri: String,
    /// Where a browser logs in (the authorization code flow; absent: no UI login).
    pub authorization_endpoint: Option<String>,
    /// Where a code is exchanged for tokens.
    pub token_endpoint: Option<String>,
}

/// The discovery document's URL (go-oidc: the issuer without a trailing `/`, then
/// [`WELL_KNOWN`]).
pub fn discovery_url(issuer_url: &str) -> String {
    format!("{}{WELL_KNOWN}", issuer_url.trim_end_matches('/'))
}

/// Parses a discovery document and checks that its `issuer` is `issuer_url` exactly
/// (go-oidc NewProvider: "issuer did not match the issuer returned by provider").
pub fn parse_discovery(issuer_url: &str, bytes: &[u8]) -> Result<Discovery, OidcError> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| OidcError::Discovery(e.to_string()))?;
    let issuer = str_field(&v, "issuer")
        .ok_or_else(|| OidcError::Discovery("issuer: expected a string".into()))?;
    if issuer != issuer_url {
        return Err(OidcError::Discovery(format!(
            "issuer did not match the issuer returned by provider, expected {issuer_url:?} got {issuer:?}"
        )));
    }
    let jwks_uri = str_field(&v, "jwks_uri")
        .ok_or_else(|| OidcError::Discovery("jwks_uri: expected a string".into()))?;
    Ok(Discovery {
        issuer: issuer.to_owned(),
        jwks_uri: jwks_uri.to_owned(),
        authorization_endpoint: str_field(&v, "authorization_endpoint").map(str::to_owned),
        token_endpoint: str_field(&v, "token_endpoint").map(str::to_owned),
    })
}

fn b64(s: &str) -> Result<Vec<u8>, OidcError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| OidcError::Malformed(e.to_string()))
}

/// The token's claims, unverified, or why it is not a compact JWT.
fn untrusted_claims(token: &str) -> Result<serde_json::Map<String, Value>, OidcError> {
    if token.trim_start().starts_with('{') {
        return Err(OidcError::Malformed("token is not compact JWT".into()));
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(OidcError::Malformed("malformed token".into()));
    }
    match serde_json::from_slice(&b64(parts[1])?) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(OidcError::Malformed("claims: expected an object".into())),
        Err(e) => Err(OidcError::Malformed(e.to_string())),
    }
}

/// The `iss` of a token, unverified (oidc.go `untrustedIssuer`, with go-oidc's coalescing of
/// Google's legacy `accounts.google.com`); None when it is not a JWT.
pub fn untrusted_issuer(token: &str) -> Option<String> {
    let c = untrusted_claims(token).ok()?;
    let iss = c.get("iss")?.as_str()?;
    Some(if iss == "accounts.google.com" {
        "https://accounts.google.com".to_owned()
    } else {
        iss.to_owned()
    })
}

/// A JSON number as Go's jsonTime reads it (integer or float seconds).
fn seconds(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

/// A string or a list of strings (oidc.go `stringOrArray`; JSON null is no value).
fn string_or_array(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("expected a string or a list of strings, got {x}"))
            })
            .collect(),
        other => Err(format!(
            "expected a string or a list of strings, got {other}"
        )),
    }
}

/// The checked configuration of the `--oidc-*` flags.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub issuer_url: String,
    pub client_id: String,
    /// The audiences a token must name one of: the client id first.
    pub audiences: Vec<String>,
    pub username_claim: String,
    /// The prefix usernames get, resolved from `--oidc-username-prefix`.
    pub username_prefix: String,
    pub groups_claim: Option<String>,
    pub groups_prefix: String,
    pub required_claims: BTreeMap<String, String>,
    pub algorithms: Vec<Algorithm>,
}

impl Verifier {
    /// Checks the flags (kube-apiserver: issuer URL and client id together, https issuer,
    /// known signing algorithms) and resolves the username prefix.
    pub fn new(o: &Options) -> Result<Self, OidcError> {
        if o.issuer_url.is_empty() {
            return Err(OidcError::Config {
                flag: "--oidc-issuer-url",
                why: "oidc-issuer-url and oidc-client-id should be specified together".into(),
            });
        }
        check_https_url("--oidc-issuer-url", &o.issuer_url)?;
        if o.client_id.is_empty() {
            return Err(OidcError::Config {
                flag: "--oidc-client-id",
                why: "oidc-issuer-url and oidc-client-id should be specified together".into(),
            });
        }
        if o.username_claim.is_empty() {
            return Err(OidcError::Config {
                flag: "--oidc-username-claim",
                why: "must not be empty".into(),
            });
        }
        let mut algorithms = Vec::new();
        for a in &o.signing_algs {
            algorithms.push(algorithm(a).ok_or_else(|| OidcError::Config {
                flag: "--oidc-signing-algs",
                why: format!(
                    "unsupported signing alg: {a:?} (supported: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384)"
                ),
            })?);
        }
        if algorithms.is_empty() {
            algorithms.push(Algorithm::RS256);
        }
        let given = o.username_prefix.clone().unwrap_or_default();
        let username_prefix = if given == "-" {
            String::new()
        } else if given.is_empty() && o.username_claim != "email" {
            format!("{}#", o.issuer_url)
        } else {
            given
        };
        Ok(Verifier {
            issuer_url: o.issuer_url.clone(),
            client_id: o.client_id.clone(),
            audiences: std::iter::once(o.client_id.clone())
                .chain(o.extra_audiences.iter().cloned())
                .collect(),
            username_claim: o.username_claim.clone(),
            username_prefix,
            groups_claim: o.groups_claim.clone().filter(|g| !g.is_empty()),
            groups_prefix: o.groups_prefix.clone(),
            required_claims: o.required_claims.clone(),
            algorithms,
        })
    }

    /// Whether `token` is a JWT of this issuer (oidc.go `hasCorrectIssuer`): tokens that are
    /// not are left to the other authenticators.
    pub fn is_ours(&self, token: &str) -> bool {
        untrusted_issuer(token).as_deref() == Some(self.issuer_url.as_str())
    }

    /// Verifies `token` against `keys` at `now` and maps its claims to the user.
    pub fn verify(&self, token: &str, keys: &KeySet, now: i64) -> Result<UserInfo, OidcError> {
        self.verify_with_expiry(token, keys, now).map(|(u, _)| u)
    }

    /// [`Verifier::verify`], with the token's `exp` (how long a cache may keep the answer).
    pub fn verify_with_expiry(
        &self,
        token: &str,
        keys: &KeySet,
        now: i64,
    ) -> Result<(UserInfo, i64), OidcError> {
        let claims = untrusted_claims(token)?;
        // issuer (go-oidc: exact, but Google's legacy issuer without a scheme)
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
        let google =
            self.issuer_url == "https://accounts.google.com" && iss == "accounts.google.com";
        if iss != self.issuer_url && !google {
            return Err(OidcError::Issuer {
                expected: self.issuer_url.clone(),
                got: iss.to_owned(),
            });
        }
        // audience: a string or a list containing the client id
        let aud = match claims.get("aud") {
            Some(v) => {
                string_or_array(v).map_err(|why| OidcError::Malformed(format!("aud: {why}")))?
            }
            None => Vec::new(),
        };
        if !aud.iter().any(|a| self.audiences.contains(a)) {
            return Err(OidcError::Audience {
                expected: self.audiences.clone(),
                got: aud,
            });
        }
        // expiry: a missing exp is the zero time, long past; no leeway
        let exp = claims.get("exp").and_then(seconds).unwrap_or(i64::MIN);
        if exp < now {
            return Err(OidcError::Expired { exp, now });
        }
        if let Some(nbf) = claims.get("nbf").filter(|v| !v.is_null()) {
            let nbf = seconds(nbf).ok_or_else(|| {
                OidcError::Malformed(format!("nbf: expected a number, got {nbf}"))
            })?;
            if now.saturating_add(NBF_LEEWAY_SECONDS) < nbf {
                return Err(OidcError::NotYetValid { nbf, now });
            }
        }
        self.verify_signature(token, keys)?;
        let user = self.user(&claims)?;
        for (claim, want) in &self.required_claims {
            let Some(v) = claims.get(claim) else {
                return Err(OidcError::RequiredClaimMissing(claim.clone()));
            };
            let got = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                _ => return Err(OidcError::RequiredClaimType(claim.clone())),
            };
            if got != *want {
                return Err(OidcError::RequiredClaimMismatch {
                    claim: claim.clone(),
                    got,
                    want: want.clone(),
                });
            }
        }
        Ok((user, exp))
    }

    fn verify_signature(&self, token: &str, keys: &KeySet) -> Result<(), OidcError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| OidcError::Malformed(e.to_string()))?;
        if !self.algorithms.contains(&header.alg) {
            return Err(OidcError::Algorithm {
                expected: self.algorithms.iter().map(|a| format!("{a:?}")).collect(),
                got: format!("{:?}", header.alg),
            });
        }
        let (message, signature) = token
            .rsplit_once('.')
            .ok_or_else(|| OidcError::Malformed("malformed token".into()))?;
        let (kty, crv) = needs(header.alg);
        let alg_name = format!("{:?}", header.alg);
        let mut known_kid = false;
        for k in &keys.keys {
            if let Some(kid) = &header.kid {
                if k.kid.as_deref() != Some(kid.as_str()) {
                    continue;
                }
                known_kid = true;
            }
            if k.kty != kty
                || (crv.is_some() && k.crv.as_deref() != crv)
                || k.alg.as_deref().is_some_and(|a| a != alg_name)
            {
                continue;
            }
            if jsonwebtoken::crypto::verify(signature, message.as_bytes(), &k.key, header.alg)
                .unwrap_or(false)
            {
                return Ok(());
            }
        }
        match header.kid {
            Some(_) if known_kid => Err(OidcError::Signature),
            kid => Err(OidcError::UnknownKey(kid)),
        }
    }

    /// The user of verified claims (oidc.go getUsername, getGroups).
    fn user(&self, claims: &serde_json::Map<String, Value>) -> Result<UserInfo, OidcError> {
        let uc = &self.username_claim;
        let username = match claims.get(uc) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) => String::new(),
            Some(other) => {
                return Err(OidcError::UsernameClaim {
                    claim: uc.clone(),
                    why: format!("expected a string, got {other}"),
                });
            }
            None => {
                return Err(OidcError::UsernameClaim {
                    claim: uc.clone(),
                    why: "claim not present".into(),
                });
            }
        };
        if uc == "email"
            && let Some(v) = claims.get("email_verified")
        {
            match v {
                Value::Bool(true) => {}
                Value::Bool(false) | Value::Null => return Err(OidcError::EmailNotVerified),
                other => {
                    return Err(OidcError::EmailVerifiedClaim(format!(
                        "expected a boolean, got {other}"
                    )));
                }
            }
        }
        let mut groups = Vec::new();
        if let Some(gc) = &self.groups_claim
            && let Some(v) = claims.get(gc)
        {
            groups = string_or_array(v).map_err(|why| OidcError::GroupsClaim {
                claim: gc.clone(),
                why,
            })?;
            if !self.groups_prefix.is_empty() {
                for g in &mut groups {
                    g.insert_str(0, &self.groups_prefix);
                }
            }
        }
        let mut extra = BTreeMap::new();
        // oidc.go getCredentialID: a string `jti` is the credential id, as for ServiceAccounts
        if let Some(Value::String(jti)) = claims.get("jti") {
            extra.insert(
                "authentication.kubernetes.io/credential-id".to_owned(),
                vec![format!("JTI={jti}")],
            );
        }
        Ok(UserInfo {
            username: format!("{}{username}", self.username_prefix),
            groups,
            extra,
            ..Default::default()
        })
    }
}

/// Argo CD's `$key` references in argocd-cm values (util/settings/settings.go
/// `ReplaceStringSecret`): a value starting with `$` names a key of argocd-secret —
/// `$secret:key`, a key of another Secret labelled `app.kubernetes.io/part-of: argocd` —
/// whose value (trimmed) replaces it; an unknown key leaves the value as it is.
pub fn replace_secret(val: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    match val.strip_prefix('$') {
        Some(key) if !key.is_empty() => {
            lookup(key).map_or_else(|| val.to_owned(), |v| v.trim().to_owned())
        }
        _ => val.to_owned(),
    }
}

/// What the API server takes of Argo CD's `oidc.config` (argocd-cm), secrets resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgoCdOidc {
    pub issuer: String,
    pub client_id: String,
    /// The audiences a token must name one of: `allowedAudiences` when set, else the client
    /// id and `cliClientID` (argo-cd util/settings/settings.go `OAuth2AllowedAudiences`).
    pub audiences: Vec<String>,
    /// `rootCA`: PEM roots for the issuer's certificate.
    pub root_ca: Option<String>,
    /// `clientSecret`, resolved (the API server does not need it to verify tokens; the
    /// UI's login sends it to the token endpoint).
    pub client_secret: Option<String>,
    /// `name`: what the UI's login button names ("LOG IN VIA Keycloak").
    pub name: String,
    /// `requestedScopes` (empty: Argo CD's defaults).
    pub requested_scopes: Vec<String>,
}

impl ArgoCdOidc {
    /// The `--oidc-*` options of this configuration (the flags' defaults otherwise).
    pub fn options(&self) -> Options {
        let mut aud = self.audiences.iter();
        let first = aud.next().unwrap_or(&self.client_id);
        let mut o = Options::new(&self.issuer, first);
        o.extra_audiences = aud.cloned().collect();
        o
    }
}

/// Reads Argo CD's `oidc.config` (the YAML value as JSON): `issuer`, `clientID`,
/// `cliClientID`, `allowedAudiences`, `rootCA`, `clientSecret`, each string resolved with
/// [`replace_secret`]. Keys match case-insensitively, as Go's encoding/json does.
pub fn argocd_oidc_config(
    config: &Value,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ArgoCdOidc, OidcError> {
    let bad = |why: String| OidcError::Config {
        flag: "argocd-cm oidc.config",
        why,
    };
    let map = config
        .as_object()
        .ok_or_else(|| bad("expected a mapping".into()))?;
    let field = |name: &str| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let string = |name: &str| -> Result<Option<String>, OidcError> {
        match field(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(replace_secret(s, lookup))),
            Some(other) => Err(bad(format!("{name}: expected a string, got {other}"))),
        }
    };
    let issuer = string("issuer")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("issuer: required".into()))?;
    let client_id = string("clientID")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("clientID: required".into()))?;
    let allowed: Vec<String> = match field("allowedAudiences") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => string_or_array(v)
            .map_err(|why| bad(format!("allowedAudiences: {why}")))?
            .iter()
            .map(|a| replace_secret(a, lookup))
            .collect(),
    };
    let audiences = if allowed.is_empty() {
        std::iter::once(client_id.clone())
            .chain(string("cliClientID")?.filter(|s| !s.is_empty()))
            .collect()
    } else {
        allowed
    };
    Ok(ArgoCdOidc {
        issuer,
        client_id,
        audiences,
        root_ca: string("rootCA")?.filter(|s| !s.is_empty()),
        client_secret: string("clientSecret")?,
        name: string("name")?.unwrap_or_default(),
        requested_scopes: match field("requestedScopes") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => string_or_array(v).map_err(|why| bad(format!("requestedScopes: {why}")))?,
        },
    })
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
