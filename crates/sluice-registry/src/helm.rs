//! Helm charts as OCI artifacts (helm/helm `pkg/registry`: `constants.go` media types,
//! `client.go` `Push`: the config blob is the chart's metadata as JSON, one layer the
//! packaged chart, manifest annotations from the metadata, tag = version with `+` as
//! `_`), and a deterministic chart package (a `.tgz` whose entries sit under the chart's
//! name, as `helm package` writes: helm/helm `pkg/chart/v2/util/save.go`).

use std::io::Write as _;

use crate::reference::Digest;

pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
pub const CHART_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
pub const PROV_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.provenance.v1.prov";

/// Largest packaged chart `package`/`pull` handle.
pub const MAX_CHART_BYTES: usize = 64 << 20;

/// Why a chart cannot be packaged or pushed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelmOciError {
    #[error("Chart.yaml: {0}")]
    Metadata(String),
    #[error("{0}: a path in a chart must be relative and stay inside it")]
    BadPath(String),
    #[error("{0}: path longer than a tar header holds (255 bytes)")]
    LongPath(String),
    #[error("writing the archive: {0}")]
    Io(String),
}

/// The OCI tag of a chart version (Helm: `+` is not allowed in tags, it becomes `_`).
pub fn tag_of(version: &str) -> String {
    version.replace('+', "_")
}

/// `name` and `version` of Chart.yaml metadata (as JSON), both required as Helm does.
pub fn name_version(
    meta: &serde_json::Map<String, serde_json::Value>,
) -> Result<(String, String), HelmOciError> {
    let get = |k: &str| {
        meta.get(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(String::from)
            .ok_or_else(|| HelmOciError::Metadata(format!("{k} is required")))
    };
    let name = get("name")?;
    let version = get("version")?;
    if name.contains('/') || name.contains("..") {
        return Err(HelmOciError::Metadata(format!(
            "name {name:?} is not a chart name"
        )));
    }
    Ok((name, version))
}

/// The image manifest Helm pushes for a chart: config = metadata JSON, one chart layer.
pub fn chart_manifest(
    meta: &serde_json::Map<String, serde_json::Value>,
    config: &[u8],
    chart: &[u8],
) -> Vec<u8> {
    let mut ann = serde_json::Map::new();
    for (key, field) in [
        ("org.opencontainers.image.title", "name"),
        ("org.opencontainers.image.version", "version"),
        ("org.opencontainers.image.description", "description"),
        ("org.opencontainers.image.url", "home"),
    ] {
        if let Some(v) = meta
            .get(field)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
        {
            ann.insert(key.into(), v.into());
        }
    }
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": crate::manifest::OCI_MANIFEST,
        "config": {
            "mediaType": CONFIG_MEDIA_TYPE,
            "digest": Digest::sha256_of(config).to_string(),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": CHART_LAYER_MEDIA_TYPE,
            "digest": Digest::sha256_of(chart).to_string(),
            "size": chart.len(),
        }],
        "annotations": ann,
    });
    serde_json::to_vec(&m).unwrap_or_default()
}

/// The chart layer's descriptor in a pulled manifest (media type checked, as Helm's pull).
pub fn chart_layer(manifest: &[u8]) -> Result<(Digest, u64), String> {
    let v: serde_json::Value =
        serde_json::from_slice(manifest).map_err(|e| format!("manifest is not JSON: {e}"))?;
    if v["config"]["mediaType"].as_str() != Some(CONFIG_MEDIA_TYPE) {
        return Err(format!(
            "not a Helm chart: config media type {} (want {CONFIG_MEDIA_TYPE})",
            v["config"]["mediaType"]
        ));
    }
    let layers = v["layers"].as_array().cloned().unwrap_or_default();
    let l = layers
        .iter()
        .find(|l| l["mediaType"].as_str() == Some(CHART_LAYER_MEDIA_TYPE))
        .ok_or_else(|| format!("manifest has no {CHART_LAYER_MEDIA_TYPE} layer"))?;
    let d = l["digest"]
        .as_str()
        .and_then(|d| Digest::parse(d).ok())
        .ok_or("chart layer has no valid digest")?;
    Ok((d, l["size"].as_u64().unwrap_or(0)))
}

/// A deterministic `.tgz` of `files` (paths relative to the chart, any order) under
/// `<name>/`: sorted, Chart.yaml first, mode 0644, owner 0, mtime 0, gzip without name
/// or time. Same input, same bytes.
pub fn package(name: &str, files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, HelmOciError> {
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| {
        (a.0 != "Chart.yaml", a.0.as_str()).cmp(&(b.0 != "Chart.yaml", b.0.as_str()))
    });
    let mut tar = Vec::new();
    for (path, data) in sorted {
        if path.starts_with('/')
            || path
                .split('/')
                .any(|c| c.is_empty() || c == ".." || c == ".")
        {
            return Err(HelmOciError::BadPath(path.clone()));
        }
        let full = format!("{name}/{path}");
        tar.extend_from_slice(&header(&full, data.len() as u64)?);
        tar.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        tar.extend(std::iter::repeat_n(0u8, pad));
    }
    tar.extend(std::iter::repeat_n(0u8, 1024));
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar)
        .map_err(|e| HelmOciError::Io(e.to_string()))?;
    gz.finish().map_err(|e| HelmOciError::Io(e.to_string()))
}

/// A ustar header for a regular file.
fn header(path: &str, size: u64) -> Result<[u8; 512], HelmOciError> {
    let mut h = [0u8; 512];
    let (prefix, name) = if path.len() <= 100 {
        ("", path)
    } else {
        // split at a `/` so that the name fits 100 bytes and the prefix 155
        let cut = path
            .char_indices()
            .filter(|(i, c)| *c == '/' && *i <= 155 && path.len() - i - 1 <= 100)
            .map(|(i, _)| i)
            .next()
            .ok_or_else(|| HelmOciError::LongPath(path.into()))?;
        (&path[..cut], &path[cut + 1..])
    };
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    let sz = format!("{size:011o}\0");
    if sz.len() != 12 {
        return Err(HelmOciError::Io(format!(
            "{path}: file too large for a tar header"
        )));
    }
    h[124..136].copy_from_slice(sz.as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    // checksum: the header's bytes with the checksum field as spaces
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    let cs = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(cs.as_bytes());
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_is_deterministic_and_refuses_escapes() {
        let files = vec![
            ("values.yaml".to_string(), b"a: 1\n".to_vec()),
            (
                "Chart.yaml".to_string(),
                b"name: x\nversion: 1.0.0\n".to_vec(),
            ),
            (
                format!("templates/{}/cm.yaml", "d".repeat(120)),
                b"x".to_vec(),
            ),
        ];
        let a = package("x", &files).expect("packs");
        let b = package("x", &files).expect("packs");
        assert_eq!(a, b);
        for bad in ["../x", "/abs", "a//b", "./a"] {
            assert!(package("x", &[(bad.into(), vec![])]).is_err(), "{bad}");
        }
        assert_eq!(tag_of("1.0.0+build.1"), "1.0.0_build.1");
    }

    #[test]
    fn manifest_round_trip() {
        let meta: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"name":"app","version":"0.1.0","description":"d"}"#)
                .expect("json");
        let m = chart_manifest(&meta, b"{}", b"chart");
        assert_eq!(
            chart_layer(&m).expect("layer"),
            (Digest::sha256_of(b"chart"), 5)
        );
        let parsed = crate::manifest::parse(&m, None).expect("valid manifest");
        assert_eq!(parsed.artifact_type.as_deref(), Some(CONFIG_MEDIA_TYPE));
        assert!(name_version(&serde_json::Map::new()).is_err());
    }
}
