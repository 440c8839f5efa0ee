//! `AppProject` (argoproj/argo-cd `pkg/apis/application/v1alpha1/app_project_types.go`):
//! types, the permission checks Applications are held to, and `ValidateProject`.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, Object};

use super::application::ApplicationDestination;
use crate::Context;
use crate::meta::{NameRule, ObjectMeta, validate_meta};

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppProject {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: AppProjectSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppProjectSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_repos: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<ApplicationDestination>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<ProjectRole>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_resource_whitelist: Vec<GroupKind>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_resource_blacklist: Vec<GroupKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphaned_resources: Option<OrphanedResourcesMonitorSettings>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_windows: Vec<SyncWindow>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_resource_whitelist: Vec<GroupKind>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signature_keys: Vec<SignatureKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_resource_blacklist: Vec<GroupKind>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub permit_only_project_scoped_clusters: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_service_accounts: Vec<ApplicationDestinationServiceAccount>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRole {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    #[serde(rename = "jwtTokens", default, skip_serializing_if = "Vec::is_empty")]
    pub jwt_tokens: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub kind: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrphanedResourcesMonitorSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<OrphanedResourceKey>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrphanedResourceKey {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncWindow {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub schedule: String,
    #[serde(default)]
    pub duration: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub manual_sync: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub time_zone: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub and_operator: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureKey {
    #[serde(rename = "keyID", default)]
    pub key_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDestinationServiceAccount {
    #[serde(default)]
    pub server: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default)]
    pub default_service_account: String,
}

/// Glob matching as Argo CD's `glob.Match` (gobwas/glob): `*` matches any run of
/// characters except `sep` (when given), `**` any run, `?` one character, `[...]` a class.
pub fn glob_match(pattern: &str, text: &str, sep: Option<char>) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_rec(&p, &t, sep)
}

fn glob_rec(p: &[char], t: &[char], sep: Option<char>) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('*') => {
            let super_star = p.get(1) == Some(&'*');
            let rest = if super_star { &p[2..] } else { &p[1..] };
            for i in 0..=t.len() {
                if glob_rec(rest, &t[i..], sep) {
                    return true;
                }
                if i < t.len() && !super_star && Some(t[i]) == sep {
                    return false;
                }
            }
            false
        }
        Some('?') => !t.is_empty() && Some(t[0]) != sep && glob_rec(&p[1..], &t[1..], sep),
        Some('[') => match p.iter().position(|c| *c == ']') {
            Some(end) if end > 1 && !t.is_empty() => {
                let class = &p[1..end];
                let (neg, class) = match class.first() {
                    Some('!') | Some('^') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut k = 0;
                while k < class.len() {
                    if k + 2 < class.len() && class[k + 1] == '-' {
                        if class[k] <= t[0] && t[0] <= class[k + 2] {
                            hit = true;
                        }
                        k += 3;
                    } else {
                        if class[k] == t[0] {
                            hit = true;
                        }
                        k += 1;
                    }
                }
                hit != neg && glob_rec(&p[end + 1..], &t[1..], sep)
            }
            _ => !t.is_empty() && t[0] == '[' && glob_rec(&p[1..], &t[1..], sep),
        },
        Some('\\') if p.len() > 1 => {
            !t.is_empty() && t[0] == p[1] && glob_rec(&p[2..], &t[1..], sep)
        }
        Some(c) => !t.is_empty() && t[0] == *c && glob_rec(&p[1..], &t[1..], sep),
    }
}

/// `git.NormalizeGitURL`, roughly: lower case, no trailing `/` or `.git`.
fn normalize_git_url(u: &str) -> String {
    let l = u.trim().to_lowercase();
    let l = l.trim_end_matches('/');
    l.strip_suffix(".git").unwrap_or(l).to_owned()
}

impl AppProjectSpec {
    /// `IsSourcePermitted`.
    pub fn is_source_permitted(&self, repo_url: &str) -> bool {
        let src = normalize_git_url(repo_url);
        let mut any = false;
        for pat in &self.source_repos {
            let (deny, body) = match pat.strip_prefix('!') {
                Some(b) => (true, b),
                None => (false, pat.as_str()),
            };
            let matched = body == "*" || glob_match(&normalize_git_url(body), &src, Some('/'));
            if deny {
                if matched {
                    return false;
                }
            } else if matched {
                any = true;
            }
        }
        any
    }

    /// `IsDestinationPermitted` (without the project-scoped cluster lookup).
    pub fn is_destination_permitted(&self, dst: &ApplicationDestination) -> bool {
        let mut any = false;
        for item in &self.destinations {
            let deny = item.server.starts_with('!')
                || item.namespace.starts_with('!')
                || item.name.starts_with('!');
            let strip = |s: &str| s.strip_prefix('!').unwrap_or(s).to_owned();
            let server = strip(&item.server);
            let ns = strip(&item.namespace);
            let name = strip(&item.name);
            let server_ok = !dst.server.is_empty() && glob_match(&server, &dst.server, None);
            let name_ok = !dst.name.is_empty() && glob_match(&name, &dst.name, None);
            let ns_ok = glob_match(&ns, &dst.namespace, None);
            let matched = (server_ok || name_ok) && ns_ok;
            if deny {
                if matched {
                    return false;
                }
            } else if matched {
                any = true;
            }
        }
        any
    }
}

fn valid_role_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
}

fn validate_policy(project: &str, role: &str, policy: &str) -> Option<String> {
    let parts: Vec<&str> = policy.split(',').map(str::trim).collect();
    if parts.len() != 6 || parts[0] != "p" {
        return Some(format!(
            "invalid policy rule '{policy}': must be of the form: 'p, sub, res, act, obj, eft'"
        ));
    }
    let expected = format!("proj:{project}:{role}");
    if parts[1] != expected {
        return Some(format!(
            "invalid policy rule '{policy}': policy subject must be: '{expected}', not '{}'",
            parts[1]
        ));
    }
    let obj = parts[4];
    if !obj.starts_with(&format!("{project}/")) && obj != "*" && !obj.starts_with("*/") {
        return Some(format!(
            "invalid policy rule '{policy}': object must be of form '{project}/*', '{project}[/<NAMESPACE>]/<APPNAME>' or '{project}/<APPNAME>', not '{obj}'"
        ));
    }
    if parts[5] != "allow" && parts[5] != "deny" {
        return Some(format!(
            "invalid policy rule '{policy}': effect must be: 'allow' or 'deny'"
        ));
    }
    None
}

/// Validates an `AppProject` (`AppProject.ValidateProject`, `SyncWindow.Validate`).
pub fn validate(obj: &Object, _ctx: &Context<'_>) -> FieldErrors {
    let (p, mut errs) = match crate::decode::decode::<AppProject>(obj.value()) {
        Ok(x) => x,
        Err(e) => return e,
    };
    errs.also(validate_meta(&p.metadata, NameRule::Dns1123Subdomain));
    let proj_name = p.metadata.name.clone().unwrap_or_default();
    let spec = &p.spec;
    let mut dest_keys = HashSet::new();
    for (i, d) in spec.destinations.iter().enumerate() {
        let at = |f: &str| format!("spec.destinations[{i}].{f}");
        for (f, v) in [
            ("name", &d.name),
            ("server", &d.server),
            ("namespace", &d.namespace),
        ] {
            if v == "!*" {
                errs.push(FieldError::new(
                    at(f).as_str(),
                    format!("{f} has an invalid format, '!*'"),
                ));
            }
        }
        let key = if d.server.is_empty() && !d.name.is_empty() {
            format!("{}/{}", d.name, d.namespace)
        } else {
            format!("{}/{}", d.server, d.namespace)
        };
        if !dest_keys.insert(key.clone()) {
            errs.push(FieldError::new(
                format!("spec.destinations[{i}]").as_str(),
                format!("destination '{key}' already added"),
            ));
        }
    }
    let mut seen = HashSet::new();
    for (i, ns) in spec.source_namespaces.iter().enumerate() {
        if !seen.insert(ns) {
            errs.push(FieldError::new(
                format!("spec.sourceNamespaces[{i}]").as_str(),
                format!("source namespace '{ns}' already added"),
            ));
        }
    }
    let mut seen = HashSet::new();
    for (i, src) in spec.source_repos.iter().enumerate() {
        let path = format!("spec.sourceRepos[{i}]");
        if src == "!*" {
            errs.push(FieldError::new(
                path.as_str(),
                "source repository has an invalid format, '!*'",
            ));
        }
        if !seen.insert(src) {
            errs.push(FieldError::new(
                path.as_str(),
                format!("source repository '{src}' already added"),
            ));
        }
    }
    let mut roles = HashSet::new();
    for (i, role) in spec.roles.iter().enumerate() {
        let at = format!("spec.roles[{i}]");
        if !roles.insert(&role.name) {
            errs.push(FieldError::new(
                format!("{at}.name").as_str(),
                format!("role '{}' already exists", role.name),
            ));
        }
        if !valid_role_name(&role.name) {
            errs.push(FieldError::new(
                format!("{at}.name").as_str(),
                format!(
                    "invalid role name '{}'. Must consist of alphanumeric characters, '-' or '_', and must start and end with an alphanumeric character",
                    role.name
                ),
            ));
        }
        let mut pols = HashSet::new();
        for (j, pol) in role.policies.iter().enumerate() {
            let pp = format!("{at}.policies[{j}]");
            if !pols.insert(pol) {
                errs.push(FieldError::new(
                    pp.as_str(),
                    format!("policy '{pol}' already exists for role '{}'", role.name),
                ));
            }
            if let Some(m) = validate_policy(&proj_name, &role.name, pol) {
                errs.push(FieldError::new(pp.as_str(), m));
            }
        }
        let mut groups = HashSet::new();
        for (j, g) in role.groups.iter().enumerate() {
            if !groups.insert(g) {
                errs.push(FieldError::new(
                    format!("{at}.groups[{j}]").as_str(),
                    format!("group '{g}' already exists for role '{}'", role.name),
                ));
            }
        }
    }
    let mut windows = HashSet::new();
    for (i, w) in spec.sync_windows.iter().enumerate() {
        let at = format!("spec.syncWindows[{i}]");
        if !windows.insert(format!("{}{}{}", w.kind, w.schedule, w.duration)) {
            errs.push(FieldError::new(
                at.as_str(),
                format!(
                    "window '{}':'{}':'{}' already exists, update or edit",
                    w.kind, w.schedule, w.duration
                ),
            ));
        }
        if w.kind != "allow" && w.kind != "deny" {
            errs.push(FieldError::new(
                format!("{at}.kind").as_str(),
                format!("kind '{}' mismatch: can only be allow or deny", w.kind),
            ));
        }
        let fields = w.schedule.split_whitespace().count();
        if fields != 5 && !w.schedule.starts_with('@') {
            errs.push(FieldError::new(
                format!("{at}.schedule").as_str(),
                format!(
                    "cannot parse schedule '{}': expected exactly 5 fields, found {fields}",
                    w.schedule
                ),
            ));
        }
        if crate::rollouts::parse_go_duration(&w.duration).is_none() {
            errs.push(FieldError::new(
                format!("{at}.duration").as_str(),
                format!(
                    "cannot parse duration '{}': time: invalid duration {:?}",
                    w.duration, w.duration
                ),
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs() {
        assert!(glob_match(
            "https://github.com/argoproj/*",
            "https://github.com/argoproj/argo-cd",
            Some('/')
        ));
        assert!(!glob_match(
            "https://github.com/*",
            "https://github.com/a/b",
            Some('/')
        ));
        assert!(glob_match(
            "https://github.com/**",
            "https://github.com/a/b",
            Some('/')
        ));
        assert!(glob_match("team-*", "team-a", None));
        assert!(!glob_match("team-?", "team-ab", None));
    }

    #[test]
    fn validate_project_rules() {
        // app_project_types.go ValidateProject and SyncWindow.Validate.
        let obj = Object::new(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": {"name": "p", "namespace": "argocd"},
            "spec": {
                "sourceRepos": ["*", "*"],
                "destinations": [{"server": "*", "namespace": "a"}, {"server": "*", "namespace": "a"}],
                "roles": [{"name": "ci", "policies": ["p, proj:p:ci, applications, sync, p/*, allow", "p, proj:other:ci, applications, sync, p/*, allow"]}],
                "syncWindows": [{"kind": "never", "schedule": "10 1 * * *", "duration": "1h"}]
            }
        }));
        let set = crate::ObjectSet::new([&obj]);
        let ctx = Context::new(&set);
        let errs: Vec<String> = validate(&obj, &ctx)
            .iter()
            .map(|e| format!("{}|{}", e.path, e.message))
            .collect();
        assert_eq!(
            errs,
            [
                "spec.destinations[1]|destination '*/a' already added",
                "spec.sourceRepos[1]|source repository '*' already added",
                "spec.roles[0].policies[1]|invalid policy rule 'p, proj:other:ci, applications, sync, p/*, allow': policy subject must be: 'proj:p:ci', not 'proj:other:ci'",
                "spec.syncWindows[0].kind|kind 'never' mismatch: can only be allow or deny"
            ]
        );
    }
}
