//! The spec's endpoints as a pure function of the path: names contain `/`, so the route
//! is found from the right (`.../blobs/uploads/<id>`, `.../manifests/<ref>`, ...), as
//! distribution's router does.

use crate::error::{Code, Error};
use crate::reference::{Digest, Reference, valid_name};

/// One endpoint of the spec, with its path parameters parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/` (end-1)
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/blobs/<digest>`
    Blob { name: String, digest: Digest },
    /// `/v2/<name>/blobs/uploads/`
    UploadStart { name: String },
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload { name: String, id: String },
    /// `/v2/<name>/manifests/<reference>`
    Manifest { name: String, reference: Reference },
    /// `/v2/<name>/tags/list`
    Tags { name: String },
    /// `/v2/<name>/referrers/<digest>`
    Referrers { name: String, digest: Digest },
    /// `/v2/token`: the token endpoint of the Bearer flow (Sluice's own realm)
    Token,
}

/// Longest upload session id accepted in a path.
const MAX_ID_LEN: usize = 128;

fn name_of(name: &str) -> Result<String, Error> {
    if valid_name(name) {
        Ok(name.to_string())
    } else {
        Err(Error::new(Code::NameInvalid, "invalid repository name")
            .with_detail(serde_json::json!({ "name": name })))
    }
}

fn digest_of(s: &str) -> Result<Digest, Error> {
    Digest::parse(s).map_err(|e| Error::new(Code::DigestInvalid, e.to_string()))
}

/// Parses a path under `/v2`. `None`: not a registry endpoint (404 without a body code).
pub fn parse(path: &str) -> Option<Result<Route, Error>> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Ok(Route::Base));
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Ok(Route::Catalog));
    }
    if rest == "token" {
        return Some(Ok(Route::Token));
    }
    if let Some(name) = rest.strip_suffix("/blobs/uploads/") {
        return Some(name_of(name).map(|name| Route::UploadStart { name }));
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(name_of(name).map(|name| Route::Tags { name }));
    }
    // `<name>/<kind>/<last>`: split the last two segments off
    let (head, last) = rest.rsplit_once('/')?;
    let (name, kind) = head.rsplit_once('/')?;
    if last.is_empty() {
        return None;
    }
    Some(match kind {
        "uploads" => {
            let name = name.strip_suffix("/blobs")?;
            let ok_id = last.len() <= MAX_ID_LEN
                && last
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
            match name_of(name) {
                Err(e) => Err(e),
                Ok(_) if !ok_id => Err(Error::new(
                    Code::BlobUploadUnknown,
                    "blob upload unknown to registry",
                )),
                Ok(name) => Ok(Route::Upload {
                    name,
                    id: last.into(),
                }),
            }
        }
        "blobs" => name_of(name)
            .and_then(|name| digest_of(last).map(|digest| Route::Blob { name, digest })),
        "referrers" => name_of(name)
            .and_then(|name| digest_of(last).map(|digest| Route::Referrers { name, digest })),
        "manifests" => name_of(name).and_then(|name| match Reference::parse(last) {
            Some(Ok(reference)) => Ok(Route::Manifest { name, reference }),
            Some(Err(e)) => Err(Error::new(Code::DigestInvalid, e.to_string())),
            None => Err(Error::new(Code::ManifestInvalid, "invalid tag")
                .with_detail(serde_json::json!({ "tag": last }))),
        }),
        _ => return None,
    })
}

/// Percent-decodes a query component (`+` is a space, as Go's `url.ParseQuery`).
fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = |c: u8| (c as char).to_digit(16);
                let hi = h(*b.get(i + 1)?)?;
                let lo = h(*b.get(i + 2)?)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The first value of `key` in a query string.
pub fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (unescape(k).as_deref() == Some(key))
            .then(|| unescape(v))
            .flatten()
    })
}

/// Every value of a query (or form) parameter, in order, with `+` read as a space.
pub fn query_params(query: Option<&str>, key: &str) -> Vec<String> {
    let Some(q) = query else {
        return Vec::new();
    };
    q.split('&')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let k = unescape(&k.replace('+', " "))?;
            (k == key).then(|| unescape(&v.replace('+', " "))).flatten()
        })
        .collect()
}

/// Percent-encodes a query value (unreserved characters kept).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn routes() {
        assert_eq!(parse("/v2/"), Some(Ok(Route::Base)));
        assert_eq!(parse("/v2"), Some(Ok(Route::Base)));
        assert_eq!(parse("/v2/_catalog"), Some(Ok(Route::Catalog)));
        assert_eq!(
            parse("/v2/a/b/blobs/uploads/"),
            Some(Ok(Route::UploadStart { name: "a/b".into() }))
        );
        assert_eq!(
            parse("/v2/a/b/blobs/uploads/xyz-1"),
            Some(Ok(Route::Upload {
                name: "a/b".into(),
                id: "xyz-1".into()
            }))
        );
        assert!(matches!(
            parse(&format!("/v2/a/blobs/{D}")),
            Some(Ok(Route::Blob { .. }))
        ));
        // a repository may be called `blobs`
        assert!(matches!(
            parse(&format!("/v2/blobs/blobs/{D}")),
            Some(Ok(Route::Blob { name, .. })) if name == "blobs"
        ));
        assert_eq!(
            parse("/v2/x/manifests/v1"),
            Some(Ok(Route::Manifest {
                name: "x".into(),
                reference: Reference::Tag("v1".into())
            }))
        );
        assert_eq!(
            parse("/v2/x/tags/list"),
            Some(Ok(Route::Tags { name: "x".into() }))
        );
        assert!(matches!(
            parse(&format!("/v2/x/referrers/{D}")),
            Some(Ok(Route::Referrers { .. }))
        ));
        assert_eq!(
            parse("/v2/Bad/manifests/v1")
                .and_then(|r| r.err())
                .map(|e| e.code),
            Some(Code::NameInvalid)
        );
        assert_eq!(
            parse("/v2/x/blobs/sha256:zz")
                .and_then(|r| r.err())
                .map(|e| e.code),
            Some(Code::DigestInvalid)
        );
        assert_eq!(parse("/v2/x/other/y"), None);
        assert_eq!(parse("/v2x"), None);
    }

    #[test]
    fn queries() {
        assert_eq!(
            query_param(Some("n=2&last=a%2Fb"), "last").as_deref(),
            Some("a/b")
        );
        assert_eq!(
            query_param(Some("mount=x&from"), "from").as_deref(),
            Some("")
        );
        assert_eq!(query_param(Some("a=%zz"), "a"), None);
        assert_eq!(query_param(None, "a"), None);
        assert_eq!(escape("a b:c"), "a%20b%3Ac");
    }
}
