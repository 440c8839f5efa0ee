//! Shared checks of the built-in kinds (k8s.io/apimachinery `pkg/util/validation`,
//! `pkg/api/validation/path`, k8s.io/apimachinery `pkg/api/resource` quantities).

use sluice_core::{FieldError, FieldErrors, names};

use crate::meta::{NameRule, ObjectMeta, validate_meta};

/// The name rule of a kind, including the ones `meta::NameRule` does not cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindNameRule {
    /// `NameIsDNSSubdomain` (most kinds).
    Subdomain,
    /// `NameIsDNSLabel` (Namespace).
    Label,
    /// `NameIsDNS1035Label` (Service).
    Dns1035Label,
    /// `ValidatePathSegmentName` (RBAC kinds).
    PathSegment,
}

const DNS1035_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";

/// `IsDNS1035Label`.
pub fn dns1035_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && b[0].is_ascii_lowercase()
        && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if !ok {
        errs.push(format!(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '{DNS1035_FMT}')"
        ));
    }
    errs
}

/// `IsValidPathSegmentName`.
pub fn path_segment_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    for bad in [".", ".."] {
        if s == bad {
            errs.push(format!("may not be '{bad}'"));
        }
    }
    for bad in ["/", "%"] {
        if s.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

/// `ValidateObjectMeta` with the kind's name rule. Paths start at `metadata`.
pub fn validate_object_meta(meta: &ObjectMeta, rule: KindNameRule) -> FieldErrors {
    match rule {
        KindNameRule::Subdomain => validate_meta(meta, NameRule::Dns1123Subdomain),
        KindNameRule::Label => validate_meta(meta, NameRule::Dns1123Label),
        KindNameRule::Dns1035Label | KindNameRule::PathSegment => {
            // Shared checks with a stand-in name, then this rule on the real one.
            let mut m = meta.clone();
            let name = m.name.clone().filter(|n| !n.is_empty());
            if name.is_some() {
                m.name = Some("a".to_owned());
            }
            let mut errs = validate_meta(&m, NameRule::Dns1123Subdomain);
            if let Some(n) = name {
                let msgs = if rule == KindNameRule::Dns1035Label {
                    dns1035_label(&n)
                } else {
                    path_segment_name(&n)
                };
                for msg in msgs {
                    errs.push(FieldError::invalid(
                        "metadata.name",
                        format!("{n:?}: {msg}"),
                    ));
                }
            }
            errs
        }
    }
}

/// `IsConfigMapKey` (ConfigMap and Secret data keys).
pub fn config_map_key(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > names::DNS1123_SUBDOMAIN_MAX {
        errs.push(format!(
            "must be no more than {} characters",
            names::DNS1123_SUBDOMAIN_MAX
        ));
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
    {
        errs.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".to_owned());
    }
    if key == "." {
        errs.push("must not be '.'".to_owned());
    } else if key == ".." {
        errs.push("must not be '..'".to_owned());
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".to_owned());
    }
    errs
}

/// Decodes standard base64 (with padding), as Go's `encoding/json` does for `[]byte`.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    }
    // Go's decoder skips \r and \n.
    let b: Vec<u8> = s.bytes().filter(|c| *c != b'\n' && *c != b'\r').collect();
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (ci, chunk) in b.chunks(4).enumerate() {
        let last = ci == b.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = if i >= 4 - pad { 0 } else { val(*c)? };
            n = (n << 6) | v;
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Some(out)
}

/// A parsed `resource.Quantity`, as a float (enough to compare with zero).
pub fn parse_quantity(s: &str) -> Result<f64, String> {
    const MSG: &str = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
    let s = s.trim();
    let num_end = s
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || *c == '.' || (*i == 0 && (*c == '+' || *c == '-'))))
        .map_or(s.len(), |(i, _)| i);
    let (num, suffix) = s.split_at(num_end);
    let n: f64 = num.parse().map_err(|_| MSG.to_owned())?;
    let mult = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        e if e.starts_with(['e', 'E']) => {
            let exp: i32 = e[1..].parse().map_err(|_| MSG.to_owned())?;
            10f64.powi(exp)
        }
        _ => return Err(MSG.to_owned()),
    };
    Ok(n * mult)
}

/// `ValidateLabels` for a selector's `matchLabels`-style map. Paths relative to the map.
pub fn validate_labels(labels: &std::collections::BTreeMap<String, String>) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (k, v) in labels {
        for m in names::qualified_name(k)
            .into_iter()
            .chain(names::label_value(v))
        {
            errs.push(FieldError::invalid("", m).via_key(k));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    // k8s.io/apimachinery pkg/util/validation IsConfigMapKey.
    #[test]
    fn config_keys() {
        assert!(config_map_key("application.properties").is_empty());
        assert!(config_map_key(".dockerconfigjson").is_empty());
        assert_eq!(config_map_key("a b").len(), 1);
        assert_eq!(config_map_key(".."), ["must not be '..'"]);
        assert_eq!(config_map_key("..x"), ["must not start with '..'"]);
    }

    #[test]
    fn base64_and_quantities() {
        assert_eq!(decode_base64("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(decode_base64("aGVsbG8"), None);
        assert_eq!(decode_base64("a$=="), None);
        assert_eq!(parse_quantity("50Gi"), Ok(50.0 * 1024f64.powi(3)));
        assert_eq!(parse_quantity("100m"), Ok(0.1));
        assert_eq!(parse_quantity("1e3"), Ok(1000.0));
        assert!(parse_quantity("50GB").is_err());
        assert!(parse_quantity("lots").is_err());
    }

    // k8s.io/apimachinery pkg/api/validation/path ValidatePathSegmentName; IsDNS1035Label.
    #[test]
    fn name_rules() {
        assert!(path_segment_name("system:controller:x").is_empty());
        assert_eq!(path_segment_name("a/b"), ["may not contain '/'"]);
        assert!(dns1035_label("order-service").is_empty());
        assert_eq!(dns1035_label("1abc").len(), 1);
    }
}
