//! Many PipelineRuns created at once against `sluice serve` (issue 9, item 9: "200
//! PipelineRuns of 5 trivial tasks started at once all finish"). A busy API server may
//! delay a run; it must never fail it or leave it Running with nobody executing it.
//!
//! This once failed most runs and stalled the rest: the controllers call the embedded
//! server in process, a request future left unpolled in a `select!` (a TaskRun's watch
//! whose initial list waited for the server's request pool while the step had already
//! ended) was handed a pool permit it never used, every other request then waited for its
//! 60 s deadline (504), and the controllers turned those 504s into failed TaskRuns and
//! lost final status writes. See docs/serve.md "Known differences".

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apiserver_kubectl::kubectl_available;
use crate::serve_triggers::Serve;

const RUNS: usize = 40;
const TASKS: usize = 5;

fn pipeline() -> String {
    let mut y = String::from(
        "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: five\n  namespace: wide\nspec:\n  tasks:\n",
    );
    for i in 0..TASKS {
        y.push_str(&format!("  - name: t{i}\n"));
        if i > 0 {
            y.push_str(&format!("    runAfter: [t{}]\n", i - 1));
        }
        y.push_str(
            "    taskSpec:\n      steps:\n      - name: s\n        image: alpine\n        command: [/bin/true]\n",
        );
    }
    y
}

fn condition(v: &Value) -> (String, String, String) {
    let c = &v["status"]["conditions"][0];
    let s = |k: &str| c[k].as_str().unwrap_or("").to_owned();
    (s("status"), s("reason"), s("message"))
}

fn items(s: &Serve, kind: &str) -> Vec<Value> {
    s.json(&["get", kind, "-n", "wide"])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn forty_pipelineruns_created_at_once_all_succeed() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed: skipped");
        return;
    }
    let s = Serve::start("load", &[]);
    s.ok(&["create", "namespace", "wide"], None);
    s.ok(&["apply", "-f", "-"], Some(&pipeline()));
    let runs: String = (0..RUNS)
        .map(|i| {
            format!(
                "---\napiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: run-{i}\n  namespace: wide\nspec:\n  pipelineRef: {{name: five}}\n"
            )
        })
        .collect();
    let t0 = Instant::now();
    s.ok(&["create", "-f", "-"], Some(&runs));
    // a debug build on a shared 2-core machine: 200 TaskRuns take well under this
    let bound = Duration::from_secs(300);
    let prs = loop {
        let prs = items(&s, "pipelineruns");
        let done = prs
            .iter()
            .filter(|p| matches!(condition(p).0.as_str(), "True" | "False"))
            .count();
        if done == RUNS {
            break prs;
        }
        assert!(
            t0.elapsed() < bound,
            "{done} of {RUNS} PipelineRuns finished in {bound:?}; the others: {:?}",
            prs.iter()
                .filter(|p| !matches!(condition(p).0.as_str(), "True" | "False"))
                .map(|p| (p["metadata"]["name"].clone(), condition(p)))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    eprintln!(
        "{RUNS} PipelineRuns x {TASKS} tasks finished in {:?}",
        t0.elapsed()
    );
    let failed: Vec<_> = prs
        .iter()
        .filter(|p| condition(p).0 != "True")
        .map(|p| (p["metadata"]["name"].clone(), condition(p)))
        .collect();
    assert!(failed.is_empty(), "failed PipelineRuns: {failed:?}");
    for p in &prs {
        assert_eq!(
            condition(p).2,
            format!("Tasks Completed: {TASKS} (Failed: 0, Cancelled 0), Skipped: 0"),
            "{}",
            p["metadata"]["name"]
        );
    }
    let trs = items(&s, "taskruns");
    assert_eq!(trs.len(), RUNS * TASKS, "one TaskRun per task, none twice");
    let not_succeeded: Vec<_> = trs
        .iter()
        .filter(|t| condition(t).0 != "True")
        .map(|t| (t["metadata"]["name"].clone(), condition(t)))
        .collect();
    assert!(
        not_succeeded.is_empty(),
        "TaskRuns not Succeeded: {not_succeeded:?}"
    );
}
