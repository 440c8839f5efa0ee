//! Who may do what, without I/O: the users of a static token file (kube-apiserver's
//! `--token-auth-file`), ServiceAccount tokens (ES256 JWTs shaped as kube-apiserver's bound
//! tokens), OpenID Connect ID tokens (kube-apiserver's `--oidc-*` flags), Kubernetes RBAC over Role/ClusterRole/RoleBinding/ClusterRoleBinding objects
//! with the bootstrap roles and aggregation, and Argo CD's RBAC (argocd-rbac-cm).
//!
//! The API server (sluice-apiserver) and the CLI (`sluice admin rbac`) are the I/O edges.

pub mod argocd;
pub mod argocd_map;
pub mod argocd_token;
pub mod bootstrap;
pub mod oidc;
pub mod oidc_login;
pub mod rbac;
pub mod sa;
pub mod tokenfile;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An authenticated user, as kube-apiserver's `user.Info`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UserInfo {
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    pub fn new(username: impl Into<String>, groups: &[&str]) -> Self {
        UserInfo {
            username: username.into(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            ..Default::default()
        }
    }

    /// Adds `system:authenticated` as kube-apiserver's authenticator union does
    /// (`group.AuthenticatedGroupAdder`), unless the user is anonymous or has it.
    pub fn with_authenticated(mut self) -> Self {
        if self.username != "system:anonymous"
            && !self.groups.iter().any(|g| g == "system:authenticated")
        {
            self.groups.push("system:authenticated".to_owned());
        }
        self
    }
}

/// Constant-time comparison of secrets (tokens).
pub fn secret_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
