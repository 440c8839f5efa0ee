//! The HTTP edge: one axum fallback handler that finds the spec's endpoint with
//! `route::parse`, checks credentials, and calls the store. Request bodies stream to disk
//! chunk by chunk; blob responses stream from disk.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;

use crate::auth::{Auth, CHALLENGE, Decision, Need};
use crate::error::{Code, Error, Result};
use crate::manifest::{MAX_MANIFEST_BYTES, OCI_INDEX};
use crate::reference::{Digest, Reference};
use crate::route::{self, Route, escape, query_param, query_params};
use crate::store::{Store, referrers_index};

/// How the registry is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// The store's directory.
    pub root: PathBuf,
    pub auth: Auth,
    /// Largest blob accepted.
    pub max_blob_bytes: u64,
}

/// A registry: the store plus its credentials. `router()` serves it.
pub struct Registry {
    store: Store,
    auth: Auth,
}

impl Registry {
    pub fn open(opts: Options) -> std::io::Result<Arc<Registry>> {
        Ok(Arc::new(Registry {
            store: Store::open(&opts.root, opts.max_blob_bytes)?,
            auth: opts.auth,
        }))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The axum router answering `/v2` and below (full paths).
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }
}

fn error_response(e: &Error) -> Response {
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        e.body().to_string(),
    )
        .into_response();
    if e.code == Code::Unauthorized {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(CHALLENGE),
        );
    }
    resp
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

async fn handle(State(reg): State<Arc<Registry>>, req: Request) -> Response {
    let mut resp = match dispatch(&reg, req).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    resp.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    resp
}

fn empty(status: StatusCode, headers: &[(&str, String)]) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    for (k, v) in headers {
        if let Ok(name) = header::HeaderName::from_bytes(k.as_bytes()) {
            r.headers_mut().insert(name, hv(v));
        }
    }
    r
}

fn json(status: StatusCode, content_type: &str, v: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, hv(content_type))],
        v.to_string(),
    )
        .into_response()
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn dispatch(reg: &Registry, req: Request) -> Result<Response> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(String::from);
    let q = |k: &str| query_param(query.as_deref(), k);
    let method = parts.method.clone();
    let route = match route::parse(&path) {
        Some(r) => r,
        None => {
            return Err(Error::new(Code::Unsupported, "no such registry endpoint")
                .with_detail(serde_json::json!({ "path": path })));
        }
    };
    let write = !matches!(method, Method::GET | Method::HEAD);
    let authz = header_str(&parts.headers, header::AUTHORIZATION);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if matches!(route, Ok(Route::Token)) {
        return token_endpoint(reg, &method, authz, query.as_deref(), body, now).await;
    }
    let needs = needs(&route, &method);
    if let Decision::Deny { insufficient_scope } = reg.auth.decide(authz, &needs, write, now) {
        let host = header_str(&parts.headers, header::HOST)
            .map(String::from)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_else(|| "localhost".into());
        let mut r = error_response(&Error::new(Code::Unauthorized, "authentication required"));
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            hv(&reg.auth.challenge(&host, &needs, insufficient_scope)),
        );
        return Ok(r);
    }
    let route = route?;
    let store = &reg.store;
    let unsupported = || Error::new(Code::Unsupported, format!("{method} is not supported here"));
    match route {
        Route::Token => Err(unsupported()),
        Route::Base => match method {
            Method::GET | Method::HEAD => Ok(json(
                StatusCode::OK,
                "application/json",
                &serde_json::json!({}),
            )),
            _ => Err(unsupported()),
        },
        Route::Catalog => {
            if method != Method::GET {
                return Err(unsupported());
            }
            let all = store.catalog().await?;
            let (page, next) = paginate(all, q("n").as_deref(), q("last").as_deref())?;
            let mut r = json(
                StatusCode::OK,
                "application/json",
                &serde_json::json!({ "repositories": page }),
            );
            if let Some((n, last)) = next {
                r.headers_mut().insert(
                    header::LINK,
                    hv(&format!(
                        "</v2/_catalog?n={n}&last={}>; rel=\"next\"",
                        escape(&last)
                    )),
                );
            }
            Ok(r)
        }
        Route::Tags { name } => {
            if method != Method::GET {
                return Err(unsupported());
            }
            let all = store.tags(&name).await?;
            let (page, next) = paginate(all, q("n").as_deref(), q("last").as_deref())?;
            let mut r = json(
                StatusCode::OK,
                "application/json",
                &serde_json::json!({ "name": name, "tags": page }),
            );
            if let Some((n, last)) = next {
                r.headers_mut().insert(
                    header::LINK,
                    hv(&format!(
                        "</v2/{name}/tags/list?n={n}&last={}>; rel=\"next\"",
                        escape(&last)
                    )),
                );
            }
            Ok(r)
        }
        Route::Referrers { name, digest } => {
            if method != Method::GET {
                return Err(unsupported());
            }
            let filter = q("artifactType").filter(|a| !a.is_empty());
            let list = store.referrers(&name, &digest, filter.as_deref()).await?;
            let mut r = json(StatusCode::OK, OCI_INDEX, &referrers_index(list));
            if filter.is_some() {
                r.headers_mut().insert(
                    "OCI-Filters-Applied",
                    HeaderValue::from_static("artifactType"),
                );
            }
            Ok(r)
        }
        Route::Blob { name, digest } => match method {
            Method::HEAD => {
                let size = store.blob_size(&name, &digest).await?;
                Ok(blob_headers(empty(StatusCode::OK, &[]), &digest, size))
            }
            Method::GET => {
                let (mut file, size) = store.open_blob(&name, &digest).await?;
                let range = header_str(&parts.headers, header::RANGE)
                    .map_or(ByteRange::Full, |h| parse_range(h, size));
                match range {
                    ByteRange::Full => {
                        let stream = tokio_util::io::ReaderStream::with_capacity(file, 1 << 18);
                        let mut r = Response::new(Body::from_stream(stream));
                        *r.status_mut() = StatusCode::OK;
                        Ok(blob_headers(r, &digest, size))
                    }
                    ByteRange::Part { start, len } => {
                        use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
                        file.seek(std::io::SeekFrom::Start(start))
                            .await
                            .map_err(|e| {
                                Error::new(Code::BlobUnknown, format!("reading the blob: {e}"))
                            })?;
                        let stream =
                            tokio_util::io::ReaderStream::with_capacity(file.take(len), 1 << 18);
                        let mut r = Response::new(Body::from_stream(stream));
                        *r.status_mut() = StatusCode::PARTIAL_CONTENT;
                        let mut r = blob_headers(r, &digest, len);
                        r.headers_mut().insert(
                            header::CONTENT_RANGE,
                            hv(&format!("bytes {start}-{}/{size}", start + len - 1)),
                        );
                        Ok(r)
                    }
                    ByteRange::Unsatisfiable => {
                        let mut r = (
                            StatusCode::RANGE_NOT_SATISFIABLE,
                            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                            "invalid range\n",
                        )
                            .into_response();
                        r.headers_mut()
                            .insert(header::CONTENT_RANGE, hv(&format!("bytes */{size}")));
                        Ok(r)
                    }
                }
            }
            Method::DELETE => {
                store.delete_blob(&name, &digest).await?;
                Ok(empty(StatusCode::ACCEPTED, &[]))
            }
            _ => Err(unsupported()),
        },
        Route::UploadStart { name } => {
            if method != Method::POST {
                return Err(unsupported());
            }
            // a mount needs pull on the source too; without it the client uploads
            let may_read_from = q("from").is_none_or(|from| {
                let need = [Need::Repo {
                    name: from,
                    action: "pull",
                }];
                reg.auth.decide(authz, &need, false, now) == Decision::Allow
            });
            if let Some(m) = q("mount")
                && may_read_from
                && let Ok(d) = Digest::parse(&m)
                && store.mount(&name, &d, q("from").as_deref()).await?
            {
                return Ok(created_blob(&name, &d));
            }
            let id = store.start_upload(&name).await?;
            if let Some(d) = q("digest") {
                // monolithic upload: POST with the whole blob and its digest
                let d = Digest::parse(&d)
                    .map_err(|e| Error::new(Code::DigestInvalid, e.to_string()))?;
                let r = async {
                    stream_into(store, &name, &id, None, body).await?;
                    store.finish_upload(&name, &id, &d).await
                }
                .await;
                if r.is_err() {
                    let _ = store.cancel_upload(&name, &id).await;
                }
                r?;
                return Ok(created_blob(&name, &d));
            }
            Ok(upload_status(StatusCode::ACCEPTED, &name, &id, 0))
        }
        Route::Upload { name, id } => match method {
            Method::GET => {
                let off = store.upload_offset(&name, &id).await?;
                Ok(upload_status(StatusCode::NO_CONTENT, &name, &id, off))
            }
            Method::PATCH => {
                let start = match header_str(&parts.headers, header::CONTENT_RANGE) {
                    None => None,
                    Some(cr) => Some(parse_content_range(cr)?),
                };
                let off = stream_into(store, &name, &id, start, body).await?;
                Ok(upload_status(StatusCode::ACCEPTED, &name, &id, off))
            }
            Method::PUT => {
                let Some(d) = q("digest") else {
                    return Err(Error::new(
                        Code::DigestInvalid,
                        "the digest query parameter is required",
                    ));
                };
                let d = Digest::parse(&d)
                    .map_err(|e| Error::new(Code::DigestInvalid, e.to_string()))?;
                stream_into(store, &name, &id, None, body).await?;
                store.finish_upload(&name, &id, &d).await?;
                Ok(created_blob(&name, &d))
            }
            Method::DELETE => {
                store.cancel_upload(&name, &id).await?;
                Ok(empty(StatusCode::NO_CONTENT, &[]))
            }
            _ => Err(unsupported()),
        },
        Route::Manifest { name, reference } => match method {
            Method::GET | Method::HEAD => {
                let m = store.get_manifest(&name, &reference).await?;
                let len = m.body.len();
                let b = if method == Method::GET {
                    Body::from(m.body)
                } else {
                    Body::empty()
                };
                let mut r = Response::new(b);
                let h = r.headers_mut();
                h.insert(header::CONTENT_TYPE, hv(&m.media_type));
                h.insert(header::CONTENT_LENGTH, hv(&len.to_string()));
                h.insert("Docker-Content-Digest", hv(&m.digest.to_string()));
                h.insert(header::ETAG, hv(&format!("\"{}\"", m.digest)));
                Ok(r)
            }
            Method::PUT => {
                let ct = header_str(&parts.headers, header::CONTENT_TYPE).map(String::from);
                let bytes = http_body_util::Limited::new(body, MAX_MANIFEST_BYTES)
                    .collect()
                    .await
                    .map_err(|_| {
                        Error::new(
                            Code::SizeInvalid,
                            format!("manifest larger than {MAX_MANIFEST_BYTES} bytes or the request failed"),
                        )
                    })?
                    .to_bytes();
                let (d, m) = store
                    .put_manifest(&name, &reference, ct.as_deref(), &bytes)
                    .await?;
                let mut hs = vec![
                    ("Location", format!("/v2/{name}/manifests/{d}")),
                    ("Docker-Content-Digest", d.to_string()),
                ];
                if let Some(s) = m.subject {
                    hs.push(("OCI-Subject", s.digest.to_string()));
                }
                Ok(empty(StatusCode::CREATED, &hs))
            }
            Method::DELETE => {
                store.delete_manifest(&name, &reference).await?;
                Ok(empty(StatusCode::ACCEPTED, &[]))
            }
            _ => Err(unsupported()),
        },
    }
}

/// What a route asks of the credentials (the scope a bearer token must grant).
fn needs(route: &Result<Route>, method: &Method) -> Vec<Need> {
    let read = matches!(*method, Method::GET | Method::HEAD);
    let repo = |name: &str, action: &'static str| {
        vec![Need::Repo {
            name: name.to_string(),
            action,
        }]
    };
    match route {
        Err(_) | Ok(Route::Base) | Ok(Route::Token) => vec![Need::Any],
        Ok(Route::Catalog) => vec![Need::Catalog],
        Ok(Route::Tags { name }) | Ok(Route::Referrers { name, .. }) => repo(name, "pull"),
        Ok(Route::Blob { name, .. }) | Ok(Route::Manifest { name, .. }) => {
            if read {
                repo(name, "pull")
            } else if *method == Method::DELETE {
                repo(name, "delete")
            } else {
                repo(name, "push")
            }
        }
        Ok(Route::UploadStart { name }) | Ok(Route::Upload { name, .. }) => repo(name, "push"),
    }
}

/// The token endpoint of the Docker Registry token flow (distribution
/// docs/spec/auth/token.md): `GET /v2/token?service=..&scope=..` with Basic credentials
/// (or none, for anonymous pull), and the OAuth2 password grant (`POST` form with
/// `grant_type=password`, `username`, `password`, `scope`; docs/spec/auth/oauth.md).
/// Answers `{"token", "access_token", "expires_in"}`.
async fn token_endpoint(
    reg: &Registry,
    method: &Method,
    authz: Option<&str>,
    query: Option<&str>,
    body: Body,
    now: u64,
) -> Result<Response> {
    use base64::Engine as _;
    let (scopes, authz) = match *method {
        Method::GET => (query_params(query, "scope"), authz.map(String::from)),
        Method::POST => {
            let bytes = http_body_util::Limited::new(body, 64 << 10)
                .collect()
                .await
                .map_err(|_| Error::new(Code::Unsupported, "token request body too large"))?
                .to_bytes();
            let form = String::from_utf8_lossy(&bytes).into_owned();
            let form = Some(form.as_str());
            if query_param(form, "grant_type").as_deref() != Some("password") {
                return Ok(json(
                    StatusCode::BAD_REQUEST,
                    "application/json",
                    &serde_json::json!({"error": "unsupported_grant_type"}),
                ));
            }
            let user = query_params(form, "username").concat();
            let pass = query_params(form, "password").concat();
            let basic = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
            );
            (query_params(form, "scope"), Some(basic))
        }
        _ => {
            return Err(Error::new(
                Code::Unsupported,
                format!("{method} is not supported here"),
            ));
        }
    };
    let scopes: Vec<String> = scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        .map(String::from)
        .collect();
    let Some(access) = reg.auth.grant(authz.as_deref(), &scopes) else {
        return Err(Error::new(Code::Unauthorized, "authentication required"));
    };
    let t = reg.auth.issue(access, now);
    Ok(json(
        StatusCode::OK,
        "application/json",
        &serde_json::json!({
            "token": t,
            "access_token": t,
            "expires_in": crate::auth::TOKEN_SECONDS,
        }),
    ))
}

fn blob_headers(mut r: Response, d: &Digest, size: u64) -> Response {
    let h = r.headers_mut();
    h.insert(header::CONTENT_LENGTH, hv(&size.to_string()));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert("Docker-Content-Digest", hv(&d.to_string()));
    h.insert(header::ETAG, hv(&format!("\"{d}\"")));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    r
}

/// What a blob GET with a `Range` header sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// The whole blob (200): no usable single range.
    Full,
    /// `206 Partial Content` of `len` bytes from `start`.
    Part { start: u64, len: u64 },
    /// `416 Range Not Satisfiable` with `Content-Range: bytes */SIZE`.
    Unsatisfiable,
}

/// A `Range` header against a blob of `size` bytes, as distribution answers it (its
/// blob server is Go's `http.ServeContent`, `parseRange`): `bytes=a-b`, `bytes=a-`,
/// `bytes=-n` (the last n bytes); an end past the blob is clamped; a malformed header, or
/// ranges that all start past the end, are 416. Several satisfiable ranges are answered
/// with the whole blob (RFC 9110 14.2 lets a server ignore `Range`; Go would send
/// multipart/byteranges, which no registry client asks for).
pub fn parse_range(h: &str, size: u64) -> ByteRange {
    let Some(spec) = h.strip_prefix("bytes=") else {
        return ByteRange::Unsatisfiable;
    };
    let mut ranges = Vec::new();
    let mut no_overlap = false;
    for ra in spec.split(',') {
        let ra = ra.trim_matches(|c| c == ' ' || c == '\t');
        if ra.is_empty() {
            continue;
        }
        let Some((start, end)) = ra.split_once('-') else {
            return ByteRange::Unsatisfiable;
        };
        let (start, end) = (start.trim(), end.trim());
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if start.is_empty() {
            // suffix: the last `end` bytes
            let Some(n) = Some(end)
                .filter(|e| digits(e))
                .and_then(|e| e.parse::<u64>().ok())
            else {
                return ByteRange::Unsatisfiable;
            };
            let n = n.min(size);
            if n == 0 {
                // RFC 9110 14.1.3: a suffix of zero bytes is unsatisfiable
                no_overlap = true;
                continue;
            }
            ranges.push((size - n, n));
            continue;
        }
        let Some(a) = Some(start)
            .filter(|s| digits(s))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            return ByteRange::Unsatisfiable;
        };
        if a >= size {
            no_overlap = true;
            continue;
        }
        let len = if end.is_empty() {
            size - a
        } else {
            let Some(b) = Some(end)
                .filter(|e| digits(e))
                .and_then(|e| e.parse::<u64>().ok())
            else {
                return ByteRange::Unsatisfiable;
            };
            if b < a {
                return ByteRange::Unsatisfiable;
            }
            b.min(size - 1) - a + 1
        };
        ranges.push((a, len));
    }
    match ranges.as_slice() {
        [] if no_overlap => ByteRange::Unsatisfiable,
        [(start, len)] => ByteRange::Part {
            start: *start,
            len: *len,
        },
        _ => ByteRange::Full,
    }
}

fn created_blob(name: &str, d: &Digest) -> Response {
    empty(
        StatusCode::CREATED,
        &[
            ("Location", format!("/v2/{name}/blobs/{d}")),
            ("Docker-Content-Digest", d.to_string()),
        ],
    )
}

fn upload_status(status: StatusCode, name: &str, id: &str, offset: u64) -> Response {
    // Range is inclusive: `0-<last byte>`; with nothing received, distribution says `0-0`
    let end = offset.saturating_sub(1);
    empty(
        status,
        &[
            ("Location", format!("/v2/{name}/blobs/uploads/{id}")),
            ("Range", format!("0-{end}")),
            ("Docker-Upload-UUID", id.to_string()),
            ("Content-Length", "0".into()),
        ],
    )
}

/// `Content-Range: <start>-<end>` (also `bytes <start>-<end>/<size>`): the start.
pub fn parse_content_range(v: &str) -> Result<u64> {
    let v = v.trim();
    let v = v.strip_prefix("bytes ").unwrap_or(v);
    let v = v.split('/').next().unwrap_or("");
    let bad = || Error::new(Code::RangeInvalid, format!("invalid Content-Range {v:?}"));
    let (s, e) = v.split_once('-').ok_or_else(bad)?;
    let s: u64 = s.trim().parse().map_err(|_| bad())?;
    let e: u64 = e.trim().parse().map_err(|_| bad())?;
    if e < s {
        return Err(bad());
    }
    Ok(s)
}

/// Streams a request body into an upload session; returns the session's offset.
async fn stream_into(
    store: &Store,
    name: &str,
    id: &str,
    start: Option<u64>,
    mut body: Body,
) -> Result<u64> {
    let mut app = store.append(name, id, start).await?;
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data()
                    && let Err(e) = app.write(&data).await
                {
                    app.abandon();
                    return Err(e);
                }
            }
            Some(Err(_)) => {
                app.abandon();
                return Err(Error::new(
                    Code::BlobUploadInvalid,
                    "the request body ended early",
                ));
            }
        }
    }
    app.close().await
}

/// A page of names and, when more remain, the next page's `(n, last)`.
pub type Page = (Vec<String>, Option<(usize, String)>);

/// Tag and catalog pagination: entries after `last`, at most `n`; the next page's
/// `(n, last)` when more remain.
pub fn paginate(all: Vec<String>, n: Option<&str>, last: Option<&str>) -> Result<Page> {
    let n = match n {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<usize>()
                .map_err(|_| Error::new(Code::Unsupported, format!("n={s:?} is not a number")))?,
        ),
    };
    let mut rest: Vec<String> = match last {
        Some(l) if !l.is_empty() => all.into_iter().filter(|t| t.as_str() > l).collect(),
        _ => all,
    };
    match n {
        Some(n) if rest.len() > n => {
            rest.truncate(n);
            let next = rest.last().cloned().map(|l| (n, l));
            Ok((rest, next))
        }
        _ => Ok((rest, None)),
    }
}

/// For the binary: the reference string of a manifest path segment, parsed.
pub fn parse_reference(s: &str) -> Option<Reference> {
    Reference::parse(s).and_then(|r| r.ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination() {
        let all: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            paginate(all.clone(), Some("2"), None).expect("ok"),
            (vec!["a".into(), "b".into()], Some((2, "b".into())))
        );
        assert_eq!(
            paginate(all.clone(), Some("2"), Some("b")).expect("ok"),
            (vec!["c".into(), "d".into()], None)
        );
        assert_eq!(
            paginate(all.clone(), Some("0"), None).expect("ok").0.len(),
            0
        );
        assert!(paginate(all, Some("x"), None).is_err());
    }

    // Go net/http fs.go parseRange and ServeContent, which distribution's blob server uses
    #[test]
    fn byte_ranges() {
        use ByteRange::*;
        assert_eq!(parse_range("bytes=0-9", 100), Part { start: 0, len: 10 });
        assert_eq!(parse_range("bytes=90-", 100), Part { start: 90, len: 10 });
        assert_eq!(parse_range("bytes=-10", 100), Part { start: 90, len: 10 });
        assert_eq!(parse_range("bytes=-1000", 100), Part { start: 0, len: 100 });
        assert_eq!(
            parse_range("bytes=95-1000", 100),
            Part { start: 95, len: 5 }
        );
        assert_eq!(parse_range("bytes= 5-6 ", 100), Part { start: 5, len: 2 });
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(
            parse_range("bytes=200-300, 1-2", 100),
            Part { start: 1, len: 2 }
        );
        assert_eq!(parse_range("bytes=9-1", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=x-1", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=--1", 100), Unsatisfiable);
        assert_eq!(parse_range("items=0-1", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Full);
    }

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range("0-99").expect("ok"), 0);
        assert_eq!(parse_content_range("bytes 100-199/*").expect("ok"), 100);
        assert!(parse_content_range("5-1").is_err());
        assert!(parse_content_range("x").is_err());
    }
}
