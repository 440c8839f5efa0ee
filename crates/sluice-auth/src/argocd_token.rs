//! AppProject roles and their JWT tokens, as Argo CD's (docs user-guide/projects.md
//! "Project Roles"; server/project `CreateToken`/`DeleteToken`, server/rbacpolicy
//! `enforceProjectToken`): a token's subject is `proj:<project>:<role>`, it carries `iat`,
//! `jti` (the token id) and, when it expires, `exp`; the project records each token in
//! `spec.roles[].jwtTokens` as `{iat, exp?, id}`, and a token is accepted only while its
//! `iat` (or id) is still listed there — deleting the entry revokes it. It is authorized
//! with the role's `policies` and only for objects of its own project. Sluice signs the
//! tokens with the server's ServiceAccount key (ES256; Argo CD signs HS256 with
//! `server.secretkey`).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The `iss` of project tokens (argo-cd util/session `SessionManagerClaimsIssuer`).
pub const ISSUER: &str = "argocd";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectClaims {
    pub iss: String,
    pub sub: String,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub jti: String,
}

/// `proj:<project>:<role>` (argo-cd pkg/apis/application/v1alpha1 `RoleSubject`... the
/// subject of a role's policies).
pub fn subject(project: &str, role: &str) -> String {
    format!("proj:{project}:{role}")
}

/// (project, role) of a `proj:` subject.
pub fn parse_subject(sub: &str) -> Option<(&str, &str)> {
    let rest = sub.strip_prefix("proj:")?;
    let (p, r) = rest.split_once(':')?;
    (!p.is_empty() && !r.is_empty() && !r.contains(':')).then_some((p, r))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("project '{project}' does not have role '{role}'")]
    NoRole { project: String, role: String },
    #[error("Token id '{0}' has been used. ")]
    IdUsed(String),
    #[error("{0}")]
    Invalid(String),
}

/// A role of a stored AppProject.
pub fn role<'a>(project: &'a Value, name: &str) -> Option<&'a Value> {
    project
        .pointer("/spec/roles")?
        .as_array()?
        .iter()
        .find(|r| r.get("name").and_then(Value::as_str) == Some(name))
}

/// Whether claims of a token (checked by signature and time already) are still listed in
/// the project's role: an entry with the same `iat`, or the same non-empty id
/// (argo-cd server/rbacpolicy `enforceProjectToken`).
pub fn is_listed(project: &Value, claims: &ProjectClaims) -> bool {
    let Some((p, r)) = parse_subject(&claims.sub) else {
        return false;
    };
    if project.pointer("/metadata/name").and_then(Value::as_str) != Some(p) {
        return false;
    }
    let Some(role) = role(project, r) else {
        return false;
    };
    role.get("jwtTokens")
        .and_then(Value::as_array)
        .is_some_and(|toks| {
            toks.iter().any(|t| {
                t.get("iat").and_then(Value::as_i64) == Some(claims.iat)
                    || (!claims.jti.is_empty()
                        && t.get("id").and_then(Value::as_str) == Some(claims.jti.as_str()))
            })
        })
}

/// Whether the token's times hold at `now` (no `exp`: it never expires, as Argo CD's
/// tokens created without `--expires-in`).
pub fn times_hold(claims: &ProjectClaims, now: i64) -> bool {
    claims.exp.is_none_or(|e| now < e) && claims.nbf.is_none_or(|n| now.saturating_add(60) >= n)
}

/// New claims for a token of `project`'s `role` issued at `now`, expiring after
/// `expires_in` seconds (0: never).
pub fn new_claims(project: &str, role: &str, now: i64, expires_in: i64, id: &str) -> ProjectClaims {
    ProjectClaims {
        iss: ISSUER.to_owned(),
        sub: subject(project, role),
        iat: now,
        exp: (expires_in > 0).then_some(now.saturating_add(expires_in)),
        nbf: Some(now),
        jti: id.to_owned(),
    }
}

/// Records a token in the project's role (`spec.roles[].jwtTokens`, and the
/// `status.jwtTokensByRole` mirror Argo CD keeps); refuses an unknown role or an id in use.
pub fn record(project: &mut Value, claims: &ProjectClaims) -> Result<(), TokenError> {
    let (p, r) = parse_subject(&claims.sub)
        .map(|(p, r)| (p.to_owned(), r.to_owned()))
        .ok_or_else(|| TokenError::Invalid(format!("bad subject {:?}", claims.sub)))?;
    let roles = project
        .pointer_mut("/spec/roles")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| TokenError::NoRole {
            project: p.clone(),
            role: r.clone(),
        })?;
    let Some(role) = roles
        .iter_mut()
        .find(|x| x.get("name").and_then(Value::as_str) == Some(r.as_str()))
    else {
        return Err(TokenError::NoRole {
            project: p,
            role: r,
        });
    };
    let mut entry = json!({"iat": claims.iat, "id": claims.jti});
    if let Some(e) = claims.exp {
        entry["exp"] = json!(e);
    }
    let toks = role
        .as_object_mut()
        .ok_or_else(|| TokenError::Invalid("a role is not an object".into()))?
        .entry("jwtTokens")
        .or_insert_with(|| json!([]));
    let Some(list) = toks.as_array_mut() else {
        return Err(TokenError::Invalid("jwtTokens is not a list".into()));
    };
    if !claims.jti.is_empty()
        && list
            .iter()
            .any(|t| t.get("id").and_then(Value::as_str) == Some(claims.jti.as_str()))
    {
        return Err(TokenError::IdUsed(claims.jti.clone()));
    }
    list.push(entry.clone());
    if let Some(st) = project.as_object_mut() {
        let status = st.entry("status").or_insert_with(|| json!({}));
        if let Some(m) = status.as_object_mut() {
            let by = m.entry("jwtTokensByRole").or_insert_with(|| json!({}));
            if let Some(by) = by.as_object_mut() {
                let e = by.entry(r).or_insert_with(|| json!({"items": []}));
                if let Some(items) = e.get_mut("items").and_then(Value::as_array_mut) {
                    items.push(entry);
                }
            }
        }
    }
    Ok(())
}

/// The project's roles as policy text (argo-cd `AppProject.ProjectPoliciesString`): each
/// role's `policies` lines whose subject is the role's own (Argo CD refuses others when
/// the project is written), and `g, <group>, proj:<project>:<role>` for its `groups`.
pub fn project_policy(project: &Value) -> String {
    let name = project
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut out = Vec::new();
    for r in project
        .pointer("/spec/roles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(rn) = r.get("name").and_then(Value::as_str) else {
            continue;
        };
        let sub = subject(name, rn);
        for p in r
            .get("policies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let fields: Vec<&str> = p.split(',').map(str::trim).collect();
            if fields.len() >= 5 && fields[0] == "p" && fields[1] == sub {
                out.push(p.trim().to_owned());
            }
        }
        for g in r
            .get("groups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !g.contains(',') && !g.contains('\n') {
                out.push(format!("g, {g}, {sub}"));
            }
        }
    }
    out.join("\n")
}

/// The project an Argo CD check is about (argo-cd server/rbacpolicy
/// `getProjectFromRequest`): the first segment of an application/applicationset/logs/exec
/// object, a project's own name; None for the rest (clusters, repositories...).
pub fn project_of(resource: &str, object: &str) -> Option<String> {
    match resource {
        "applications" | "applicationsets" | "logs" | "exec" => {
            object.split_once('/').map(|(p, _)| p.to_owned())
        }
        "projects" => Some(object.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Value {
        json!({"metadata": {"name": "team-a"}, "spec": {"roles": [
            {"name": "ci", "policies": [
                "p, proj:team-a:ci, applications, sync, team-a/*, allow",
                "p, proj:other:ci, applications, delete, */*, allow",
                "p, developers, applications, delete, */*, allow"
            ], "groups": ["release-managers"]}
        ]}})
    }

    #[test]
    fn record_list_and_revoke() {
        let mut p = project();
        let c = new_claims("team-a", "ci", 1000, 3600, "t1");
        assert!(!is_listed(&p, &c));
        record(&mut p, &c).expect("recorded");
        assert!(is_listed(&p, &c));
        assert_eq!(
            p.pointer("/spec/roles/0/jwtTokens/0"),
            Some(&json!({"iat": 1000, "id": "t1", "exp": 4600}))
        );
        // the same id again is refused, as argo-cd CreateToken
        assert_eq!(
            record(&mut p, &new_claims("team-a", "ci", 1001, 0, "t1")),
            Err(TokenError::IdUsed("t1".into()))
        );
        assert!(matches!(
            record(&mut p, &new_claims("team-a", "nope", 1, 0, "")),
            Err(TokenError::NoRole { .. })
        ));
        // deleting the entry revokes it
        p["spec"]["roles"][0]["jwtTokens"] = json!([]);
        assert!(!is_listed(&p, &c));
        // another project's token is never listed here
        assert!(!is_listed(
            &project(),
            &new_claims("other", "ci", 1000, 0, "t1")
        ));
        assert!(times_hold(&c, 1000) && !times_hold(&c, 4600));
        assert!(times_hold(&new_claims("team-a", "ci", 1, 0, ""), i64::MAX));
    }

    proptest::proptest! {
        /// Any project object and claims: no panic.
        #[test]
        fn records_never_panic(sub in "proj:[a-z:]{0,8}", iat in proptest::num::i64::ANY, exp in proptest::num::i64::ANY, roles in proptest::collection::vec("[a-z]{0,3}", 0..3)) {
            let mut p = json!({"metadata": {"name": "a"}, "spec": {"roles": roles.iter().map(|r| json!({"name": r, "jwtTokens": 1, "policies": [r]})).collect::<Vec<_>>()}});
            let c = ProjectClaims { iss: ISSUER.into(), sub, iat, exp: Some(exp), nbf: Some(iat), jti: String::new() };
            let _ = is_listed(&p, &c);
            let _ = times_hold(&c, iat);
            let _ = record(&mut p, &c);
            let _ = project_policy(&p);
            let _ = new_claims("a", "b", iat, exp, "");
        }
    }

    #[test]
    fn role_policies_keep_their_own_subject() {
        assert_eq!(
            project_policy(&project()),
            "p, proj:team-a:ci, applications, sync, team-a/*, allow\ng, release-managers, proj:team-a:ci"
        );
        assert_eq!(parse_subject("proj:a:b"), Some(("a", "b")));
        assert_eq!(parse_subject("proj:a"), None);
        assert_eq!(project_of("applications", "p/app"), Some("p".into()));
        assert_eq!(project_of("projects", "p"), Some("p".into()));
        assert_eq!(project_of("clusters", "https://k"), None);
    }
}
