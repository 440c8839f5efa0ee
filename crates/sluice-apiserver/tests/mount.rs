//! `ApiServer::mount` serves a router beside the API on the same port (the OCI registry's
//! `/v2/`, the web UI): the prefix and below it, longest prefix first, without the API's
//! bearer token; the API's own paths cannot be taken over.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use sluice_apiserver::{ApiServer, Options};
use tower::ServiceExt;

async fn fetch(server: &ApiServer, path: &str) -> (StatusCode, String) {
    let resp = server
        .router()
        .oneshot(
            Request::builder()
                .uri(path)
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn mounted_routers_answer_their_prefix_without_the_token() {
    let server = ApiServer::open(Options {
        simulate: None,
        ..Options::default()
    })
    .expect("opens");
    server
        .mount(
            "/v2",
            Router::new()
                .route("/v2/", get(|| async { "registry" }))
                .fallback(|| async { (StatusCode::NOT_FOUND, "registry 404") }),
        )
        .expect("mounts /v2");
    server
        .mount("/ui/", Router::new().fallback(|| async { "ui" }))
        .expect("mounts /ui");
    server
        .mount("/", Router::new().fallback(|| async { "root" }))
        .expect("mounts /");
    server
        .mount(
            "/panics",
            Router::new().fallback(|| async {
                if std::hint::black_box(true) {
                    panic!("boom");
                }
                "never"
            }),
        )
        .expect("mounts /panics");
    assert_eq!(
        fetch(&server, "/v2/").await,
        (StatusCode::OK, "registry".into())
    );
    assert_eq!(
        fetch(&server, "/v2/x/manifests/latest").await,
        (StatusCode::NOT_FOUND, "registry 404".into())
    );
    assert_eq!(fetch(&server, "/ui").await.1, "ui");
    assert_eq!(fetch(&server, "/ui/runs/a").await.1, "ui");
    assert_eq!(fetch(&server, "/").await.1, "root");
    assert_eq!(
        fetch(&server, "/panics/x").await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    // not under a prefix: the API, which wants its token
    assert_eq!(fetch(&server, "/v2x").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(fetch(&server, "/uix/").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        fetch(&server, "/api/v1/pods").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn the_apis_own_paths_cannot_be_mounted() {
    let server = ApiServer::open(Options {
        simulate: None,
        ..Options::default()
    })
    .expect("opens");
    for p in [
        "/api",
        "/apis/",
        "/apis/apps",
        "/healthz",
        "/version",
        "/listeners",
        "v2",
    ] {
        assert!(server.mount(p, Router::new()).is_err(), "{p}");
    }
    // Argo CD's push webhook lives under /api but is not an API path
    assert!(server.mount("/api/webhook", Router::new()).is_ok());
    assert!(server.mount("/api/v1", Router::new()).is_err());
}
