//! The edge: talking to a Kubernetes API through a [`kube::Client`] from a kubeconfig.
//! Discovery, Tables, JSON reads and writes, server-side apply and Pod logs, with the
//! server's errors kept as kubectl prints them.

use std::path::Path;

use futures::{AsyncBufReadExt, StreamExt};
use kube::Client;
use serde_json::Value;

use crate::get::Resource;

/// What went wrong; [`Error::exit_code`] maps it to the CLI's exit codes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error Status (not found, invalid, conflict...).
    #[error("Error from server ({reason}): {message}")]
    Api {
        code: u16,
        reason: String,
        message: String,
    },
    /// No kubeconfig, no connection, an unreadable answer.
    #[error("error: {0}")]
    Connection(String),
    /// What the command was given makes no sense (unknown resource type, bad flag value).
    #[error("error: {0}")]
    Usage(String),
    /// A run the command followed ended without success (`--showlog`), or a refused
    /// action (cancelling a finished run).
    #[error("error: {0}")]
    RunFailed(String),
}

impl Error {
    /// 1 for the server's refusals and failed runs, 2 for usage and connection errors.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Api { .. } | Error::RunFailed(_) => 1,
            Error::Connection(_) | Error::Usage(_) => 2,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Api { code: 404, .. })
    }
}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        match e {
            kube::Error::Api(s) => Error::Api {
                code: s.code,
                reason: if s.reason.is_empty() {
                    s.status.clone()
                } else {
                    s.reason.clone()
                },
                message: s.message.clone(),
            },
            other => Error::Connection(other.to_string()),
        }
    }
}

/// A connection: the client and the namespace commands default to.
#[derive(Clone)]
pub struct Conn {
    pub client: Client,
    pub namespace: String,
    /// The API server's URL (the kubeconfig cluster's `server`).
    pub server: String,
}

const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

fn request(
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<http::Request<Vec<u8>>, Error> {
    let mut b = http::Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        b = b.header(http::header::CONTENT_TYPE, ct);
    }
    b.body(body)
        .map_err(|e| Error::Usage(format!("{method} {path}: {e}")))
}

/// Percent-encodes a query value.
pub fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Conn {
    /// Connects with a kubeconfig's current context; `namespace` overrides the context's.
    pub async fn connect(kubeconfig: &Path, namespace: Option<&str>) -> Result<Conn, Error> {
        let err =
            |m: String| Error::Connection(format!("kubeconfig {}: {m}", kubeconfig.display()));
        let kc = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| err(e.to_string()))?;
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .map_err(|e| err(e.to_string()))?;
        let ns = namespace.map_or_else(|| cfg.default_namespace.clone(), str::to_owned);
        let server = cfg.cluster_url.to_string();
        let client = Client::try_from(cfg).map_err(|e| err(e.to_string()))?;
        Ok(Conn {
            client,
            namespace: ns,
            server,
        })
    }

    pub async fn get_json(&self, path: &str) -> Result<Value, Error> {
        Ok(self
            .client
            .request(request("GET", path, None, vec![])?)
            .await?)
    }

    /// Every resource of discovery (core first, then each group's preferred version, then
    /// its other versions); subresources left out.
    pub async fn discover(&self) -> Result<Vec<Resource>, Error> {
        let mut out = Vec::new();
        let core = self.get_json("/api/v1").await?;
        push_resources(&mut out, "", "v1", &core);
        let groups = self.get_json("/apis").await?;
        for g in groups["groups"].as_array().into_iter().flatten() {
            let name = g["name"].as_str().unwrap_or("");
            let preferred = g["preferredVersion"]["version"].as_str().unwrap_or("");
            let mut versions: Vec<&str> = vec![preferred];
            for v in g["versions"].as_array().into_iter().flatten() {
                if let Some(v) = v["version"].as_str()
                    && v != preferred
                {
                    versions.push(v);
                }
            }
            for v in versions.into_iter().filter(|v| !v.is_empty()) {
                match self.get_json(&format!("/apis/{name}/{v}")).await {
                    Ok(list) => push_resources(&mut out, name, v, &list),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(out)
    }

    /// The resource `word` names, or kubectl's error.
    pub async fn resource(&self, word: &str) -> Result<Resource, Error> {
        let all = self.discover().await?;
        crate::get::resolve(&all, word).cloned().ok_or_else(|| {
            Error::Usage(format!(
                "the server doesn't have a resource type \"{word}\""
            ))
        })
    }

    /// The resource serving `apiVersion`/`kind`.
    pub fn resource_for<'a>(
        all: &'a [Resource],
        api_version: &str,
        kind: &str,
    ) -> Option<&'a Resource> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        all.iter()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
    }

    /// A Table of a collection (`name` None) or one object.
    pub async fn table(
        &self,
        r: &Resource,
        namespace: Option<&str>,
        name: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Value, Error> {
        let mut path = r.path(namespace);
        if let Some(n) = name {
            path = format!("{path}/{n}");
        }
        if let Some(l) = selector {
            path = format!("{path}?labelSelector={}", query_escape(l));
        }
        let mut req = request("GET", &path, None, vec![])?;
        req.headers_mut().insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static(TABLE_ACCEPT),
        );
        Ok(self.client.request(req).await?)
    }

    /// The items of a collection as JSON objects with apiVersion and kind.
    pub async fn list(
        &self,
        r: &Resource,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Vec<Value>, Error> {
        let mut path = r.path(namespace);
        if let Some(l) = selector {
            path = format!("{path}?labelSelector={}", query_escape(l));
        }
        let list = self.get_json(&path).await?;
        let mut items = match list {
            Value::Object(mut m) => match m.remove("items") {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        for i in &mut items {
            i["apiVersion"] = Value::String(r.api_version());
            i["kind"] = Value::String(r.kind.clone());
        }
        Ok(items)
    }

    pub async fn get(&self, r: &Resource, namespace: &str, name: &str) -> Result<Value, Error> {
        self.get_json(&format!("{}/{name}", r.path(Some(namespace))))
            .await
    }

    /// Server-side apply (field manager `sluice`, forced as `kubectl apply
    /// --server-side --force-conflicts`): `created`, `configured` or `unchanged`.
    pub async fn apply(
        &self,
        r: &Resource,
        namespace: &str,
        obj: &Value,
    ) -> Result<&'static str, Error> {
        let name = obj["metadata"]["name"].as_str().unwrap_or("");
        let path = format!("{}/{name}", r.path(Some(namespace)));
        let before = match self.get_json(&path).await {
            Ok(v) => Some(v),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        let body = serde_json::to_vec(obj).map_err(|e| Error::Usage(e.to_string()))?;
        let req = request(
            "PATCH",
            &format!("{path}?fieldManager=sluice&force=true"),
            Some("application/apply-patch+yaml"),
            body,
        )?;
        let after: Value = self.client.request(req).await?;
        Ok(match before {
            None => "created",
            Some(b) if b["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"] => {
                "unchanged"
            }
            Some(_) => "configured",
        })
    }

    pub async fn create(&self, r: &Resource, namespace: &str, obj: &Value) -> Result<Value, Error> {
        let body = serde_json::to_vec(obj).map_err(|e| Error::Usage(e.to_string()))?;
        let req = request(
            "POST",
            &r.path(Some(namespace)),
            Some("application/json"),
            body,
        )?;
        Ok(self.client.request(req).await?)
    }

    /// POSTs a JSON body to a path (a subresource such as a token request).
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, Error> {
        let body = serde_json::to_vec(body).map_err(|e| Error::Usage(e.to_string()))?;
        let req = request("POST", path, Some("application/json"), body)?;
        Ok(self.client.request(req).await?)
    }

    pub async fn merge_patch(
        &self,
        r: &Resource,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value, Error> {
        let body = serde_json::to_vec(patch).map_err(|e| Error::Usage(e.to_string()))?;
        let req = request(
            "PATCH",
            &format!("{}/{name}", r.path(Some(namespace))),
            Some("application/merge-patch+json"),
            body,
        )?;
        Ok(self.client.request(req).await?)
    }

    /// A merge patch of a subresource (`status`).
    pub async fn merge_patch_sub(
        &self,
        r: &Resource,
        namespace: &str,
        name: &str,
        sub: &str,
        patch: &Value,
    ) -> Result<Value, Error> {
        let body = serde_json::to_vec(patch).map_err(|e| Error::Usage(e.to_string()))?;
        let req = request(
            "PATCH",
            &format!("{}/{name}/{sub}", r.path(Some(namespace))),
            Some("application/merge-patch+json"),
            body,
        )?;
        Ok(self.client.request(req).await?)
    }

    /// Deletes with background propagation (as kubectl).
    pub async fn delete(&self, r: &Resource, namespace: &str, name: &str) -> Result<(), Error> {
        let body =
            br#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}"#
                .to_vec();
        let req = request(
            "DELETE",
            &format!("{}/{name}", r.path(Some(namespace))),
            Some("application/json"),
            body,
        )?;
        let _: Value = self.client.request(req).await?;
        Ok(())
    }

    /// A container's log through the Pod `log` subresource, line by line to `line`
    /// (followed with `follow` until the server ends it).
    pub async fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        follow: bool,
        mut line: impl FnMut(&str),
    ) -> Result<(), Error> {
        let path = format!(
            "/api/v1/namespaces/{namespace}/pods/{pod}/log?container={}{}",
            query_escape(container),
            if follow { "&follow=true" } else { "" }
        );
        let stream = self
            .client
            .request_stream(request("GET", &path, None, vec![])?)
            .await?;
        let mut lines = stream.lines();
        while let Some(l) = lines.next().await {
            match l {
                Ok(l) => line(&l),
                Err(e) => return Err(Error::Connection(format!("reading the log: {e}"))),
            }
        }
        Ok(())
    }
}

fn push_resources(out: &mut Vec<Resource>, group: &str, version: &str, list: &Value) {
    for r in list["resources"].as_array().into_iter().flatten() {
        let name = r["name"].as_str().unwrap_or("");
        if name.is_empty() || name.contains('/') {
            continue;
        }
        let kind = r["kind"].as_str().unwrap_or("").to_owned();
        let singular = r["singularName"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map_or_else(|| kind.to_lowercase(), str::to_owned);
        out.push(Resource {
            group: group.to_owned(),
            version: version.to_owned(),
            kind,
            plural: name.to_owned(),
            singular,
            short_names: r["shortNames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
            namespaced: r["namespaced"].as_bool().unwrap_or(false),
        });
    }
}
