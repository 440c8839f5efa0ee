//! Sluice's web UI (issue 13): a client of the Kubernetes API that `sluice serve` exposes,
//! as the Tekton Dashboard and the Argo CD UI are. The assets (plain ES modules, no build
//! step, nothing loaded from the internet) are compiled into the binary; this crate owns
//! them and the router that serves `/` (the page) and `/ui/...` (scripts and styles).
//!
//! The assets are public: they hold no data. Every object the page shows comes from the
//! API with the bearer token the user typed in, kept in `sessionStorage` and sent in the
//! `Authorization` header, never in a URL. The page builds its DOM with `textContent` only
//! (no `innerHTML`), and the Content-Security-Policy forbids inline and foreign scripts, so
//! a log line or a label holding HTML renders as text.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};

/// One embedded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

/// Every file the UI serves: the page at `/`, the rest under `/ui/`.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../assets/index.html"),
    },
    Asset {
        path: "/ui/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/app.js"),
    },
    Asset {
        path: "/ui/dag.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/dag.js"),
    },
    Asset {
        path: "/ui/style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/style.css"),
    },
    Asset {
        path: "/ui/favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../assets/favicon.svg"),
    },
];

/// The page's Content-Security-Policy: only this origin's scripts, styles and API; no
/// inline script, no plugins, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The asset served at `path` (`/index.html` is `/`).
pub fn asset(path: &str) -> Option<&'static Asset> {
    let path = if path == "/index.html" { "/" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}

/// A strong validator for `body`: FNV-1a 64 in hex, quoted as an entity tag.
pub fn etag(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

/// The response to `method path` with request headers `headers`: the asset with its type,
/// security headers and ETag (304 when `If-None-Match` matches), 404 for an unknown path,
/// 405 for a method other than GET and HEAD.
pub fn respond(method: &Method, path: &str, headers: &HeaderMap) -> Response<Body> {
    let Some(a) = asset(path) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    if method != Method::GET && method != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let tag = etag(a.body);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let (status, body) = if fresh {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else if method == Method::HEAD {
        (StatusCode::OK, Body::empty())
    } else {
        (StatusCode::OK, Body::from(a.body))
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    // revalidate every time: the ETag makes that a 304 without a body
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The router to mount at `/` and at `/ui` (the API server gives a mount at `/` only the
/// path `/` itself).
pub fn router() -> axum::Router {
    axum::Router::new().fallback(|req: Request<Body>| async move {
        respond(req.method(), req.uri().path(), req.headers())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    async fn get(path: &str, headers: &[(&str, &str)]) -> Response<Body> {
        let mut req = Request::builder().uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        router()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("infallible")
    }

    #[tokio::test]
    async fn serves_the_page_and_its_assets_with_types_and_security_headers() {
        for a in ASSETS {
            let r = get(a.path, &[]).await;
            assert_eq!(r.status(), StatusCode::OK, "{}", a.path);
            assert_eq!(r.headers()[header::CONTENT_TYPE], a.content_type);
            assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], CSP);
            assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        }
        assert_eq!(get("/nope", &[]).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/ui/", &[]).await.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn a_matching_etag_gets_304_without_a_body() {
        let tag = etag(ASSETS[1].body);
        let r = get("/ui/app.js", &[("if-none-match", &tag)]).await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let r = get("/ui/app.js", &[("if-none-match", "\"other\"")]).await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[test]
    fn other_methods_are_refused() {
        let r = respond(&Method::POST, "/", &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[header::ALLOW], "GET, HEAD");
    }

    /// The page keeps its promises: no inline script (the CSP would block it anyway), no
    /// `innerHTML`/`insertAdjacentHTML`/`document.write` anywhere in the scripts (strings
    /// from runs and manifests go in as text), nothing loaded from another origin, and the
    /// token never in a URL.
    #[test]
    fn the_assets_never_build_html_from_strings_or_load_foreign_code() {
        let page = std::str::from_utf8(ASSETS[0].body).expect("utf-8");
        assert!(!page.contains("<script>"), "inline script in the page");
        for a in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            // the SVG namespace is a name, not a place anything is loaded from
            let js = std::str::from_utf8(a.body)
                .expect("utf-8")
                .replace("'http://www.w3.org/2000/svg'", "");
            for bad in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                "http://",
                "https://",
                "?token=",
                "&token=",
                "localStorage",
            ] {
                assert!(!js.contains(bad), "{} contains {bad:?}", a.path);
            }
        }
    }

    #[test]
    fn the_shipped_bytes_stay_small() {
        // issue 13: the shipped JS under 300 KB gzipped; uncompressed is a stricter bound
        let total: usize = ASSETS.iter().map(|a| a.body.len()).sum();
        assert!(total < 300 * 1024, "{total} bytes");
    }

    proptest::proptest! {
        /// Any path and method: a response, never a panic; only the listed paths are 200.
        #[test]
        fn any_request_gets_a_status(path in "/[ -~]{0,40}", post in proptest::bool::ANY) {
            let m = if post { Method::POST } else { Method::GET };
            let r = respond(&m, &path, &HeaderMap::new());
            if r.status() == StatusCode::OK {
                proptest::prop_assert!(asset(&path).is_some());
            }
        }
    }
}
