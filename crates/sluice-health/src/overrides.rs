//! Health scripts configured in `argocd-cm` (argo-cd `util/settings/settings.go`
//! `GetResourceOverrides`): the combined YAML key `resource.customizations` (a map of
//! `group/Kind` to `{health.lua, health.lua.useOpenLibs, ...}`), then the split keys
//! `resource.customizations.health.<group>_<kind>` and
//! `resource.customizations.useOpenLibs.<group>_<kind>` (a key without `_` is a core kind),
//! which override the combined key's fields. Lookup (argo-cd `util/lua/lua.go`
//! `GetHealthScript`): the exact `group/Kind` (`Kind` for the core group), else the first
//! wildcard key (`*`, `?`) that matches, in key order.

use std::collections::BTreeMap;

use serde_json::Value;
use sluice_core::yaml::{self, Limits, Step};
use sluice_core::{FieldPath, PathSeg, Pos};

/// The combined key.
pub const CUSTOMIZATIONS_KEY: &str = "resource.customizations";

/// One group/kind's health customization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceOverride {
    pub health_lua: String,
    /// `health.lua.useOpenLibs` / `resource.customizations.useOpenLibs.<group_kind>`.
    pub use_open_libs: bool,
    /// Where the script is written: the ConfigMap `data` key holding it, and for the combined
    /// key, the position of its `health.lua` key inside that value's text.
    pub source: Option<ScriptSource>,
}

/// Where an override's script is written in `argocd-cm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptSource {
    pub data_key: String,
    /// The override's key (`argoproj.io/Rollout`) in the combined key's YAML.
    pub override_key: Option<String>,
    /// The position of the `health.lua` key inside the combined key's text.
    pub key_pos: Option<Pos>,
}

impl ScriptSource {
    /// The path the script is reported under, relative to the ConfigMap.
    pub fn path(&self) -> FieldPath {
        let mut p = vec![
            PathSeg::Field("data".to_owned()),
            PathSeg::Key(self.data_key.clone()),
        ];
        if let Some(k) = &self.override_key {
            p.push(PathSeg::Key(k.clone()));
            p.push(PathSeg::Key("health.lua".to_owned()));
        }
        FieldPath(p)
    }

    /// The path of the `data` value holding the script.
    pub fn value_path(&self) -> FieldPath {
        FieldPath(vec![
            PathSeg::Field("data".to_owned()),
            PathSeg::Key(self.data_key.clone()),
        ])
    }
}

/// A problem with the overrides in `argocd-cm`: the data key it is in, a position inside that
/// value when known, and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideError {
    pub data_key: String,
    pub at: Option<Pos>,
    pub message: String,
}

/// The health customizations of an `argocd-cm`, by `group/Kind` key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceOverrides {
    by_key: BTreeMap<String, ResourceOverride>,
}

impl ResourceOverrides {
    pub fn new() -> Self {
        ResourceOverrides::default()
    }

    /// Adds (or replaces) the customization of a `group/Kind` key.
    pub fn insert(&mut self, key: impl Into<String>, o: ResourceOverride) {
        self.by_key.insert(key.into(), o);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &ResourceOverride)> {
        self.by_key.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The customizations of an `argocd-cm` ConfigMap (its whole object). Every problem is
    /// collected; the overrides that could be read are returned with them.
    pub fn from_configmap(cm: &Value) -> (ResourceOverrides, Vec<OverrideError>) {
        let mut out = ResourceOverrides::new();
        let mut errs = Vec::new();
        let Some(data) = cm.get("data").and_then(Value::as_object) else {
            return (out, errs);
        };
        if let Some(text) = data.get(CUSTOMIZATIONS_KEY) {
            match text {
                Value::String(text) => out.read_combined(text, &mut errs),
                Value::Null => {}
                _ => errs.push(OverrideError {
                    data_key: CUSTOMIZATIONS_KEY.to_owned(),
                    at: None,
                    message: "must be a string".to_owned(),
                }),
            }
        }
        for (key, v) in data {
            let Some(rest) = key.strip_prefix("resource.customizations.") else {
                continue;
            };
            let Some((ty, group_kind)) = rest.split_once('.') else {
                continue;
            };
            if ty != "health" && ty != "useOpenLibs" {
                continue;
            }
            let err = |message: String| OverrideError {
                data_key: key.clone(),
                at: None,
                message,
            };
            let Some(v) = v.as_str() else {
                errs.push(err("must be a string".to_owned()));
                continue;
            };
            let ok = match override_key(group_kind) {
                Ok(k) => k,
                Err(e) => {
                    errs.push(err(e));
                    continue;
                }
            };
            let entry = out.by_key.entry(ok).or_default();
            if ty == "health" {
                entry.health_lua = v.to_owned();
                entry.source = Some(ScriptSource {
                    data_key: key.clone(),
                    override_key: None,
                    key_pos: None,
                });
            } else {
                match parse_go_bool(v) {
                    Some(b) => entry.use_open_libs = b,
                    None => errs.push(err(format!(
                        "strconv.ParseBool: parsing {}: invalid syntax",
                        crate::value::go_quote(v)
                    ))),
                }
            }
        }
        (out, errs)
    }

    fn read_combined(&mut self, text: &str, errs: &mut Vec<OverrideError>) {
        let err = |at: Option<Pos>, message: String| OverrideError {
            data_key: CUSTOMIZATIONS_KEY.to_owned(),
            at,
            message,
        };
        let docs = match yaml::load_documents(text, &Limits::default()) {
            Ok(d) => d,
            Err(e) => {
                errs.push(err(Some(e.pos()), e.message()));
                return;
            }
        };
        let Some(doc) = docs.first() else { return };
        let map = match &doc.value {
            Value::Object(m) => m,
            Value::Null => return,
            _ => {
                errs.push(err(
                    Some(doc.root.pos),
                    "must be a map of group/Kind to customizations".to_owned(),
                ));
                return;
            }
        };
        for (key, o) in map {
            let at = |steps: &[Step<'_>]| doc.root.locate(&doc.value, steps.iter().copied()).0;
            let Value::Object(fields) = o else {
                if !o.is_null() {
                    errs.push(err(
                        Some(at(&[Step::Key(key)])),
                        format!("{key}: must be a map (health.lua, actions, ...)"),
                    ));
                }
                continue;
            };
            let mut entry = ResourceOverride::default();
            match fields.get("health.lua") {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => {
                    entry.health_lua = s.clone();
                    entry.source = Some(ScriptSource {
                        data_key: CUSTOMIZATIONS_KEY.to_owned(),
                        override_key: Some(key.clone()),
                        key_pos: Some(at(&[Step::Key(key), Step::Key("health.lua")])),
                    });
                }
                Some(_) => errs.push(err(
                    Some(at(&[Step::Key(key), Step::Key("health.lua")])),
                    format!("{key}.health.lua: must be a string"),
                )),
            }
            match fields.get("health.lua.useOpenLibs") {
                None | Some(Value::Null) => {}
                Some(Value::Bool(b)) => entry.use_open_libs = *b,
                Some(_) => errs.push(err(
                    Some(at(&[Step::Key(key), Step::Key("health.lua.useOpenLibs")])),
                    format!("{key}.health.lua.useOpenLibs: must be a boolean"),
                )),
            }
            self.by_key.insert(key.clone(), entry);
        }
    }

    /// The script for a group and kind, if one is configured (`GetHealthScript`).
    pub fn health_script(&self, group: &str, kind: &str) -> Option<&ResourceOverride> {
        let key = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{group}/{kind}")
        };
        if let Some(o) = self.by_key.get(&key).filter(|o| !o.health_lua.is_empty()) {
            return Some(o);
        }
        self.by_key
            .iter()
            .find(|(k, _)| (k.contains('*') || k.contains('?')) && glob_match(k, &key))
            .map(|(_, o)| o)
            .filter(|o| !o.health_lua.is_empty())
    }
}

/// argo-cd `convertToOverrideKey`: `group_Kind` -> `group/Kind`, `Kind` -> `Kind`.
fn override_key(group_kind: &str) -> Result<String, String> {
    let parts: Vec<&str> = group_kind.split('_').collect();
    match parts.as_slice() {
        [g, k] => Ok(format!("{g}/{k}")),
        [k] if !k.is_empty() => Ok((*k).to_owned()),
        _ => Err(format!(
            "group kind should be in format `resource.customizations.<type>.<group_kind>` or resource.customizations.<type>.<kind>`, got group kind: '{group_kind}'"
        )),
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A glob without separators (argo-cd `util/glob.Match`): `*` any run of characters, `?`
/// one character. Iterative, linear in the text for each star.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // argo-cd util/settings/settings.go: split keys override the combined key's fields;
    // convertToOverrideKey maps `group_Kind` and `Kind`.
    #[test]
    fn combined_and_split_keys() {
        let cm = json!({"data": {
            "resource.customizations": "apps/Deployment:\n  health.lua: |\n    return {status='Healthy'}\n  health.lua.useOpenLibs: true\nexample.com/*:\n  health.lua: return {status='Degraded'}\n",
            "resource.customizations.health.cert-manager.io_Certificate": "return {status='Progressing'}",
            "resource.customizations.useOpenLibs.cert-manager.io_Certificate": "true",
            "resource.customizations.health.Pod": "return {status='Suspended'}",
            "resource.customizations.health.a_b_c": "x",
        }});
        let (o, errs) = ResourceOverrides::from_configmap(&cm);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].message.contains("got group kind: 'a_b_c'"));
        let d = o.health_script("apps", "Deployment").unwrap();
        assert!(d.use_open_libs);
        assert_eq!(d.health_lua, "return {status='Healthy'}\n");
        let src = d.source.as_ref().unwrap();
        assert_eq!(src.key_pos, Some(Pos { line: 2, col: 3 }));
        assert_eq!(
            src.path().to_string(),
            "data[resource.customizations][apps/Deployment][health.lua]"
        );
        let c = o.health_script("cert-manager.io", "Certificate").unwrap();
        assert!(c.use_open_libs);
        assert!(o.health_script("", "Pod").is_some());
        assert!(o.health_script("example.com", "Widget").is_some());
        assert!(o.health_script("apps", "StatefulSet").is_none());
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.crossplane.io/*", "ec2.aws.crossplane.io/VPC"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a*d", "abc"));
        assert!(glob_match("*", ""));
    }
}
