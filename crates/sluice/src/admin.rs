//! `sluice admin rbac can|validate` (as `argocd admin settings rbac can|validate` and
//! `kubectl auth can-i`, offline over files) and the authentication flags of
//! `sluice apiserver` / `sluice serve` (kube-apiserver's names).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::Value;
use sluice_auth::UserInfo;
use sluice_auth::argocd::Policy;
use sluice_auth::rbac::{Attributes, Rbac};
use sluice_core::{FieldPath, yaml::Limits};

use crate::exit;

/// Who may call the API besides the admin token (kube-apiserver's flag names).
#[derive(Debug, Clone, Default, Args)]
pub struct AuthFlags {
    /// Users from a CSV file of `token,user,uid,"group1,group2"` lines (kube-apiserver's
    /// --token-auth-file); RBAC decides what they may do.
    #[arg(long, value_name = "FILE")]
    pub token_auth_file: Option<PathBuf>,
    /// The `iss` of the ServiceAccount tokens the server signs (TokenRequest, `kubectl
    /// create token`). Default https://kubernetes.default.svc.cluster.local.
    #[arg(long, value_name = "URL")]
    pub service_account_issuer: Option<String>,
    /// Audiences a ServiceAccount token must name one of (comma-separated; default: the
    /// issuer).
    #[arg(long, value_name = "AUD", value_delimiter = ',')]
    pub api_audiences: Vec<String>,
    /// The URL of the OpenID Connect issuer (https only): its ID tokens are accepted as
    /// bearer tokens (kube-apiserver's --oidc-issuer-url; needs --oidc-client-id).
    #[arg(long, value_name = "URL")]
    pub oidc_issuer_url: Option<String>,
    /// The client id an ID token's `aud` must contain (--oidc-client-id).
    #[arg(long, value_name = "ID")]
    pub oidc_client_id: Option<String>,
    /// PEM roots that verify the issuer's certificate (default: the host's roots).
    #[arg(long, value_name = "FILE")]
    pub oidc_ca_file: Option<PathBuf>,
    /// The claim that names the user (default sub; other claims than sub are not
    /// guaranteed unique and immutable).
    #[arg(long, value_name = "CLAIM", default_value = "sub")]
    pub oidc_username_claim: String,
    /// Prefixed to usernames; default: the issuer URL and `#` for claims other than email;
    /// `-` for no prefix.
    #[arg(long, value_name = "PREFIX")]
    pub oidc_username_prefix: Option<String>,
    /// The claim with the user's groups (a string or a list of strings).
    #[arg(long, value_name = "CLAIM")]
    pub oidc_groups_claim: Option<String>,
    /// Prefixed to every group of --oidc-groups-claim.
    #[arg(long, value_name = "PREFIX", default_value = "")]
    pub oidc_groups_prefix: String,
    /// A claim the ID token must have with this string value (repeatable).
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_required_claim)]
    pub oidc_required_claim: Vec<(String, String)>,
    /// Accepted signing algorithms (comma-separated; default RS256; RS384, RS512, PS256,
    /// PS384, PS512, ES256, ES384).
    #[arg(long, value_name = "ALGS", value_delimiter = ',')]
    pub oidc_signing_algs: Vec<String>,
}

impl AuthFlags {
    /// Without `--oidc-issuer-url`/`--oidc-client-id`: OIDC from Argo CD's `oidc.config` in
    /// the stored ConfigMap argocd/argocd-cm (`issuer`, `clientID`, `cliClientID`,
    /// `allowedAudiences`, `rootCA`; `$key` values from argocd-secret, `$secret:key` from a
    /// Secret labelled `app.kubernetes.io/part-of: argocd`), read once at start; groups from
    /// the `groups` claim unless `--oidc-groups-claim`; the other `--oidc-*` flags apply. A
    /// configuration that does not load is a warning: the server starts without OIDC.
    pub fn oidc_from_argocd_cm(&self, server: &sluice_apiserver::ApiServer) {
        if self.oidc_issuer_url.is_some() || self.oidc_client_id.is_some() {
            return;
        }
        let store = &server.state().store;
        let Some(cm) = store.get("/configmaps", "argocd", "argocd-cm") else {
            return;
        };
        let Some(text) = cm.pointer("/data/oidc.config").and_then(Value::as_str) else {
            return;
        };
        let warn = |why: String| {
            sluice_apiserver::log_warning(format!(
                "argocd/argocd-cm oidc.config: {why}; OIDC tokens are not accepted"
            ))
        };
        let config = match sluice_core::yaml::load_documents(text, &Limits::default()) {
            Ok(docs) => docs
                .into_iter()
                .next()
                .map(|d| d.value)
                .unwrap_or(Value::Null),
            Err(e) => return warn(e.to_string()),
        };
        let secret_value = |secret: &str, key: &str, labelled: bool| -> Option<String> {
            let s = store.get("/secrets", "argocd", secret)?;
            if labelled
                && s.pointer("/metadata/labels/app.kubernetes.io~1part-of")
                    .and_then(Value::as_str)
                    != Some("argocd")
            {
                return None;
            }
            let b = s.get("data")?.get(key)?.as_str()?;
            use base64::Engine as _;
            let raw = base64::engine::general_purpose::STANDARD.decode(b).ok()?;
            String::from_utf8(raw).ok()
        };
        let lookup = |key: &str| match key.split_once(':') {
            Some((secret, k)) => secret_value(secret, k, true),
            None => secret_value("argocd-secret", key, false),
        };
        let argo = match sluice_auth::oidc::argocd_oidc_config(&config, &lookup) {
            Ok(a) => a,
            Err(e) => return warn(e.to_string()),
        };
        let mut flags = argo.options();
        flags.username_claim = self.oidc_username_claim.clone();
        flags.username_prefix = self.oidc_username_prefix.clone();
        flags.groups_claim = Some(
            self.oidc_groups_claim
                .clone()
                .unwrap_or_else(|| "groups".to_owned()),
        );
        flags.groups_prefix = self.oidc_groups_prefix.clone();
        flags.required_claims = self.oidc_required_claim.iter().cloned().collect();
        if !self.oidc_signing_algs.is_empty() {
            flags.signing_algs = self.oidc_signing_algs.clone();
        }
        let o = sluice_apiserver::oidc::OidcOptions {
            flags,
            ca_file: self.oidc_ca_file.clone(),
            ca_pem: argo.root_ca.clone(),
            // the UI's "Log in via NAME" (argo-cd's SSO login through the same provider)
            login: Some(sluice_apiserver::oidc::LoginOptions {
                name: argo.name.clone(),
                client_secret: argo.client_secret.clone(),
                scopes: argo.requested_scopes.clone(),
            }),
        };
        if let Err(e) = server.set_oidc(&o) {
            warn(e.to_string());
        }
    }
}

fn parse_required_claim(s: &str) -> Result<(String, String), String> {
    sluice_auth::oidc::parse_required_claim(s).map_err(|e| e.to_string())
}

impl AuthFlags {
    /// Sets the server options these flags name.
    pub fn apply(&self, o: &mut sluice_apiserver::Options) {
        o.token_auth_file = self.token_auth_file.clone();
        o.service_account_issuer = self.service_account_issuer.clone();
        o.api_audiences = self.api_audiences.clone();
        if self.oidc_issuer_url.is_some() || self.oidc_client_id.is_some() {
            let mut flags = sluice_auth::oidc::Options::new(
                self.oidc_issuer_url.as_deref().unwrap_or(""),
                self.oidc_client_id.as_deref().unwrap_or(""),
            );
            flags.username_claim = self.oidc_username_claim.clone();
            flags.username_prefix = self.oidc_username_prefix.clone();
            flags.groups_claim = self.oidc_groups_claim.clone();
            flags.groups_prefix = self.oidc_groups_prefix.clone();
            flags.required_claims = self.oidc_required_claim.iter().cloned().collect();
            if !self.oidc_signing_algs.is_empty() {
                flags.signing_algs = self.oidc_signing_algs.clone();
            }
            o.oidc = Some(sluice_apiserver::oidc::OidcOptions {
                flags,
                ca_file: self.oidc_ca_file.clone(),
                ca_pem: None,
                login: None,
            });
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// RBAC: decide a request offline, check policy files.
    #[command(subcommand)]
    Rbac(RbacCommand),
}

#[derive(Debug, Subcommand)]
pub enum RbacCommand {
    /// Whether SUBJECT may do VERB on RESOURCE. With --policy-file (an argocd-rbac-cm
    /// ConfigMap or a policy.csv): Argo CD RBAC, `can ROLE/SUBJECT ACTION RESOURCE
    /// [OBJECT]` as `argocd admin settings rbac can`. Otherwise Kubernetes RBAC over the
    /// Role/ClusterRole/(Cluster)RoleBinding objects of -f FILE and the default roles:
    /// `can USER VERB RESOURCE [NAME] [-n NS]` as `kubectl auth can-i --as USER`
    /// (RESOURCE: pods, deployments.apps, pods/log, or a /path). Prints yes or no; exit 0
    /// when allowed, 1 when not, 2 on usage or file errors.
    Can(CanArgs),
    /// Check RBAC objects (Role, ClusterRole, RoleBinding, ClusterRoleBinding), argocd-rbac-cm
    /// ConfigMaps and policy .csv files: every error as file:line:col. Exit 1 on errors.
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
pub struct CanArgs {
    /// The user (Kubernetes) or role/subject (Argo CD).
    pub subject: String,
    /// The verb (get, list, create...) or the Argo CD action (get, sync, delete...).
    pub verb: String,
    /// The resource (`pods`, `deployments.apps`, `pods/log`, `/healthz`) or the Argo CD
    /// resource (applications, logs, clusters...).
    pub resource: String,
    /// The object's name (Kubernetes) or the Argo CD object (`project/app`).
    pub object: Option<String>,
    /// The namespace (Kubernetes).
    #[arg(short = 'n', long, default_value = "")]
    pub namespace: String,
    /// Groups of the user (repeatable).
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// Files with RBAC objects (Kubernetes).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub files: Vec<String>,
    /// An argocd-rbac-cm ConfigMap (YAML) or a policy.csv: decide with Argo CD RBAC.
    #[arg(long, value_name = "FILE")]
    pub policy_file: Option<String>,
    /// The default role (overrides the file's policy.default).
    #[arg(long, value_name = "ROLE")]
    pub default_role: Option<String>,
    /// Print nothing; the exit code answers.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Files to check (YAML objects, or .csv policy files).
    #[arg(required = true)]
    pub files: Vec<String>,
}

pub fn run(cmd: &AdminCommand) -> anyhow::Result<u8> {
    match cmd {
        AdminCommand::Rbac(RbacCommand::Can(a)) => can(a),
        AdminCommand::Rbac(RbacCommand::Validate(a)) => validate(a),
    }
}

fn load(file: &str) -> anyhow::Result<(String, sluice_core::object::LoadedFile)> {
    let text = crate::input::read_named(file)?;
    let loaded = sluice_core::object::load_objects(file, &text, &Limits::default())
        .map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    Ok((text, loaded))
}

fn configmap_data(v: &Value) -> BTreeMap<String, String> {
    v.get("data")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The Argo CD policy of a file: a policy.csv, or the first ConfigMap with policy keys.
fn argo_policy(file: &str, default_role: Option<&str>) -> anyhow::Result<Policy> {
    let text = crate::input::read_named(file)?;
    let mut data = if file.ends_with(".csv") {
        BTreeMap::from([("policy.csv".to_owned(), text)])
    } else {
        let (_, loaded) = load(file)?;
        loaded
            .objects
            .iter()
            .find(|o| o.object.kind() == "ConfigMap")
            .map(|o| configmap_data(o.object.value()))
            .with_context(|| format!("{file}: no ConfigMap in the file"))?
    };
    if let Some(d) = default_role {
        data.insert("policy.default".into(), d.to_owned());
    }
    let (p, _) = Policy::from_configmap_data(&data, file).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(p)
}

fn can(a: &CanArgs) -> anyhow::Result<u8> {
    let yes = if let Some(pf) = &a.policy_file {
        let p = argo_policy(pf, a.default_role.as_deref())?;
        let mut subjects = vec![a.subject.clone()];
        subjects.extend(a.groups.iter().cloned());
        // argocd's order: SUBJECT ACTION RESOURCE [OBJECT]
        p.enforce(
            &subjects,
            &a.resource,
            &a.verb,
            a.object.as_deref().unwrap_or(""),
        )
    } else {
        let mut kinds: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for f in &a.files {
            let (_, loaded) = load(f)?;
            for o in loaded.objects {
                let k = match o.object.kind() {
                    "Role" => "Role",
                    "ClusterRole" => "ClusterRole",
                    "RoleBinding" => "RoleBinding",
                    "ClusterRoleBinding" => "ClusterRoleBinding",
                    _ => continue,
                };
                kinds.entry(k).or_default().push(o.object.into_value());
            }
        }
        for o in sluice_auth::bootstrap::objects() {
            let k = if o["kind"] == "ClusterRole" {
                "ClusterRole"
            } else {
                "ClusterRoleBinding"
            };
            let name = o["metadata"]["name"].clone();
            let list = kinds.entry(k).or_default();
            if !list.iter().any(|x| x["metadata"]["name"] == name) {
                list.push(o);
            }
        }
        let get = |k: &str| kinds.get(k).cloned().unwrap_or_default();
        let rbac = Rbac::new(
            &get("Role"),
            &get("ClusterRole"),
            &get("RoleBinding"),
            &get("ClusterRoleBinding"),
        );
        let user = UserInfo {
            username: a.subject.clone(),
            groups: a.groups.clone(),
            ..Default::default()
        }
        .with_authenticated();
        let attrs = if a.resource.starts_with('/') {
            Attributes::non_resource(&a.verb, &a.resource)
        } else {
            // `deployments.apps`, `pods/log`, `deployments.apps/scale`
            let (res, sub) = a
                .resource
                .split_once('/')
                .map_or((a.resource.as_str(), ""), |(r, s)| (r, s));
            let (plural, group) = res.split_once('.').unwrap_or((res, ""));
            if plural.is_empty() {
                bail!("RESOURCE {:?}: expected a resource or a /path", a.resource);
            }
            let full = if sub.is_empty() {
                plural.to_owned()
            } else {
                format!("{plural}/{sub}")
            };
            Attributes::resource(&a.verb, group, &full, &a.namespace)
                .named(a.object.as_deref().unwrap_or(""))
        };
        rbac.authorize(&user, &attrs).allowed
    };
    if !a.quiet {
        println!("{}", if yes { "yes" } else { "no" });
    }
    Ok(if yes { exit::OK } else { exit::FINDINGS })
}

/// The file line where line 1 of a ConfigMap's block scalar value is.
fn scalar_first_line(text: &str, pos_line: u32) -> usize {
    let line = text
        .lines()
        .nth(pos_line.saturating_sub(1) as usize)
        .unwrap_or("");
    let after_colon = line.split_once(':').map_or(line, |(_, r)| r).trim_start();
    if after_colon.starts_with('|') || after_colon.starts_with('>') || after_colon.is_empty() {
        pos_line as usize + 1
    } else {
        pos_line as usize
    }
}

fn validate(a: &ValidateArgs) -> anyhow::Result<u8> {
    let mut errors = 0usize;
    let mut report = |s: String, is_error: bool| {
        if is_error {
            errors += 1;
            println!("{s}");
        } else {
            println!("{s} (warning)");
        }
    };
    for file in &a.files {
        if file.ends_with(".csv") {
            let text = crate::input::read_named(file)?;
            match sluice_auth::argocd::parse_lines(file, &text) {
                Ok((_, warnings)) => {
                    for w in warnings {
                        report(format!("{}:{}:1: {}", file, w.line, w.msg), false);
                    }
                }
                Err(e) => report(format!("{}:{}:1: {}", file, e.line, e.msg), true),
            }
            continue;
        }
        let (text, loaded) = load(file)?;
        for p in &loaded.problems {
            report(format!("{file}:{p}"), true);
        }
        for o in &loaded.objects {
            let v = o.object.value();
            match o.object.kind() {
                "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => {
                    for (path, msg) in sluice_auth::rbac::validate_object(v) {
                        let pos = o.locate(&FieldPath::parse(&path));
                        report(
                            format!(
                                "{file}:{pos}: {} {:?}: {path}: {msg}",
                                o.object.kind(),
                                o.object.name()
                            ),
                            true,
                        );
                    }
                }
                "ConfigMap" => {
                    let data = configmap_data(v);
                    if !data.keys().any(|k| k.starts_with("policy.")) {
                        continue;
                    }
                    // each policy text's lines are file lines
                    for (k, t) in &data {
                        if !(k.starts_with("policy.") && k.ends_with(".csv")) {
                            continue;
                        }
                        let pos = o.locate(&FieldPath::parse(&format!("data[{k}]")));
                        let base = scalar_first_line(&text, pos.line);
                        match sluice_auth::argocd::parse_lines(k, t) {
                            Ok((_, warnings)) => {
                                for w in warnings {
                                    report(
                                        format!(
                                            "{file}:{}:1: data[{k}]: {}",
                                            base + w.line - 1,
                                            w.msg
                                        ),
                                        false,
                                    );
                                }
                            }
                            Err(e) => report(
                                format!("{file}:{}:1: data[{k}]: {}", base + e.line - 1, e.msg),
                                true,
                            ),
                        }
                    }
                    if let Err(e) = Policy::from_configmap_data(&data, file)
                        && e.file == "policy.matchMode"
                    {
                        let pos = o.locate(&FieldPath::parse("data[policy.matchMode]"));
                        report(
                            format!("{file}:{pos}: data[policy.matchMode]: {}", e.msg),
                            true,
                        );
                    }
                }
                _ => {}
            }
        }
    }
    if errors == 0 {
        eprintln!("{} file(s): no errors", a.files.len());
        Ok(exit::OK)
    } else {
        Ok(exit::FINDINGS)
    }
}
