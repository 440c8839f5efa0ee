//! Validating a resource against a pattern tree with anchors (kyverno/kyverno
//! `pkg/engine/validate/validate.go`, `pkg/engine/anchor/handlers.go`):
//!
//! - plain keys must be present and match (`"*"` only requires presence);
//! - `(key)` conditional: when the key is absent or does not match, the enclosing map does
//!   not apply (an array element is skipped; at the top the rule is skipped);
//! - `<(key)` global: when the key is present and does not match, the whole rule is skipped;
//! - `=(key)` equality: checked only when the key is present;
//! - `^(key)` existence: at least one list element matches each pattern element;
//! - `X(key)` negation: the key must be absent.
//!
//! Maps in a pattern list apply to every element of the resource list; a scalar pattern in a
//! list applies to every element. Paths are `/spec/containers/0/image/`, as Kyverno prints.

use serde_json::{Map, Value};
use sluice_apis::kyverno::pattern::{AnchorKind, parse_anchor};

use crate::value;
use crate::wildcard;

/// Nesting levels the matcher follows (where pattern and resource both go deeper). Loaded
/// documents nest at most 128 levels (`sluice_core::Limits`, serde_json), so every pattern a
/// policy spells out fits; only values that variables insert can go deeper, and there the
/// rule is an error, not a stack overflow. (A level costs about 5 KB of stack in a debug
/// build, far less in a release build.)
pub const MAX_PATTERN_DEPTH: usize = 128;

const CONDITIONAL: &str = "conditional anchor mismatch";
const GLOBAL: &str = "global anchor mismatch";
const NEGATION: &str = "negation anchor matched in resource";

#[derive(Debug, Clone, PartialEq)]
struct PErr {
    path: String,
    msg: String,
    /// A limit stopped matching: neither a failure nor a skip, whatever anchor encloses it.
    fatal: bool,
}

impl PErr {
    fn new(path: &str, msg: String) -> Self {
        PErr {
            path: path.to_owned(),
            msg,
            fatal: false,
        }
    }
    fn too_deep(path: &str) -> Self {
        PErr {
            path: path.to_owned(),
            msg: format!(
                "pattern and resource nest deeper than {MAX_PATTERN_DEPTH} levels at {path}"
            ),
            fatal: true,
        }
    }
    fn skip(&self) -> bool {
        !self.fatal && (self.msg.contains(CONDITIONAL) || self.msg.contains(GLOBAL))
    }
    /// Rewords a failure under an anchor; a fatal error passes unchanged.
    fn under(self, prefix: &str) -> Self {
        if self.fatal {
            return self;
        }
        PErr::new(&self.path, format!("{prefix}: {}", self.msg))
    }
}

/// The outcome of matching a resource against a pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Pass,
    /// A conditional or global anchor did not hold: the rule does not apply.
    Skip(String),
    /// The resource violates the pattern at `path`.
    Fail {
        path: String,
        message: String,
    },
    /// Matching stopped at a limit ([`MAX_PATTERN_DEPTH`]): the rule is an error.
    Error(String),
}

/// `MatchPattern`.
pub fn match_pattern(resource: &Value, pattern: &Value) -> Outcome {
    match element(resource, pattern, "/", 0) {
        Ok(()) => Outcome::Pass,
        Err(e) if e.fatal => Outcome::Error(e.msg),
        Err(e) if e.skip() => Outcome::Skip(e.msg),
        Err(e) => Outcome::Fail {
            path: e.path,
            message: e.msg,
        },
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".to_owned(),
        other => other.to_string(),
    }
}

fn element(res: &Value, pat: &Value, path: &str, depth: usize) -> Result<(), PErr> {
    if depth > MAX_PATTERN_DEPTH {
        return Err(PErr::too_deep(path));
    }
    let depth = depth + 1;
    match pat {
        Value::Object(pm) => match res {
            Value::Object(rm) => map(rm, pm, path, depth),
            _ => Err(PErr::new(
                path,
                format!(
                    "pattern and resource have different structures. Path: {path}. Expected {}, found {}",
                    go_type(pat),
                    go_type(res)
                ),
            )),
        },
        Value::Array(pa) => match res {
            Value::Array(ra) => array(ra, pa, path, depth),
            _ => Err(PErr::new(
                path,
                format!(
                    "validation rule failed at path {path}, resource does not satisfy the expected overlay pattern"
                ),
            )),
        },
        _ => {
            let ok = match res {
                Value::Array(items) => items.iter().all(|r| value::matches(r, pat)),
                other => value::matches(other, pat),
            };
            if ok {
                Ok(())
            } else {
                Err(PErr::new(
                    path,
                    format!(
                        "resource value '{}' does not match '{}' at path {path}",
                        show(res),
                        show(pat)
                    ),
                ))
            }
        }
    }
}

/// `wildcards.ExpandInMetadata`: wildcard keys of `metadata.labels`/`annotations` in the
/// pattern become the resource keys they match.
fn expand_metadata(pm: &Map<String, Value>, rm: &Map<String, Value>) -> Option<Map<String, Value>> {
    let (mkey, pmeta) = pm
        .iter()
        .find(|(k, _)| parse_anchor(k).map_or(k.as_str(), |a| a.key) == "metadata")?;
    let pmeta = pmeta.as_object()?;
    let rmeta = rm.get("metadata")?.as_object()?;
    let mut new_meta = pmeta.clone();
    let mut changed = false;
    for tag in ["labels", "annotations"] {
        let Some((tkey, Value::Object(ptags))) = pmeta
            .iter()
            .find(|(k, _)| parse_anchor(k).map_or(k.as_str(), |a| a.key) == tag)
        else {
            continue;
        };
        if !ptags.keys().any(|k| wildcard::has_wildcard(k)) {
            continue;
        }
        let Some(rtags) = rmeta.get(tag).and_then(Value::as_object) else {
            continue;
        };
        let mut out = Map::new();
        for (k, v) in ptags {
            if wildcard::has_wildcard(k) {
                let (prefix, bare) = match parse_anchor(k) {
                    Some(a) => (&k[..k.len() - a.key.len() - 2], a.key),
                    None => ("", k.as_str()),
                };
                let hits: Vec<&String> = rtags
                    .keys()
                    .filter(|rk| wildcard::matches(bare, rk))
                    .collect();
                if hits.is_empty() {
                    out.insert(k.clone(), v.clone());
                }
                for rk in hits {
                    let key = if prefix.is_empty() {
                        rk.clone()
                    } else {
                        format!("{prefix}({rk})")
                    };
                    out.insert(key, v.clone());
                }
            } else {
                out.insert(k.clone(), v.clone());
            }
        }
        new_meta.insert(tkey.clone(), Value::Object(out));
        changed = true;
    }
    if !changed {
        return None;
    }
    let mut p = pm.clone();
    p.insert(mkey.clone(), Value::Object(new_meta));
    Some(p)
}

fn has_nested_anchors(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, x)| {
            parse_anchor(k).is_some_and(|a| a.kind != AnchorKind::AddIfNotPresent)
                || has_nested_anchors(x)
        }),
        Value::Array(a) => a.iter().any(has_nested_anchors),
        _ => false,
    }
}

fn map(
    rm: &Map<String, Value>,
    pm: &Map<String, Value>,
    path: &str,
    depth: usize,
) -> Result<(), PErr> {
    let expanded = expand_metadata(pm, rm);
    let pm = expanded.as_ref().unwrap_or(pm);
    // Phase 1: conditional, existence, equality and negation anchors (conditions first).
    let mut anchors: Vec<(&String, &Value, AnchorKind)> = Vec::new();
    let mut plain: Vec<(&String, &Value)> = Vec::new();
    for (k, v) in pm {
        match parse_anchor(k).map(|a| a.kind) {
            Some(
                kind @ (AnchorKind::Condition
                | AnchorKind::Existence
                | AnchorKind::Equality
                | AnchorKind::Negation),
            ) => anchors.push((k, v, kind)),
            _ => plain.push((k, v)),
        }
    }
    anchors.sort_by_key(|(_, _, kind)| *kind != AnchorKind::Condition);
    for (k, v, _) in &anchors {
        handle(k, v, rm, path, depth)?;
    }
    // Phase 2: global anchors, then keys with nested anchors, then the rest (sorted).
    plain.sort_by(|a, b| a.0.cmp(b.0));
    let mut front: Vec<(&String, &Value)> = Vec::new();
    let mut back: Vec<(&String, &Value)> = Vec::new();
    for (k, v) in plain {
        let global = parse_anchor(k).is_some_and(|a| a.kind == AnchorKind::Global);
        if global || has_nested_anchors(v) {
            front.insert(0, (k, v));
        } else {
            back.push((k, v));
        }
    }
    front.sort_by_key(|(k, _)| !parse_anchor(k).is_some_and(|a| a.kind == AnchorKind::Global));
    for (k, v) in front.into_iter().chain(back) {
        handle(k, v, rm, path, depth)?;
    }
    Ok(())
}

fn handle(
    key: &str,
    pat: &Value,
    rm: &Map<String, Value>,
    path: &str,
    depth: usize,
) -> Result<(), PErr> {
    let Some(a) = parse_anchor(key) else {
        // defaultHandler
        let cur = format!("{path}{key}/");
        let rv = rm.get(key);
        if pat.as_str() == Some("*") {
            return match rv {
                Some(v) if !v.is_null() => Ok(()),
                _ => Err(PErr::new(path, format!("{path}/{key} not found"))),
            };
        }
        return element(rv.unwrap_or(&Value::Null), pat, &cur, depth);
    };
    let k = a.key;
    let cur = format!("{path}{k}/");
    match a.kind {
        AnchorKind::Negation => {
            if rm.contains_key(k) {
                Err(PErr::new(&cur, format!("{NEGATION}: {cur} is not allowed")))
            } else {
                Ok(())
            }
        }
        AnchorKind::Equality => match rm.get(k) {
            Some(v) => element(v, pat, &cur, depth),
            None => Ok(()),
        },
        AnchorKind::Condition => match rm.get(k) {
            Some(v) => element(v, pat, &cur, depth).map_err(|e| e.under(CONDITIONAL)),
            None => Err(PErr::new(
                &cur,
                format!("{CONDITIONAL}: conditional anchor key doesn't exist in the resource"),
            )),
        },
        AnchorKind::Global => match rm.get(k) {
            Some(v) => element(v, pat, &cur, depth).map_err(|e| e.under(GLOBAL)),
            None => Ok(()),
        },
        AnchorKind::Existence => match rm.get(k) {
            None => Ok(()),
            Some(Value::Array(items)) => {
                let Value::Array(pats) = pat else {
                    return Err(PErr::new(
                        &cur,
                        format!(
                            "invalid pattern type {}: Pattern has to be of list to compare against resource",
                            go_type(pat)
                        ),
                    ));
                };
                for p in pats {
                    if !p.is_object() {
                        return Err(PErr::new(
                            &cur,
                            format!(
                                "invalid pattern type {}: Pattern has to be of type map to compare against items in resource",
                                go_type(pat)
                            ),
                        ));
                    }
                    let mut hit = false;
                    for (i, it) in items.iter().enumerate() {
                        match element(it, p, &format!("{cur}{i}/"), depth) {
                            Ok(()) => {
                                hit = true;
                                break;
                            }
                            Err(e) if e.fatal => return Err(e),
                            Err(_) => {}
                        }
                    }
                    if !hit {
                        return Err(PErr::new(
                            &cur,
                            format!("existence anchor validation failed at path {cur}"),
                        ));
                    }
                }
                Ok(())
            }
            Some(other) => Err(PErr::new(
                &cur,
                format!(
                    "invalid resource type {}: Existence ^ () anchor can be used only on list/array type resource",
                    go_type(other)
                ),
            )),
        },
        // `+()` is refused when policies load; treat like a plain key if it gets here.
        AnchorKind::AddIfNotPresent => element(rm.get(k).unwrap_or(&Value::Null), pat, &cur, depth),
    }
}

fn array(ra: &[Value], pa: &[Value], path: &str, depth: usize) -> Result<(), PErr> {
    let Some(first) = pa.first() else {
        return Err(PErr::new(path, "pattern Array empty".to_owned()));
    };
    match first {
        Value::Object(_) => {
            let mut applied = 0;
            let mut skips = Vec::new();
            for (i, r) in ra.iter().enumerate() {
                match element(r, first, &format!("{path}{i}/"), depth) {
                    Ok(()) => applied += 1,
                    Err(e) if e.skip() => skips.push(e.msg),
                    Err(e) => return Err(e),
                }
            }
            if applied == 0 && !skips.is_empty() {
                return Err(PErr::new(path, skips.join("; ")));
            }
            Ok(())
        }
        Value::Array(_) => {
            if ra.len() < pa.len() {
                return Err(PErr::new(
                    path,
                    format!(
                        "validate Array failed, array length mismatch, resource Array len is {} and pattern Array len is {}",
                        ra.len(),
                        pa.len()
                    ),
                ));
            }
            let mut applied = 0;
            let mut skips = Vec::new();
            for (i, p) in pa.iter().enumerate() {
                match element(&ra[i], p, &format!("{path}{i}/"), depth) {
                    Ok(()) => applied += 1,
                    Err(e) if e.skip() => skips.push(e.msg),
                    Err(e) => return Err(e),
                }
            }
            if applied == 0 && !skips.is_empty() {
                return Err(PErr::new(path, skips.join("; ")));
            }
            Ok(())
        }
        scalar => element(&Value::Array(ra.to_vec()), scalar, path, depth),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
    }

    // kyverno/kyverno pkg/engine/validate/validate_test.go: plain keys are required.
    #[test]
    fn plain_keys_required() {
        let p = json!({"spec": {"containers": [{"image": "harbor.x/*"}], "initContainers": [{"image": "harbor.x/*"}]}});
        let r = pod(json!({"containers": [{"name": "a", "image": "harbor.x/app"}]}));
        assert_eq!(
            match_pattern(&r, &p),
            Outcome::Fail {
                path: "/spec/initContainers/".into(),
                message: "validation rule failed at path /spec/initContainers/, resource does not satisfy the expected overlay pattern".into()
            }
        );
        let r = pod(json!({"containers": [{"name": "a", "image": "docker.io/app"}]}));
        assert!(
            matches!(match_pattern(&r, &p), Outcome::Fail { path, .. } if path == "/spec/containers/0/image/")
        );
    }

    // pkg/engine/anchor/handlers.go equalityHandler.
    #[test]
    fn equality_anchor() {
        let p = json!({"spec": {"containers": [{"image": "harbor.x/*"}], "=(initContainers)": [{"image": "harbor.x/*"}]}});
        let r = pod(json!({"containers": [{"name": "a", "image": "harbor.x/app"}]}));
        assert_eq!(match_pattern(&r, &p), Outcome::Pass);
        let r = pod(
            json!({"containers": [{"image": "harbor.x/app"}], "initContainers": [{"image": "evil/x"}]}),
        );
        assert!(
            matches!(match_pattern(&r, &p), Outcome::Fail { path, .. } if path == "/spec/initContainers/0/image/")
        );
    }

    // conditionAnchorHandler: if-then; all elements skipped -> rule skipped.
    #[test]
    fn conditional_anchor() {
        let p =
            json!({"spec": {"containers": [{"(image)": "*:latest", "imagePullPolicy": "Always"}]}});
        let ok = pod(
            json!({"containers": [{"image": "a:latest", "imagePullPolicy": "Always"}, {"image": "b:1"}]}),
        );
        assert_eq!(match_pattern(&ok, &p), Outcome::Pass);
        let bad =
            pod(json!({"containers": [{"image": "a:latest", "imagePullPolicy": "IfNotPresent"}]}));
        assert!(matches!(match_pattern(&bad, &p), Outcome::Fail { .. }));
        let none = pod(json!({"containers": [{"image": "b:1"}]}));
        assert!(matches!(match_pattern(&none, &p), Outcome::Skip(_)));
    }

    // negationHandler, existenceHandler, globalAnchorHandler.
    #[test]
    fn negation_existence_global() {
        let p = json!({"spec": {"=(volumes)": [{"X(hostPath)": "null"}]}});
        let r = pod(json!({"volumes": [{"name": "v", "hostPath": {"path": "/"}}]}));
        assert!(
            matches!(match_pattern(&r, &p), Outcome::Fail { path, message } if path == "/spec/volumes/0/hostPath/" && message.starts_with(NEGATION))
        );
        let p = json!({"spec": {"^(containers)": [{"image": "nginx:*"}]}});
        let r = pod(json!({"containers": [{"image": "busybox"}, {"image": "nginx:1"}]}));
        assert_eq!(match_pattern(&r, &p), Outcome::Pass);
        let r = pod(json!({"containers": [{"image": "busybox"}]}));
        assert!(matches!(match_pattern(&r, &p), Outcome::Fail { .. }));
        let p = json!({"spec": {"containers": [{"<(image)": "nginx*", "name": "web"}]}});
        let r = pod(json!({"containers": [{"image": "busybox", "name": "x"}]}));
        assert!(matches!(match_pattern(&r, &p), Outcome::Skip(_)));
    }

    // wildcards.ExpandInMetadata.
    #[test]
    fn wildcard_label_keys() {
        let p = json!({"metadata": {"labels": {"app.kubernetes.io/*": "?*"}}});
        let r = json!({"metadata": {"labels": {"app.kubernetes.io/name": "x"}}});
        assert_eq!(match_pattern(&r, &p), Outcome::Pass);
        let r = json!({"metadata": {"labels": {"app.kubernetes.io/name": ""}}});
        assert!(matches!(match_pattern(&r, &p), Outcome::Fail { .. }));
        let p = json!({"metadata": {"name": "*"}});
        assert_eq!(
            match_pattern(&json!({"metadata": {"name": "x"}}), &p),
            Outcome::Pass
        );
        assert!(matches!(
            match_pattern(&json!({"metadata": {}}), &p),
            Outcome::Fail { .. }
        ));
    }
}
