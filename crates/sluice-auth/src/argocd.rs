//! Argo CD's RBAC (argocd-rbac-cm): Casbin policies of `p, SUBJECT, RESOURCE, ACTION,
//! OBJECT, EFFECT` and `g, SUBJECT, ROLE` lines under the model of argo-cd
//! assets/model.conf (`g(r.sub, p.sub)` and glob — or regex — matches of resource, action
//! and object; allowed when some matching line allows and none denies), the built-in
//! `role:readonly` and `role:admin` of assets/builtin-policy.csv, `policy.default` (checked
//! first, so a deny cannot take it away: util/rbac/rbac.go `enforce`), `scopes` (which
//! claims of an SSO token are subjects, `[groups]` by default) and `policy.matchMode`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

/// A policy error at a 1-based line of its CSV text (`source` names the text: a file, or a
/// ConfigMap key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {msg}")]
pub struct PolicyError {
    pub file: String,
    pub line: usize,
    pub msg: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMode {
    Glob,
    Regex,
}

#[derive(Debug, Clone)]
enum Pattern {
    Exact(String),
    Re(regex::Regex),
    /// A pattern that does not compile matches nothing (argo-cd util/glob `Match`).
    Never,
}

impl Pattern {
    fn new(p: &str, mode: MatchMode) -> Result<Self, String> {
        match mode {
            MatchMode::Glob => {
                if !p.contains(['*', '?', '[', '{', '\\']) {
                    return Ok(Pattern::Exact(p.to_owned()));
                }
                let re = glob_to_regex(p)?;
                regex::Regex::new(&re)
                    .map(Pattern::Re)
                    .map_err(|e| e.to_string())
            }
            // casbin's RegexMatch: regexp.MatchString(pattern, value), unanchored
            MatchMode::Regex => regex::Regex::new(p)
                .map(Pattern::Re)
                .map_err(|e| e.to_string()),
        }
    }

    fn matches(&self, s: &str) -> bool {
        match self {
            Pattern::Exact(p) => p == s,
            Pattern::Re(r) => r.is_match(s),
            Pattern::Never => false,
        }
    }
}

/// A gobwas/glob pattern without separators as a regex: `*` any text (`/` included), `?`
/// one character, `[abc]`, `[a-z]`, `[!abc]`, `{a,b}` alternatives, `\` escapes.
pub fn glob_to_regex(p: &str) -> Result<String, String> {
    let mut out = String::from("^(?s:");
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    let mut depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' => {
                i += 1;
                let Some(n) = chars.get(i) else {
                    return Err("unexpected end of pattern after \\".into());
                };
                out.push_str(&regex::escape(&n.to_string()));
            }
            '[' => {
                let Some(end) = chars[i + 1..].iter().position(|&x| x == ']') else {
                    return Err(format!("unclosed [ at character {}", i + 1));
                };
                let body: String = chars[i + 1..i + 1 + end].iter().collect();
                if body.is_empty() {
                    return Err(format!("empty [] at character {}", i + 1));
                }
                let (neg, body) = match body.strip_prefix('!') {
                    Some(b) => (true, b.to_owned()),
                    None => (false, body),
                };
                out.push('[');
                if neg {
                    out.push('^');
                }
                for ch in body.chars() {
                    if ch == '-' {
                        out.push('-');
                    } else {
                        out.push_str(&regex::escape(&ch.to_string()));
                    }
                }
                out.push(']');
                i += end + 1;
            }
            '{' => {
                depth += 1;
                out.push_str("(?:");
            }
            ',' if depth > 0 => out.push('|'),
            '}' if depth > 0 => {
                depth -= 1;
                out.push(')');
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    if depth > 0 {
        return Err("unclosed {".into());
    }
    out.push_str(")$");
    Ok(out)
}

#[derive(Debug, Clone)]
struct Rule {
    subject: String,
    resource: Pattern,
    action: Pattern,
    object: Pattern,
    allow: bool,
}

/// Subjects' roles resolved once ([`Policy::prepare`]).
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    default: Option<Vec<String>>,
    subjects: Vec<Vec<String>>,
}

/// An Argo CD RBAC policy: the built-in policy, then the user's lines.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
    /// subject -> roles it is a member of (`g` lines).
    groups: HashMap<String, Vec<String>>,
    pub default_role: String,
    pub scopes: Vec<String>,
    pub mode: MatchMode,
}

/// The built-in policy's lines (argo-cd assets/builtin-policy.csv), written here as data
/// of the behaviour it pins.
fn builtin_lines() -> Vec<String> {
    let mut l = Vec::new();
    for (res, obj) in [
        ("applications", "*/*"),
        ("applicationsets", "*/*"),
        ("certificates", "*"),
        ("clusters", "*"),
        ("repositories", "*"),
        ("write-repositories", "*"),
        ("projects", "*"),
        ("accounts", "*"),
        ("gpgkeys", "*"),
        ("logs", "*/*"),
    ] {
        l.push(format!("p, role:readonly, {res}, get, {obj}, allow"));
    }
    let admin: &[(&str, &[&str], &str)] = &[
        (
            "applications",
            &[
                "create", "update", "update/*", "delete", "delete/*", "sync", "rollback",
                "override", "action/*",
            ],
            "*/*",
        ),
        (
            "applicationsets",
            &["get", "create", "update", "delete"],
            "*/*",
        ),
        ("certificates", &["create", "update", "delete"], "*"),
        ("clusters", &["create", "update", "delete"], "*"),
        ("repositories", &["create", "update", "delete"], "*"),
        ("write-repositories", &["create", "update", "delete"], "*"),
        ("projects", &["create", "update", "delete"], "*"),
        ("accounts", &["update"], "*"),
        ("gpgkeys", &["create", "delete"], "*"),
        ("exec", &["create", "debug"], "*/*"),
    ];
    for (res, acts, obj) in admin {
        for a in *acts {
            l.push(format!("p, role:admin, {res}, {a}, {obj}, allow"));
        }
    }
    l.push("g, role:admin, role:readonly".into());
    l.push("g, admin, role:admin".into());
    l
}

/// The resources Argo CD's RBAC knows (argo-cd util/rbac: ResourceApplications...).
pub const RESOURCES: &[&str] = &[
    "applications",
    "applicationsets",
    "clusters",
    "projects",
    "repositories",
    "write-repositories",
    "certificates",
    "accounts",
    "gpgkeys",
    "logs",
    "exec",
    "extensions",
    "*",
];

/// One parsed line of a policy text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    P {
        line: usize,
        subject: String,
        resource: String,
        action: String,
        object: String,
        effect: String,
    },
    G {
        line: usize,
        subject: String,
        role: String,
    },
}

/// Parses a policy text: blank lines and `#` comments skipped, each other line a CSV record
/// whose fields are trimmed (casbin persist.LoadPolicyLine).
pub fn parse_lines(source: &str, text: &str) -> Result<(Vec<Line>, Vec<PolicyError>), PolicyError> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let err = |msg: String| PolicyError {
            file: source.to_owned(),
            line: n,
            msg,
        };
        let recs = crate::tokenfile::read_csv(source, t).map_err(|e| err(e.msg))?;
        let Some(rec) = recs.into_iter().next() else {
            continue;
        };
        let f: Vec<String> = rec.fields.iter().map(|s| s.trim().to_owned()).collect();
        match f[0].as_str() {
            "p" => {
                if f.len() != 6 {
                    return Err(err(format!(
                        "a p line has 5 fields after \"p\" (subject, resource, action, object, effect), found {}",
                        f.len() - 1
                    )));
                }
                let effect = f[5].clone();
                if effect != "allow" && effect != "deny" {
                    return Err(err(format!(
                        "effect must be \"allow\" or \"deny\", found {effect:?}"
                    )));
                }
                if f[1].is_empty() {
                    return Err(err("a p line needs a subject".into()));
                }
                if !RESOURCES.contains(&f[2].as_str()) && !f[2].contains(['*', '?', '[', '{']) {
                    warnings.push(err(format!(
                        "unknown resource {:?} (known: {})",
                        f[2],
                        RESOURCES.join(", ")
                    )));
                }
                out.push(Line::P {
                    line: n,
                    subject: f[1].clone(),
                    resource: f[2].clone(),
                    action: f[3].clone(),
                    object: f[4].clone(),
                    effect,
                });
            }
            "g" => {
                if f.len() != 3 {
                    return Err(err(format!(
                        "a g line has 2 fields after \"g\" (subject, role), found {}",
                        f.len() - 1
                    )));
                }
                if f[1].is_empty() || f[2].is_empty() {
                    return Err(err("a g line needs a subject and a role".into()));
                }
                out.push(Line::G {
                    line: n,
                    subject: f[1].clone(),
                    role: f[2].clone(),
                });
            }
            other => {
                return Err(err(format!(
                    "a policy line starts with \"p\" or \"g\", found {other:?}"
                )));
            }
        }
    }
    Ok((out, warnings))
}

/// The `scopes` value (`'[groups, email]'`, a YAML flow sequence).
pub fn parse_scopes(s: &str) -> Vec<String> {
    let t = s.trim();
    if t.is_empty() {
        return vec!["groups".to_owned()];
    }
    t.trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|x| x.trim().trim_matches(|c| c == '"' || c == '\'').to_owned())
        .filter(|x| !x.is_empty())
        .collect()
}

impl Policy {
    /// A policy from `(source, csv)` texts (policy.csv, then the `policy.*.csv` overlays),
    /// the default role and the match mode.
    pub fn new(
        texts: &[(String, String)],
        default_role: &str,
        scopes: &str,
        match_mode: &str,
    ) -> Result<(Self, Vec<PolicyError>), PolicyError> {
        let mode = match match_mode.trim() {
            "" | "glob" => MatchMode::Glob,
            "regex" => MatchMode::Regex,
            other => {
                return Err(PolicyError {
                    file: "policy.matchMode".into(),
                    line: 1,
                    msg: format!("must be \"glob\" or \"regex\", found {other:?}"),
                });
            }
        };
        let mut p = Policy {
            rules: Vec::new(),
            groups: HashMap::new(),
            default_role: default_role.trim().to_owned(),
            scopes: parse_scopes(scopes),
            mode,
        };
        let (builtin, _) = parse_lines("builtin-policy.csv", &builtin_lines().join("\n"))?;
        // the built-in lines always use glob (their `*/*`), whatever the mode
        let mut warnings = Vec::new();
        p.add(
            &builtin,
            "builtin-policy.csv",
            MatchMode::Glob,
            &mut warnings,
        )?;
        for (source, text) in texts {
            let (lines, w) = parse_lines(source, text)?;
            warnings.extend(w);
            p.add(&lines, source, mode, &mut warnings)?;
        }
        Ok((p, warnings))
    }

    /// This policy with more lines (an AppProject's roles: Argo CD's runtime policy,
    /// enforced with the global one, util/rbac `EnforceRuntimePolicy`).
    pub fn with_text(&self, source: &str, text: &str) -> Result<Self, PolicyError> {
        let mut p = self.clone();
        let (lines, _) = parse_lines(source, text)?;
        let mut warnings = Vec::new();
        let mode = p.mode;
        p.add(&lines, source, mode, &mut warnings)?;
        Ok(p)
    }

    /// A policy from an argocd-rbac-cm ConfigMap's `data`.
    pub fn from_configmap_data(
        data: &BTreeMap<String, String>,
        source: &str,
    ) -> Result<(Self, Vec<PolicyError>), PolicyError> {
        let mut texts = Vec::new();
        if let Some(t) = data.get("policy.csv") {
            texts.push((format!("{source}: policy.csv"), t.clone()));
        }
        for (k, v) in data {
            if k != "policy.csv" && k.starts_with("policy.") && k.ends_with(".csv") {
                texts.push((format!("{source}: {k}"), v.clone()));
            }
        }
        let get = |k: &str| data.get(k).map(String::as_str).unwrap_or("");
        Policy::new(
            &texts,
            get("policy.default"),
            get("scopes"),
            get("policy.matchMode"),
        )
    }

    fn add(
        &mut self,
        lines: &[Line],
        source: &str,
        mode: MatchMode,
        warnings: &mut Vec<PolicyError>,
    ) -> Result<(), PolicyError> {
        for l in lines {
            match l {
                Line::P {
                    line,
                    subject,
                    resource,
                    action,
                    object,
                    effect,
                } => {
                    let mut pat = |s: &str| -> Result<Pattern, PolicyError> {
                        Ok(Pattern::new(s, mode).unwrap_or_else(|e| {
                            // upstream's matcher fails closed: the line matches nothing
                            warnings.push(PolicyError {
                                file: source.to_owned(),
                                line: *line,
                                msg: format!("pattern {s:?} matches nothing: {e}"),
                            });
                            Pattern::Never
                        }))
                    };
                    self.rules.push(Rule {
                        subject: subject.clone(),
                        resource: pat(resource)?,
                        action: pat(action)?,
                        object: pat(object)?,
                        allow: effect == "allow",
                    });
                }
                Line::G { subject, role, .. } => {
                    let roles = self.groups.entry(subject.clone()).or_default();
                    if !roles.contains(role) {
                        roles.push(role.clone());
                    }
                }
            }
        }
        Ok(())
    }

    /// The subject and every role it inherits through `g` lines (casbin's role manager,
    /// 10 levels deep).
    pub fn roles_of(&self, subject: &str) -> Vec<String> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut order = vec![subject.to_owned()];
        seen.insert(subject.to_owned());
        let mut frontier = vec![subject.to_owned()];
        for _ in 0..10 {
            let mut next = Vec::new();
            for s in &frontier {
                for r in self.groups.get(s).into_iter().flatten() {
                    if seen.insert(r.clone()) {
                        order.push(r.clone());
                        next.push(r.clone());
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        order
    }

    /// One subject's decision: some matching line allows and none denies.
    pub fn enforce_subject(
        &self,
        subject: &str,
        resource: &str,
        action: &str,
        object: &str,
    ) -> bool {
        if subject.is_empty() {
            return false;
        }
        self.decide(&self.roles_of(subject), resource, action, object)
    }

    /// The roles of the default role and of each subject, resolved once for many
    /// decisions (a filtered list decides once per item).
    pub fn prepare(&self, subjects: &[String]) -> Prepared {
        Prepared {
            default: (!self.default_role.is_empty()).then(|| self.roles_of(&self.default_role)),
            subjects: subjects
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| self.roles_of(s))
                .collect(),
        }
    }

    /// [`Policy::enforce`] with the roles resolved by [`Policy::prepare`].
    pub fn enforce_prepared(
        &self,
        p: &Prepared,
        resource: &str,
        action: &str,
        object: &str,
    ) -> bool {
        p.default
            .as_ref()
            .is_some_and(|r| self.decide(r, resource, action, object))
            || p.subjects
                .iter()
                .any(|r| self.decide(r, resource, action, object))
    }

    fn decide(&self, roles: &[String], resource: &str, action: &str, object: &str) -> bool {
        let mut allow = false;
        for r in &self.rules {
            if roles.contains(&r.subject)
                && r.resource.matches(resource)
                && r.action.matches(action)
                && r.object.matches(object)
            {
                if !r.allow {
                    return false;
                }
                allow = true;
            }
        }
        allow
    }

    /// Argo CD's decision for a subject and its groups: the default role first, then each
    /// subject alone (a deny for one group does not take away another's allow).
    pub fn enforce(&self, subjects: &[String], resource: &str, action: &str, object: &str) -> bool {
        (!self.default_role.is_empty()
            && self.enforce_subject(&self.default_role, resource, action, object))
            || subjects
                .iter()
                .any(|s| self.enforce_subject(s, resource, action, object))
    }

    /// The subjects of SSO claims: `sub`, then the values of each scope claim (a string or
    /// a list of strings), as argo-cd server/rbacpolicy does.
    pub fn claim_subjects(&self, claims: &Value) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(s) = claims.get("sub").and_then(Value::as_str) {
            out.push(s.to_owned());
        }
        for scope in &self.scopes {
            match claims.get(scope) {
                Some(Value::String(s)) => out.push(s.clone()),
                Some(Value::Array(a)) => {
                    out.extend(a.iter().filter_map(Value::as_str).map(str::to_owned))
                }
                _ => {}
            }
        }
        out
    }
}
