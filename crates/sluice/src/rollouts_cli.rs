//! `sluice rollouts ...` with kubectl-argo-rollouts habits: `list rollouts`, `get rollout`,
//! `promote [--full]`, `abort`, `retry rollout`, `set image`, `pause`, `status`. The
//! status patches are the plugin's (`sluice_rollouts::canary::{promote,abort,retry}_patch`,
//! `sluice_rollouts::bluegreen::{promote,retry}_patch` for blue-green)
//! on the status subresource; printing is `sluice_cli::rollouts`.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use sluice_cli::get::Resource;
use sluice_cli::{Conn, Error};
use sluice_rollouts::{bluegreen, canary};

fn is_blue_green(ro: &Value) -> bool {
    ro.pointer("/spec/strategy/blueGreen")
        .is_some_and(Value::is_object)
}

use crate::cli::{ConnFlags, Output, with_conn};

fn rollout_res() -> Resource {
    argo("Rollout", "rollouts")
}
fn argo(kind: &str, plural: &str) -> Resource {
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
fn rs_res() -> Resource {
    Resource {
        group: "apps".into(),
        version: "v1".into(),
        kind: "ReplicaSet".into(),
        plural: "replicasets".into(),
        singular: "replicaset".into(),
        short_names: Vec::new(),
        namespaced: true,
    }
}

#[derive(Debug, Clone, Args)]
pub struct NameArgs {
    /// The Rollout.
    pub name: String,
    #[command(flatten)]
    pub conn: ConnFlags,
}

/// Argo Rollouts on the server, as `kubectl argo rollouts`. Exit codes: 0 success, 1 the
/// server refused (not found...) or `status` saw Degraded or timed out, 2 usage or
/// connection error.
#[derive(Debug, Subcommand)]
pub enum RolloutsCmd {
    /// `list rollouts [-A] [-o json|yaml]`.
    List {
        /// `rollouts` (or `rollout`, `ro`).
        what: String,
        /// List across all namespaces.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
        #[arg(short = 'o', long, value_enum)]
        output: Option<Output>,
        #[arg(long)]
        no_headers: bool,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// `get rollout NAME`: status, steps, images, and the tree of ReplicaSets and
    /// AnalysisRuns.
    Get {
        /// `rollout`.
        what: String,
        name: String,
        /// Keep watching: the view is printed again each time it changes (on a terminal,
        /// the screen is redrawn).
        #[arg(short = 'w', long)]
        watch: bool,
        /// With --watch: stop after this many seconds (0: never).
        #[arg(long = "timeout-seconds", default_value_t = 0)]
        timeout_seconds: u64,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Resume a paused step, or skip the current step; `--full` skips every step.
    Promote {
        #[command(flatten)]
        args: NameArgs,
        #[arg(long)]
        full: bool,
    },
    /// Abort the update: the canary is scaled down, the stable takes the traffic.
    Abort(NameArgs),
    /// `retry rollout NAME`: start an aborted update again from its first step.
    Retry {
        /// `rollout`.
        what: String,
        #[command(flatten)]
        args: NameArgs,
    },
    /// `set image NAME CONTAINER=IMAGE...`.
    Set {
        /// `image`.
        what: String,
        name: String,
        /// CONTAINER=IMAGE pairs (`*=IMAGE` for every container).
        #[arg(required = true)]
        images: Vec<String>,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Pause the rollout (`spec.paused`); `promote` resumes it.
    Pause(NameArgs),
    /// `undo NAME [--to-revision N]`: the pod template of an earlier revision back (the
    /// previous one by default), as a new update.
    Undo {
        #[command(flatten)]
        args: NameArgs,
        /// The revision to go back to (`rollout.argoproj.io/revision` of its ReplicaSet);
        /// 0: the previous one.
        #[arg(long = "to-revision", default_value_t = 0)]
        to_revision: i64,
    },
    /// `restart NAME [--in DURATION]`: restart the rollout's pods one at a time
    /// (`spec.restartAt`).
    Restart {
        #[command(flatten)]
        args: NameArgs,
        /// Restart after this long (Go duration such as `30s`, `5m`).
        #[arg(long = "in")]
        in_: Option<String>,
    },
    /// Wait until the rollout is Healthy (exit 0) or Degraded (exit 1), printing its status
    /// as it changes.
    Status {
        #[command(flatten)]
        args: NameArgs,
        /// Give up after this many seconds (exit 1); 0 waits for ever.
        #[arg(long, default_value_t = 0)]
        timeout: u64,
    },
}

fn need(what: &str, allowed: &[&str]) -> Result<(), Error> {
    if allowed.contains(&what) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "unknown resource {what:?}: expected one of {}",
            allowed.join(", ")
        )))
    }
}

fn ns(c: &Conn) -> String {
    c.namespace.clone()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn print(s: &str) {
    use std::io::Write as _;
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

fn owned(items: Vec<Value>, uid: &Value) -> Vec<Value> {
    items
        .into_iter()
        .filter(|o| {
            o.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|r| &r["uid"] == uid))
        })
        .collect()
}

pub fn run(cmd: &RolloutsCmd) -> anyhow::Result<u8> {
    match cmd {
        RolloutsCmd::List {
            what,
            all_namespaces,
            output,
            no_headers,
            conn,
        } => with_conn(conn, |c| async move {
            need(what, &["rollouts", "rollout", "ro"])?;
            let n = ns(&c);
            let items = c
                .list(
                    &rollout_res(),
                    if *all_namespaces {
                        None
                    } else {
                        Some(n.as_str())
                    },
                    None,
                )
                .await?;
            match output {
                Some(Output::Json) => print(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(
                        &json!({"apiVersion": "v1", "kind": "List", "items": items})
                    )
                    .unwrap_or_default()
                )),
                Some(Output::Yaml) => print(&sluice_core::emit::to_string(
                    &json!({"apiVersion": "v1", "kind": "List", "items": items}),
                )),
                _ if items.is_empty() => {
                    eprintln!("No resources found.");
                }
                _ => print(&sluice_cli::rollouts::list(
                    &items,
                    *all_namespaces,
                    *no_headers,
                )),
            }
            Ok(0)
        }),
        RolloutsCmd::Get {
            what,
            name,
            watch,
            timeout_seconds,
            conn,
        } => with_conn(conn, |c| async move {
            need(what, &["rollout", "rollouts", "ro"])?;
            let n = ns(&c);
            let started = std::time::Instant::now();
            let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
            let mut last = String::new();
            loop {
                let ro = c.get(&rollout_res(), &n, name).await?;
                let uid = ro["metadata"]["uid"].clone();
                let rss = owned(c.list(&rs_res(), Some(&n), None).await?, &uid);
                let runs = owned(
                    c.list(&argo("AnalysisRun", "analysisruns"), Some(&n), None)
                        .await?,
                    &uid,
                );
                let view = sluice_cli::rollouts::get(&ro, &rss, &runs, now());
                if !*watch {
                    print(&view);
                    return Ok(0);
                }
                if view != last {
                    if tty {
                        // clear the screen and go home, as the plugin redraws
                        print(&format!("\x1b[2J\x1b[H{view}"));
                    } else {
                        print(&format!("{view}\n"));
                    }
                    last = view;
                }
                if *timeout_seconds > 0 && started.elapsed().as_secs() >= *timeout_seconds {
                    return Ok(0);
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }),
        RolloutsCmd::Promote { args, full } => with_conn(&args.conn, |c| async move {
            let n = ns(&c);
            let ro = c.get(&rollout_res(), &n, &args.name).await?;
            if ro.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
                c.merge_patch(
                    &rollout_res(),
                    &n,
                    &args.name,
                    &json!({"spec": {"paused": false}}),
                )
                .await?;
            }
            let patch = if is_blue_green(&ro) {
                bluegreen::promote_patch(&ro, *full)
            } else {
                canary::promote_patch(&ro, *full)
            };
            c.merge_patch_sub(&rollout_res(), &n, &args.name, "status", &patch)
                .await?;
            print(&format!(
                "rollout '{}' {}\n",
                args.name,
                if *full { "fully promoted" } else { "promoted" }
            ));
            Ok(0)
        }),
        RolloutsCmd::Abort(args) => with_conn(&args.conn, |c| async move {
            let n = ns(&c);
            c.merge_patch_sub(
                &rollout_res(),
                &n,
                &args.name,
                "status",
                &canary::abort_patch(),
            )
            .await?;
            print(&format!("rollout '{}' aborted\n", args.name));
            Ok(0)
        }),
        RolloutsCmd::Retry { what, args } => with_conn(&args.conn, |c| async move {
            need(what, &["rollout", "rollouts", "ro"])?;
            let n = ns(&c);
            let ro = c.get(&rollout_res(), &n, &args.name).await?;
            let patch = if is_blue_green(&ro) {
                bluegreen::retry_patch()
            } else {
                canary::retry_patch()
            };
            c.merge_patch_sub(&rollout_res(), &n, &args.name, "status", &patch)
                .await?;
            print(&format!("rollout '{}' retried\n", args.name));
            Ok(0)
        }),
        RolloutsCmd::Pause(args) => with_conn(&args.conn, |c| async move {
            let n = ns(&c);
            c.merge_patch(
                &rollout_res(),
                &n,
                &args.name,
                &json!({"spec": {"paused": true}}),
            )
            .await?;
            print(&format!("rollout '{}' paused\n", args.name));
            Ok(0)
        }),
        RolloutsCmd::Undo { args, to_revision } => with_conn(&args.conn, |c| async move {
            let n = ns(&c);
            let ro = c.get(&rollout_res(), &n, &args.name).await?;
            let rss = owned(
                c.list(&rs_res(), Some(&n), None).await?,
                &ro["metadata"]["uid"],
            );
            let template = undo_template(&rss, *to_revision).map_err(Error::RunFailed)?;
            let old = ro.pointer("/spec/template").cloned().unwrap_or(json!({}));
            let diff = sluice_kube::rollouts::merge_diff(&old, &template);
            c.merge_patch(
                &rollout_res(),
                &n,
                &args.name,
                &json!({"spec": {"template": diff}}),
            )
            .await?;
            print(&format!("rollout '{}' undo\n", args.name));
            Ok(0)
        }),
        RolloutsCmd::Restart { args, in_ } => with_conn(&args.conn, |c| async move {
            let n = ns(&c);
            let delay = match in_ {
                Some(d) => sluice_gitops::retry::parse_duration_ms(d).map_err(Error::Usage)? / 1000,
                None => 0,
            };
            let at = sluice_core::civil::rfc3339_utc(now() + delay);
            c.merge_patch(
                &rollout_res(),
                &n,
                &args.name,
                &json!({"spec": {"restartAt": at}}),
            )
            .await?;
            print(&format!("rollout '{}' restarts in {delay}s\n", args.name));
            Ok(0)
        }),
        RolloutsCmd::Set {
            what,
            name,
            images,
            conn,
        } => with_conn(conn, |c| async move {
            need(what, &["image"])?;
            let n = ns(&c);
            let ro = c.get(&rollout_res(), &n, name).await?;
            let mut containers = ro
                .pointer("/spec/template/spec/containers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for pair in images {
                let Some((cname, image)) = pair.split_once('=') else {
                    return Err(Error::Usage(format!("{pair:?}: expected CONTAINER=IMAGE")));
                };
                let mut hit = false;
                for ctr in &mut containers {
                    if cname == "*" || ctr["name"] == cname {
                        ctr["image"] = json!(image);
                        hit = true;
                    }
                }
                if !hit {
                    return Err(Error::Usage(format!(
                        "unable to find container named \"{cname}\""
                    )));
                }
            }
            c.merge_patch(
                &rollout_res(),
                &n,
                name,
                &json!({"spec": {"template": {"spec": {"containers": containers}}}}),
            )
            .await?;
            print(&format!("rollout \"{name}\" image updated\n"));
            Ok(0)
        }),
        RolloutsCmd::Status { args, timeout } => with_conn(&args.conn, |c| async move {
            let n = ns(&c);
            let t0 = Instant::now();
            let mut last = String::new();
            loop {
                let ro = c.get(&rollout_res(), &n, &args.name).await?;
                let observed = ro
                    .pointer("/status/observedGeneration")
                    .and_then(Value::as_str)
                    == ro
                        .pointer("/metadata/generation")
                        .and_then(Value::as_i64)
                        .map(|g| g.to_string())
                        .as_deref();
                let phase = ro
                    .pointer("/status/phase")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let msg = ro
                    .pointer("/status/message")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let text = if msg.is_empty() {
                    phase.to_owned()
                } else {
                    format!("{phase} - {msg}")
                };
                if text != last && !text.is_empty() {
                    print(&format!("{text}\n"));
                    last = text;
                }
                if observed && phase == "Healthy" {
                    return Ok(0);
                }
                if observed && phase == "Degraded" {
                    return Ok(1);
                }
                if *timeout > 0 && t0.elapsed() > Duration::from_secs(*timeout) {
                    eprintln!("Error: rollout status watch exceeded timeout");
                    return Ok(1);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }),
    }
}

/// The pod template `undo` restores (kubectl-argo-rollouts undo.go): the ReplicaSet of
/// `to_revision`, or of the revision before the newest when 0, without the pod template
/// hash label.
pub fn undo_template(rss: &[Value], to_revision: i64) -> Result<Value, String> {
    let rev = |r: &Value| -> i64 {
        r.pointer("/metadata/annotations/rollout.argoproj.io~1revision")
            .and_then(Value::as_str)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let mut by_rev: Vec<(i64, &Value)> = rss
        .iter()
        .map(|r| (rev(r), r))
        .filter(|(n, _)| *n > 0)
        .collect();
    by_rev.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    let rs = if to_revision == 0 {
        by_rev
            .get(1)
            .map(|(_, r)| *r)
            .ok_or_else(|| "no rollout history found".to_owned())?
    } else {
        by_rev
            .iter()
            .find(|(n, _)| *n == to_revision)
            .map(|(_, r)| *r)
            .ok_or_else(|| format!("unable to find specified revision {to_revision} in history"))?
    };
    let mut t = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
    if let Some(l) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        l.remove(canary::POD_TEMPLATE_HASH_LABEL);
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(rev: &str, image: &str) -> Value {
        json!({"metadata": {"annotations": {"rollout.argoproj.io/revision": rev}},
            "spec": {"template": {"metadata": {"labels": {"app": "a", "rollouts-pod-template-hash": "h"}},
                "spec": {"containers": [{"name": "c", "image": image}]}}}})
    }

    /// undo.go: the previous revision by default, a named one with --to-revision, the
    /// pod-template-hash label removed.
    #[test]
    fn undo_picks_the_revision() {
        let rss = vec![rs("1", "v1"), rs("3", "v3"), rs("2", "v2")];
        let t = undo_template(&rss, 0).expect("previous");
        assert_eq!(t["spec"]["containers"][0]["image"], "v2");
        assert_eq!(t["metadata"]["labels"], json!({"app": "a"}));
        assert_eq!(
            undo_template(&rss, 1).expect("named")["spec"]["containers"][0]["image"],
            "v1"
        );
        assert_eq!(
            undo_template(&rss, 7),
            Err("unable to find specified revision 7 in history".into())
        );
        assert_eq!(
            undo_template(&rss[..1], 0),
            Err("no rollout history found".into())
        );
    }
}
