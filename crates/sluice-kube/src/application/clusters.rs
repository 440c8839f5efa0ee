//! Destination clusters: the API an Application deploys to. `https://kubernetes.default.svc`
//! (or the name `in-cluster`) is the controller's own API; any other destination is an Argo
//! CD cluster Secret of the controller's namespace (label
//! `argocd.argoproj.io/secret-type: cluster`, keys `name`, `server` and `config`, the JSON
//! of Argo CD's `ClusterConfig`: `bearerToken`, `username`/`password`,
//! `tlsClientConfig.{insecure, serverName, caData, certData, keyData}`, `execProviderConfig`,
//! `awsAuthConfig`), as Argo CD's declarative setup documents it
//! (docs/operator-manual/declarative-setup.md, "Clusters"). The two exec forms become a
//! kubeconfig `exec` user as Argo CD's `RawRestConfig` builds them
//! (pkg/apis/application/v1alpha1/types.go): `execProviderConfig` runs its command with its
//! args, env and apiVersion; `awsAuthConfig` runs `argocd-k8s-auth aws --cluster-name NAME
//! [--role-arn ARN] [--profile PROFILE]` (the command must be on the server's PATH, as it is
//! in Argo CD's image); both never interactive. The token the command prints (an
//! ExecCredential) is cached until its expirationTimestamp.
//! A client per cluster is kept while its Secret is unchanged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, Config};
use serde_json::{Value, json};

use super::project::IN_CLUSTER;

/// The label of Argo CD's cluster Secrets.
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";

/// One API the controller deploys to, with its discovery cache.
pub struct Target {
    pub(crate) client: Client,
    /// (apiVersion, kind) -> (resource, namespaced), from discovery.
    kinds: Mutex<HashMap<(String, String), (ApiResource, bool)>>,
}

impl Target {
    pub fn new(client: Client) -> Target {
        Target {
            client,
            kinds: Mutex::new(HashMap::new()),
        }
    }

    /// The resource and scope of an (apiVersion, kind); `None` when the API does not serve it.
    pub(crate) async fn kind(&self, api_version: &str, kind: &str) -> Option<(ApiResource, bool)> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(k) = self.kinds.lock().ok()?.get(&key) {
            return Some(k.clone());
        }
        let (g, v) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(g, v, kind);
        let found = match kube::discovery::pinned_kind(&self.client, &gvk).await {
            Ok((ar, caps)) => Some((ar, caps.scope == kube::discovery::Scope::Namespaced)),
            Err(_) => None,
        };
        // unknown kinds are looked up again next time (a CRD may be applied meanwhile)
        if let Some(f) = &found
            && let Ok(mut m) = self.kinds.lock()
        {
            m.insert(key, f.clone());
        }
        found
    }

    pub(crate) fn api(&self, ar: &ApiResource, namespaced: bool, ns: &str) -> Api<DynamicObject> {
        if namespaced {
            Api::namespaced_with(self.client.clone(), ns, ar)
        } else {
            Api::all_with(self.client.clone(), ar)
        }
    }
}

/// The controller's own API and the clusters of its cluster Secrets.
pub struct Clusters {
    pub(crate) local: Arc<Target>,
    /// server URL -> (hash of its Secret's data, target)
    remote: Mutex<HashMap<String, (u64, Arc<Target>)>>,
}

impl Clusters {
    pub fn new(local: Client) -> Clusters {
        Clusters {
            local: Arc::new(Target::new(local)),
            remote: Mutex::new(HashMap::new()),
        }
    }

    /// The target of a destination (`server`, else `name`) and its server URL, looked up
    /// in the cluster Secrets of `namespace` through the controller's client. Errors are
    /// Argo CD's messages for an unknown destination.
    pub async fn resolve(
        &self,
        namespace: &str,
        server: &str,
        name: &str,
    ) -> Result<(Arc<Target>, String), String> {
        let server = server.trim_end_matches('/');
        if server == IN_CLUSTER || (server.is_empty() && name == "in-cluster") {
            return Ok((self.local.clone(), IN_CLUSTER.to_string()));
        }
        if server.is_empty() && name.is_empty() {
            return Err("spec.destination: server or name is required".into());
        }
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.local.client.clone(),
            namespace,
            &crate::gvk("", "v1", "Secret", "secrets"),
        );
        let lp = ListParams::default().labels(&format!("{SECRET_TYPE_LABEL}=cluster"));
        let list = api
            .list(&lp)
            .await
            .map_err(|e| format!("listing the cluster Secrets of {namespace}: {e}"))?;
        for s in list.items {
            let data = secret_data(&serde_json::to_value(&s).unwrap_or(Value::Null));
            let get = |k: &str| data.get(k).map(String::as_str).unwrap_or("");
            let matches = if server.is_empty() {
                get("name") == name
            } else {
                get("server").trim_end_matches('/') == server
            };
            if !matches {
                continue;
            }
            let h = super::hash_of(&json!(data));
            let url = get("server").trim_end_matches('/').to_string();
            if let Ok(m) = self.remote.lock()
                && let Some((prev, t)) = m.get(&url)
                && *prev == h
            {
                return Ok((t.clone(), url));
            }
            let client = client_for(&url, get("config")).await.map_err(|e| {
                format!(
                    "cluster Secret {namespace}/{}: {e}",
                    s.metadata.name.as_deref().unwrap_or("")
                )
            })?;
            let t = Arc::new(Target::new(client));
            if let Ok(mut m) = self.remote.lock() {
                m.insert(url.clone(), (h, t.clone()));
            }
            return Ok((t, url));
        }
        Err(if server.is_empty() {
            format!(
                "unable to find destination server: there are no clusters with this name: {name}"
            )
        } else {
            format!(
                "unable to find destination server: there are no clusters with this URL: {server}"
            )
        })
    }
}

/// A Secret's `data` decoded (and `stringData`, which a real API server has folded into
/// `data` already).
fn secret_data(secret: &Value) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    if let Some(d) = secret.get("data").and_then(Value::as_object) {
        for (k, v) in d {
            if let Some(b) = v.as_str()
                && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b)
            {
                out.insert(k.clone(), String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    if let Some(d) = secret.get("stringData").and_then(Value::as_object) {
        for (k, v) in d {
            if let Some(s) = v.as_str() {
                out.insert(k.clone(), s.to_string());
            }
        }
    }
    out
}

/// The kubeconfig equivalent of an Argo CD `ClusterConfig` (JSON) for `server`.
pub fn kubeconfig_for(server: &str, config: &str) -> Result<Value, String> {
    let cfg: Value = if config.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(config).map_err(|e| format!("config: invalid JSON: {e}"))?
    };
    if !cfg.is_object() {
        return Err("config: expected a JSON object".into());
    }
    let tls = &cfg["tlsClientConfig"];
    let mut cluster = json!({"server": server});
    if tls["insecure"].as_bool() == Some(true) {
        cluster["insecure-skip-tls-verify"] = json!(true);
    }
    for (from, to) in [
        ("caData", "certificate-authority-data"),
        ("serverName", "tls-server-name"),
    ] {
        if let Some(v) = tls[from].as_str().filter(|v| !v.is_empty()) {
            cluster[to] = json!(v);
        }
    }
    // an exec provider replaces the token and basic auth; the client certificate stays
    let mut user = json!({});
    match exec_user(&cfg)? {
        Some(exec) => user["exec"] = exec,
        None => {
            for (from, to) in [
                ("bearerToken", "token"),
                ("username", "username"),
                ("password", "password"),
            ] {
                if let Some(v) = cfg[from].as_str().filter(|v| !v.is_empty()) {
                    user[to] = json!(v);
                }
            }
        }
    }
    for (from, to) in [
        ("certData", "client-certificate-data"),
        ("keyData", "client-key-data"),
    ] {
        if let Some(v) = tls[from].as_str().filter(|v| !v.is_empty()) {
            user[to] = json!(v);
        }
    }
    Ok(json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "destination", "cluster": cluster}],
        "users": [{"name": "destination", "user": user}],
        "contexts": [{"name": "destination", "context": {"cluster": "destination", "user": "destination"}}],
        "current-context": "destination",
    }))
}

/// The kubeconfig `exec` of a ClusterConfig's `awsAuthConfig` (first, as upstream) or
/// `execProviderConfig`; `None` when it has neither.
fn exec_user(cfg: &Value) -> Result<Option<Value>, String> {
    let present = |k: &str| cfg.get(k).is_some_and(|v| !v.is_null());
    if present("awsAuthConfig") {
        let aws = &cfg["awsAuthConfig"];
        let field = |k: &str| -> Result<&str, String> {
            match &aws[k] {
                Value::Null => Ok(""),
                Value::String(s) => Ok(s),
                _ => Err(format!("config.awsAuthConfig.{k}: expected a string")),
            }
        };
        let name = field("clusterName")?;
        if name.is_empty() {
            return Err("config.awsAuthConfig.clusterName: required".into());
        }
        let mut args = vec!["aws", "--cluster-name", name];
        for (k, flag) in [("roleARN", "--role-arn"), ("profile", "--profile")] {
            let v = field(k)?;
            if !v.is_empty() {
                args.extend([flag, v]);
            }
        }
        return Ok(Some(json!({
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "argocd-k8s-auth",
            "args": args,
            "interactiveMode": "Never",
        })));
    }
    if !present("execProviderConfig") {
        return Ok(None);
    }
    let e = &cfg["execProviderConfig"];
    if !e.is_object() {
        return Err("config.execProviderConfig: expected an object".into());
    }
    let command = e["command"].as_str().unwrap_or("");
    if command.is_empty() {
        return Err("config.execProviderConfig.command: required".into());
    }
    let args: Vec<&str> = match &e["args"] {
        Value::Null => Vec::new(),
        Value::Array(a) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| "config.execProviderConfig.args: expected strings".to_string())
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("config.execProviderConfig.args: expected a list of strings".into()),
    };
    let env: Vec<Value> = match &e["env"] {
        Value::Null => Vec::new(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(v) => Ok(json!({"name": k, "value": v})),
                None => Err(format!(
                    "config.execProviderConfig.env.{k}: expected a string"
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("config.execProviderConfig.env: expected a map of strings".into()),
    };
    let mut exec = json!({
        "apiVersion": e["apiVersion"].as_str().filter(|v| !v.is_empty())
            .unwrap_or("client.authentication.k8s.io/v1beta1"),
        "command": command,
        "args": args,
        "interactiveMode": "Never",
    });
    if !env.is_empty() {
        exec["env"] = json!(env);
    }
    Ok(Some(exec))
}

async fn client_for(server: &str, config: &str) -> Result<Client, String> {
    let kc: kube::config::Kubeconfig =
        serde_json::from_value(kubeconfig_for(server, config)?).map_err(|e| e.to_string())?;
    let cfg = Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    Client::try_from(cfg).map_err(|e| e.to_string())
}

/// The Secrets of `namespace` labelled `argocd.argoproj.io/secret-type=SECRET_TYPE`, as
/// JSON (the repository Secrets Helm chart sources read their credentials from).
pub async fn labelled_secrets(
    client: &Client,
    namespace: &str,
    secret_type: &str,
) -> Result<Vec<Value>, String> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &crate::gvk("", "v1", "Secret", "secrets"),
    );
    let lp = ListParams::default().labels(&format!("{SECRET_TYPE_LABEL}={secret_type}"));
    let list = api
        .list(&lp)
        .await
        .map_err(|e| format!("listing the {secret_type} Secrets of {namespace}: {e}"))?;
    Ok(list
        .items
        .iter()
        .filter_map(|s| serde_json::to_value(s).ok())
        .collect())
}

/// The ConfigMap `namespace`/`name` as JSON; `Value::Null` when there is none.
pub async fn config_map(client: &Client, namespace: &str, name: &str) -> Result<Value, String> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &crate::gvk("", "v1", "ConfigMap", "configmaps"),
    );
    match api.get_opt(name).await {
        Ok(Some(o)) => Ok(serde_json::to_value(&o).unwrap_or(Value::Null)),
        Ok(None) => Ok(Value::Null),
        Err(e) => Err(format!("reading ConfigMap {namespace}/{name}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Argo CD's declarative cluster Secret (docs/operator-manual/declarative-setup.md,
    /// "Clusters"): bearerToken and tlsClientConfig.caData become the kubeconfig's token
    /// and certificate-authority-data.
    #[test]
    fn cluster_config_becomes_a_kubeconfig() {
        let kc = kubeconfig_for(
            "https://prod:6443",
            r#"{"bearerToken":"tok","tlsClientConfig":{"insecure":false,"caData":"Q0E="}}"#,
        )
        .unwrap();
        assert_eq!(kc["clusters"][0]["cluster"]["server"], "https://prod:6443");
        assert_eq!(
            kc["clusters"][0]["cluster"]["certificate-authority-data"],
            "Q0E="
        );
        assert!(
            kc["clusters"][0]["cluster"]
                .get("insecure-skip-tls-verify")
                .is_none()
        );
        assert_eq!(kc["users"][0]["user"]["token"], "tok");
        let parsed: Result<kube::config::Kubeconfig, _> = serde_json::from_value(kc);
        assert!(parsed.is_ok());
    }

    #[test]
    fn bad_configs_are_errors_not_panics() {
        assert!(kubeconfig_for("https://x", "{").is_err());
        assert!(kubeconfig_for("https://x", "[1]").is_err());
        for (bad, msg) in [
            (r#"{"execProviderConfig":{}}"#, "command: required"),
            (r#"{"execProviderConfig":"x"}"#, "expected an object"),
            (
                r#"{"execProviderConfig":{"command":"x","args":[1]}}"#,
                "expected strings",
            ),
            (
                r#"{"execProviderConfig":{"command":"x","env":{"A":1}}}"#,
                "env.A: expected a string",
            ),
            (r#"{"awsAuthConfig":{}}"#, "clusterName: required"),
            (
                r#"{"awsAuthConfig":{"clusterName":"c","roleARN":7}}"#,
                "roleARN: expected a string",
            ),
        ] {
            let e = kubeconfig_for("https://x", bad).unwrap_err();
            assert!(e.contains(msg), "{bad}: {e}");
        }
        assert!(kubeconfig_for("https://x", "").is_ok());
    }

    /// Argo CD's RawRestConfig (pkg/apis/application/v1alpha1/types.go): awsAuthConfig runs
    /// `argocd-k8s-auth aws --cluster-name N [--role-arn R] [--profile P]`, execProviderConfig
    /// its own command, args, env and apiVersion; both with interactiveMode Never.
    #[test]
    fn exec_and_aws_configs_become_kubeconfig_exec_users() {
        let kc = kubeconfig_for(
            "https://eks:443",
            r#"{"awsAuthConfig":{"clusterName":"prod","roleARN":"arn:aws:iam::1:role/r","profile":""},"tlsClientConfig":{"caData":"Q0E="}}"#,
        )
        .unwrap();
        let exec = &kc["users"][0]["user"]["exec"];
        assert_eq!(exec["command"], "argocd-k8s-auth");
        assert_eq!(
            exec["args"],
            json!([
                "aws",
                "--cluster-name",
                "prod",
                "--role-arn",
                "arn:aws:iam::1:role/r"
            ])
        );
        assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1beta1");
        assert_eq!(exec["interactiveMode"], "Never");
        let kc = kubeconfig_for(
            "https://gke:443",
            r#"{"execProviderConfig":{"command":"argocd-k8s-auth","args":["gcp"],"env":{"A":"b"},"apiVersion":"client.authentication.k8s.io/v1","installHint":"x"}}"#,
        )
        .unwrap();
        let exec = &kc["users"][0]["user"]["exec"];
        assert_eq!(exec["args"], json!(["gcp"]));
        assert_eq!(exec["env"], json!([{"name": "A", "value": "b"}]));
        assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1");
        let parsed: Result<kube::config::Kubeconfig, _> = serde_json::from_value(kc);
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn secret_data_decodes_data_and_string_data() {
        let d =
            secret_data(&json!({"data": {"server": "aHR0cHM6Ly94"}, "stringData": {"name": "x"}}));
        assert_eq!(d["server"], "https://x");
        assert_eq!(d["name"], "x");
    }
}
