//! `/metrics` serves the registered `MetricsSource`: behind the bearer token by default (as
//! kube-apiserver's `/metrics`), without it when registered public; 404 with none.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use sluice_apiserver::{ApiServer, MetricsSource, Options};
use tower::ServiceExt;

struct Fixed;

impl MetricsSource for Fixed {
    fn encode(&self) -> String {
        "up 1\n# EOF\n".into()
    }
    fn content_type(&self) -> &'static str {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    }
}

async fn get(server: &ApiServer, token: Option<&str>) -> (StatusCode, String, String) {
    let mut b = Request::builder().uri("/metrics");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    let resp = server
        .router()
        .oneshot(b.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, ct, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn metrics_need_the_token_unless_public() {
    let server = ApiServer::open(Options {
        simulate: None,
        ..Options::default()
    })
    .expect("opens");
    let token = server.token().to_owned();
    // nothing registered: not served
    assert_eq!(get(&server, Some(&token)).await.0, StatusCode::NOT_FOUND);
    server.set_metrics(Arc::new(Fixed), false);
    assert_eq!(get(&server, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&server, Some("wrong")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, ct, body) = get(&server, Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    assert_eq!(body, "up 1\n# EOF\n");
    server.set_metrics(Arc::new(Fixed), true);
    let (status, _, body) = get(&server, None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "up 1\n# EOF\n"));
}
