//! Retention of finished PipelineRuns (`sluice serve --keep-runs N`): keep the last N
//! finished runs per Pipeline and namespace, delete the older ones, as
//! `tkn pipelinerun delete --keep N` does by hand (tektoncd/cli docs/cmd/tkn_pipelinerun_delete.md:
//! "--keep int  Keep n most recent number of PipelineRuns"). Runs that have not finished are
//! never selected. [`select`] is pure; [`prune`] reads and deletes through the client.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use kube::runtime::watcher;
use serde_json::Value;

use crate::{Error, pipelinerun_ar};

/// The Pipeline a run belongs to for retention: the `tekton.dev/pipeline` label, else the
/// `pipelineRef` name, else (an embedded `pipelineSpec`) the run's own name, as Tekton labels
/// it.
pub fn pipeline_of(pr: &Value) -> &str {
    let m = &pr["metadata"];
    m["labels"]["tekton.dev/pipeline"]
        .as_str()
        .or_else(|| pr["spec"]["pipelineRef"]["name"].as_str())
        .or_else(|| m["name"].as_str())
        .unwrap_or("")
}

/// Whether the run's `Succeeded` condition is True or False.
pub fn finished(pr: &Value) -> bool {
    pr["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Succeeded" && (c["status"] == "True" || c["status"] == "False"))
    })
}

/// The indices of `runs` to delete so that at most `keep` finished runs remain per
/// (namespace, Pipeline): the most recently completed are kept (completionTime, then
/// creationTimestamp, then name, all descending). Unfinished runs are never selected. The
/// result is sorted ascending.
pub fn select(runs: &[Value], keep: usize) -> Vec<usize> {
    let mut groups: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, pr) in runs.iter().enumerate() {
        if !finished(pr) {
            continue;
        }
        let ns = pr["metadata"]["namespace"].as_str().unwrap_or("");
        groups.entry((ns, pipeline_of(pr))).or_default().push(i);
    }
    let key = |pr: &Value| {
        let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
        (
            s(&pr["status"]["completionTime"]),
            s(&pr["metadata"]["creationTimestamp"]),
            s(&pr["metadata"]["name"]),
        )
    };
    let mut out = Vec::new();
    for (_, mut idx) in groups {
        // RFC 3339 UTC timestamps of one format compare as strings
        idx.sort_by_key(|&i| std::cmp::Reverse(key(&runs[i])));
        out.extend(idx.into_iter().skip(keep));
    }
    out.sort_unstable();
    out
}

/// Deletes the finished PipelineRuns beyond the newest `keep` per Pipeline in `namespace`
/// (all namespaces with `None`). Returns the deleted runs as `namespace/name`.
pub async fn prune(
    client: &kube::Client,
    namespace: Option<&str>,
    keep: usize,
) -> Result<Vec<String>, Error> {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &pipelinerun_ar()),
        None => Api::all_with(client.clone(), &pipelinerun_ar()),
    };
    let list = api.list(&ListParams::default()).await?;
    let runs: Vec<Value> = list
        .items
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    let mut deleted = Vec::new();
    for i in select(&runs, keep) {
        let (ns, name) = (
            runs[i]["metadata"]["namespace"].as_str().unwrap_or(""),
            runs[i]["metadata"]["name"].as_str().unwrap_or(""),
        );
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &pipelinerun_ar());
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => deleted.push(format!("{ns}/{name}")),
            // deleted meanwhile (by a user or another pass)
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(deleted)
}

/// Keeps a run's files in step with the runs a controller's watch sees (`kind`: PipelineRun
/// or TaskRun): a deleted PipelineRun's, or standalone TaskRun's, run directory
/// DATA/runs/NS/NAME goes, and a deleted TaskRun's Pod logs ([`crate::logs::forget`]);
/// after each full list of TaskRuns, the logs of TaskRuns that are gone
/// ([`crate::logs::sweep`]). A directory made for a newer object of the same name is kept.
/// The file system work runs on blocking threads.
pub struct RunFiles {
    data_dir: PathBuf,
    kind: String,
    listed: HashSet<String>,
}

impl RunFiles {
    pub fn new(data_dir: &Path, kind: &str) -> RunFiles {
        RunFiles {
            data_dir: data_dir.to_path_buf(),
            kind: kind.to_owned(),
            listed: HashSet::new(),
        }
    }

    /// Takes one event of the watch.
    pub fn see(&mut self, ev: &watcher::Event<DynamicObject>) {
        match ev {
            watcher::Event::Init => self.listed.clear(),
            watcher::Event::InitApply(o) => {
                self.listed.extend(o.metadata.uid.clone());
            }
            watcher::Event::InitDone => {
                let listed = std::mem::take(&mut self.listed);
                if self.kind == "TaskRun" {
                    let dir = self.data_dir.clone();
                    tokio::task::spawn_blocking(move || crate::logs::sweep(&dir, &listed));
                }
            }
            watcher::Event::Apply(_) => {}
            watcher::Event::Delete(o) => {
                let (dir, kind, o) = (self.data_dir.clone(), self.kind.clone(), o.clone());
                tokio::task::spawn_blocking(move || forget_run(&dir, &kind, &o));
            }
        }
    }
}

/// The files of the deleted run `obj` (of `kind`): see [`RunFiles`].
pub fn forget_run(data_dir: &Path, kind: &str, obj: &DynamicObject) {
    let (Some(ns), Some(name), Some(uid)) = (
        &obj.metadata.namespace,
        &obj.metadata.name,
        &obj.metadata.uid,
    ) else {
        return;
    };
    if [ns, name]
        .iter()
        .any(|s| s.is_empty() || s.contains('/') || s.starts_with('.'))
    {
        return;
    }
    if kind == "TaskRun" {
        crate::logs::forget(data_dir, ns, name, uid);
    }
    let standalone = kind == "TaskRun"
        && !obj
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key("tekton.dev/pipelineRun"));
    if kind == "PipelineRun" || standalone {
        let dir = data_dir.join("runs").join(ns).join(name);
        // unless a newer run of the same name made it its own (no owner file: removed)
        if std::fs::read_to_string(dir.join(OWNER)).is_ok_and(|o| o != *uid) {
            return;
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The file in a run's directory naming the object (uid) it was made for.
const OWNER: &str = ".owner";

/// Makes a run's directory, owned by the object `owner` (uid) it goes with
/// ([`forget_run`]): the run's first TaskRun writes the owner, the others only read it.
pub fn make_run_dir(dir: &Path, owner: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let file = dir.join(OWNER);
    if std::fs::read_to_string(&file).is_ok_and(|o| o == owner) {
        return Ok(());
    }
    std::fs::write(file, owner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn run(ns: &str, name: &str, pipeline: &str, status: &str, done: &str) -> Value {
        json!({
            "metadata": {"namespace": ns, "name": name, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"pipelineRef": {"name": pipeline}},
            "status": {
                "conditions": [{"type": "Succeeded", "status": status}],
                "completionTime": done,
            },
        })
    }

    #[test]
    fn keeps_the_newest_finished_per_pipeline_and_namespace() {
        let runs = vec![
            run("a", "b1", "build", "True", "2026-01-01T00:01:00Z"),
            run("a", "b2", "build", "False", "2026-01-01T00:03:00Z"),
            run("a", "b3", "build", "True", "2026-01-01T00:02:00Z"),
            run("a", "b4", "build", "Unknown", ""),
            run("a", "t1", "test", "True", "2026-01-01T00:00:30Z"),
            run("b", "b5", "build", "True", "2026-01-01T00:00:10Z"),
        ];
        // keep 2 of a/build: b2 (00:03), b3 (00:02); b1 goes; running b4 stays
        assert_eq!(select(&runs, 2), vec![0]);
        assert_eq!(select(&runs, 1), vec![0, 2]);
        // keep 0: every finished run goes, the running one stays
        assert_eq!(select(&runs, 0), vec![0, 1, 2, 4, 5]);
        assert!(select(&runs, 10).is_empty());
    }

    #[test]
    fn the_pipeline_is_the_label_then_the_ref_then_the_run() {
        let mut pr = run("a", "x", "build", "True", "t");
        assert_eq!(pipeline_of(&pr), "build");
        pr["metadata"]["labels"] = json!({"tekton.dev/pipeline": "labelled"});
        assert_eq!(pipeline_of(&pr), "labelled");
        let embedded = json!({"metadata": {"name": "inline"}, "spec": {"pipelineSpec": {}}});
        assert_eq!(pipeline_of(&embedded), "inline");
        assert!(!finished(&embedded));
    }

    proptest! {
        #[test]
        fn never_selects_running_runs_and_keeps_exactly_min_n(
            specs in prop::collection::vec((0u8..3, 0u8..3, 0u8..3, 0u32..50), 0..40),
            keep in 0usize..5,
        ) {
            let runs: Vec<Value> = specs
                .iter()
                .enumerate()
                .map(|(i, (ns, p, st, t))| {
                    let status = ["True", "False", "Unknown"][*st as usize];
                    run(&format!("ns{ns}"), &format!("r{i}"), &format!("p{p}"), status,
                        &format!("2026-01-01T00:00:{t:02}Z"))
                })
                .collect();
            let sel = select(&runs, keep);
            let mut per: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
            for (i, pr) in runs.iter().enumerate() {
                if !finished(pr) {
                    prop_assert!(!sel.contains(&i));
                    continue;
                }
                let k = (pr["metadata"]["namespace"].to_string(), pipeline_of(pr).to_owned());
                let e = per.entry(k).or_default();
                e.0 += 1;
                if sel.contains(&i) { e.1 += 1; }
            }
            for (finished, deleted) in per.values() {
                prop_assert_eq!(finished - deleted, (*finished).min(keep));
            }
        }
    }
}
