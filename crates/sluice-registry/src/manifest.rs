//! Manifests as the registry reads them on push: the media type, the blobs and manifests
//! they reference (checked to exist), the `subject` (referrers API) and the artifact type.
//! OCI image-spec v1.1 (`manifest.md`, `image-index.md`) and Docker's schema2.

use crate::error::{Code, Error};
use crate::reference::Digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";

/// Largest manifest accepted (the spec: registries SHOULD accept at least 4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// The media types a manifest PUT may carry.
pub fn is_manifest_type(t: &str) -> bool {
    matches!(t, OCI_MANIFEST | OCI_INDEX | DOCKER_MANIFEST | DOCKER_LIST)
}

/// A descriptor's fields the registry needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

/// A pushed manifest, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub media_type: String,
    /// Blobs it needs (config and layers of an image manifest).
    pub blobs: Vec<Descriptor>,
    /// Manifests it needs (the entries of an index).
    pub manifests: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    /// `artifactType`, else the config's media type (image-spec 1.1's rule for referrers).
    pub artifact_type: Option<String>,
    pub annotations: Option<serde_json::Value>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(Code::ManifestInvalid, msg)
}

fn descriptor(v: &serde_json::Value, at: &str) -> Result<Descriptor, Error> {
    let media_type = v
        .get("mediaType")
        .and_then(|m| m.as_str())
        .ok_or_else(|| invalid(format!("{at}.mediaType: a string is required")))?;
    let digest = v
        .get("digest")
        .and_then(|m| m.as_str())
        .ok_or_else(|| invalid(format!("{at}.digest: a string is required")))?;
    let digest = Digest::parse(digest).map_err(|e| invalid(format!("{at}.digest: {e}")))?;
    let size = v
        .get("size")
        .and_then(|m| m.as_u64())
        .ok_or_else(|| invalid(format!("{at}.size: a non-negative integer is required")))?;
    Ok(Descriptor {
        media_type: media_type.into(),
        digest,
        size,
    })
}

/// Parses a manifest body pushed with `content_type` (the request's Content-Type; when
/// absent or generic, the body's `mediaType`).
pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Manifest, Error> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("not JSON: {e}")))?;
    if !v.is_object() {
        return Err(invalid("a manifest is a JSON object"));
    }
    let body_type = match v.get("mediaType") {
        None => None,
        Some(serde_json::Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(invalid("mediaType: a string is required")),
    };
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| is_manifest_type(c));
    // image-spec: when both are present, the mediaType must match the Content-Type
    let media_type = match (header, body_type) {
        (Some(h), Some(b)) if h != b => {
            return Err(invalid(format!(
                "mediaType {b:?} does not match the Content-Type {h:?}"
            )));
        }
        (Some(h), _) => h,
        (None, Some(b)) if is_manifest_type(b) => b,
        (None, Some(b)) => return Err(invalid(format!("unsupported manifest mediaType {b:?}"))),
        // no type anywhere: an index has `manifests`, an image manifest `config`
        (None, None) if v.get("manifests").is_some() => OCI_INDEX,
        (None, None) => OCI_MANIFEST,
    };
    if v.get("schemaVersion").and_then(|s| s.as_i64()) != Some(2) {
        return Err(invalid("schemaVersion: must be 2"));
    }
    let mut m = Manifest {
        media_type: media_type.into(),
        blobs: Vec::new(),
        manifests: Vec::new(),
        subject: None,
        artifact_type: v
            .get("artifactType")
            .and_then(|a| a.as_str())
            .map(String::from),
        annotations: v.get("annotations").filter(|a| a.is_object()).cloned(),
    };
    if let Some(s) = v.get("subject") {
        m.subject = Some(descriptor(s, "subject")?);
    }
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let config = v
                .get("config")
                .ok_or_else(|| invalid("config: required in an image manifest"))?;
            let config = descriptor(config, "config")?;
            if m.artifact_type.is_none() && media_type == OCI_MANIFEST {
                m.artifact_type = Some(config.media_type.clone());
            }
            m.blobs.push(config);
            let layers = match v.get("layers") {
                None => &Vec::new(),
                Some(serde_json::Value::Array(a)) => a,
                Some(_) => return Err(invalid("layers: an array is required")),
            };
            for (i, l) in layers.iter().enumerate() {
                m.blobs.push(descriptor(l, &format!("layers[{i}]"))?);
            }
        }
        _ => {
            let list = match v.get("manifests") {
                Some(serde_json::Value::Array(a)) => a,
                _ => return Err(invalid("manifests: an array is required in an index")),
            };
            for (i, l) in list.iter().enumerate() {
                m.manifests.push(descriptor(l, &format!("manifests[{i}]"))?);
            }
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(b: &[u8]) -> String {
        Digest::sha256_of(b).to_string()
    }

    #[test]
    fn image_manifest() {
        let body = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": d(b"c"), "size": 1},
            "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": d(b"l"), "size": 1}],
        });
        let m = parse(body.to_string().as_bytes(), Some(OCI_MANIFEST)).expect("parses");
        assert_eq!(m.blobs.len(), 2);
        assert_eq!(
            m.artifact_type.as_deref(),
            Some("application/vnd.cncf.helm.config.v1+json")
        );
    }

    #[test]
    fn refusals() {
        let e = |b: &str, ct: Option<&str>| parse(b.as_bytes(), ct).expect_err(b).message;
        assert!(e("{", None).starts_with("not JSON"));
        assert!(e("[]", None).contains("object"));
        assert!(e(r#"{"schemaVersion":1,"config":{}}"#, None).contains("schemaVersion"));
        assert!(e(r#"{"schemaVersion":2}"#, None).contains("config"));
        assert!(
            e(
                &format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[]}}"#),
                Some(OCI_MANIFEST)
            )
            .contains("does not match")
        );
        assert!(
            e(
                r#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:1","size":1}}"#,
                None
            )
            .contains("config.digest")
        );
    }
}
