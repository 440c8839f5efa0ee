//! The registry's HTTP API in process (tower `oneshot`), against the OCI Distribution Spec
//! v1.1 (opencontainers/distribution-spec spec.md: "Pushing blobs", "Pushing a blob in
//! chunks", "Mounting a blob from another repository", "Pushing Manifests", "Listing
//! Tags", "Listing Referrers", "Deleting", "Error Codes").

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use sluice_registry::{Auth, Digest, Options, Registry};
use tower::ServiceExt;

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn h(&self, k: &str) -> &str {
        self.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("json body")
    }
    fn code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

fn open(dir: &std::path::Path, auth: Auth) -> Arc<Registry> {
    Registry::open(Options {
        root: dir.to_path_buf(),
        auth,
        max_blob_bytes: 1 << 20,
    })
    .expect("opens")
}

async fn call(
    reg: &Arc<Registry>,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Resp {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = reg
        .router()
        .oneshot(b.body(Body::from(body)).expect("request"))
        .await
        .expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .expect("body")
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("sluice-registry-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

async fn push_blob(reg: &Arc<Registry>, name: &str, data: &[u8]) -> Digest {
    let d = Digest::sha256_of(data);
    let r = call(
        reg,
        "POST",
        &format!("/v2/{name}/blobs/uploads/?digest={d}"),
        &[],
        data.to_vec(),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{:?}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.h("Docker-Content-Digest"), d.to_string());
    d
}

fn image_manifest(config: &Digest, layer: &Digest, subject: Option<(&Digest, usize)>) -> Vec<u8> {
    let mut m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.to_string(), "size": 5}],
    });
    if let Some((s, size)) = subject {
        m["subject"] = serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": s.to_string(), "size": size});
        m["artifactType"] = "application/vnd.example.sbom".into();
    }
    serde_json::to_vec(&m).expect("json")
}

#[tokio::test]
async fn push_pull_chunked_tags_referrers_delete_gc() {
    let dir = tmp("flow");
    let reg = open(&dir, Auth::default());
    assert_eq!(
        call(&reg, "GET", "/v2/", &[], vec![]).await.status,
        StatusCode::OK
    );

    // chunked upload: POST, PATCH, PATCH, PUT
    let r = call(&reg, "POST", "/v2/app/blobs/uploads/", &[], vec![]).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let loc = r.h("Location").to_string();
    assert!(loc.starts_with("/v2/app/blobs/uploads/"));
    let r = call(
        &reg,
        "PATCH",
        &loc,
        &[("Content-Range", "0-2")],
        b"hel".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.h("Range"), "0-2");
    // a chunk that does not continue the upload: 416
    let r = call(
        &reg,
        "PATCH",
        &loc,
        &[("Content-Range", "0-1")],
        b"lo".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    let r = call(
        &reg,
        "PATCH",
        &loc,
        &[("Content-Range", "3-4")],
        b"lo".to_vec(),
    )
    .await;
    assert_eq!(r.h("Range"), "0-4");
    let r = call(&reg, "GET", &loc, &[], vec![]).await;
    assert_eq!((r.status, r.h("Range")), (StatusCode::NO_CONTENT, "0-4"));
    let layer = Digest::sha256_of(b"hello");
    let r = call(&reg, "PUT", &format!("{loc}?digest={layer}"), &[], vec![]).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.h("Location"), format!("/v2/app/blobs/{layer}"));

    let r = call(&reg, "GET", &format!("/v2/app/blobs/{layer}"), &[], vec![]).await;
    assert_eq!(
        (r.status, r.body.as_slice()),
        (StatusCode::OK, &b"hello"[..])
    );
    let r = call(&reg, "HEAD", &format!("/v2/app/blobs/{layer}"), &[], vec![]).await;
    assert_eq!((r.h("Content-Length"), r.body.len()), ("5", 0));
    // other repositories do not see it until mounted
    let r = call(
        &reg,
        "HEAD",
        &format!("/v2/other/blobs/{layer}"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = call(
        &reg,
        "POST",
        &format!("/v2/other/blobs/uploads/?mount={layer}&from=app"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = call(
        &reg,
        "HEAD",
        &format!("/v2/other/blobs/{layer}"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);

    let config = push_blob(&reg, "app", b"{}").await;
    let manifest = image_manifest(&config, &layer, None);
    let md = Digest::sha256_of(&manifest);
    for tag in ["v1", "v2", "v3"] {
        let r = call(
            &reg,
            "PUT",
            &format!("/v2/app/manifests/{tag}"),
            &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
            manifest.clone(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(r.h("Docker-Content-Digest"), md.to_string());
    }
    let r = call(&reg, "GET", "/v2/app/manifests/v1", &[], vec![]).await;
    assert_eq!(r.body, manifest);
    assert_eq!(
        r.h("Content-Type"),
        "application/vnd.oci.image.manifest.v1+json"
    );
    let r = call(&reg, "GET", &format!("/v2/app/manifests/{md}"), &[], vec![]).await;
    assert_eq!(r.status, StatusCode::OK);

    // tags, paginated with a Link header
    let r = call(&reg, "GET", "/v2/app/tags/list?n=2", &[], vec![]).await;
    assert_eq!(
        r.json(),
        serde_json::json!({"name": "app", "tags": ["v1", "v2"]})
    );
    assert_eq!(r.h("Link"), "</v2/app/tags/list?n=2&last=v2>; rel=\"next\"");
    let r = call(&reg, "GET", "/v2/app/tags/list?n=2&last=v2", &[], vec![]).await;
    assert_eq!(r.json()["tags"], serde_json::json!(["v3"]));
    assert_eq!(r.h("Link"), "");
    let r = call(&reg, "GET", "/v2/nope/tags/list", &[], vec![]).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "NAME_UNKNOWN".into())
    );
    let r = call(&reg, "GET", "/v2/_catalog", &[], vec![]).await;
    assert_eq!(
        r.json(),
        serde_json::json!({"repositories": ["app", "other"]})
    );

    // a referrer (an SBOM-like artifact whose subject is the image)
    let sbom = image_manifest(&config, &layer, Some((&md, manifest.len())));
    let sd = Digest::sha256_of(&sbom);
    let r = call(
        &reg,
        "PUT",
        &format!("/v2/app/manifests/{sd}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        sbom.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.h("OCI-Subject"), md.to_string());
    let r = call(&reg, "GET", &format!("/v2/app/referrers/{md}"), &[], vec![]).await;
    assert_eq!(
        r.h("Content-Type"),
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(r.json()["manifests"][0]["digest"], sd.to_string());
    assert_eq!(
        r.json()["manifests"][0]["artifactType"],
        "application/vnd.example.sbom"
    );
    let r = call(
        &reg,
        "GET",
        &format!("/v2/app/referrers/{md}?artifactType=application/vnd.other"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.h("OCI-Filters-Applied"), "artifactType");
    assert_eq!(r.json()["manifests"], serde_json::json!([]));

    // delete a tag, then the manifest by digest (its other tags go with it)
    let r = call(&reg, "DELETE", "/v2/app/manifests/v3", &[], vec![]).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = call(
        &reg,
        "DELETE",
        &format!("/v2/app/manifests/{sd}"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = call(&reg, "GET", &format!("/v2/app/referrers/{md}"), &[], vec![]).await;
    assert_eq!(r.json()["manifests"], serde_json::json!([]));
    let r = call(
        &reg,
        "DELETE",
        &format!("/v2/app/manifests/{md}"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = call(&reg, "GET", "/v2/app/manifests/v1", &[], vec![]).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN".into())
    );

    // garbage collection: nothing references the blobs now
    let stats = reg.store().gc(std::time::Duration::ZERO).await.expect("gc");
    assert_eq!(stats.blobs_removed, 4, "{stats:?}");
    let r = call(&reg, "GET", &format!("/v2/app/blobs/{layer}"), &[], vec![]).await;
    assert_eq!(r.code(), "BLOB_UNKNOWN");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn gc_keeps_what_manifests_reference() {
    let dir = tmp("gc");
    let reg = open(&dir, Auth::default());
    let layer = push_blob(&reg, "a", b"hello").await;
    let config = push_blob(&reg, "a", b"{}").await;
    let orphan = push_blob(&reg, "a", b"orphan").await;
    let m = image_manifest(&config, &layer, None);
    let r = call(&reg, "PUT", "/v2/a/manifests/v1", &[], m).await;
    assert_eq!(r.status, StatusCode::CREATED);
    // within the grace period nothing goes
    let s = reg
        .store()
        .gc(std::time::Duration::from_secs(3600))
        .await
        .expect("gc");
    assert_eq!(s.blobs_removed, 0);
    let s = reg.store().gc(std::time::Duration::ZERO).await.expect("gc");
    assert_eq!((s.blobs_removed, s.bytes_freed, s.blobs_kept), (1, 6, 3));
    let r = call(&reg, "HEAD", &format!("/v2/a/blobs/{orphan}"), &[], vec![]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = call(&reg, "HEAD", &format!("/v2/a/blobs/{layer}"), &[], vec![]).await;
    assert_eq!(r.status, StatusCode::OK);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn put_manifest(reg: &Arc<Registry>, name: &str, reference: &str, m: &[u8]) -> Digest {
    let r = call(
        reg,
        "PUT",
        &format!("/v2/{name}/manifests/{reference}"),
        &[],
        m.to_vec(),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    Digest::sha256_of(m)
}

// distribution's `registry garbage-collect --delete-untagged` (docs/garbage-collection.md:
// "delete manifests that are not currently referenced via tag"), keeping what an image
// index or a kept manifest's referrers reach (gitlab-org/container-registry#149 is the
// bug of unlinking an index's platform manifests)
#[tokio::test]
async fn gc_delete_untagged() {
    use sluice_registry::store::GcOptions;
    let dir = tmp("gc-untagged");
    let reg = open(&dir, Auth::default());
    let config = push_blob(&reg, "u", b"{}").await;
    let l1 = push_blob(&reg, "u", b"layer1").await;
    let l2 = push_blob(&reg, "u", b"layer2").await;
    let l3 = push_blob(&reg, "u", b"layer3").await;
    let l4 = push_blob(&reg, "u", b"layer4").await;
    let l5 = push_blob(&reg, "u", b"layer5").await;
    let m1b = image_manifest(&config, &l1, None);
    let m1 = put_manifest(&reg, "u", "v1", &m1b).await;
    // the tag moves on: m1 is untagged
    let m2b = image_manifest(&config, &l2, None);
    let m2 = put_manifest(&reg, "u", "v1", &m2b).await;
    // a platform manifest reached through a tagged index
    let m3b = image_manifest(&config, &l3, None);
    let m3 = put_manifest(&reg, "u", &Digest::sha256_of(&m3b).to_string(), &m3b).await;
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m3.to_string(), "size": m3b.len()}],
    }))
    .expect("json");
    put_manifest(&reg, "u", "multi", &index).await;
    // a referrer of the tagged m2 stays; one of the untagged m1 goes with it
    let sbom_b = image_manifest(&config, &l4, Some((&m2, m2b.len())));
    let sbom = put_manifest(&reg, "u", &Digest::sha256_of(&sbom_b).to_string(), &sbom_b).await;
    let old_b = image_manifest(&config, &l5, Some((&m1, m1b.len())));
    put_manifest(&reg, "u", &Digest::sha256_of(&old_b).to_string(), &old_b).await;
    // m1 tagged in another repository keeps its blobs there
    push_blob(&reg, "w", b"{}").await;
    push_blob(&reg, "w", b"layer1").await;
    put_manifest(&reg, "w", "keep", &m1b).await;

    // without delete_untagged, or within the grace period, every manifest stays
    let s = reg.store().gc(std::time::Duration::ZERO).await.expect("gc");
    assert_eq!((s.manifests_removed, s.blobs_removed), (0, 0), "{s:?}");
    let s = reg
        .store()
        .gc_with(GcOptions {
            grace: std::time::Duration::from_secs(3600),
            delete_untagged: true,
        })
        .await
        .expect("gc");
    assert_eq!((s.manifests_removed, s.blobs_removed), (0, 0), "{s:?}");

    let s = reg
        .store()
        .gc_with(GcOptions {
            grace: std::time::Duration::ZERO,
            delete_untagged: true,
        })
        .await
        .expect("gc");
    // m1 and its referrer unlinked from u; the referrer's manifest blob and layer5 freed
    assert_eq!((s.manifests_removed, s.blobs_removed), (2, 2), "{s:?}");
    let get = |name: &'static str, what: String| {
        let reg = reg.clone();
        async move { call(&reg, "GET", &format!("/v2/{name}/{what}"), &[], vec![]).await }
    };
    assert_eq!(
        get("u", format!("manifests/{m1}")).await.code(),
        "MANIFEST_UNKNOWN"
    );
    assert_eq!(get("u", format!("blobs/{l5}")).await.code(), "BLOB_UNKNOWN");
    for ok in [
        get("u", format!("manifests/{m2}")).await,
        get("u", format!("manifests/{m3}")).await,
        get("u", "manifests/multi".into()).await,
        get("u", format!("manifests/{sbom}")).await,
        get("u", format!("blobs/{l3}")).await,
        get("u", format!("blobs/{l4}")).await,
        get("w", "manifests/keep".into()).await,
        get("w", format!("blobs/{l1}")).await,
    ] {
        assert_eq!(
            ok.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&ok.body)
        );
    }
    let r = get("u", format!("referrers/{m2}")).await;
    assert_eq!(r.json()["manifests"][0]["digest"], sbom.to_string());
    let r = get("u", format!("referrers/{m1}")).await;
    assert_eq!(r.json()["manifests"], serde_json::json!([]));
    let _ = std::fs::remove_dir_all(&dir);
}

// distribution serves blobs with Go's http.ServeContent: `Range: bytes=a-b` is 206 with
// Content-Range, a range past the end 416 with `Content-Range: bytes */SIZE`
#[tokio::test]
async fn blob_range_requests() {
    let dir = tmp("range");
    let reg = open(&dir, Auth::default());
    let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let d = push_blob(&reg, "r", &data).await;
    let uri = format!("/v2/r/blobs/{d}");
    let r = call(&reg, "GET", &uri, &[("Range", "bytes=10-19")], vec![]).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.h("Content-Range"), "bytes 10-19/1000");
    assert_eq!(r.h("Content-Length"), "10");
    assert_eq!(r.body, data[10..20]);
    let r = call(&reg, "GET", &uri, &[("Range", "bytes=-5")], vec![]).await;
    assert_eq!(
        (r.status, r.body.as_slice()),
        (StatusCode::PARTIAL_CONTENT, &data[995..])
    );
    let r = call(&reg, "GET", &uri, &[("Range", "bytes=990-")], vec![]).await;
    assert_eq!(r.h("Content-Range"), "bytes 990-999/1000");
    assert_eq!(r.body, data[990..]);
    for bad in ["bytes=1000-", "bytes=5-1", "pages=1-2"] {
        let r = call(&reg, "GET", &uri, &[("Range", bad)], vec![]).await;
        assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE, "{bad}");
        assert_eq!(r.h("Content-Range"), "bytes */1000", "{bad}");
    }
    let r = call(&reg, "GET", &uri, &[], vec![]).await;
    assert_eq!((r.status, r.h("Accept-Ranges")), (StatusCode::OK, "bytes"));
    assert_eq!(r.body, data);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bad_input_gets_spec_errors_and_stores_nothing() {
    let dir = tmp("bad");
    let reg = open(&dir, Auth::default());
    let wrong = Digest::sha256_of(b"something else");
    let r = call(
        &reg,
        "POST",
        &format!("/v2/a/blobs/uploads/?digest={wrong}"),
        &[],
        b"hello".to_vec(),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "DIGEST_INVALID".into())
    );
    assert_eq!(
        std::fs::read_dir(dir.join("blobs/sha256"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "nothing stored"
    );
    assert_eq!(
        std::fs::read_dir(dir.join("uploads")).expect("dir").count(),
        0
    );
    let r = call(&reg, "GET", "/v2/Bad_Name/tags/list", &[], vec![]).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "NAME_INVALID".into())
    );
    let r = call(&reg, "GET", "/v2/a/blobs/sha256:abc", &[], vec![]).await;
    assert_eq!(r.code(), "DIGEST_INVALID");
    let r = call(
        &reg,
        "PATCH",
        "/v2/a/blobs/uploads/nope",
        &[],
        b"x".to_vec(),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN".into())
    );
    // a manifest whose blobs are not there, one that is not JSON, one with the wrong digest
    let m = image_manifest(&wrong, &wrong, None);
    let r = call(&reg, "PUT", "/v2/a/manifests/v1", &[], m.clone()).await;
    assert_eq!(r.code(), "MANIFEST_BLOB_UNKNOWN");
    let r = call(&reg, "PUT", "/v2/a/manifests/v1", &[], b"{".to_vec()).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "MANIFEST_INVALID".into())
    );
    let r = call(&reg, "PUT", &format!("/v2/a/manifests/{wrong}"), &[], m).await;
    assert_eq!(r.code(), "DIGEST_INVALID");
    // past the size limit (1 MiB here)
    let big = vec![0u8; (1 << 20) + 1];
    let r = call(
        &reg,
        "POST",
        &format!("/v2/a/blobs/uploads/?digest={}", Digest::sha256_of(&big)),
        &[],
        big,
    )
    .await;
    assert_eq!(r.code(), "SIZE_INVALID");
    // a manifest past 4 MiB
    let r = call(
        &reg,
        "PUT",
        "/v2/a/manifests/v1",
        &[],
        vec![b' '; (4 << 20) + 1],
    )
    .await;
    assert_eq!(r.code(), "SIZE_INVALID");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn credentials() {
    let dir = tmp("auth");
    let reg = open(
        &dir,
        Auth {
            token: Some("s3cret".into()),
            ..Auth::default()
        },
    );
    let r = call(&reg, "GET", "/v2/", &[], vec![]).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "UNAUTHORIZED".into())
    );
    // the Docker Registry token authentication spec's challenge (distribution
    // docs/spec/auth/token.md "How to authenticate")
    assert_eq!(
        r.h("WWW-Authenticate"),
        "Bearer realm=\"https://localhost/v2/token\",service=\"sluice-registry\""
    );
    let r = call(
        &reg,
        "PUT",
        "/v2/team/app/manifests/v1",
        &[("Host", "reg.example:5000")],
        vec![],
    )
    .await;
    assert_eq!(
        r.h("WWW-Authenticate"),
        "Bearer realm=\"https://reg.example:5000/v2/token\",service=\"sluice-registry\",scope=\"repository:team/app:pull,push\""
    );
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("me:s3cret")
    );
    let r = call(&reg, "GET", "/v2/", &[("Authorization", &basic)], vec![]).await;
    assert_eq!(r.status, StatusCode::OK);
    // the token flow: credentials in, a token for the scopes asked out
    let r = call(
        &reg,
        "GET",
        "/v2/token?service=sluice-registry&scope=repository:a:pull&scope=repository:b:pull,push",
        &[("Authorization", &basic)],
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let tok = r.json()["token"].as_str().expect("token").to_string();
    assert_eq!(r.json()["access_token"], tok.as_str());
    assert_eq!(r.json()["expires_in"], 1800);
    let bearer = format!("Bearer {tok}");
    let push = |name: &str| format!("/v2/{name}/blobs/uploads/");
    let r = call(
        &reg,
        "POST",
        &push("b"),
        &[("Authorization", &bearer)],
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = call(
        &reg,
        "GET",
        "/v2/a/tags/list",
        &[("Authorization", &bearer)],
        vec![],
    )
    .await;
    assert_eq!(r.code(), "NAME_UNKNOWN", "pull on a is granted");
    // beyond the token's scopes: 401 naming the scope, error="insufficient_scope"
    let r = call(
        &reg,
        "POST",
        &push("a"),
        &[("Authorization", &bearer)],
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.h("WWW-Authenticate")
            .ends_with("scope=\"repository:a:pull,push\",error=\"insufficient_scope\""),
        "{}",
        r.h("WWW-Authenticate")
    );
    let r = call(
        &reg,
        "GET",
        "/v2/_catalog",
        &[("Authorization", &bearer)],
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // wrong credentials get no token (the token endpoint's own challenge is Basic)
    let wrong = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("me:nope")
    );
    let r = call(
        &reg,
        "GET",
        "/v2/token?scope=repository:a:pull",
        &[("Authorization", &wrong)],
        vec![],
    )
    .await;
    assert_eq!(
        (r.status, r.h("WWW-Authenticate")),
        (StatusCode::UNAUTHORIZED, "Basic realm=\"sluice-registry\"")
    );
    // OAuth2 password grant (docs/spec/auth/oauth.md)
    let r = call(
        &reg,
        "POST",
        "/v2/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"grant_type=password&service=sluice-registry&client_id=t&username=u&password=s3cret&scope=registry%3Acatalog%3A*+repository%3Ac%3Apull"
            .to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let oauth = format!(
        "Bearer {}",
        r.json()["access_token"].as_str().expect("token")
    );
    let r = call(
        &reg,
        "GET",
        "/v2/_catalog",
        &[("Authorization", &oauth)],
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &reg,
        "POST",
        "/v2/token",
        &[],
        b"grant_type=refresh_token&refresh_token=x".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = call(
        &reg,
        "POST",
        "/v2/a/blobs/uploads/",
        &[("Authorization", "Bearer s3cret")],
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = call(
        &reg,
        "POST",
        "/v2/a/blobs/uploads/",
        &[("Authorization", "Bearer wrong")],
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let anon = open(
        &tmp("anon"),
        Auth {
            token: Some("s3cret".into()),
            anonymous_pull: true,
            ..Auth::default()
        },
    );
    assert_eq!(
        call(&anon, "GET", "/v2/", &[], vec![]).await.status,
        StatusCode::OK
    );
    let r = call(&anon, "POST", "/v2/a/blobs/uploads/", &[], vec![]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // an anonymous token request gets pull only
    let r = call(
        &anon,
        "GET",
        "/v2/token?scope=repository:a:pull,push",
        &[],
        vec![],
    )
    .await;
    let anon_bearer = format!("Bearer {}", r.json()["token"].as_str().expect("token"));
    let r = call(
        &anon,
        "POST",
        "/v2/a/blobs/uploads/",
        &[("Authorization", &anon_bearer)],
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(tmp("anon"));
}
