//! Container image references as Kyverno's `images` variable describes them
//! (`pkg/utils/image/infos.go`): registry, path, name, tag, digest.

use serde_json::{Map, Value};

/// The parts of an image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub registry: String,
    pub path: String,
    pub name: String,
    pub tag: String,
    pub digest: String,
}

pub const DEFAULT_REGISTRY: &str = "docker.io";

/// Parses `image` (`nginx`, `ghcr.io/org/app:1.0`, `repo@sha256:...`).
pub fn parse(image: &str) -> ImageInfo {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, d.to_owned()),
        None => (image, String::new()),
    };
    let (registry, remainder) = match rest.split_once('/') {
        Some((first, more))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_owned(), more)
        }
        _ => (DEFAULT_REGISTRY.to_owned(), rest),
    };
    let last_slash = remainder.rfind('/').map_or(0, |i| i + 1);
    let (path, tag) = match remainder[last_slash..].rfind(':') {
        Some(i) => (
            remainder[..last_slash + i].to_owned(),
            remainder[last_slash + i + 1..].to_owned(),
        ),
        None => (remainder.to_owned(), String::new()),
    };
    let tag = if tag.is_empty() && digest.is_empty() {
        "latest".to_owned()
    } else {
        tag
    };
    let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
    ImageInfo {
        registry,
        path,
        name,
        tag,
        digest,
    }
}

/// `image_normalize`: the reference with its registry and tag made explicit.
pub fn normalize(image: &str) -> String {
    let i = parse(image);
    let mut s = format!("{}/{}", i.registry, i.path);
    if !i.tag.is_empty() {
        s.push(':');
        s.push_str(&i.tag);
    }
    if !i.digest.is_empty() {
        s.push('@');
        s.push_str(&i.digest);
    }
    s
}

impl ImageInfo {
    pub fn to_value(&self, reference: &str) -> Value {
        let mut m = Map::new();
        m.insert("registry".into(), Value::String(self.registry.clone()));
        m.insert("path".into(), Value::String(self.path.clone()));
        m.insert("name".into(), Value::String(self.name.clone()));
        m.insert("tag".into(), Value::String(self.tag.clone()));
        if !self.digest.is_empty() {
            m.insert("digest".into(), Value::String(self.digest.clone()));
        }
        m.insert("reference".into(), Value::String(normalize(reference)));
        Value::Object(m)
    }
}

/// The `images` variable of a Pod or pod controller: `{containers: {name: info}, initContainers:
/// ..., ephemeralContainers: ...}`.
pub fn images_of(object: &Value) -> Value {
    let spec = match object.get("kind").and_then(Value::as_str) {
        Some("Pod") => object.get("spec"),
        Some("CronJob") => object.pointer("/spec/jobTemplate/spec/template/spec"),
        _ => object.pointer("/spec/template/spec"),
    };
    let mut out = Map::new();
    let Some(spec) = spec else {
        return Value::Object(out);
    };
    for kind in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(list) = spec.get(kind).and_then(Value::as_array) else {
            continue;
        };
        let mut m = Map::new();
        for c in list {
            if let (Some(n), Some(img)) = (
                c.get("name").and_then(Value::as_str),
                c.get("image").and_then(Value::as_str),
            ) {
                m.insert(n.to_owned(), parse(img).to_value(img));
            }
        }
        if !m.is_empty() {
            out.insert(kind.to_owned(), Value::Object(m));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        let i = parse("nginx");
        assert_eq!(
            (i.registry.as_str(), i.path.as_str(), i.tag.as_str()),
            ("docker.io", "nginx", "latest")
        );
        let i = parse("ghcr.io/org/app:1.0");
        assert_eq!(
            (
                i.registry.as_str(),
                i.path.as_str(),
                i.name.as_str(),
                i.tag.as_str()
            ),
            ("ghcr.io", "org/app", "app", "1.0")
        );
        let i = parse("localhost:5000/app@sha256:abc");
        assert_eq!(
            (i.registry.as_str(), i.tag.as_str(), i.digest.as_str()),
            ("localhost:5000", "", "sha256:abc")
        );
        assert_eq!(normalize("nginx:1.2"), "docker.io/nginx:1.2");
    }
}
