//! `sluice app ...` with the argocd CLI's habits, against the API server of `sluice serve`
//! (or any cluster with Argo CD's CRDs) through the kubeconfig client the other server
//! commands use. Actions are what the Argo CD API server does: a sync or rollback writes
//! the Application's `operation` and the controller carries it out; printing is
//! `sluice_cli::argocd`. Applications are looked up in `argocd` unless `-n` says otherwise.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use sluice_cli::argocd as fmt;
use sluice_cli::get::Resource;
use sluice_cli::{Conn, Error};

use crate::cli::{ConnFlags, ListFlags, Output, with_conn};

/// The namespace Argo CD's control plane (and its Applications, Secrets) live in.
pub const ARGOCD_NS: &str = "argocd";

pub(crate) fn argo(kind: &str, plural: &str) -> Resource {
    Resource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        short_names: Vec::new(),
        namespaced: true,
    }
}

fn app_res() -> Resource {
    argo("Application", "applications")
}

/// `conn` with the namespace defaulting to `argocd`.
pub(crate) fn in_argocd(conn: &ConnFlags) -> ConnFlags {
    let mut c = conn.clone();
    if c.namespace.is_none() {
        c.namespace = Some(ARGOCD_NS.into());
    }
    c
}

#[derive(Debug, Clone, Args)]
pub struct AppName {
    /// The Application.
    pub name: String,
    #[command(flatten)]
    pub conn: ConnFlags,
}

/// Flags shared by `create` and `set` (argocd's `AddAppFlags`, the ones Sluice supports).
#[derive(Debug, Clone, Args, Default)]
pub struct SpecFlags {
    /// Repository URL.
    #[arg(long)]
    pub repo: Option<String>,
    /// Path in the repository.
    #[arg(long)]
    pub path: Option<String>,
    /// Branch, tag or commit to follow.
    #[arg(long)]
    pub revision: Option<String>,
    /// Destination cluster URL.
    #[arg(long)]
    pub dest_server: Option<String>,
    /// Destination cluster name.
    #[arg(long)]
    pub dest_name: Option<String>,
    /// Destination namespace.
    #[arg(long)]
    pub dest_namespace: Option<String>,
    /// AppProject.
    #[arg(long)]
    pub project: Option<String>,
    /// `automated` (also `auto`, `automatic`) or `none` (also `manual`).
    #[arg(long)]
    pub sync_policy: Option<String>,
    /// With `--sync-policy automated`: prune.
    #[arg(long)]
    pub auto_prune: bool,
    /// With `--sync-policy automated`: self-heal.
    #[arg(long)]
    pub self_heal: bool,
    /// A sync option (`CreateNamespace=true`), repeatable.
    #[arg(long = "sync-option")]
    pub sync_options: Vec<String>,
    /// Recurse into the directory.
    #[arg(long)]
    pub directory_recurse: bool,
}

/// Argo CD Applications on the server, as `argocd app`. Exit codes: 0 success; 1 the
/// server refused, a sync or rollback ended without success, `wait` timed out or saw
/// Degraded, `diff` found differences; 2 usage or connection error.
#[derive(Debug, Subcommand)]
pub enum AppCmd {
    /// NAME CLUSTER NAMESPACE PROJECT STATUS HEALTH SYNCPOLICY CONDITIONS (`-o wide`: REPO
    /// PATH TARGET).
    #[command(alias = "ls")]
    List {
        /// Only the Applications of this project (repeatable).
        #[arg(short = 'p', long = "project")]
        projects: Vec<String>,
        #[command(flatten)]
        list: ListFlags,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Summary, conditions and resources of an Application (as `argocd app get`).
    Get {
        #[command(flatten)]
        app: AppName,
        /// `wide` (default), `tree` (the resources with what they own), `json`, `yaml`.
        #[arg(short = 'o', long, value_enum)]
        output: Option<GetOutput>,
        /// Show the last operation.
        #[arg(long)]
        show_operation: bool,
        /// Refresh first (`argocd.argoproj.io/refresh: normal`) and wait for it.
        #[arg(long)]
        refresh: bool,
        /// Refresh, fetching the repository again (`hard`).
        #[arg(long)]
        hard_refresh: bool,
    },
    /// Sync to the target revision (or `--revision`), then wait for the operation.
    Sync {
        #[command(flatten)]
        app: AppName,
        /// Delete what is no longer in Git.
        #[arg(long)]
        prune: bool,
        /// Plan only.
        #[arg(long)]
        dry_run: bool,
        /// Sync to this revision instead of the target.
        #[arg(long)]
        revision: Option<String>,
        /// Only `GROUP:KIND:[NAMESPACE/]NAME` (repeatable).
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// Do not wait for the operation.
        #[arg(long = "async")]
        no_wait: bool,
        /// Give up waiting after this many seconds (0: never).
        #[arg(long, default_value_t = 0)]
        timeout: u64,
    },
    /// Deployment history: ID DATE REVISION per source repository.
    History {
        #[command(flatten)]
        app: AppName,
        /// `wide` (default) or `id`.
        #[arg(short = 'o', long, default_value = "wide")]
        output: String,
    },
    /// Sync to a history entry (the previous one without ID); refused while auto-sync is
    /// on, as Argo CD.
    Rollback {
        #[command(flatten)]
        app: AppName,
        /// History ID.
        id: Option<i64>,
        #[arg(long)]
        prune: bool,
        #[arg(long, default_value_t = 0)]
        timeout: u64,
    },
    /// Delete Applications; `--cascade=false` keeps their resources.
    Delete {
        /// Applications.
        #[arg(required = true)]
        names: Vec<String>,
        /// Delete the Application's resources too (the resources finalizer).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        cascade: bool,
        /// Accepted for argocd's habit; sluice never prompts.
        #[arg(short = 'y', long)]
        yes: bool,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Wait until the Application is synced, healthy and has no operation running (or only
    /// what the flags name).
    Wait {
        #[command(flatten)]
        app: AppName,
        /// Wait for sync (Synced).
        #[arg(long)]
        sync: bool,
        /// Wait for health (Healthy).
        #[arg(long)]
        health: bool,
        /// Wait for a pending operation to finish.
        #[arg(long)]
        operation: bool,
        /// Wait for health Suspended.
        #[arg(long)]
        suspended: bool,
        /// Wait for health Degraded.
        #[arg(long)]
        degraded: bool,
        /// Give up after this many seconds (exit 1); 0 waits for ever.
        #[arg(long, default_value_t = 0)]
        timeout: u64,
    },
    /// Create an Application from flags (as `argocd app create`).
    Create {
        #[command(flatten)]
        app: AppName,
        #[command(flatten)]
        spec: SpecFlags,
        /// A label KEY=VALUE (repeatable).
        #[arg(short = 'l', long = "label")]
        labels: Vec<String>,
        /// Update the Application when it exists.
        #[arg(long)]
        upsert: bool,
    },
    /// The differences a sync would apply, per resource (`===== group/Kind ns/name ======`
    /// and `diff LIVE DESIRED`, or `$KUBECTL_EXTERNAL_DIFF`); exit 1 when there are any.
    Diff {
        #[command(flatten)]
        app: AppName,
        /// Render the app's manifests from this directory (the app's path) instead of Git.
        #[arg(long, value_name = "DIR")]
        local: Option<std::path::PathBuf>,
    },
    /// Change an Application's spec from flags (as `argocd app set`).
    Set {
        #[command(flatten)]
        app: AppName,
        #[command(flatten)]
        spec: SpecFlags,
    },
}

pub(crate) fn out(s: &str) {
    use std::io::Write as _;
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Now as argocd's progress lines print it (`2006-01-02T15:04:05-07:00`, in UTC).
fn timestamp() -> String {
    sluice_core::civil::rfc3339_utc(now()).replace('Z', "+00:00")
}

fn nonce() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{t:x}-{}", std::process::id())
}

/// The UI page of an Application (`argocd app get`'s URL line).
fn url(c: &Conn, app: &Value) -> String {
    format!(
        "{}/#/apps/{}/{}",
        c.server.trim_end_matches('/'),
        app["metadata"]["namespace"].as_str().unwrap_or(""),
        app["metadata"]["name"].as_str().unwrap_or("")
    )
}

fn print_doc(v: &Value, output: Output) {
    match output {
        Output::Json => out(&format!(
            "{}\n",
            serde_json::to_string_pretty(v).unwrap_or_default()
        )),
        _ => out(&sluice_core::emit::to_string(v)),
    }
}

fn with_kind(mut app: Value) -> Value {
    app["apiVersion"] = json!("argoproj.io/v1alpha1");
    app["kind"] = json!("Application");
    app
}

async fn get_app(c: &Conn, name: &str) -> Result<Value, Error> {
    Ok(with_kind(c.get(&app_res(), &c.namespace, name).await?))
}

/// Polls the Application until `done` holds (500 ms apart); `Ok(None)` on timeout.
async fn poll(
    c: &Conn,
    name: &str,
    timeout: u64,
    mut done: impl FnMut(&Value) -> Result<bool, Error>,
) -> Result<Option<Value>, Error> {
    let t0 = Instant::now();
    loop {
        let app = get_app(c, name).await?;
        if done(&app)? {
            return Ok(Some(app));
        }
        if timeout > 0 && t0.elapsed() >= Duration::from_secs(timeout) {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Writes `operation`, waits for the controller's result of it (unless `no_wait`), prints
/// the final status as argocd does; exit 1 unless the phase is Succeeded.
async fn run_operation(
    c: &Conn,
    name: &str,
    operation: Value,
    nonce: &str,
    no_wait: bool,
    timeout: u64,
    dry_run: bool,
) -> Result<u8, Error> {
    c.merge_patch(
        &app_res(),
        &c.namespace,
        name,
        &json!({"operation": operation}),
    )
    .await?;
    if no_wait {
        return Ok(0);
    }
    let mut progress = fmt::WaitPrinter::new();
    let done = poll(c, name, timeout, |a| {
        if fmt::operation_done(a, nonce) {
            return Ok(true);
        }
        out(&progress.step(a, &timestamp()));
        Ok(false)
    })
    .await?;
    let Some(app) = done else {
        return Err(Error::RunFailed(format!(
            "timed out ({timeout}s) waiting for app {name:?} match desired state"
        )));
    };
    out(&fmt::final_status(&app, &url(c, &app), true, now()));
    let phase = app
        .pointer("/status/operationState/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if phase != "Succeeded" {
        return Err(Error::RunFailed(format!(
            "Operation has completed with phase: {phase}"
        )));
    }
    if !dry_run {
        let pruning = app
            .pointer("/status/resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|r| r["requiresPruning"] == true)
            .count();
        let synced = app.pointer("/status/sync/status").and_then(Value::as_str) == Some("Synced");
        if !synced && pruning > 0 {
            return Err(Error::RunFailed(format!(
                "{pruning} resources require pruning"
            )));
        }
    }
    Ok(0)
}

fn spec_patch(app: &Value, f: &SpecFlags) -> Result<Value, Error> {
    let mut spec = json!({});
    let mut src = json!({});
    if let Some(v) = &f.repo {
        src["repoURL"] = json!(v);
    }
    if let Some(v) = &f.path {
        src["path"] = json!(v);
    }
    if let Some(v) = &f.revision {
        src["targetRevision"] = json!(v);
    }
    if f.directory_recurse {
        src["directory"] = json!({"recurse": true});
    }
    if src.as_object().is_some_and(|m| !m.is_empty()) {
        if app.pointer("/spec/sources").is_some_and(Value::is_array) {
            return Err(Error::Usage(
                "the Application has several sources: edit it with `sluice apply`".into(),
            ));
        }
        spec["source"] = src;
    }
    let mut dest = json!({});
    if let Some(v) = &f.dest_server {
        dest["server"] = json!(v);
    }
    if let Some(v) = &f.dest_name {
        dest["name"] = json!(v);
    }
    if let Some(v) = &f.dest_namespace {
        dest["namespace"] = json!(v);
    }
    if dest.as_object().is_some_and(|m| !m.is_empty()) {
        spec["destination"] = dest;
    }
    if let Some(p) = &f.project {
        spec["project"] = json!(p);
    }
    let policy = fmt::sync_policy_patch(
        f.sync_policy.as_deref(),
        f.auto_prune,
        f.self_heal,
        &f.sync_options,
    )
    .map_err(Error::Usage)?;
    if !policy.is_null() {
        spec["syncPolicy"] = policy;
    }
    if spec.as_object().is_some_and(serde_json::Map::is_empty) {
        return Err(Error::Usage(
            "Please set at least one option to update".into(),
        ));
    }
    Ok(json!({"spec": spec}))
}

pub fn run(cmd: &AppCmd) -> anyhow::Result<u8> {
    match cmd {
        AppCmd::List {
            projects,
            list,
            conn,
        } => with_conn(&in_argocd(conn), |c| async move {
            let ns = (!list.all_namespaces).then(|| c.namespace.clone());
            let mut apps: Vec<Value> = c
                .list(&app_res(), ns.as_deref(), list.selector.as_deref())
                .await?;
            if !projects.is_empty() {
                apps.retain(|a| {
                    let p = a["spec"]["project"].as_str().unwrap_or("default");
                    projects.iter().any(|x| x == p)
                });
            }
            match list.output {
                Some(o @ (Output::Json | Output::Yaml)) => print_doc(&Value::Array(apps), o),
                Some(Output::Name) => {
                    for a in &apps {
                        out(&format!("{}\n", fmt::qualified_name(a)));
                    }
                }
                o => out(&fmt::app_list(
                    &apps,
                    o == Some(Output::Wide),
                    list.no_headers,
                )),
            }
            Ok(0)
        }),
        AppCmd::Get {
            app,
            output,
            show_operation,
            refresh,
            hard_refresh,
        } => with_conn(&in_argocd(&app.conn), |c| async move {
            if *refresh || *hard_refresh {
                let kind = if *hard_refresh { "hard" } else { "normal" };
                let p = json!({"metadata": {"annotations": {"argocd.argoproj.io/refresh": kind}}});
                c.merge_patch(&app_res(), &c.namespace, &app.name, &p)
                    .await?;
                // the controller removes the annotation once refreshed
                poll(&c, &app.name, 30, |a| {
                    Ok(
                        a.pointer("/metadata/annotations/argocd.argoproj.io~1refresh")
                            .is_none(),
                    )
                })
                .await?;
            }
            let a = get_app(&c, &app.name).await?;
            match output {
                Some(GetOutput::Json) => print_doc(&a, Output::Json),
                Some(GetOutput::Yaml) => print_doc(&a, Output::Yaml),
                Some(GetOutput::Tree) => {
                    // as argocd: the header (summary, conditions), then the tree
                    let mut head = a.clone();
                    if let Some(st) = head.get_mut("status").and_then(Value::as_object_mut) {
                        st.remove("resources");
                    }
                    out(&fmt::get(&head, &url(&c, &a), *show_operation, now()));
                    let nodes = tree_nodes(&c, &a).await?;
                    if !nodes.is_empty() {
                        out(&format!("\n{}", fmt::tree(&a, &nodes)));
                    }
                }
                _ => out(&fmt::get(&a, &url(&c, &a), *show_operation, now())),
            }
            Ok(0)
        }),
        AppCmd::Sync {
            app,
            prune,
            dry_run,
            revision,
            resources,
            no_wait,
            timeout,
        } => with_conn(&in_argocd(&app.conn), |c| async move {
            let a = get_app(&c, &app.name).await?;
            let n = nonce();
            let req = fmt::SyncRequest {
                revision: revision.clone(),
                prune: *prune,
                dry_run: *dry_run,
                resources: resources.clone(),
                username: "admin".into(),
                nonce: n.clone(),
            };
            let op = fmt::sync_operation(&a, &req).map_err(Error::RunFailed)?;
            run_operation(&c, &app.name, op, &n, *no_wait, *timeout, *dry_run).await
        }),
        AppCmd::History { app, output } => with_conn(&in_argocd(&app.conn), |c| async move {
            let a = get_app(&c, &app.name).await?;
            if output == "id" {
                for h in a
                    .pointer("/status/history")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    out(&format!("{}\n", h["id"]));
                }
            } else {
                out(&fmt::history(&a));
            }
            Ok(0)
        }),
        AppCmd::Rollback {
            app,
            id,
            prune,
            timeout,
        } => with_conn(&in_argocd(&app.conn), |c| async move {
            let a = get_app(&c, &app.name).await?;
            let entry = fmt::find_history(&a, *id).map_err(Error::RunFailed)?;
            let n = nonce();
            let op = fmt::rollback_operation(&a, &entry, *prune, false, "admin", &n)
                .map_err(Error::RunFailed)?;
            run_operation(&c, &app.name, op, &n, false, *timeout, false).await
        }),
        AppCmd::Delete {
            names,
            cascade,
            yes: _,
            conn,
        } => with_conn(&in_argocd(conn), |c| async move {
            const FIN: &str = "resources-finalizer.argocd.argoproj.io";
            for name in names {
                let a = get_app(&c, name).await?;
                let mut fins: Vec<Value> = a
                    .pointer("/metadata/finalizers")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let has = fins.iter().any(|f| f == FIN);
                // argo-cd server/application `Delete`: cascade adds the resources
                // finalizer, non-cascade removes it, then the Application is deleted
                if *cascade && !has {
                    fins.push(json!(FIN));
                } else if !*cascade && has {
                    fins.retain(|f| f != FIN);
                }
                if *cascade != has {
                    c.merge_patch(
                        &app_res(),
                        &c.namespace,
                        name,
                        &json!({"metadata": {"finalizers": fins}}),
                    )
                    .await?;
                }
                c.delete(&app_res(), &c.namespace, name).await?;
                out(&format!("application '{name}' deleted\n"));
            }
            Ok(0)
        }),
        AppCmd::Wait {
            app,
            sync,
            health,
            operation,
            suspended,
            degraded,
            timeout,
        } => with_conn(&in_argocd(&app.conn), |c| async move {
            let mut w = fmt::Watch {
                sync: *sync,
                health: *health,
                operation: *operation,
                suspended: *suspended,
                degraded: *degraded,
            };
            if !w.sync && !w.health && !w.operation && !w.suspended && !w.degraded {
                w.sync = true;
                w.health = true;
                w.operation = true;
            }
            let mut prev_health = String::new();
            let mut progress = fmt::WaitPrinter::new();
            let res = poll(&c, &app.name, *timeout, |a| {
                let h = a
                    .pointer("/status/health/status")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                // argocd: a health that turns Degraded (from neither Unknown nor
                // Degraded) while waiting for health ends the wait with an error
                if w.health
                    && !w.degraded
                    && h == "Degraded"
                    && !prev_health.is_empty()
                    && prev_health != "Unknown"
                    && prev_health != "Degraded"
                {
                    return Err(Error::RunFailed(format!(
                        "application '{}' health state has transitioned from {prev_health} to {h}",
                        app.name
                    )));
                }
                prev_health = h;
                if fmt::wait_satisfied(a, &w) {
                    return Ok(true);
                }
                out(&progress.step(a, &timestamp()));
                Ok(false)
            })
            .await?;
            match res {
                Some(a) => {
                    out(&fmt::final_status(&a, &url(&c, &a), w.operation, now()));
                    Ok(0)
                }
                None => {
                    let a = get_app(&c, &app.name).await?;
                    out("\nThis is the state of the app after `wait` timed out:\n");
                    out(&fmt::final_status(&a, &url(&c, &a), w.operation, now()));
                    out("\nThe command timed out waiting for the conditions to be met.\n");
                    Err(Error::RunFailed(format!(
                        "timed out ({timeout}s) waiting for app {:?} match desired state",
                        app.name
                    )))
                }
            }
        }),
        AppCmd::Create {
            app,
            spec,
            labels,
            upsert,
        } => with_conn(&in_argocd(&app.conn), |c| async move {
            let req = fmt::CreateRequest {
                name: app.name.clone(),
                namespace: c.namespace.clone(),
                project: spec.project.clone().unwrap_or_default(),
                repo: spec.repo.clone().unwrap_or_default(),
                path: spec.path.clone().unwrap_or_default(),
                revision: spec.revision.clone().unwrap_or_default(),
                dest_server: spec.dest_server.clone().unwrap_or_default(),
                dest_name: spec.dest_name.clone().unwrap_or_default(),
                dest_namespace: spec.dest_namespace.clone().unwrap_or_default(),
                sync_policy: spec.sync_policy.clone(),
                auto_prune: spec.auto_prune,
                self_heal: spec.self_heal,
                sync_options: spec.sync_options.clone(),
                labels: labels.clone(),
                directory_recurse: spec.directory_recurse,
            };
            let obj = fmt::create_application(&req).map_err(Error::Usage)?;
            match c.get(&app_res(), &c.namespace, &app.name).await {
                Ok(existing) => {
                    if existing["spec"] == obj["spec"] {
                        out(&format!("application '{}' unchanged\n", app.name));
                    } else if *upsert {
                        c.merge_patch(
                            &app_res(),
                            &c.namespace,
                            &app.name,
                            &json!({"spec": obj["spec"]}),
                        )
                        .await?;
                        out(&format!("application '{}' updated\n", app.name));
                    } else {
                        return Err(Error::RunFailed(
                            "existing application spec is different, use upsert flag to force update"
                                .into(),
                        ));
                    }
                }
                Err(e) if e.is_not_found() => {
                    c.create(&app_res(), &c.namespace, &obj).await?;
                    out(&format!("application '{}' created\n", app.name));
                }
                Err(e) => return Err(e),
            }
            Ok(0)
        }),
        AppCmd::Diff { app, local } => with_conn(&in_argocd(&app.conn), |c| async move {
            app_diff(&c, &app.name, local.as_deref()).await
        }),
        AppCmd::Set { app, spec } => with_conn(&in_argocd(&app.conn), |c| async move {
            let a = get_app(&c, &app.name).await?;
            let patch = spec_patch(&a, spec)?;
            c.merge_patch(&app_res(), &c.namespace, &app.name, &patch)
                .await?;
            Ok(0)
        }),
    }
}

// ---- repositories, credential templates, clusters, projects ----

fn secret_res() -> Resource {
    Resource {
        group: String::new(),
        version: "v1".into(),
        kind: "Secret".into(),
        plural: "secrets".into(),
        singular: "secret".into(),
        short_names: Vec::new(),
        namespaced: true,
    }
}

pub(crate) fn proj_res() -> Resource {
    argo("AppProject", "appprojects")
}

/// A Secret's values: `data` decoded, then `stringData` (which wins).
fn secret_values(sec: &Value) -> std::collections::BTreeMap<String, String> {
    use base64::Engine as _;
    let mut out = std::collections::BTreeMap::new();
    if let Some(d) = sec.get("data").and_then(Value::as_object) {
        for (k, v) in d {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap_or(""))
                .unwrap_or_default();
            out.insert(k.clone(), String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    if let Some(d) = sec.get("stringData").and_then(Value::as_object) {
        for (k, v) in d {
            out.insert(k.clone(), v.as_str().unwrap_or("").to_owned());
        }
    }
    out
}

/// `stringData` moved into base64 `data`, as the API server stores it.
fn encode_secret(mut sec: Value) -> Value {
    use base64::Engine as _;
    if let Some(Value::Object(sd)) = sec.as_object_mut().and_then(|m| m.remove("stringData")) {
        let data: serde_json::Map<String, Value> = sd
            .into_iter()
            .map(|(k, v)| {
                let text = v.as_str().unwrap_or("").to_owned();
                (
                    k,
                    json!(base64::engine::general_purpose::STANDARD.encode(text)),
                )
            })
            .collect();
        sec["data"] = Value::Object(data);
    }
    sec
}

/// The Secrets of the namespace labelled `argocd.argoproj.io/secret-type=TYPE`.
async fn typed_secrets(c: &Conn, kind: &str) -> Result<Vec<Value>, Error> {
    c.list(
        &secret_res(),
        Some(&c.namespace),
        Some(&format!("argocd.argoproj.io/secret-type={kind}")),
    )
    .await
}

/// Creates the Secret, or with `upsert` replaces its values; an existing one with other
/// values is refused without it (argo-cd server: "existing ... is different, use upsert
/// flag to force update").
async fn put_secret(c: &Conn, sec: Value, upsert: bool, what: &str) -> Result<(), Error> {
    let sec = encode_secret(sec);
    let name = sec["metadata"]["name"].as_str().unwrap_or("").to_owned();
    match c.get(&secret_res(), &c.namespace, &name).await {
        Ok(existing) => {
            if existing["data"] == sec["data"] {
                return Ok(());
            }
            if !upsert {
                return Err(Error::RunFailed(format!(
                    "existing {what} spec is different; use upsert flag to force update"
                )));
            }
            c.merge_patch(
                &secret_res(),
                &c.namespace,
                &name,
                &json!({"data": sec["data"], "metadata": {"labels": sec["metadata"]["labels"]}}),
            )
            .await?;
            Ok(())
        }
        Err(e) if e.is_not_found() => c
            .create(&secret_res(), &c.namespace, &sec)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    }
}

/// Deletes the Secrets of `kind` whose `url` (or `server`/`name` for clusters) is `key`;
/// false when none is.
async fn remove_secrets(c: &Conn, kind: &str, keys: &[&str], key: &str) -> Result<bool, Error> {
    let mut hit = false;
    for sec in typed_secrets(c, kind).await? {
        let v = secret_values(&sec);
        if keys.iter().any(|k| v.get(*k).is_some_and(|x| x == key)) {
            let name = sec["metadata"]["name"].as_str().unwrap_or("");
            c.delete(&secret_res(), &c.namespace, name).await?;
            hit = true;
        }
    }
    Ok(hit)
}

#[derive(Debug, Clone, Args)]
pub struct RepoFlags {
    /// `git` (default) or `helm`.
    #[arg(long = "type", default_value = "git")]
    pub kind: String,
    /// A name for the repository.
    #[arg(long)]
    pub name: Option<String>,
    /// The project the repository is scoped to.
    #[arg(long)]
    pub project: Option<String>,
    #[arg(long)]
    pub username: Option<String>,
    #[arg(long)]
    pub password: Option<String>,
    /// A file with an SSH private key.
    #[arg(long, value_name = "FILE")]
    pub ssh_private_key_path: Option<std::path::PathBuf>,
    #[arg(long)]
    pub insecure_skip_server_verification: bool,
    #[arg(long)]
    pub insecure_ignore_host_key: bool,
    #[arg(long)]
    pub enable_lfs: bool,
    #[arg(long)]
    pub enable_oci: bool,
    /// Replace an existing entry.
    #[arg(long)]
    pub upsert: bool,
}

impl RepoFlags {
    fn request(&self, url: &str) -> Result<fmt::RepoRequest, Error> {
        let key = match &self.ssh_private_key_path {
            Some(p) => crate::input::read_named(&p.to_string_lossy())
                .map_err(|e| Error::Usage(format!("{e:#}")))?,
            None => String::new(),
        };
        Ok(fmt::RepoRequest {
            url: url.to_owned(),
            kind: self.kind.clone(),
            name: self.name.clone().unwrap_or_default(),
            project: self.project.clone().unwrap_or_default(),
            username: self.username.clone().unwrap_or_default(),
            password: self.password.clone().unwrap_or_default(),
            ssh_private_key: key,
            insecure_skip_server_verification: self.insecure_skip_server_verification,
            insecure_ignore_host_key: self.insecure_ignore_host_key,
            enable_lfs: self.enable_lfs,
            enable_oci: self.enable_oci,
        })
    }
}

/// Repositories as Argo CD stores them: Secrets labelled
/// `argocd.argoproj.io/secret-type: repository` in `argocd`. Exit codes as `sluice app`.
#[derive(Debug, Subcommand)]
pub enum RepoCmd {
    /// Add a repository (`Repository 'URL' added`).
    Add {
        url: String,
        #[command(flatten)]
        flags: RepoFlags,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// TYPE NAME REPO INSECURE OCI LFS CREDS STATUS MESSAGE PROJECT.
    #[command(alias = "ls")]
    List {
        /// `wide` (default), `url`, `json` or `yaml`.
        #[arg(short = 'o', long, default_value = "wide")]
        output: String,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Remove repositories (`Repository 'URL' removed`).
    Rm {
        #[arg(required = true)]
        urls: Vec<String>,
        #[command(flatten)]
        conn: ConnFlags,
    },
}

/// Credential templates (`repo-creds` Secrets): their values apply to every repository
/// whose URL starts with the template's, the longest match winning.
#[derive(Debug, Subcommand)]
pub enum RepoCredsCmd {
    /// Add a template (`Repository credentials for 'URL' added`).
    Add {
        url: String,
        #[command(flatten)]
        flags: RepoFlags,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// URL PATTERN USERNAME SSH_CREDS TLS_CREDS.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Remove templates.
    Rm {
        #[arg(required = true)]
        urls: Vec<String>,
        #[command(flatten)]
        conn: ConnFlags,
    },
}

/// Destination clusters as Argo CD stores them: Secrets labelled
/// `argocd.argoproj.io/secret-type: cluster` in `argocd`.
#[derive(Debug, Subcommand)]
pub enum ClusterCmd {
    /// Add the cluster of a kubeconfig context (its server, bearer token and CA).
    Add {
        /// The context (default: the current one).
        context: Option<String>,
        /// The kubeconfig to read the context from (default: the one connected with).
        #[arg(long, value_name = "FILE")]
        cluster_kubeconfig: Option<std::path::PathBuf>,
        /// The cluster's name (default: the context's).
        #[arg(long)]
        name: Option<String>,
        /// Namespaces Argo CD may manage (repeatable; default all).
        #[arg(long = "namespace-scope")]
        namespaces: Vec<String>,
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        upsert: bool,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// SERVER NAME VERSION STATUS MESSAGE PROJECT (the in-cluster destination first).
    #[command(alias = "ls")]
    List {
        /// `wide` (default), `server`, `json` or `yaml`.
        #[arg(short = 'o', long, default_value = "wide")]
        output: String,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Remove clusters by server URL or name (`Cluster 'X' removed`).
    Rm {
        #[arg(required = true)]
        servers: Vec<String>,
        #[command(flatten)]
        conn: ConnFlags,
    },
}

/// AppProjects, as `argocd proj`.
#[derive(Debug, Subcommand)]
pub enum ProjCmd {
    /// NAME DESCRIPTION DESTINATIONS SOURCES ... (as `argocd proj list`).
    #[command(alias = "ls")]
    List {
        #[arg(short = 'o', long, value_enum)]
        output: Option<Output>,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// A project's destinations, repositories and resource lists.
    Get {
        name: String,
        #[arg(short = 'o', long, value_enum)]
        output: Option<Output>,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Create a project: `-d SERVER,NAMESPACE` destinations, `-s REPO` sources.
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(short = 'd', long = "dest")]
        dests: Vec<String>,
        #[arg(short = 's', long = "src")]
        sources: Vec<String>,
        #[arg(long)]
        upsert: bool,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// A project's roles and their JWT tokens (as `argocd proj role`).
    #[command(subcommand)]
    Role(crate::argocd_roles::RoleCmd),
}

fn print_list(items: Vec<Value>, output: &str) -> bool {
    match output {
        "json" => print_doc(&Value::Array(items), Output::Json),
        "yaml" => print_doc(&Value::Array(items), Output::Yaml),
        _ => return false,
    }
    true
}

pub fn run_repo(cmd: &RepoCmd) -> anyhow::Result<u8> {
    match cmd {
        RepoCmd::Add { url, flags, conn } => with_conn(&in_argocd(conn), |c| async move {
            let sec = fmt::repo_secret(&flags.request(url)?, &c.namespace, false);
            put_secret(&c, sec, flags.upsert, "repository").await?;
            out(&format!("Repository '{url}' added\n"));
            Ok(0)
        }),
        RepoCmd::List { output, conn } => with_conn(&in_argocd(conn), |c| async move {
            let repos: Vec<_> = typed_secrets(&c, "repository")
                .await?
                .iter()
                .map(secret_values)
                .collect();
            let templates: Vec<_> = typed_secrets(&c, "repo-creds")
                .await?
                .iter()
                .map(secret_values)
                .collect();
            let plain = |m: &std::collections::BTreeMap<String, String>| {
                let mut v = json!({});
                for k in ["url", "type", "name", "project", "username"] {
                    if let Some(x) = m.get(k) {
                        v[if k == "url" { "repo" } else { k }] = json!(x);
                    }
                }
                v
            };
            if !print_list(repos.iter().map(plain).collect(), output) {
                if output == "url" {
                    for r in &repos {
                        out(&format!("{}\n", r.get("url").cloned().unwrap_or_default()));
                    }
                } else {
                    out(&fmt::repo_list(&repos, &templates));
                }
            }
            Ok(0)
        }),
        RepoCmd::Rm { urls, conn } => with_conn(&in_argocd(conn), |c| async move {
            for url in urls {
                if !remove_secrets(&c, "repository", &["url"], url).await? {
                    return Err(Error::RunFailed(format!("repo '{url}' not found")));
                }
                out(&format!("Repository '{url}' removed\n"));
            }
            Ok(0)
        }),
    }
}

pub fn run_repocreds(cmd: &RepoCredsCmd) -> anyhow::Result<u8> {
    match cmd {
        RepoCredsCmd::Add { url, flags, conn } => with_conn(&in_argocd(conn), |c| async move {
            let sec = fmt::repo_secret(&flags.request(url)?, &c.namespace, true);
            put_secret(&c, sec, flags.upsert, "repository credentials").await?;
            out(&format!("Repository credentials for '{url}' added\n"));
            Ok(0)
        }),
        RepoCredsCmd::List { conn } => with_conn(&in_argocd(conn), |c| async move {
            let t: Vec<_> = typed_secrets(&c, "repo-creds")
                .await?
                .iter()
                .map(secret_values)
                .collect();
            out(&fmt::repocreds_list(&t));
            Ok(0)
        }),
        RepoCredsCmd::Rm { urls, conn } => with_conn(&in_argocd(conn), |c| async move {
            for url in urls {
                if !remove_secrets(&c, "repo-creds", &["url"], url).await? {
                    return Err(Error::RunFailed(format!(
                        "repository credentials for '{url}' not found"
                    )));
                }
                out(&format!("Repository credentials for '{url}' removed\n"));
            }
            Ok(0)
        }),
    }
}

/// The server, bearer token and CA data of a kubeconfig context.
fn kubeconfig_cluster(
    path: &std::path::Path,
    context: Option<&str>,
) -> Result<(String, fmt::ClusterRequest), Error> {
    let text = crate::input::read_named(&path.to_string_lossy())
        .map_err(|e| Error::Usage(format!("{e:#}")))?;
    let docs = sluice_core::yaml::load_documents(&text, &sluice_core::yaml::Limits::default())
        .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    let kc = docs
        .into_iter()
        .next()
        .map(|d| d.value)
        .unwrap_or(Value::Null);
    let ctx_name = match context {
        Some(c) => c.to_owned(),
        None => kc["current-context"].as_str().unwrap_or("").to_owned(),
    };
    let find = |list: &str, name: &str| -> Option<Value> {
        kc[list]
            .as_array()?
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
    };
    let ctx = find("contexts", &ctx_name).ok_or_else(|| {
        Error::Usage(format!(
            "context {ctx_name:?} not found in {}",
            path.display()
        ))
    })?;
    let cluster_name = ctx["context"]["cluster"].as_str().unwrap_or("");
    let user_name = ctx["context"]["user"].as_str().unwrap_or("");
    let cluster = find("clusters", cluster_name).unwrap_or(Value::Null);
    let user = find("users", user_name).unwrap_or(Value::Null);
    let server = cluster["cluster"]["server"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    if server.is_empty() {
        return Err(Error::Usage(format!(
            "context {ctx_name:?}: its cluster has no server"
        )));
    }
    Ok((
        ctx_name,
        fmt::ClusterRequest {
            server,
            bearer_token: user["user"]["token"].as_str().unwrap_or("").to_owned(),
            ca_data: cluster["cluster"]["certificate-authority-data"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            insecure: cluster["cluster"]["insecure-skip-tls-verify"] == true,
            ..Default::default()
        },
    ))
}

pub fn run_cluster(cmd: &ClusterCmd) -> anyhow::Result<u8> {
    match cmd {
        ClusterCmd::Add {
            context,
            cluster_kubeconfig,
            name,
            namespaces,
            project,
            upsert,
            conn,
        } => {
            let path = cluster_kubeconfig
                .clone()
                .or_else(|| conn.kubeconfig.clone())
                .unwrap_or_else(|| conn.data.join("kubeconfig"));
            with_conn(&in_argocd(conn), |c| async move {
                let (ctx, mut req) = kubeconfig_cluster(&path, context.as_deref())?;
                req.name = name.clone().unwrap_or(ctx);
                req.namespaces = namespaces.clone();
                req.project = project.clone().unwrap_or_default();
                let sec = fmt::cluster_secret(&req, &c.namespace).map_err(Error::Usage)?;
                put_secret(&c, sec, *upsert, "cluster").await?;
                out(&format!("Cluster '{}' added\n", req.server));
                Ok(0)
            })
        }
        ClusterCmd::List { output, conn } => with_conn(&in_argocd(conn), |c| async move {
            let clusters: Vec<_> = typed_secrets(&c, "cluster")
                .await?
                .iter()
                .map(secret_values)
                .collect();
            let plain: Vec<Value> = clusters
                .iter()
                .map(|m| {
                    json!({"server": m.get("server"), "name": m.get("name"),
                        "project": m.get("project"), "namespaces": m.get("namespaces")})
                })
                .collect();
            if !print_list(plain, output) {
                if output == "server" {
                    for m in &clusters {
                        out(&format!(
                            "{}\n",
                            m.get("server").cloned().unwrap_or_default()
                        ));
                    }
                } else {
                    out(&fmt::cluster_list(&clusters));
                }
            }
            Ok(0)
        }),
        ClusterCmd::Rm { servers, conn } => with_conn(&in_argocd(conn), |c| async move {
            for s in servers {
                if !remove_secrets(&c, "cluster", &["server", "name"], s).await? {
                    return Err(Error::RunFailed(format!("cluster '{s}' not found")));
                }
                out(&format!("Cluster '{s}' removed\n"));
            }
            Ok(0)
        }),
    }
}

pub fn run_proj(cmd: &ProjCmd) -> anyhow::Result<u8> {
    match cmd {
        ProjCmd::Role(r) => crate::argocd_roles::run(r),
        ProjCmd::List { output, conn } => with_conn(&in_argocd(conn), |c| async move {
            let items = c.list(&proj_res(), Some(&c.namespace), None).await?;
            match output {
                Some(o @ (Output::Json | Output::Yaml)) => print_doc(&Value::Array(items), *o),
                Some(Output::Name) => {
                    for p in &items {
                        out(&format!(
                            "{}\n",
                            p["metadata"]["name"].as_str().unwrap_or("")
                        ));
                    }
                }
                _ => out(&fmt::proj_list(&items)),
            }
            Ok(0)
        }),
        ProjCmd::Get { name, output, conn } => with_conn(&in_argocd(conn), |c| async move {
            let mut p = c.get(&proj_res(), &c.namespace, name).await?;
            p["apiVersion"] = json!("argoproj.io/v1alpha1");
            p["kind"] = json!("AppProject");
            match output {
                Some(o @ (Output::Json | Output::Yaml)) => print_doc(&p, *o),
                _ => out(&fmt::proj_get(&p)),
            }
            Ok(0)
        }),
        ProjCmd::Create {
            name,
            description,
            dests,
            sources,
            upsert,
            conn,
        } => with_conn(&in_argocd(conn), |c| async move {
            let p = fmt::proj_create(
                name,
                &c.namespace,
                description.as_deref().unwrap_or(""),
                dests,
                sources,
            )
            .map_err(Error::Usage)?;
            match c.get(&proj_res(), &c.namespace, name).await {
                Ok(existing) if existing["spec"] == p["spec"] => {}
                Ok(_) if *upsert => {
                    c.merge_patch(&proj_res(), &c.namespace, name, &json!({"spec": p["spec"]}))
                        .await?;
                }
                Ok(_) => {
                    return Err(Error::RunFailed(
                        "existing project spec is different, use upsert flag to force update"
                            .into(),
                    ));
                }
                Err(e) if e.is_not_found() => {
                    c.create(&proj_res(), &c.namespace, &p).await?;
                }
                Err(e) => return Err(e),
            }
            Ok(0)
        }),
    }
}

/// A local directory standing for every repository (`app diff --local`).
struct LocalSources(std::sync::Arc<dyn sluice_source::SourceTree>);

impl sluice_source::Sources for LocalSources {
    fn resolve(&self, _url: &str, _rev: &str) -> Result<sluice_source::Resolved, String> {
        Ok(sluice_source::Resolved {
            revision: "local".into(),
            tree: self.0.clone(),
        })
    }
}

/// Removes a directory when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `argocd app diff`: the desired objects rendered here (from Git through a mirror of our
/// own, or `--local`) as the controller renders them, compared with the live ones as the
/// controller compares them (`sluice_gitops::diff`, the app's `ignoreDifferences` and
/// argocd-cm's), each difference printed by `diff` (argo-cd `cmdutil.PrintDiff`).
async fn app_diff(c: &Conn, name: &str, local: Option<&std::path::Path>) -> Result<u8, Error> {
    use sluice_gitops::diff::{self as gdiff, IgnoreRule};
    let a = get_app(c, name).await?;
    let mut spec = a["spec"].clone();
    let tmp = TempDir(std::env::temp_dir().join(format!("sluice-app-diff-{}", nonce())));
    let sources: Box<dyn sluice_source::Sources> = match local {
        Some(dir) => {
            if spec.get("sources").is_some_and(Value::is_array) {
                return Err(Error::Usage(
                    "--local is not supported for applications with several sources".into(),
                ));
            }
            let tree = sluice_source::dir::DirTree::new(dir)
                .map_err(|e| Error::Usage(format!("{}: {e}", dir.display())))?;
            spec["source"]["path"] = json!("");
            Box::new(LocalSources(std::sync::Arc::new(tree)))
        }
        None => {
            let cache = sluice_git::RepoCache::new(sluice_git::CacheOptions::new(&tmp.0))
                .map_err(|e| Error::Connection(e.to_string()))?;
            Box::new(sluice_git::GitSources::new(std::sync::Arc::new(cache)))
        }
    };
    let dest_ns = spec["destination"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let cm = c
        .get_json(&format!(
            "/api/v1/namespaces/{}/configmaps/argocd-cm",
            c.namespace
        ))
        .await
        .ok();
    let opts = sluice_source::render::RenderOptions {
        app_name: name.to_owned(),
        dest_namespace: dest_ns.clone(),
        ..Default::default()
    };
    let rendered = sluice_source::render::render_app(&spec, sources.as_ref(), &opts, None)
        .map_err(|e| Error::RunFailed(e.to_string()))?;
    let mut rules: Vec<IgnoreRule> = Vec::new();
    for (i, r) in spec["ignoreDifferences"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        rules.push(
            IgnoreRule::from_value(r, &format!("spec.ignoreDifferences[{i}]"))
                .map_err(|e| Error::Usage(e.to_string()))?,
        );
    }
    if let Some(cm) = &cm {
        rules.extend(IgnoreRule::from_configmap(cm).0);
    }
    let tracking = sluice_source::tracking::Tracking::from_configmap(cm.as_ref());
    let all = c.discover().await?;
    let mut pairs: Vec<(Option<Value>, Option<Value>)> = Vec::new();
    let mut seen: Vec<(String, String, String, String)> = Vec::new();
    for mut t in rendered.objects {
        if sluice_gitops::sync::is_hook(&t) {
            continue;
        }
        let av = t["apiVersion"].as_str().unwrap_or("").to_owned();
        let kind = t["kind"].as_str().unwrap_or("").to_owned();
        let r = Conn::resource_for(&all, &av, &kind)
            .cloned()
            .ok_or_else(|| {
                Error::RunFailed(format!(
                    "the server doesn't have a resource type {kind} ({av})"
                ))
            })?;
        if r.namespaced {
            if t.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                t["metadata"]["namespace"] = json!(dest_ns);
            }
        } else if let Some(m) = t["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        tracking.set(&mut t, name);
        let ns = t["metadata"]["namespace"].as_str().unwrap_or("").to_owned();
        let n = t["metadata"]["name"].as_str().unwrap_or("").to_owned();
        let live = match c.get(&r, &ns, &n).await {
            Ok(mut l) => {
                l["apiVersion"] = json!(av);
                l["kind"] = json!(kind);
                Some(l)
            }
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        seen.push((r.group.clone(), kind.clone(), ns, n));
        pairs.push((Some(t), live));
    }
    // what the controller tracks and Git no longer has
    for res in a["status"]["resources"].as_array().into_iter().flatten() {
        let g = res["group"].as_str().unwrap_or("");
        let k = res["kind"].as_str().unwrap_or("");
        let ns = res["namespace"].as_str().unwrap_or("");
        let n = res["name"].as_str().unwrap_or("");
        if seen
            .iter()
            .any(|(sg, sk, sns, sn)| sg == g && sk == k && sns == ns && sn == n)
        {
            continue;
        }
        let av = if g.is_empty() {
            res["version"].as_str().unwrap_or("v1").to_owned()
        } else {
            format!("{g}/{}", res["version"].as_str().unwrap_or(""))
        };
        if let Some(r) = Conn::resource_for(&all, &av, k).cloned() {
            match c.get(&r, ns, n).await {
                Ok(mut l) => {
                    l["apiVersion"] = json!(av);
                    l["kind"] = json!(k);
                    pairs.push((None, Some(l)));
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
    }
    let mut found = false;
    for (i, (t, l)) in pairs.iter().enumerate() {
        let res = gdiff::diff(t.as_ref(), l.as_ref(), &rules);
        if !res.modified {
            continue;
        }
        found = true;
        let shown_target = res.normalized_target.clone();
        let shown_live = match (&res.normalized_live, &res.normalized_target) {
            (Some(l), Some(t)) => Some(fmt::project_live(l, t)),
            (l, _) => l.clone(),
        };
        let head = t.as_ref().or(l.as_ref()).unwrap_or(&Value::Null);
        out(&fmt::diff_header(head));
        let obj_name = head["metadata"]["name"].as_str().unwrap_or("object");
        let yaml = |v: &Option<Value>| {
            v.as_ref()
                .map(sluice_core::emit::to_string)
                .unwrap_or_default()
        };
        let live_file = tmp.0.join(format!("{i}-{obj_name}-live.yaml"));
        let target_file = tmp.0.join(format!("{i}-{obj_name}"));
        std::fs::create_dir_all(&tmp.0)
            .and_then(|()| std::fs::write(&live_file, yaml(&shown_live)))
            .and_then(|()| std::fs::write(&target_file, yaml(&shown_target)))
            .map_err(|e| Error::Connection(format!("{}: {e}", tmp.0.display())))?;
        let (bin, mut args) = match std::env::var("KUBECTL_EXTERNAL_DIFF") {
            Ok(v) if !v.trim().is_empty() => {
                let mut parts = v.split_whitespace().map(str::to_owned);
                (parts.next().unwrap_or_default(), parts.collect::<Vec<_>>())
            }
            _ => ("diff".to_owned(), Vec::new()),
        };
        args.push(live_file.display().to_string());
        args.push(target_file.display().to_string());
        let o = std::process::Command::new(&bin)
            .args(&args)
            .output()
            .map_err(|e| Error::Usage(format!("running {bin}: {e}")))?;
        out(&String::from_utf8_lossy(&o.stdout));
    }
    Ok(u8::from(found))
}

#[derive(Debug, Args)]
pub struct AppsetListArgs {
    #[command(flatten)]
    pub list: ListFlags,
    #[command(flatten)]
    pub conn: ConnFlags,
}

#[derive(Debug, Args)]
pub struct AppsetGetArgs {
    pub name: String,
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<Output>,
    #[command(flatten)]
    pub conn: ConnFlags,
}

fn appset_res() -> Resource {
    argo("ApplicationSet", "applicationsets")
}

/// `sluice appset list`: NAME PROJECT SYNCPOLICY CONDITIONS (`-o wide`: REPO PATH TARGET).
pub fn appset_list(a: &AppsetListArgs) -> anyhow::Result<u8> {
    with_conn(&in_argocd(&a.conn), |c| async move {
        let ns = (!a.list.all_namespaces).then(|| c.namespace.clone());
        let sets = c
            .list(&appset_res(), ns.as_deref(), a.list.selector.as_deref())
            .await?;
        match a.list.output {
            Some(o @ (Output::Json | Output::Yaml)) => print_doc(&Value::Array(sets), o),
            Some(Output::Name) => {
                for x in &sets {
                    out(&format!("{}\n", fmt::qualified_name(x)));
                }
            }
            o => out(&fmt::appset_list(&sets, o == Some(Output::Wide))),
        }
        Ok(0)
    })
}

/// `sluice appset get NAME`.
pub fn appset_get(a: &AppsetGetArgs) -> anyhow::Result<u8> {
    with_conn(&in_argocd(&a.conn), |c| async move {
        let mut set = c.get(&appset_res(), &c.namespace, &a.name).await?;
        set["apiVersion"] = json!("argoproj.io/v1alpha1");
        set["kind"] = json!("ApplicationSet");
        match a.output {
            Some(o @ (Output::Json | Output::Yaml)) => print_doc(&set, o),
            _ => out(&fmt::appset_get(&set)),
        }
        Ok(0)
    })
}

/// `app get -o` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GetOutput {
    Wide,
    Tree,
    Json,
    Yaml,
}

/// The app's resources (`status.resources`, read live for their uids) and, below them,
/// the ReplicaSets, Jobs and Pods they own (owner references, in the namespaces of the
/// app's resources, at most 20), with health from the built-in checks.
async fn tree_nodes(c: &Conn, app: &Value) -> Result<Vec<fmt::TreeNode>, Error> {
    let all = c.discover().await?;
    let mut nodes: Vec<fmt::TreeNode> = Vec::new();
    let mut namespaces: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for res in app["status"]["resources"].as_array().into_iter().flatten() {
        let g = res["group"].as_str().unwrap_or("");
        let v = res["version"].as_str().unwrap_or("v1");
        let av = if g.is_empty() {
            v.to_owned()
        } else {
            format!("{g}/{v}")
        };
        let kind = res["kind"].as_str().unwrap_or("");
        let ns = res["namespace"].as_str().unwrap_or("");
        let name = res["name"].as_str().unwrap_or("");
        let uid = match Conn::resource_for(&all, &av, kind) {
            Some(r) => match c.get(r, ns, name).await {
                Ok(o) => o["metadata"]["uid"].as_str().unwrap_or("").to_owned(),
                Err(e) if e.is_not_found() => String::new(),
                Err(e) => return Err(e),
            },
            None => String::new(),
        };
        if !ns.is_empty() {
            namespaces.insert(ns.to_owned());
        }
        nodes.push(fmt::TreeNode {
            uid,
            group: g.to_owned(),
            kind: kind.to_owned(),
            namespace: ns.to_owned(),
            name: name.to_owned(),
            health: res["health"]["status"].as_str().unwrap_or("").to_owned(),
            parent: None,
        });
    }
    let mut candidates: Vec<fmt::TreeNode> = Vec::new();
    for ns in namespaces.iter().take(20) {
        for (g, v, kind) in [
            ("apps", "v1", "ReplicaSet"),
            ("batch", "v1", "Job"),
            ("", "v1", "Pod"),
        ] {
            let av = if g.is_empty() {
                v.to_owned()
            } else {
                format!("{g}/{v}")
            };
            let Some(r) = Conn::resource_for(&all, &av, kind).cloned() else {
                continue;
            };
            for mut o in c.list(&r, Some(ns), None).await? {
                o["apiVersion"] = json!(av);
                o["kind"] = json!(kind);
                let Some(owner) = o["metadata"]["ownerReferences"]
                    .as_array()
                    .and_then(|refs| refs.first())
                    .and_then(|r| r["uid"].as_str())
                else {
                    continue;
                };
                let health = sluice_health::resource_health_builtin(&o)
                    .map(|h| h.status.as_str().to_owned())
                    .unwrap_or_default();
                candidates.push(fmt::TreeNode {
                    uid: o["metadata"]["uid"].as_str().unwrap_or("").to_owned(),
                    group: g.to_owned(),
                    kind: kind.to_owned(),
                    namespace: ns.clone(),
                    name: o["metadata"]["name"].as_str().unwrap_or("").to_owned(),
                    health,
                    parent: Some(owner.to_owned()),
                });
            }
        }
    }
    // keep what hangs below the app's resources (a few levels: Deployment, ReplicaSet, Pod)
    for _ in 0..4 {
        let known: std::collections::BTreeSet<String> = nodes
            .iter()
            .map(|n| n.uid.clone())
            .filter(|u| !u.is_empty())
            .collect();
        let (take, rest): (Vec<_>, Vec<_>) = candidates
            .into_iter()
            .partition(|n| n.parent.as_ref().is_some_and(|p| known.contains(p)));
        candidates = rest;
        if take.is_empty() {
            break;
        }
        nodes.extend(take);
    }
    Ok(nodes)
}
