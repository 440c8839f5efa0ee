//! `sluice proj role ...` as `argocd proj role` (argo-cd cmd/argocd/commands/project_role.go):
//! roles in the AppProject's `spec.roles`, `add-policy` writing `p, proj:PROJECT:ROLE,
//! RESOURCE, ACTION, PROJECT/OBJECT, PERMISSION`, and JWT tokens minted by the server
//! (`POST .../appprojects/PROJECT/token`, which signs the token and records `{iat, exp, id}`
//! in the role's `jwtTokens`); `delete-token` removes that record, which revokes the token.

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use sluice_cli::{Conn, Error};

use crate::argocd_cli::{in_argocd, out, proj_res};
use crate::cli::{ConnFlags, with_conn};

#[derive(Debug, Subcommand)]
pub enum RoleCmd {
    /// Create a project role.
    Create {
        project: String,
        role: String,
        #[arg(short = 'd', long, default_value = "")]
        description: String,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Delete a project role.
    Delete {
        project: String,
        role: String,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// ROLE-NAME DESCRIPTION of a project's roles.
    List {
        project: String,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// A role's policies and tokens.
    Get {
        project: String,
        role: String,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Add a policy line to a role (its object is prefixed `PROJECT/`).
    AddPolicy {
        project: String,
        role: String,
        #[arg(short = 'a', long)]
        action: String,
        #[arg(short = 'o', long, default_value = "")]
        object: String,
        #[arg(short = 'p', long, default_value = "allow")]
        permission: String,
        #[arg(short = 'r', long, default_value = "applications")]
        resource: String,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Mint a token for a role (the server signs it and records it in the project).
    CreateToken(CreateToken),
    /// Delete (revoke) a role's token by its ISSUED-AT (or ID).
    DeleteToken {
        project: String,
        role: String,
        issued_at: String,
        #[command(flatten)]
        conn: ConnFlags,
    },
}

#[derive(Debug, Args)]
pub struct CreateToken {
    project: String,
    role: String,
    /// Duration before the token expires, e.g. "12h", "7d" (default: never).
    #[arg(short = 'e', long)]
    expires_in: Option<String>,
    /// The token's unique id (default: a random UUID).
    #[arg(short = 'i', long)]
    id: Option<String>,
    /// Print the token only.
    #[arg(short = 't', long)]
    token_only: bool,
    #[command(flatten)]
    conn: ConnFlags,
}

/// argocd's `--expires-in` (Go durations and a `d` for days).
fn parse_expires(s: &str) -> Result<i64, Error> {
    let bad = || {
        Error::Usage(format!(
            "invalid --expires-in {s:?} (e.g. 90s, 30m, 12h, 7d)"
        ))
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = t.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(bad()),
    };
    n.checked_mul(mul).ok_or_else(bad)
}

fn roles(p: &Value) -> Vec<Value> {
    p.pointer("/spec/roles")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Writes the roles back, conditional on the resourceVersion read.
async fn put_roles(c: &Conn, p: &Value, roles: Vec<Value>) -> Result<(), Error> {
    let name = p["metadata"]["name"].as_str().unwrap_or("");
    c.merge_patch(
        &proj_res(),
        &c.namespace,
        name,
        &json!({"metadata": {"resourceVersion": p["metadata"]["resourceVersion"]}, "spec": {"roles": roles}}),
    )
    .await?;
    Ok(())
}

fn no_role(project: &str, role: &str) -> Error {
    Error::RunFailed(format!(
        "rpc error: code = NotFound desc = project '{project}' does not have role '{role}'"
    ))
}

/// The role `role` among `rs`, the roles of `project`; Argo CD's NotFound when it has none.
fn role_mut<'a>(rs: &'a mut [Value], project: &str, role: &str) -> Result<&'a mut Value, Error> {
    rs.iter_mut()
        .find(|r| r["name"] == role)
        .ok_or_else(|| no_role(project, role))
}

fn time(secs: i64) -> String {
    sluice_core::civil::rfc3339_utc(secs)
}

pub fn run(cmd: &RoleCmd) -> anyhow::Result<u8> {
    match cmd {
        RoleCmd::Create {
            project,
            role,
            description,
            conn,
        } => with_conn(&in_argocd(conn), |c| async move {
            let p = c.get(&proj_res(), &c.namespace, project).await?;
            let mut rs = roles(&p);
            if rs.iter().any(|r| r["name"] == role.as_str()) {
                out(&format!("Role '{role}' already exists\n"));
                return Ok(0);
            }
            rs.push(json!({"name": role, "description": description}));
            put_roles(&c, &p, rs).await?;
            out(&format!("Role '{role}' created\n"));
            Ok(0)
        }),
        RoleCmd::Delete {
            project,
            role,
            conn,
        } => with_conn(&in_argocd(conn), |c| async move {
            let p = c.get(&proj_res(), &c.namespace, project).await?;
            let mut rs = roles(&p);
            let n = rs.len();
            rs.retain(|r| r["name"] != role.as_str());
            if rs.len() == n {
                out(&format!("Role '{role}' does not exist in project\n"));
                return Ok(0);
            }
            put_roles(&c, &p, rs).await?;
            out(&format!("Role '{role}' deleted\n"));
            Ok(0)
        }),
        RoleCmd::List { project, conn } => with_conn(&in_argocd(conn), |c| async move {
            let p = c.get(&proj_res(), &c.namespace, project).await?;
            let rows: Vec<Vec<String>> =
                std::iter::once(vec!["ROLE-NAME".to_owned(), "DESCRIPTION".to_owned()])
                    .chain(roles(&p).iter().map(|r| {
                        vec![
                            r["name"].as_str().unwrap_or("").to_owned(),
                            r["description"].as_str().unwrap_or("").to_owned(),
                        ]
                    }))
                    .collect();
            out(&sluice_cli::table::render_padded(&rows, "", 2));
            Ok(0)
        }),
        RoleCmd::Get {
            project,
            role,
            conn,
        } => with_conn(&in_argocd(conn), |c| async move {
            let p = c.get(&proj_res(), &c.namespace, project).await?;
            let mut rs = roles(&p);
            let r = &*role_mut(&mut rs, project, role)?;
            let mut s = format!(
                "Role Name:     {role}\nDescription:   {}\nPolicies:\n",
                r["description"].as_str().unwrap_or("")
            );
            for l in r["policies"].as_array().into_iter().flatten() {
                s.push_str(&format!("{}\n", l.as_str().unwrap_or("")));
            }
            s.push_str("Groups:\n");
            for g in r["groups"].as_array().into_iter().flatten() {
                s.push_str(&format!("{}\n", g.as_str().unwrap_or("")));
            }
            s.push_str("JWT Tokens:\n");
            let mut rows = vec![vec![
                "ID".to_owned(),
                "ISSUED-AT".to_owned(),
                "EXPIRES-AT".to_owned(),
            ]];
            for t in r["jwtTokens"].as_array().into_iter().flatten() {
                let iat = t["iat"].as_i64().unwrap_or(0);
                rows.push(vec![
                    iat.to_string(),
                    time(iat),
                    t["exp"]
                        .as_i64()
                        .map(time)
                        .unwrap_or_else(|| "<none>".into()),
                ]);
            }
            s.push_str(&sluice_cli::table::render_padded(&rows, "", 2));
            out(&s);
            Ok(0)
        }),
        RoleCmd::AddPolicy {
            project,
            role,
            action,
            object,
            permission,
            resource,
            conn,
        } => with_conn(&in_argocd(conn), |c| async move {
            let p = c.get(&proj_res(), &c.namespace, project).await?;
            let mut rs = roles(&p);
            let r = role_mut(&mut rs, project, role)?;
            let line = format!(
                "p, proj:{project}:{role}, {resource}, {action}, {project}/{object}, {permission}"
            );
            if !r["policies"].is_array() {
                r["policies"] = json!([]);
            }
            if let Some(a) = r["policies"].as_array_mut()
                && !a.iter().any(|l| l == line.as_str())
            {
                a.push(json!(line));
            }
            put_roles(&c, &p, rs).await?;
            Ok(0)
        }),
        RoleCmd::CreateToken(t) => with_conn(&in_argocd(&t.conn), |c| async move {
            let secs = match &t.expires_in {
                Some(e) => parse_expires(e)?,
                None => 0,
            };
            let mut body = json!({"role": t.role, "expiresIn": secs});
            if let Some(id) = &t.id {
                body["id"] = json!(id);
            }
            let path = format!(
                "{}/{}/token",
                proj_res().path(Some(&c.namespace)),
                t.project
            );
            let r = c.post_json(&path, &body).await?;
            let token = r["token"].as_str().unwrap_or("");
            if t.token_only {
                out(&format!("{token}\n"));
            } else {
                out(&format!(
                    "Create token succeeded for proj:{}:{}.\n  ID: {}\n  Issued At: {}\n  Expires At: {}\n  Token: {token}\n",
                    t.project,
                    t.role,
                    r["id"].as_str().unwrap_or(""),
                    time(r["iat"].as_i64().unwrap_or(0)),
                    r["exp"]
                        .as_i64()
                        .map(time)
                        .unwrap_or_else(|| "Never".into()),
                ));
            }
            Ok(0)
        }),
        RoleCmd::DeleteToken {
            project,
            role,
            issued_at,
            conn,
        } => with_conn(&in_argocd(conn), |c| async move {
            let p = c.get(&proj_res(), &c.namespace, project).await?;
            let mut rs = roles(&p);
            let r = role_mut(&mut rs, project, role)?;
            let iat: Option<i64> = issued_at.parse().ok();
            let toks = r["jwtTokens"].as_array().cloned().unwrap_or_default();
            let kept: Vec<Value> = toks
                .iter()
                .filter(|t| {
                    !(iat.is_some() && t["iat"].as_i64() == iat)
                        && t["id"].as_str() != Some(issued_at.as_str())
                })
                .cloned()
                .collect();
            if kept.len() == toks.len() {
                return Err(Error::RunFailed(format!(
                    "rpc error: code = NotFound desc = token with issued-at {issued_at} not found in role {role}"
                )));
            }
            r["jwtTokens"] = json!(kept);
            put_roles(&c, &p, rs).await?;
            Ok(0)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in() {
        assert_eq!(parse_expires("90s").ok(), Some(90));
        assert_eq!(parse_expires("12h").ok(), Some(43200));
        assert_eq!(parse_expires("7d").ok(), Some(604800));
        assert!(parse_expires("7w").is_err());
        assert!(parse_expires("h").is_err());
        assert!(parse_expires("99999999999999999999d").is_err());
    }
}
