//! The browser's OpenID Connect login (the authorization code flow with PKCE, RFC 7636), as
//! Argo CD's UI offers it ("LOG IN VIA KEYCLOAK", argo-cd util/oidc/oidc.go
//! `HandleLogin`/`HandleCallback`): the pure parts. The caller keeps the pending logins,
//! does the HTTP and verifies the ID token it gets back with [`crate::oidc::Verifier`].

use base64::Engine as _;
use serde_json::Value;

use crate::oidc::OidcError;

/// The scopes asked for when the configuration names none (Argo CD's defaults:
/// `openid`, `profile`, `email`, `groups`; util/oidc/oidc.go `GetScopesOrDefault`).
pub const DEFAULT_SCOPES: &[&str] = &["openid", "profile", "email", "groups"];

/// The PKCE `code_challenge` of a verifier (method `S256`: BASE64URL(SHA-256(verifier))).
pub fn pkce_challenge(verifier: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// Random bytes as a URL-safe string (a `state` or a PKCE verifier: 32 bytes give the 43
/// characters RFC 7636 asks for at least); the caller draws the bytes.
pub fn url_safe(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `application/x-www-form-urlencoded` encoding of one value (also right in a query).
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `k=v&k=v`, each part encoded.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Decodes one `application/x-www-form-urlencoded` value (`+` is a space).
pub fn form_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The value of `key` in a query string.
pub fn query_value(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (form_decode(k)? == key).then(|| form_decode(v)).flatten()
    })
}

/// The URL the browser is sent to: the provider's authorization endpoint with the code
/// flow's parameters (OpenID Connect Core 3.1.2.1, PKCE S256).
pub fn authorize_url(
    endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
    scopes: &[String],
    state: &str,
    challenge: &str,
) -> String {
    let scope = scopes.join(" ");
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    format!(
        "{endpoint}{sep}{}",
        form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("scope", &scope),
            ("state", state),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
    )
}

/// The body of the token request that exchanges `code` (RFC 6749 4.1.3 with the PKCE
/// verifier; a confidential client adds its secret, `client_secret_post`).
pub fn token_request(
    code: &str,
    redirect_uri: &str,
    client_id: &str,
    client_secret: Option<&str>,
    verifier: &str,
) -> String {
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", client_id),
        ("code_verifier", verifier),
    ];
    if let Some(s) = client_secret {
        pairs.push(("client_secret", s));
    }
    form(&pairs)
}

/// The `id_token` of a token response, or the provider's error.
pub fn id_token_of(body: &[u8]) -> Result<String, OidcError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| OidcError::Malformed(format!("token response: {e}")))?;
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        let d = v
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or("");
        return Err(OidcError::Malformed(format!(
            "the provider refused the code: {e} {d}"
        )));
    }
    v.get("id_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| OidcError::Malformed("token response: no id_token in it".into()))
}

/// Whether `next` (where the page goes after the login) is a path of this site: an
/// absolute URL or `//host` would make the login an open redirect.
pub fn safe_next(next: &str) -> bool {
    next.starts_with('/') && !next.starts_with("//") && !next.contains('\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        // RFC 7636 Appendix B: the verifier and challenge of the worked example
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(url_safe(&[0xfb; 32]).len(), 43);
    }

    #[test]
    fn urls_and_forms() {
        let u = authorize_url(
            "https://idp.example/auth",
            "argo cd",
            "https://sluice.example/auth/callback",
            &["openid".into(), "groups".into()],
            "st",
            "ch",
        );
        assert_eq!(
            u,
            "https://idp.example/auth?response_type=code&client_id=argo%20cd&redirect_uri=https%3A%2F%2Fsluice.example%2Fauth%2Fcallback&scope=openid%20groups&state=st&code_challenge=ch&code_challenge_method=S256"
        );
        assert_eq!(
            query_value("a=1&code=x%2By+z&state=s", "code").as_deref(),
            Some("x+y z")
        );
        assert_eq!(query_value("a=1", "code"), None);
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
        assert!(token_request("c", "r", "id", Some("s"), "v").ends_with("&client_secret=s"));
    }

    #[test]
    fn token_responses() {
        assert_eq!(
            id_token_of(br#"{"access_token":"a","id_token":"x.y.z"}"#).expect("ok"),
            "x.y.z"
        );
        let e = id_token_of(br#"{"error":"invalid_grant","error_description":"bad code"}"#)
            .expect_err("refused");
        assert!(e.to_string().contains("invalid_grant bad code"), "{e}");
        assert!(id_token_of(b"{}").is_err());
        assert!(id_token_of(b"<html>").is_err());
    }

    #[test]
    fn next_stays_on_the_site() {
        assert!(safe_next("/#/runs"));
        assert!(!safe_next("//evil.example/"));
        assert!(!safe_next("https://evil.example/"));
        assert!(!safe_next("/\\evil.example"));
    }
}
