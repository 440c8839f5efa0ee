//! The controllers against the embedded API server through an in-process kube::Client:
//! a PipelineRun creates TaskRuns that run on the local executor, status as Tekton writes
//! it (tektoncd/pipeline docs/pipelineruns.md "Monitoring execution status"), Pods per
//! TaskRun, Events, cancellation, pending runs and planning errors.

use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use sluice_apiserver::{ApiServer, Options};

fn ar(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

struct Env {
    client: Client,
    data: std::path::PathBuf,
    _server: ApiServer,
}

fn start(name: &str) -> Env {
    start_with(name, 4)
}

impl Env {
    fn cleanup(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn start_with(name: &str, slots: usize) -> Env {
    start_opts(name, slots, false)
}

fn start_opts(name: &str, slots: usize, isolate: bool) -> Env {
    let server = ApiServer::open(Options {
        simulate: Some(sluice_apiserver::simnode::SimOptions::default()),
        ..Options::default()
    })
    .expect("server opens");
    server.start_background();
    let client = sluice_kube::in_process_client(server.local_router(), "default");
    let data = std::env::temp_dir().join(format!("sluice-kube-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let mut opts = sluice_kube::Options::new(&data);
    opts.max_parallel_tasks = slots;
    opts.isolate = isolate;
    let c = client.clone();
    tokio::spawn(async move {
        let _ = sluice_kube::run(c, opts).await;
    });
    Env {
        client,
        data,
        _server: server,
    }
}

async fn create(client: &Client, r: &ApiResource, v: Value) {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", r);
    let o: DynamicObject = serde_json::from_value(v).expect("object");
    api.create(&PostParams::default(), &o)
        .await
        .expect("create");
}

fn pipelineruns() -> ApiResource {
    ar("tekton.dev", "v1", "PipelineRun", "pipelineruns")
}
fn taskruns() -> ApiResource {
    ar("tekton.dev", "v1", "TaskRun", "taskruns")
}

async fn get(client: &Client, r: &ApiResource, name: &str) -> Value {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", r);
    serde_json::to_value(api.get(name).await.expect("get")).expect("json")
}

/// Waits until the run's Succeeded condition is True or False.
async fn wait_done(client: &Client, r: &ApiResource, name: &str, secs: u64) -> Value {
    let t0 = Instant::now();
    loop {
        let v = get(client, r, name).await;
        let c = v["status"]["conditions"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["type"] == "Succeeded").cloned());
        if let Some(c) = c
            && (c["status"] == "True" || c["status"] == "False")
        {
            return v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "{name} not done after {secs}s: {:#}",
            v["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn cond(v: &Value) -> (String, String, String) {
    let c = v["status"]["conditions"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["type"] == "Succeeded").cloned())
        .unwrap_or_default();
    (
        c["status"].as_str().unwrap_or("").to_owned(),
        c["reason"].as_str().unwrap_or("").to_owned(),
        c["message"].as_str().unwrap_or("").to_owned(),
    )
}

fn pipeline() -> Value {
    json!({
        "apiVersion": "tekton.dev/v1", "kind": "Pipeline", "metadata": {"name": "p"},
        "spec": {
            "params": [{"name": "who", "type": "string", "default": "world"}],
            "results": [{"name": "greeting", "value": "$(tasks.make.results.out)"}],
            "tasks": [
                {"name": "make", "params": [{"name": "who", "value": "$(params.who)"}],
                 "taskSpec": {"params": [{"name": "who"}], "results": [{"name": "out"}],
                    "steps": [{"name": "say", "image": "alpine", "script": "printf 'hello %s' \"$(params.who)\" > $(results.out.path)\necho made"}]}},
                {"name": "use", "params": [{"name": "v", "value": "$(tasks.make.results.out)"}],
                 "taskSpec": {"params": [{"name": "v"}],
                    "steps": [{"name": "show", "image": "alpine", "script": "echo \"got $(params.v) in $(context.pipelineRun.name)\""}]}},
            ],
            "finally": [
                {"name": "tidy", "taskSpec": {"steps": [{"name": "bye", "image": "alpine", "script": "echo bye"}]}},
            ],
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pipelinerun_runs_through_taskruns_with_tekton_status() {
    let env = start("ok");
    let c = &env.client;
    create(
        c,
        &ar("tekton.dev", "v1", "Pipeline", "pipelines"),
        pipeline(),
    )
    .await;
    create(
        c,
        &pipelineruns(),
        json!({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": "r1", "labels": {"team": "a"}},
               "spec": {"pipelineRef": {"name": "p"}, "params": [{"name": "who", "value": "sluice"}]}}),
    )
    .await;
    let pr = wait_done(c, &pipelineruns(), "r1", 60).await;
    let (s, r, m) = cond(&pr);
    assert_eq!((s.as_str(), r.as_str()), ("True", "Succeeded"), "{m}");
    assert_eq!(m, "Tasks Completed: 3 (Failed: 0, Cancelled 0), Skipped: 0");
    assert_eq!(pr["status"]["results"][0]["name"], "greeting");
    assert_eq!(pr["status"]["results"][0]["value"], "hello sluice");
    assert!(pr["status"]["startTime"].is_string());
    assert!(pr["status"]["completionTime"].is_string());
    let refs: Vec<(String, String)> = pr["status"]["childReferences"]
        .as_array()
        .expect("childReferences")
        .iter()
        .map(|r| {
            assert_eq!(r["kind"], "TaskRun");
            (
                r["name"].as_str().unwrap_or("").to_owned(),
                r["pipelineTaskName"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        refs,
        vec![
            ("r1-make".to_owned(), "make".to_owned()),
            ("r1-use".to_owned(), "use".to_owned()),
            ("r1-tidy".to_owned(), "tidy".to_owned()),
        ]
    );
    // the TaskRuns exist, owned and labelled as Tekton's
    let tr = get(c, &taskruns(), "r1-use").await;
    let l = &tr["metadata"]["labels"];
    assert_eq!(l["tekton.dev/pipelineRun"], "r1");
    assert_eq!(l["tekton.dev/pipelineTask"], "use");
    assert_eq!(l["tekton.dev/pipeline"], "p");
    assert_eq!(l["team"], "a");
    assert_eq!(tr["metadata"]["ownerReferences"][0]["kind"], "PipelineRun");
    assert_eq!(
        tr["metadata"]["ownerReferences"][0]["uid"],
        pr["metadata"]["uid"]
    );
    assert_eq!(tr["spec"]["params"][0]["value"], "hello sluice");
    assert_eq!(cond(&tr).1, "Succeeded");
    assert_eq!(tr["status"]["podName"], "r1-use-pod");
    assert_eq!(tr["status"]["steps"][0]["container"], "step-show");
    assert_eq!(tr["status"]["steps"][0]["terminated"]["exitCode"], 0);
    let make = get(c, &taskruns(), "r1-make").await;
    assert_eq!(make["status"]["results"][0]["value"], "hello sluice");
    // the Pod followed the steps; the simulated node left it alone
    let pod = get(c, &ar("", "v1", "Pod", "pods"), "r1-use-pod").await;
    assert_eq!(pod["status"]["phase"], "Succeeded");
    assert_eq!(pod["spec"]["containers"][0]["name"], "step-show");
    assert_eq!(pod["spec"]["nodeName"], "sluice-local");
    // the step's log, with the context variable substituted
    let log = std::fs::read_to_string(sluice_kube::logs::log_path(
        &env.data,
        "default",
        "r1-use-pod",
        "step-show",
    ))
    .expect("log");
    assert_eq!(log, "got hello sluice in r1\n");
    // kept there only: the run's sandboxes hold no copy (`LogSink::keeps_logs`)
    fn logs_under(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                logs_under(&p, out);
            } else if p.extension().is_some_and(|x| x == "log") {
                out.push(p);
            }
        }
    }
    let mut copies = Vec::new();
    logs_under(&env.data.join("runs"), &mut copies);
    assert!(env.data.join("runs").is_dir());
    assert_eq!(copies, Vec::<std::path::PathBuf>::new());
    // Events: started and succeeded, for the run and its TaskRuns
    let evs: Api<DynamicObject> =
        Api::namespaced_with(c.clone(), "default", &ar("", "v1", "Event", "events"));
    let evs = evs.list(&ListParams::default()).await.expect("events");
    let of_run: Vec<String> = evs
        .items
        .iter()
        .filter_map(|e| {
            let v = serde_json::to_value(e).ok()?;
            (v["involvedObject"]["name"] == "r1")
                .then(|| v["reason"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    assert_eq!(of_run, vec!["Started".to_owned(), "Succeeded".to_owned()]);
    let _ = std::fs::remove_dir_all(&env.data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_pending_cancel_and_planning_errors() {
    let env = start("fail");
    let c = &env.client;
    // a failing step fails the run with Tekton's reason and message; finally still runs
    create(
        c,
        &pipelineruns(),
        json!({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": "bad"},
               "spec": {"pipelineSpec": {"tasks": [{"name": "boom", "taskSpec": {"steps": [{"name": "s", "image": "x", "script": "exit 3"}]}}],
                                         "finally": [{"name": "f", "taskSpec": {"steps": [{"name": "s", "image": "x", "script": "true"}]}}]}}}),
    )
    .await;
    // a missing Pipeline: CouldntGetPipeline
    create(
        c,
        &pipelineruns(),
        json!({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": "nopipe"},
               "spec": {"pipelineRef": {"name": "absent"}}}),
    )
    .await;
    // pending, then released
    create(
        c,
        &pipelineruns(),
        json!({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": "later"},
               "spec": {"status": "PipelineRunPending", "pipelineSpec": {"tasks": [{"name": "t", "taskSpec": {"steps": [{"name": "s", "image": "x", "script": "true"}]}}]}}}),
    )
    .await;
    // a long run, cancelled while it runs
    create(
        c,
        &pipelineruns(),
        json!({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": "long"},
               "spec": {"pipelineSpec": {"tasks": [{"name": "sleep", "taskSpec": {"steps": [{"name": "s", "image": "x", "script": "sleep 30"}]}}]}}}),
    )
    .await;

    let bad = wait_done(c, &pipelineruns(), "bad", 60).await;
    let (s, r, m) = cond(&bad);
    assert_eq!((s.as_str(), r.as_str()), ("False", "Failed"));
    assert_eq!(m, "Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 0");
    let boom = get(c, &taskruns(), "bad-boom").await;
    assert_eq!(cond(&boom).1, "Failed");
    assert_eq!(cond(&boom).2, "\"step-s\" exited with code 3");
    assert_eq!(boom["status"]["steps"][0]["terminated"]["exitCode"], 3);
    let pod = get(c, &ar("", "v1", "Pod", "pods"), "bad-boom-pod").await;
    assert_eq!(pod["status"]["phase"], "Failed");

    let np = wait_done(c, &pipelineruns(), "nopipe", 30).await;
    let (s, r, m) = cond(&np);
    assert_eq!((s.as_str(), r.as_str()), ("False", "CouldntGetPipeline"));
    assert!(
        m.starts_with("Error retrieving pipeline for pipelinerun default/nopipe"),
        "{m}"
    );

    // pending: nothing runs until spec.status is cleared
    let later = get(c, &pipelineruns(), "later").await;
    assert_eq!(
        cond(&later),
        (
            "Unknown".into(),
            "PipelineRunPending".into(),
            "PipelineRun \"later\" is pending".into()
        )
    );
    let trs: Api<DynamicObject> = Api::namespaced_with(c.clone(), "default", &taskruns());
    assert!(trs.get_opt("later-t").await.expect("get").is_none());
    let prs: Api<DynamicObject> = Api::namespaced_with(c.clone(), "default", &pipelineruns());
    prs.patch(
        "later",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"status": null}})),
    )
    .await
    .expect("release");
    let later = wait_done(c, &pipelineruns(), "later", 30).await;
    assert_eq!(cond(&later).1, "Succeeded");

    // cancel the long run once its TaskRun runs
    let t0 = Instant::now();
    loop {
        let tr = trs.get_opt("long-sleep").await.expect("get");
        if tr.is_some_and(|t| {
            serde_json::to_value(t).expect("json")["status"]["podName"].is_string()
        }) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "long-sleep never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    prs.patch(
        "long",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"status": "Cancelled"}})),
    )
    .await
    .expect("cancel");
    let long = wait_done(c, &pipelineruns(), "long", 20).await;
    assert!(t0.elapsed() < Duration::from_secs(20));
    let (s, r, _) = cond(&long);
    assert_eq!((s.as_str(), r.as_str()), ("False", "Cancelled"));
    let tr = get(c, &taskruns(), "long-sleep").await;
    assert_eq!(tr["spec"]["status"], "TaskRunCancelled");
    assert_eq!(cond(&tr).1, "TaskRunCancelled");
    let _ = std::fs::remove_dir_all(&env.data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_wide_parallelism_timeouts_deletion_and_taskrun_cancel() {
    let mut env = start_with("limits", 1);
    let c = &env.client;
    // three independent tasks of 1s each, one slot: they run one after the other
    let t0 = Instant::now();
    create(
        c,
        &pipelineruns(),
        json!({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": "serial"},
               "spec": {"pipelineSpec": {"tasks": [
                   {"name": "a", "taskSpec": {"steps": [{"name": "s", "image": "x", "script": "sleep 1"}]}},
                   {"name": "b", "taskSpec": {"steps": [{"name": "s", "image": "x", "script": "sleep 1"}]}},
                   {"name": "c", "taskSpec": {"steps": [{"name": "s", "image": "x", "script": "sleep 1"}]}}]}}}),
    )
    .await;
    let pr = wait_done(c, &pipelineruns(), "serial", 60).await;
    assert_eq!(cond(&pr).1, "Succeeded");
    assert!(
        t0.elapsed() >= Duration::from_millis(2900),
        "3 tasks of 1s in {:?} with --max-parallel-tasks 1",
        t0.elapsed()
    );

    // the pipeline timeout (docs/pipelineruns.md "Configuring a failure timeout")
    create(
        c,
        &pipelineruns(),
        json!({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": "late"},
               "spec": {"timeouts": {"pipeline": "1s"},
                        "pipelineSpec": {"tasks": [{"name": "t", "taskSpec": {"steps": [{"name": "s", "image": "x", "script": "sleep 20"}]}}]}}}),
    )
    .await;
    let late = wait_done(c, &pipelineruns(), "late", 20).await;
    let (s, r, m) = cond(&late);
    assert_eq!(
        (s.as_str(), r.as_str()),
        ("False", "PipelineRunTimeout"),
        "{m}"
    );

    // a standalone TaskRun cancelled through spec.status
    create(
        c,
        &taskruns(),
        json!({"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": {"name": "stopme"},
               "spec": {"taskSpec": {"steps": [{"name": "s", "image": "x", "script": "sleep 20"}]}}}),
    )
    .await;
    let trs: Api<DynamicObject> = Api::namespaced_with(c.clone(), "default", &taskruns());
    let t0 = Instant::now();
    while get(c, &taskruns(), "stopme").await["status"]["podName"].is_null() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "stopme never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    trs.patch(
        "stopme",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"status": "TaskRunCancelled", "statusMessage": "by test"}})),
    )
    .await
    .expect("cancel");
    let tr = wait_done(c, &taskruns(), "stopme", 10).await;
    assert_eq!(
        cond(&tr),
        (
            "False".into(),
            "TaskRunCancelled".into(),
            "TaskRun \"stopme\" was cancelled. by test".into()
        )
    );

    // deleting a running PipelineRun stops its step (no process left behind)
    let marker = env.data.join("deleted-ran-on");
    create(
        c,
        &pipelineruns(),
        json!({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": "gone"},
               "spec": {"pipelineSpec": {"tasks": [{"name": "t", "taskSpec": {"steps": [{"name": "s", "image": "x",
                   "script": format!("sleep 5\ntouch {}", marker.display())}]}}]}}}),
    )
    .await;
    let t0 = Instant::now();
    while trs
        .get_opt("gone-t")
        .await
        .expect("get")
        .is_none_or(|o| serde_json::to_value(o).expect("json")["status"]["podName"].is_null())
    {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "gone-t never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let prs: Api<DynamicObject> = Api::namespaced_with(c.clone(), "default", &pipelineruns());
    prs.delete("gone", &Default::default())
        .await
        .expect("delete");
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(!marker.exists(), "the deleted run's step went on");
    assert!(trs.get_opt("gone-t").await.expect("get").is_none());
    env.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_pipelineruns_at_once_all_finish() {
    let mut env = start_with("many", 3);
    let c = &env.client;
    create(
        c,
        &ar("tekton.dev", "v1", "Task", "tasks"),
        json!({"apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": {"name": "say"},
               "spec": {"params": [{"name": "m"}], "results": [{"name": "r"}],
                        "steps": [{"name": "s", "image": "x", "script": "printf '%s' \"$(params.m)\" > $(results.r.path)"}]}}),
    )
    .await;
    let n = 20;
    for i in 0..n {
        create(
            c,
            &pipelineruns(),
            json!({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": format!("m{i}")},
                   "spec": {"pipelineSpec": {
                       "results": [{"name": "out", "value": "$(tasks.two.results.r)"}],
                       "tasks": [
                       {"name": "one", "taskRef": {"name": "say"}, "params": [{"name": "m", "value": format!("run{i}")}]},
                       {"name": "two", "taskRef": {"name": "say"}, "params": [{"name": "m", "value": "$(tasks.one.results.r)!"}]}]}}}),
        )
        .await;
    }
    for i in 0..n {
        let pr = wait_done(c, &pipelineruns(), &format!("m{i}"), 120).await;
        assert_eq!(cond(&pr).1, "Succeeded", "m{i}");
        assert_eq!(pr["status"]["results"][0]["value"], format!("run{i}!"));
    }
    let tr = get(c, &taskruns(), "m7-two").await;
    assert_eq!(tr["metadata"]["labels"]["tekton.dev/task"], "say");
    // one Started and one end Event per run, however the watch cache lagged
    let evs: Api<DynamicObject> =
        Api::namespaced_with(c.clone(), "default", &ar("", "v1", "Event", "events"));
    let evs = evs.list(&ListParams::default()).await.expect("events");
    let runs_events = evs
        .items
        .iter()
        .filter(|e| {
            serde_json::to_value(e).is_ok_and(|v| v["involvedObject"]["kind"] == "PipelineRun")
        })
        .count();
    assert_eq!(runs_events, 2 * n);
    env.cleanup();
}

/// `--isolate`: steps run under bubblewrap at Tekton's container paths, so a script may
/// write `/tekton/results/<name>` as in a real Pod (docs/tasks.md "Emitting results").
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn isolated_steps_see_tektons_container_paths() {
    if !sluice_exec::bwrap_available() {
        eprintln!("bubblewrap cannot run here: skipped");
        return;
    }
    let mut env = start_opts("isolate", 2, true);
    let c = &env.client;
    create(
        c,
        &taskruns(),
        json!({"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": {"name": "boxed"},
               "spec": {"taskSpec": {"results": [{"name": "where"}],
                   "steps": [{"name": "s", "image": "x", "script": "printf '%s' \"$(pwd)\" > /tekton/results/where"}]}}}),
    )
    .await;
    let tr = wait_done(c, &taskruns(), "boxed", 60).await;
    assert_eq!(cond(&tr).1, "Succeeded", "{:#}", tr["status"]);
    assert_eq!(tr["status"]["results"][0]["value"], "/workspace");
    env.cleanup();
}

/// The run's references are followed as far as they go, each kind read only when something
/// read before names it (`sluice_kube::catalog`): a PipelineRun's pipelineRef names a
/// Pipeline whose taskRef names a Task whose step's `ref` names a StepAction
/// (tektoncd/pipeline docs/stepactions.md "Referencing a StepAction").
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn references_are_followed_from_pipeline_to_task_to_stepaction() {
    let mut env = start("refs");
    let c = &env.client;
    create(
        c,
        &ar("tekton.dev", "v1beta1", "StepAction", "stepactions"),
        json!({"apiVersion": "tekton.dev/v1beta1", "kind": "StepAction", "metadata": {"name": "greet"},
               "spec": {"image": "alpine", "params": [{"name": "who"}],
                        "script": "echo \"hello $(params.who)\""}}),
    )
    .await;
    create(
        c,
        &ar("tekton.dev", "v1", "Task", "tasks"),
        json!({"apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": {"name": "uses-action"},
               "spec": {"steps": [{"name": "hi", "ref": {"name": "greet"},
                                   "params": [{"name": "who", "value": "refs"}]}]}}),
    )
    .await;
    create(
        c,
        &ar("tekton.dev", "v1", "Pipeline", "pipelines"),
        json!({"apiVersion": "tekton.dev/v1", "kind": "Pipeline", "metadata": {"name": "chain"},
               "spec": {"tasks": [{"name": "one", "taskRef": {"name": "uses-action"}}]}}),
    )
    .await;
    create(
        c,
        &pipelineruns(),
        json!({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": "via-refs"},
               "spec": {"pipelineRef": {"name": "chain"}}}),
    )
    .await;
    let pr = wait_done(c, &pipelineruns(), "via-refs", 60).await;
    assert_eq!(cond(&pr).0, "True", "{:#}", pr["status"]);
    let tr = get(c, &taskruns(), "via-refs-one").await;
    assert_eq!(cond(&tr).0, "True", "{:#}", tr["status"]);
    env.cleanup();
}
