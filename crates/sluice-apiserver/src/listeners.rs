//! The HTTP edge of EventListeners (`/listeners/<namespace>/<name>`): the server stays free
//! of Triggers and controllers, and hands each delivery to a [`ListenerHook`] that the
//! binary implements with `sluice_kube::triggers`. Served on the API port without the bearer
//! token (as upstream's per-listener Service, where the interceptors are the
//! authentication) and, with [`serve_plain`], on a plain-HTTP port of its own.
//!
//! The edge bounds what a delivery may cost before the hook sees it: the body is read up to
//! [`ListenerHook::max_body`] (a larger `Content-Length` or body is a 413 at once), the
//! hook's answer must come within [`ListenerHook::timeout`] (else 503, while the hook's
//! task runs to its end so that nothing is left half-created), and a panic in the
//! hook is a 500.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::json;

/// The path prefix EventListeners are served under.
pub const PREFIX: &str = "/listeners/";

/// One delivery, read and bounded.
#[derive(Debug, Clone)]
pub struct ListenerRequest {
    pub namespace: String,
    pub name: String,
    pub method: String,
    /// Header names and values (values that are not UTF-8 are read lossily).
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The URL as the client addressed it (`http(s)://<Host>/listeners/<ns>/<name>`).
    pub url: String,
}

/// The answer to a delivery: status and a JSON body.
#[derive(Debug, Clone)]
pub struct ListenerReply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The receiver of EventListener deliveries.
pub trait ListenerHook: Send + Sync {
    /// The largest body accepted (larger: 413 before the hook is called).
    fn max_body(&self) -> usize;
    /// How long a delivery may take (longer: the client gets 503). The hook's work is not
    /// cut off midway (that could leave half its resources created): it runs to its end
    /// on a task of its own and records what it did.
    fn timeout(&self) -> Duration;
    /// Handles one delivery.
    fn deliver(&self, req: ListenerRequest) -> Pin<Box<dyn Future<Output = ListenerReply> + Send>>;
    /// Called when the edge answers without the hook (unknown path, body too large, a
    /// timeout, a panic), so that the hook can record it.
    fn rejected(&self, namespace: &str, name: &str, status: u16, message: &str);
}

fn reply(status: u16, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn error_body(namespace: &str, name: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "eventListener": name,
        "namespace": namespace,
        "eventListenerUID": "",
        "errorMessage": message,
    }))
    .unwrap_or_default()
}

/// `(namespace, name)` of a `/listeners/<ns>/<name>[/]` path; `None` for any other shape.
pub fn parse_path(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix(PREFIX)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (ns, name) = rest.split_once('/')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 253
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    };
    (ok(ns) && ok(name)).then(|| (ns.to_owned(), name.to_owned()))
}

/// Handles a request under [`PREFIX`] with `hook`: bounds, then the hook.
pub async fn handle(hook: Arc<dyn ListenerHook>, scheme: &str, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some((ns, name)) = parse_path(&path) else {
        let msg = format!(
            "no EventListener is served at {path:?} (expected /listeners/<namespace>/<name>)"
        );
        hook.rejected("", "", 404, &msg);
        return reply(404, error_body("", "", &msg));
    };
    let max = hook.max_body();
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || format!("request body too large: the limit is {max} bytes");
    if declared.is_some_and(|n| n > max as u64) {
        let msg = too_large();
        hook.rejected(&ns, &name, 413, &msg);
        return reply(413, error_body(&ns, &name, &msg));
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let method = req.method().to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let timeout = hook.timeout();
    let body = match tokio::time::timeout(timeout, read_capped(req.into_body(), max)).await {
        Ok(Ok(b)) => b,
        Ok(Err(None)) => {
            let msg = too_large();
            hook.rejected(&ns, &name, 413, &msg);
            return reply(413, error_body(&ns, &name, &msg));
        }
        Ok(Err(Some(e))) => {
            let msg = format!("reading the request body: {e}");
            hook.rejected(&ns, &name, 400, &msg);
            return reply(400, error_body(&ns, &name, &msg));
        }
        Err(_) => {
            let msg = format!("reading the request body took longer than {timeout:?}");
            hook.rejected(&ns, &name, 408, &msg);
            return reply(408, error_body(&ns, &name, &msg));
        }
    };
    let lr = ListenerRequest {
        url: format!("{scheme}://{host}{path}"),
        namespace: ns.clone(),
        name: name.clone(),
        method,
        headers,
        body,
    };
    let fut = hook.deliver(lr);
    let joined = tokio::time::timeout(timeout, tokio::spawn(fut)).await;
    match joined {
        Ok(Ok(r)) => reply(r.status, r.body),
        Ok(Err(e)) => {
            let msg = format!("internal error: the delivery failed: {e}");
            crate::log_warning(format!("/listeners/{ns}/{name}: {msg}"));
            hook.rejected(&ns, &name, 500, &msg);
            reply(500, error_body(&ns, &name, &msg))
        }
        Err(_) => {
            let msg = format!("the delivery took longer than {timeout:?}");
            hook.rejected(&ns, &name, 503, &msg);
            reply(503, error_body(&ns, &name, &msg))
        }
    }
}

/// The body, at most `max` bytes: `Err(None)` past the limit (nothing more is read),
/// `Err(Some(why))` when the connection fails.
async fn read_capped(mut body: Body, max: usize) -> Result<Bytes, Option<String>> {
    use http_body::Body as _;
    let mut buf = bytes::BytesMut::new();
    loop {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            None => return Ok(buf.freeze()),
            Some(Err(e)) => return Err(Some(e.to_string())),
            Some(Ok(frame)) => {
                if let Ok(d) = frame.into_data() {
                    if buf.len() + d.len() > max {
                        return Err(None);
                    }
                    buf.extend_from_slice(&d);
                }
            }
        }
    }
}

/// A router that serves only EventListeners (anything else is 404).
pub fn router(hook: Arc<dyn ListenerHook>, scheme: &'static str) -> Router {
    Router::new().fallback(move |req: Request| {
        let hook = hook.clone();
        async move { handle(hook, scheme, req).await }
    })
}

/// Serves EventListeners over plain HTTP on `listener` (`--listeners-listen`), with the
/// API server's header timeout, until the task is dropped.
pub async fn serve_plain(
    listener: tokio::net::TcpListener,
    hook: Arc<dyn ListenerHook>,
) -> Result<(), crate::Error> {
    serve_plain_router(listener, router(hook, "http")).await
}

/// Serves `app` over plain HTTP on `listener`, with the API server's header timeout, until
/// the task is dropped (the listeners' port, with more routes beside them).
pub async fn serve_plain_router(
    listener: tokio::net::TcpListener,
    app: Router,
) -> Result<(), crate::Error> {
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                crate::log_warning(format!("accepting a connection: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let svc = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(crate::HEADER_READ_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            parse_path("/listeners/ci/gitlab"),
            Some(("ci".into(), "gitlab".into()))
        );
        assert_eq!(
            parse_path("/listeners/ci/gitlab/"),
            Some(("ci".into(), "gitlab".into()))
        );
        assert_eq!(parse_path("/listeners/ci"), None);
        assert_eq!(parse_path("/listeners/ci/a/b"), None);
        assert_eq!(parse_path("/listeners//x"), None);
        assert_eq!(parse_path("/listeners/Ci/x"), None);
    }
}
