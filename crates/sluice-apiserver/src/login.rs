//! The UI's single sign-on through the OIDC provider of argocd-cm `oidc.config`, at Argo
//! CD's paths (argo-cd server/server.go registers `/auth/login` and `/auth/callback`):
//!
//! - `GET /auth/config`: `{"name": "Keycloak"}` when a browser login is offered, `{}` if not;
//! - `GET /auth/login?return_url=/#/runs`: 303 to the provider's authorization endpoint
//!   (code flow, PKCE S256, a fresh `state` this server remembers for 10 minutes);
//! - `GET /auth/callback?code=...&state=...`: the code exchanged at the token endpoint, the
//!   ID token verified as any bearer token, then 303 to `/#/oidc?next=...` with the token
//!   in an HttpOnly, SameSite=Strict cookie scoped to `/auth/token` for two minutes;
//! - `POST /auth/token`: the cookie's token as `{"token": ...}` (the page keeps it in
//!   sessionStorage, as a typed token), the cookie cleared.
//!
//! The token never appears in a URL. Failures send the page to `/#/login?error=...`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::json;
use sluice_auth::oidc_login::{form_encode, query_value, safe_next};

use crate::server::State;

/// The cookie that carries the ID token from the callback to the page.
const COOKIE: &str = "sluice-oidc";

/// Whether `path` is one of the login's.
pub fn is_login_path(path: &str) -> bool {
    matches!(
        path,
        "/auth/config" | "/auth/login" | "/auth/callback" | "/auth/token"
    )
}

fn reply(code: StatusCode, body: serde_json::Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn redirect(location: &str, cookie: Option<String>) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn to_login_page(why: &str) -> Response {
    redirect(&format!("/#/login?error={}", form_encode(why)), None)
}

/// Answers a request to one of the login's paths.
pub async fn handle(st: Arc<State>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let oidc = st
        .auth
        .oidc
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let tls = st.tls.load(std::sync::atomic::Ordering::Relaxed);
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/auth/config") => {
            let name = oidc.as_ref().and_then(|o| o.login_name());
            reply(
                StatusCode::OK,
                match name {
                    Some(n) => json!({"name": n}),
                    None => json!({}),
                },
            )
        }
        (Method::GET, "/auth/login") => {
            let Some(oidc) = oidc else {
                return to_login_page("single sign-on is not configured (argocd-cm oidc.config)");
            };
            let next = query_value(&query, "return_url")
                .filter(|n| safe_next(n))
                .unwrap_or_else(|| "/".to_owned());
            // the address the browser used: the provider sends it back here (the client's
            // registered redirect URIs decide which are allowed)
            let authority = req.uri().authority().map(|a| a.as_str().to_owned());
            let Some(host) = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
                .or(authority)
                .filter(|h| !h.is_empty() && !h.contains(['/', '\\', '@', ' ']))
            else {
                return to_login_page("the request has no Host header");
            };
            let scheme = if tls { "https" } else { "http" };
            let redirect_uri = format!("{scheme}://{host}/auth/callback");
            match oidc.begin_login(&redirect_uri, &next) {
                Ok(url) => redirect(&url, None),
                Err(e) => to_login_page(&e),
            }
        }
        (Method::GET, "/auth/callback") => {
            let Some(oidc) = oidc else {
                return to_login_page("single sign-on is not configured (argocd-cm oidc.config)");
            };
            if let Some(e) = query_value(&query, "error") {
                let d = query_value(&query, "error_description").unwrap_or_default();
                return to_login_page(&format!("the provider refused the login: {e} {d}"));
            }
            let (Some(state), Some(code)) =
                (query_value(&query, "state"), query_value(&query, "code"))
            else {
                return to_login_page("the provider's answer has no code or state");
            };
            match oidc.finish_login(&state, &code).await {
                Ok((token, next)) => {
                    let secure = if tls { "; Secure" } else { "" };
                    let cookie = format!(
                        "{COOKIE}={token}; Path=/auth/token; HttpOnly; SameSite=Strict; Max-Age=120{secure}"
                    );
                    redirect(
                        &format!("/#/oidc?next={}", form_encode(&next)),
                        Some(cookie),
                    )
                }
                Err(e) => to_login_page(&format!("login failed: {e}")),
            }
        }
        (Method::POST, "/auth/token") => {
            let token = req
                .headers()
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .find_map(|c| {
                    let (k, v) = c.trim().split_once('=')?;
                    (k == COOKIE && !v.is_empty()).then(|| v.to_owned())
                });
            let Some(token) = token else {
                return crate::server::error_response(&crate::status::ApiError::unauthorized());
            };
            let mut r = reply(StatusCode::OK, json!({"token": token}));
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{COOKIE}=; Path=/auth/token; HttpOnly; SameSite=Strict; Max-Age=0"
            )) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        (m, _) => crate::server::error_response(&crate::status::ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{m} is not supported on {path}"),
        )),
    }
}
