//! Kyverno validation patterns: anchors (`pkg/engine/anchor`), the pattern checks of
//! `pkg/policy/common.ValidatePattern`, `{{ ... }}` variables, and a lint for pattern keys
//! that make an optional Pod field mandatory.

use serde_json::Value;
use sluice_core::{FieldError, FieldErrors};

/// The modifier of an anchor key (`pkg/engine/anchor/common.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorKind {
    /// `(key)`: conditional anchor.
    Condition,
    /// `<(key)`: global anchor.
    Global,
    /// `X(key)`: negation anchor.
    Negation,
    /// `+(key)`: add-if-not-present anchor (mutate only).
    AddIfNotPresent,
    /// `=(key)`: equality anchor.
    Equality,
    /// `^(key)`: existence anchor.
    Existence,
}

/// A parsed anchor key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor<'a> {
    pub kind: AnchorKind,
    pub key: &'a str,
}

/// Parses `key` as an anchor, as Kyverno's `^(?P<modifier>[+<=X^])?\((?P<key>.+)\)$` does
/// (after trimming spaces). `None` for plain keys.
pub fn parse_anchor(key: &str) -> Option<Anchor<'_>> {
    let s = key.trim();
    let (kind, rest) = match s.as_bytes().first()? {
        b'+' => (AnchorKind::AddIfNotPresent, &s[1..]),
        b'<' => (AnchorKind::Global, &s[1..]),
        b'=' => (AnchorKind::Equality, &s[1..]),
        b'X' => (AnchorKind::Negation, &s[1..]),
        b'^' => (AnchorKind::Existence, &s[1..]),
        _ => (AnchorKind::Condition, s),
    };
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    if inner.is_empty() {
        return None;
    }
    Some(Anchor { kind, key: inner })
}

/// A key that starts like an anchor (`(`, `=(`, `^(`, `X(`, `<(`, `+(`) but is not one
/// (`=(x`, `()`): Kyverno would take it as a literal field name that no object has.
pub fn is_malformed_anchor(key: &str) -> bool {
    let s = key.trim();
    let rest = match s.as_bytes().first() {
        Some(b'+' | b'<' | b'=' | b'X' | b'^') => &s[1..],
        _ => s,
    };
    rest.starts_with('(') && parse_anchor(key).is_none()
}

/// The key with its anchor removed.
pub fn strip_anchor(key: &str) -> &str {
    parse_anchor(key).map_or(key, |a| a.key)
}

/// A path segment for a pattern key: `.key` for simple names, `[key]` otherwise.
pub(crate) fn via_key(errs: FieldErrors, key: &str) -> FieldErrors {
    if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !key.is_empty()
    {
        errs.via_field(key)
    } else {
        errs.via_key(key)
    }
}

/// `ValidatePattern` for validate rules: condition, existence, equality, negation and global
/// anchors are supported; `+()` is not. Existence anchors need a non-empty list. Paths are
/// relative to the pattern.
pub fn validate_pattern(pattern: &Value) -> FieldErrors {
    let mut errs = FieldErrors::new();
    match pattern {
        Value::Object(m) => {
            for (key, value) in m {
                let mut here = FieldErrors::new();
                if let Some(a) = parse_anchor(key) {
                    match a.kind {
                        AnchorKind::AddIfNotPresent => {
                            here.push(FieldError::new("", format!("unsupported anchor {key}")));
                        }
                        AnchorKind::Existence => match value {
                            Value::Array(items) if items.is_empty() => here.push(FieldError::new(
                                "",
                                "existence anchor: should have atleast one value",
                            )),
                            Value::Array(_) => {}
                            _ => here.push(FieldError::new(
                                "",
                                "existence anchor should have value of type list",
                            )),
                        },
                        _ => {}
                    }
                } else if is_malformed_anchor(key) {
                    here.push(FieldError::new(
                        "",
                        format!(
                            "malformed anchor {key:?}: an anchor is written `(key)`, `=(key)`, `^(key)`, `X(key)`, `<(key)` or `+(key)`; Kyverno would look for a field literally named {key:?}"
                        ),
                    ));
                }
                here.also(validate_pattern(value));
                errs.also(via_key(here, key));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                errs.also(validate_pattern(item).via_index(i));
            }
        }
        _ => {}
    }
    errs
}

/// Finds `{{` that are never closed by a matching `}}` in `s` (JMESPath braces inside a
/// variable are counted; `\{{` is an escaped, literal brace). Returns a message per problem.
pub fn unbalanced_variables(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'{' && b[i + 1] == b'{' && (i == 0 || b[i - 1] != b'\\') {
            let start = i;
            let mut depth = 2usize;
            let mut j = i + 2;
            while j < b.len() && depth > 0 {
                match b[j] {
                    b'{' => depth += 1,
                    b'}' => depth -= 1,
                    _ => {}
                }
                j += 1;
            }
            if depth > 0 {
                let snippet: String = s[start..].chars().take(40).collect();
                return Some(format!(
                    "malformed variable {snippet:?}: `{{{{` is not closed by `}}}}`"
                ));
            }
            i = j;
        } else {
            i += 1;
        }
    }
    None
}

/// Checks every string and key under `v` for unbalanced `{{ }}`.
pub fn check_variables(v: &Value) -> FieldErrors {
    let mut errs = FieldErrors::new();
    match v {
        Value::String(s) => {
            if let Some(m) = unbalanced_variables(s) {
                errs.push(FieldError::new("", m));
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                let mut here = FieldErrors::new();
                if let Some(msg) = unbalanced_variables(k) {
                    here.push(FieldError::new("", msg));
                }
                here.also(check_variables(x));
                errs.also(via_key(here, k));
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                errs.also(check_variables(x).via_index(i));
            }
        }
        _ => {}
    }
    errs
}

/// Optional list fields of `core/v1.PodSpec`: a Pod may well have none of them.
pub const OPTIONAL_POD_LISTS: &[&str] = &[
    "initContainers",
    "ephemeralContainers",
    "volumes",
    "imagePullSecrets",
    "tolerations",
    "hostAliases",
    "readinessGates",
    "topologySpreadConstraints",
    "resourceClaims",
    "schedulingGates",
];

/// Where the Pod spec sits in an object of `kind`, as pattern keys.
fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pod" => &["spec"],
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

/// Lint: a pattern that names an optional Pod list without an anchor makes it mandatory.
/// Kyverno requires every field a plain pattern key names, so e.g. `initContainers: [...]`
/// rejects every Pod without init containers; `=(initContainers)` checks them only when
/// present. `kinds` are the kinds the rule matches (`Pod`, `apps/v1/Deployment`...).
pub fn optional_list_lint(pattern: &Value, kinds: &[String]) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut seen: Vec<&'static [&'static str]> = Vec::new();
    for k in kinds {
        let kind = k.rsplit('/').next().unwrap_or(k);
        let Some(path) = pod_spec_path(kind) else {
            continue;
        };
        if seen.contains(&path) {
            continue;
        }
        seen.push(path);
        let mut cur = pattern;
        let mut keys: Vec<&str> = Vec::new();
        let mut found = true;
        for step in path {
            let Some(m) = cur.as_object() else {
                found = false;
                break;
            };
            // A negated parent (`X(spec)`) forbids the field: nothing below is required.
            let hit = m.iter().find(|(key, _)| {
                strip_anchor(key) == *step
                    && parse_anchor(key).is_none_or(|a| a.kind != AnchorKind::Negation)
            });
            match hit {
                Some((key, v)) => {
                    keys.push(key);
                    cur = v;
                }
                None => {
                    found = false;
                    break;
                }
            }
        }
        if !found {
            continue;
        }
        let Some(spec) = cur.as_object() else {
            continue;
        };
        for key in spec.keys() {
            if !OPTIONAL_POD_LISTS.contains(&key.as_str()) {
                continue;
            }
            let subject = if kind == "Pod" {
                "Pods".to_owned()
            } else {
                format!("{kind}s whose Pod template has no {key} (and their Pods)")
            };
            let subject = if kind == "Pod" {
                format!("{subject} without {key}")
            } else {
                subject
            };
            let mut e = FieldErrors::from(FieldError::warning(
                "",
                format!(
                    "{subject} fail this rule: Kyverno requires every field a pattern names; write =({key}) to check them only when present"
                ),
            ));
            e = via_key(e, key);
            for k in keys.iter().rev() {
                e = via_key(e, k);
            }
            errs.also(e);
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // kyverno/kyverno pkg/engine/anchor/common.go: `^(?P<modifier>[+<=X^])?\((?P<key>.+)\)$`.
    #[test]
    fn anchors_parse() {
        assert_eq!(
            parse_anchor("=(initContainers)"),
            Some(Anchor {
                kind: AnchorKind::Equality,
                key: "initContainers"
            })
        );
        assert_eq!(
            parse_anchor("(name)").map(|a| a.kind),
            Some(AnchorKind::Condition)
        );
        assert_eq!(
            parse_anchor("X(hostPath)").map(|a| a.kind),
            Some(AnchorKind::Negation)
        );
        assert_eq!(
            parse_anchor("^(containers)").map(|a| a.kind),
            Some(AnchorKind::Existence)
        );
        assert_eq!(
            parse_anchor("<(image)").map(|a| a.kind),
            Some(AnchorKind::Global)
        );
        assert_eq!(
            parse_anchor("+(app)").map(|a| a.kind),
            Some(AnchorKind::AddIfNotPresent)
        );
        assert_eq!(
            parse_anchor("=(app.kubernetes.io/name)").map(|a| a.key),
            Some("app.kubernetes.io/name")
        );
        assert_eq!(parse_anchor("spec"), None);
        assert_eq!(parse_anchor("=(x"), None);
        assert!(is_malformed_anchor("=(x"));
        assert!(is_malformed_anchor("(x"));
        assert!(is_malformed_anchor("()"));
        assert!(!is_malformed_anchor("Xray"));
        assert!(!is_malformed_anchor("spec"));
    }

    // kyverno/kyverno pkg/policy/common/validate_pattern.go: `+()` is unsupported in
    // validate patterns, `^()` needs a non-empty list.
    #[test]
    fn pattern_anchor_rules() {
        let errs = validate_pattern(&json!({
            "spec": {
                "+(hostNetwork)": false,
                "^(containers)": "x",
                "=(volumes": [{"name": "*"}],
                "containers": [{"^(ports)": []}]
            }
        }));
        let got: Vec<(String, String)> = errs
            .iter()
            .map(|e| (e.path.to_string(), e.message.clone()))
            .collect();
        assert_eq!(got[0].0, "spec[+(hostNetwork)]");
        assert_eq!(got[0].1, "unsupported anchor +(hostNetwork)");
        assert_eq!(got[1].0, "spec[^(containers)]");
        assert_eq!(got[1].1, "existence anchor should have value of type list");
        assert_eq!(got[2].0, "spec[=(volumes]");
        assert!(got[2].1.starts_with("malformed anchor"), "{}", got[2].1);
        assert_eq!(got[3].0, "spec.containers[0][^(ports)]");
        assert_eq!(got[3].1, "existence anchor: should have atleast one value");
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn variables_balance() {
        assert_eq!(
            unbalanced_variables("{{ request.object.metadata.name }}"),
            None
        );
        assert_eq!(
            unbalanced_variables("{{ request.object.spec.{a: b} | length(@) }}"),
            None
        );
        assert_eq!(unbalanced_variables(r"\{{ literal"), None);
        assert!(unbalanced_variables("{{ request.object.metadata.name }").is_some());
        assert!(unbalanced_variables("x {{ a }} {{ b").is_some());
    }

    #[test]
    fn optional_lists_need_anchors() {
        let p = json!({"spec": {
            "containers": [{"image": "r/*"}],
            "initContainers": [{"image": "r/*"}],
            "=(ephemeralContainers)": [{"image": "r/*"}]
        }});
        let errs = optional_list_lint(&p, &["Pod".to_owned()]);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs.0[0].path.to_string(), "spec.initContainers");
        assert_eq!(
            errs.0[0].message,
            "Pods without initContainers fail this rule: Kyverno requires every field a pattern names; write =(initContainers) to check them only when present"
        );
        let d = json!({"spec": {"template": {"spec": {"volumes": [{"name": "*"}]}}}});
        let errs = optional_list_lint(&d, &["apps/v1/Deployment".to_owned()]);
        assert_eq!(errs.0[0].path.to_string(), "spec.template.spec.volumes");
        assert!(optional_list_lint(&p, &["Service".to_owned()]).is_empty());
    }
}
