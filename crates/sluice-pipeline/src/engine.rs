//! Running a plan on an [`Executor`]: the PipelineRun state machine of tektoncd/pipeline
//! `pkg/reconciler/pipelinerun` (`resources/pipelinerunstate.go`, `pipelinerunresolution.go`)
//! without a cluster: candidates from the DAG run in parallel (up to a limit), `when`
//! expressions and failures skip tasks, finally tasks run after the DAG, retries,
//! timeouts and cancellation with Tekton's reasons.
//!
//! Threads and channels only: the executor does the I/O.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use sluice_apis::tekton::PipelineTask;
use sluice_apis::tekton::param::{Param, ParamValue};
use sluice_apis::tekton::when::WhenExpression;
use sluice_expr::tekton::{Var, references};

use crate::Error;
use crate::dag::{Dag, Schedule};
use crate::matrix;
use crate::plan::{PipelinePlan, TaskPlan, WsBinding};
use crate::status::{
    CANCELLED_BY_PIPELINE_MSG, CANCELLED_BY_PIPELINE_TIMEOUT_MSG, ChildReference, Condition,
    PipelineRunStatus, RunResult, SkippedTask, TaskRunStatus, go_duration, go_quote, now, reason,
    skip,
};
use crate::subst::Replacements;
use crate::task::TaskInvocation;

/// A cancellation request for one TaskRun: the reason and message its status gets; and
/// the word the executor sends back once the TaskRun is prepared ([`CancelToken::prepared`]).
#[derive(Debug, Default)]
pub struct CancelToken {
    state: Mutex<Option<(String, String)>>,
    on_prepared: Mutex<Option<(mpsc::Sender<JobMsg>, JobKey)>>,
}

impl CancelToken {
    /// Says that the TaskRun's preparation is over: a process of it (a step or a sidecar)
    /// has started, and its thread now mostly waits. The engine prepares only a few
    /// TaskRuns at once ([`run_pipeline`]); this lets the next one start. Only the first
    /// call counts; an executor that never calls it holds its turn until the TaskRun ends.
    pub fn prepared(&self) {
        let hook = self.on_prepared.lock().ok().and_then(|mut h| h.take());
        if let Some((tx, key)) = hook {
            let _ = tx.send(JobMsg::Prepared(key));
        }
    }

    fn notify_prepared(&self, tx: mpsc::Sender<JobMsg>, key: JobKey) {
        if let Ok(mut h) = self.on_prepared.lock() {
            *h = Some((tx, key));
        }
    }

    pub fn cancel(&self, reason: &str, message: &str) {
        if let Ok(mut s) = self.state.lock()
            && s.is_none()
        {
            *s = Some((reason.to_owned(), message.to_owned()));
        }
    }

    /// `Some((reason, message))` once cancelled.
    pub fn cancelled(&self) -> Option<(String, String)> {
        self.state.lock().ok().and_then(|s| s.clone())
    }
}

/// A job of [`run_pipeline`]: its pipeline task's name and index (matrix combination).
type JobKey = (String, usize);

/// What a job's thread tells [`run_pipeline`].
#[derive(Debug)]
enum JobMsg {
    /// Its TaskRun started a process ([`CancelToken::prepared`]).
    Prepared(JobKey),
    Finished(JobKey, Box<TaskRunStatus>, Option<Box<ChildPipelineRun>>),
}

/// Runs one TaskRun. Implementations must return promptly once `cancel` is cancelled,
/// leaving no process behind, with the cancel reason in the status.
pub trait Executor: Sync {
    fn run_task(&self, inv: &TaskInvocation, cancel: &CancelToken) -> TaskRunStatus;
}

/// Phases a pipeline task goes through, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Pending,
    Running,
    Retrying,
    Succeeded,
    Failed,
    Skipped,
}

/// Receives progress. All methods have empty defaults.
pub trait Events: Sync {
    fn task(&self, _task: &str, _phase: Phase, _detail: &str) {}
}

/// No progress output.
pub struct NoEvents;
impl Events for NoEvents {}

/// Cancellation from outside (Ctrl-C): 0 none, 1 graceful (finally still runs, Tekton's
/// `CancelledRunFinally`), 2 immediate.
#[derive(Debug, Default)]
pub struct Interrupt(pub AtomicU8);

impl Interrupt {
    pub fn level(&self) -> u8 {
        self.0.load(Ordering::SeqCst)
    }
    pub fn raise(&self) {
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| Some((l + 1).min(2)));
    }
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub parallelism: usize,
    pub interrupt: Arc<Interrupt>,
    pub max_matrix_combinations: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            parallelism: 4,
            interrupt: Arc::new(Interrupt::default()),
            max_matrix_combinations: 256,
        }
    }
}

/// A finished TaskRun of a pipeline.
#[derive(Debug, Clone)]
pub struct ChildRun {
    pub name: String,
    pub pipeline_task: String,
    pub status: TaskRunStatus,
    pub params: Vec<Param>,
    /// Set when the pipeline task ran a Pipeline (pipelines in pipelines): the child
    /// PipelineRun; `status` then holds its condition, times and results.
    pub pipeline_run: Option<Box<ChildPipelineRun>>,
}

/// A child PipelineRun of a pipeline task with `pipelineRef`/`pipelineSpec`.
#[derive(Debug, Clone)]
pub struct ChildPipelineRun {
    /// The child PipelineRun object as it would be created (metadata and spec).
    pub run: sluice_apis::tekton::PipelineRun,
    pub meta: crate::plan::RunMeta,
    pub outcome: PipelineOutcome,
}

/// What a pipeline run produced.
#[derive(Debug, Clone)]
pub struct PipelineOutcome {
    pub status: PipelineRunStatus,
    pub children: Vec<ChildRun>,
}

/// Runs one TaskRun with retries; the final status carries the earlier attempts in
/// `retriesStatus` (docs/taskruns.md "Specifying retries").
fn run_with_retries(
    exec: &dyn Executor,
    inv: &TaskInvocation,
    retries: u32,
    cancel: &CancelToken,
    events: &dyn Events,
) -> TaskRunStatus {
    let mut previous = Vec::new();
    let mut attempt = 0;
    loop {
        let mut inv = inv.clone();
        inv.retry_count = attempt;
        let mut st = exec.run_task(&inv, cancel);
        if st.succeeded() || attempt >= retries || cancel.cancelled().is_some() {
            st.retries_status = previous;
            return st;
        }
        events.task(
            &inv.task_label,
            Phase::Retrying,
            &format!("retry {}", attempt + 1),
        );
        st.retries_status.clear();
        previous.push(st);
        attempt += 1;
    }
}

/// Runs a standalone TaskRun.
pub fn run_taskrun(
    plan: &TaskPlan,
    exec: &dyn Executor,
    opts: &RunOptions,
    events: &dyn Events,
) -> TaskRunStatus {
    let mut ws = Vec::new();
    for d in &plan.spec.workspaces {
        ws.push((d.clone(), plan.workspaces.get(&d.name).cloned()));
    }
    let label = if plan.task_name.is_empty() {
        plan.meta.name.clone()
    } else {
        plan.task_name.clone()
    };
    let inv = TaskInvocation {
        taskrun_name: plan.meta.name.clone(),
        task_label: label.clone(),
        run_name: plan.meta.name.clone(),
        namespace: plan.meta.namespace.clone(),
        uid: plan.meta.uid.clone(),
        spec: plan.spec.clone(),
        params: plan
            .params
            .iter()
            .map(|(k, v)| Param {
                name: k.clone(),
                value: v.clone(),
            })
            .collect(),
        context: HashMap::from([("context.task.name".to_owned(), label.clone())]),
        workspaces: ws,
        timeout: plan.timeout,
        service_account: plan.service_account.clone(),
        retry_count: 0,
    };
    let token = CancelToken::default();
    events.task(&label, Phase::Running, "");
    let st = std::thread::scope(|s| {
        let h = s.spawn(|| run_with_retries(exec, &inv, plan.retries, &token, events));
        while !h.is_finished() {
            if opts.interrupt.level() > 0 {
                token.cancel(reason::TASKRUN_CANCELLED, "");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        h.join().unwrap_or_default()
    });
    let phase = if st.succeeded() {
        Phase::Succeeded
    } else {
        Phase::Failed
    };
    events.task(&label, phase, st.reason());
    st
}

#[derive(Debug, Clone)]
enum State {
    Running {
        pending: usize,
        children: Vec<Option<ChildRun>>,
    },
    Done {
        children: Vec<ChildRun>,
        failed: bool,
        ignored: bool,
    },
    Skipped {
        reason: &'static str,
        when: Vec<WhenExpression>,
    },
}

/// The state of each started pipeline task, remembering which tasks finished since last
/// asked so that scheduling follows events instead of rescanning every task.
#[derive(Debug, Default)]
struct States {
    map: HashMap<String, State>,
    finished: Vec<String>,
}

impl States {
    fn insert(&mut self, name: String, st: State) {
        if !matches!(st, State::Running { .. }) {
            self.finished.push(name.clone());
        }
        self.map.insert(name, st);
    }

    fn get(&self, name: &str) -> Option<&State> {
        self.map.get(name)
    }

    /// For the progress of a running task only: a finished state goes through `insert`.
    fn get_mut(&mut self, name: &str) -> Option<&mut State> {
        self.map.get_mut(name)
    }

    /// Passes the tasks finished since the last call to the schedule.
    fn report(&mut self, schedule: &mut Schedule<'_>) {
        for name in self.finished.drain(..) {
            schedule.finish(&name);
        }
    }
}

/// What a job runs: a TaskRun, or a child PipelineRun.
enum Work {
    Task(Box<TaskInvocation>),
    Pipeline(Box<PipelinePlan>),
}

struct Job {
    task: String,
    index: usize,
    work: Work,
    retries: u32,
    token: Arc<CancelToken>,
}

/// Events of a child PipelineRun, labelled `<pipeline task>/<child task>`.
struct Prefixed<'a> {
    prefix: String,
    inner: &'a dyn Events,
}

impl Events for Prefixed<'_> {
    fn task(&self, task: &str, phase: Phase, detail: &str) {
        self.inner
            .task(&format!("{}/{task}", self.prefix), phase, detail);
    }
}

/// Runs a child PipelineRun: the parent's interrupt and the task's cancel token reach it
/// (a cancelled pipeline task cancels its child PipelineRun immediately). Its status as a
/// pipeline task's is its condition, times and results.
fn run_child_pipeline(
    plan: &PipelinePlan,
    exec: &dyn Executor,
    opts: &RunOptions,
    events: &dyn Events,
    label: &str,
    token: &CancelToken,
) -> (TaskRunStatus, Box<ChildPipelineRun>) {
    let child_opts = RunOptions {
        interrupt: Arc::new(Interrupt::default()),
        ..opts.clone()
    };
    let prefixed = Prefixed {
        prefix: label.to_owned(),
        inner: events,
    };
    let outcome = std::thread::scope(|s| {
        let h = s.spawn(|| run_pipeline(plan, exec, &child_opts, &prefixed));
        while !h.is_finished() {
            let want = if token.cancelled().is_some() {
                2
            } else {
                opts.interrupt.level()
            };
            while child_opts.interrupt.level() < want {
                child_opts.interrupt.raise();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        h.join().ok()
    });
    let outcome = outcome.unwrap_or_else(|| PipelineOutcome {
        status: PipelineRunStatus {
            conditions: vec![Condition::succeeded(
                Some(false),
                reason::FAILED,
                "the child PipelineRun ended abnormally",
            )],
            ..PipelineRunStatus::default()
        },
        children: vec![],
    });
    let st = TaskRunStatus {
        conditions: outcome.status.conditions.clone(),
        start_time: outcome.status.start_time.clone(),
        completion_time: outcome.status.completion_time.clone(),
        results: outcome.status.results.clone(),
        ..TaskRunStatus::default()
    };
    (
        st,
        Box::new(ChildPipelineRun {
            run: plan.run.clone(),
            meta: plan.meta.clone(),
            outcome,
        }),
    )
}

/// Evaluates `when` expressions after substitution (docs/pipelines.md "Guard Task
/// execution using when expressions"): every expression must hold; `in` is true when the
/// input is one of the values, `notin` when it is none of them.
pub fn when_holds(whens: &[WhenExpression]) -> Result<bool, Error> {
    for w in whens {
        if !w.cel.is_empty() {
            match crate::cel::evaluate(&w.cel) {
                Ok(true) => continue,
                Ok(false) => return Ok(false),
                Err(crate::cel::CelError::Unsupported) => {
                    return Err(Error::Resolve(format!(
                        "when expression cel {:?} is not supported by the local engine",
                        sluice_expr::snippet(&w.cel)
                    )));
                }
                Err(e) => {
                    return Err(Error::Resolve(format!(
                        "invalid cel expression: {} with err: {e}",
                        sluice_expr::snippet(&w.cel)
                    )));
                }
            }
        }
        let values = w.values.clone().unwrap_or_default();
        let contained = values.contains(&w.input);
        let ok = match w.operator.as_str() {
            "in" => contained,
            "notin" => !contained,
            op => return Err(Error::Resolve(format!("unknown when operator {op:?}"))),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Result references of a pipeline task: in its params, matrix and when expressions,
/// and in an embedded task spec (implicit propagation).
fn result_refs(pt: &PipelineTask) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = pt
        .result_refs()
        .into_iter()
        .map(|(t, r, _)| (t, r))
        .collect();
    if let Some(ts) = &pt.task_spec
        && let Ok(v) = serde_json::to_value(ts)
    {
        let mut strings = Vec::new();
        collect_strings(&v, &mut strings);
        for s in strings {
            for r in references(&s) {
                if let Var::TaskResult { task, result, .. } = r.var() {
                    out.push((task.to_owned(), result.to_owned()));
                }
            }
        }
    }
    out
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) if s.contains("$(") => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

/// Runs a PipelineRun to completion.
pub fn run_pipeline(
    plan: &PipelinePlan,
    exec: &dyn Executor,
    opts: &RunOptions,
    events: &dyn Events,
) -> PipelineOutcome {
    let mut status = PipelineRunStatus {
        start_time: now(),
        ..PipelineRunStatus::default()
    };
    let spec = &plan.spec;
    let mut all_deps: Vec<(String, Vec<String>)> = Vec::new();
    for pt in &spec.tasks {
        let mut deps = pt.run_after.clone();
        for (t, _) in result_refs(pt) {
            if !deps.contains(&t) {
                deps.push(t);
            }
        }
        all_deps.push((pt.name.clone(), deps));
    }
    let dag = match Dag::build(&all_deps) {
        Ok(d) => d,
        Err(e) => {
            status.conditions.push(Condition::succeeded(
                Some(false),
                reason::PIPELINE_VALIDATION_FAILED,
                e.to_string(),
            ));
            status.completion_time = now();
            return PipelineOutcome {
                status,
                children: vec![],
            };
        }
    };
    let by_name: HashMap<&str, &PipelineTask> = spec
        .tasks
        .iter()
        .chain(spec.finally.iter())
        .map(|t| (t.name.as_str(), t))
        .collect();
    let dag_by_name: HashMap<&str, &PipelineTask> =
        spec.tasks.iter().map(|t| (t.name.as_str(), t)).collect();
    let finally_names: HashSet<&str> = spec.finally.iter().map(|t| t.name.as_str()).collect();
    for pt in spec.tasks.iter().chain(spec.finally.iter()) {
        events.task(&pt.name, Phase::Pending, "");
    }

    let start = Instant::now();
    let pipeline_deadline = plan.timeout_pipeline.map(|d| start + d);
    let tasks_deadline = plan.timeout_tasks.map(|d| start + d);
    let mut finally_deadline: Option<Instant> = None;

    let mut states = States::default();
    let mut schedule = Schedule::new(&dag);
    let mut finally_started = false;
    let mut started: HashSet<String> = HashSet::new();
    let mut queue: VecDeque<Job> = VecDeque::new();
    let mut running: HashMap<(String, usize), Arc<CancelToken>> = HashMap::new();
    let mut results: HashMap<String, BTreeMap<String, ParamValue>> = HashMap::new();
    let mut stopping = false;
    let mut timed_out: Option<&'static str> = None; // skip reason
    let mut cancelled = false;
    let mut in_finally = false;
    let (tx, rx) = mpsc::channel::<JobMsg>();
    let parallelism = opts.parallelism.max(1);
    // TaskRuns being prepared (threads that have not started a process yet): preparing is
    // work for the CPU, and a thread's allocator heap grows with it, so only a few at
    // once; waiting on processes, up to `parallelism` (bench/run.py (c): 200 TaskRuns
    // prepared at once held ~140 threads' heaps at the peak).
    let prepare_limit = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let mut preparing: HashSet<JobKey> = HashSet::new();

    std::thread::scope(|scope| {
        loop {
            // 1. decide on candidates
            states.report(&mut schedule);
            let candidates: Vec<String> = if !in_finally {
                schedule.take_ready()
            } else if !finally_started {
                finally_started = true;
                spec.finally
                    .iter()
                    .filter(|t| !started.contains(&t.name))
                    .map(|t| t.name.clone())
                    .collect()
            } else {
                vec![]
            };
            for name in candidates {
                let Some(pt) = by_name.get(name.as_str()).copied() else {
                    continue;
                };
                started.insert(name.clone());
                let skip_reason: Option<&'static str> = if !in_finally {
                    if cancelled {
                        Some(skip::GRACEFULLY_CANCELLED)
                    } else if let Some(r) = timed_out {
                        Some(r)
                    } else if stopping {
                        Some(skip::STOPPING)
                    } else if dag.node(&name).is_some_and(|n| {
                        n.prev.iter().any(|p| {
                            matches!(states.get(p), Some(State::Skipped { reason, .. }) if *reason != skip::WHEN)
                        })
                    }) {
                        Some(skip::PARENT_SKIPPED)
                    } else {
                        None
                    }
                } else if opts.interrupt.level() > 1 {
                    Some(skip::GRACEFULLY_CANCELLED)
                } else if timed_out == Some(skip::PIPELINE_TIMED_OUT) {
                    Some(skip::PIPELINE_TIMED_OUT)
                } else {
                    None
                };
                let skip_reason = skip_reason.or_else(|| {
                    let missing = result_refs(pt)
                        .into_iter()
                        .any(|(t, r)| !results.get(&t).is_some_and(|m| m.contains_key(&r)));
                    missing.then_some(skip::MISSING_RESULTS)
                });
                if let Some(r) = skip_reason {
                    events.task(&name, Phase::Skipped, r);
                    states.insert(
                        name.clone(),
                        State::Skipped {
                            reason: r,
                            when: vec![],
                        },
                    );
                    continue;
                }
                // pipeline-level substitution
                let mut reps = pipeline_replacements(
                    plan,
                    &states.map,
                    &results,
                    &dag_by_name,
                    &task_refs(pt),
                );
                reps.vars.insert(
                    "context.pipelineTask.retries".into(),
                    pt.retries.unwrap_or(0).to_string(),
                );
                let mut pt_sub = match reps.apply(pt) {
                    Ok(p) => p,
                    Err(e) => {
                        fail_task(&mut states, &name, &e.to_string(), events);
                        stopping = true;
                        continue;
                    }
                };
                pt_sub.task_spec = pt.task_spec.clone();
                match when_holds(&pt_sub.when) {
                    Ok(true) => {}
                    Ok(false) => {
                        events.task(&name, Phase::Skipped, skip::WHEN);
                        states.insert(
                            name.clone(),
                            State::Skipped {
                                reason: skip::WHEN,
                                when: pt_sub.when.clone(),
                            },
                        );
                        continue;
                    }
                    Err(e) => {
                        fail_task(&mut states, &name, &e.to_string(), events);
                        stopping = true;
                        continue;
                    }
                }
                if let Some(tmpl) = plan.child_pipelines.get(&name) {
                    match child_plan(plan, tmpl, pt, &pt_sub, &reps) {
                        Ok(child) => {
                            states.insert(
                                name.clone(),
                                State::Running {
                                    pending: 1,
                                    children: vec![None],
                                },
                            );
                            queue.push_back(Job {
                                task: name.clone(),
                                index: 0,
                                work: Work::Pipeline(Box::new(child)),
                                retries: 0,
                                token: Arc::new(CancelToken::default()),
                            });
                        }
                        Err(e) => {
                            fail_task(&mut states, &name, &e.to_string(), events);
                            stopping = true;
                        }
                    }
                    continue;
                }
                let invs = match build_invocations(plan, pt, &pt_sub, &reps, opts) {
                    Ok(v) => v,
                    Err(e) => {
                        fail_task(&mut states, &name, &e.to_string(), events);
                        stopping = true;
                        continue;
                    }
                };
                if invs.is_empty() {
                    events.task(&name, Phase::Skipped, skip::EMPTY_ARRAY_IN_MATRIX);
                    states.insert(
                        name.clone(),
                        State::Skipped {
                            reason: skip::EMPTY_ARRAY_IN_MATRIX,
                            when: vec![],
                        },
                    );
                    continue;
                }
                let retries = pt.retries.unwrap_or(0).max(0) as u32;
                states.insert(
                    name.clone(),
                    State::Running {
                        pending: invs.len(),
                        children: vec![None; invs.len()],
                    },
                );
                for (index, inv) in invs.into_iter().enumerate() {
                    queue.push_back(Job {
                        task: name.clone(),
                        index,
                        work: Work::Task(Box::new(inv)),
                        retries,
                        token: Arc::new(CancelToken::default()),
                    });
                }
            }
            // 2. launch jobs
            while running.len() < parallelism && preparing.len() < prepare_limit {
                let Some(job) = queue.pop_front() else {
                    break;
                };
                if index_is_first(&job) {
                    events.task(&job.task, Phase::Running, "");
                }
                let key = (job.task.clone(), job.index);
                if matches!(job.work, Work::Task(_)) {
                    job.token.notify_prepared(tx.clone(), key.clone());
                    preparing.insert(key.clone());
                }
                running.insert(key, job.token.clone());
                let tx = tx.clone();
                scope.spawn(move || {
                    let (st, child) = match &job.work {
                        Work::Task(inv) => (
                            run_with_retries(exec, inv, job.retries, &job.token, events),
                            None,
                        ),
                        Work::Pipeline(p) => {
                            let (st, c) =
                                run_child_pipeline(p, exec, opts, events, &job.task, &job.token);
                            (st, Some(c))
                        }
                    };
                    let _ = tx.send(JobMsg::Finished((job.task, job.index), Box::new(st), child));
                });
            }
            // 3. finished?
            states.report(&mut schedule);
            let all_dag_done = schedule.all_finished();
            if !in_finally && all_dag_done && queue.is_empty() {
                in_finally = true;
                if !spec.finally.is_empty() {
                    status.finally_start_time = now();
                    finally_deadline = plan.timeout_finally.map(|d| Instant::now() + d);
                }
                continue;
            }
            if in_finally && running.is_empty() && queue.is_empty() && finally_started {
                break;
            }
            // 4. wait for a job, a deadline or an interrupt
            // (not when tasks are ready: a skip just made them so)
            let mut wait = if schedule.has_ready() && !in_finally {
                Duration::ZERO
            } else {
                Duration::from_millis(50)
            };
            let now_i = Instant::now();
            for d in [pipeline_deadline, tasks_deadline, finally_deadline]
                .into_iter()
                .flatten()
            {
                wait = wait.min(d.saturating_duration_since(now_i));
            }
            match rx.recv_timeout(wait) {
                Ok(JobMsg::Prepared(key)) => {
                    preparing.remove(&key);
                }
                Ok(JobMsg::Finished(key, sent_st, sent_child)) => {
                    preparing.remove(&key);
                    running.remove(&key);
                    let (task, index) = key;
                    // Copied on this thread, the originals freed: what a job's thread
                    // allocated and sends back would otherwise pin that thread's allocator
                    // pages (one per size class, touched by all its work) until the run
                    // ends, after the thread has gone (bench/run.py (c)).
                    let (mut st, pipeline_run) = ((*sent_st).clone(), sent_child.clone());
                    drop((sent_st, sent_child));
                    let pt = by_name.get(task.as_str()).copied();
                    let ignore = pt.is_some_and(|p| p.on_error == "continue");
                    if ignore && pipeline_run.is_none() {
                        mark_failure_ignored(&mut st);
                    }
                    if let Some(State::Running { pending, children }) = states.get_mut(&task) {
                        let child = ChildRun {
                            name: String::new(),
                            pipeline_task: task.clone(),
                            status: st,
                            params: vec![],
                            pipeline_run,
                        };
                        children[index] = Some(child);
                        *pending -= 1;
                        if *pending == 0 {
                            let children: Vec<ChildRun> =
                                std::mem::take(children).into_iter().flatten().collect();
                            let failed = children.iter().any(|c| !c.status.succeeded());
                            gather_results(&task, &children, &mut results);
                            events.task(
                                &task,
                                if failed {
                                    Phase::Failed
                                } else {
                                    Phase::Succeeded
                                },
                                children
                                    .iter()
                                    .find(|c| !c.status.succeeded())
                                    .map_or("", |c| c.status.reason()),
                            );
                            if failed && !ignore && !in_finally {
                                stopping = true;
                            }
                            states.insert(
                                task,
                                State::Done {
                                    children,
                                    failed,
                                    ignored: failed && ignore,
                                },
                            );
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {}
            }
            let now_i = Instant::now();
            let mut dropped = false;
            if opts.interrupt.level() > 0 && !cancelled {
                cancelled = true;
                for t in running.values() {
                    t.cancel(reason::TASKRUN_CANCELLED, CANCELLED_BY_PIPELINE_MSG);
                }
                // queued DAG jobs never start
                let before = queue.len();
                queue.retain(|j| !dag_by_name.contains_key(j.task.as_str()));
                dropped |= queue.len() != before;
            }
            if opts.interrupt.level() > 1 {
                for t in running.values() {
                    t.cancel(reason::TASKRUN_CANCELLED, CANCELLED_BY_PIPELINE_MSG);
                }
            }
            let pipeline_over = pipeline_deadline.is_some_and(|d| now_i >= d);
            let tasks_over = !in_finally && tasks_deadline.is_some_and(|d| now_i >= d);
            let finally_over = in_finally && finally_deadline.is_some_and(|d| now_i >= d);
            if (pipeline_over || tasks_over || finally_over)
                && timed_out != Some(skip::PIPELINE_TIMED_OUT)
            {
                let r = if pipeline_over {
                    skip::PIPELINE_TIMED_OUT
                } else if tasks_over {
                    skip::TASKS_TIMED_OUT
                } else {
                    skip::FINALLY_TIMED_OUT
                };
                if timed_out.is_none() || pipeline_over {
                    timed_out = Some(r);
                }
                for ((task, _), t) in &running {
                    let is_finally = finally_names.contains(task.as_str());
                    if pipeline_over || (tasks_over && !is_finally) || (finally_over && is_finally)
                    {
                        t.cancel(reason::TASKRUN_CANCELLED, CANCELLED_BY_PIPELINE_TIMEOUT_MSG);
                    }
                }
                let before = queue.len();
                queue.retain(|j| {
                    let is_finally = finally_names.contains(j.task.as_str());
                    !(pipeline_over || (tasks_over && !is_finally) || (finally_over && is_finally))
                });
                dropped |= queue.len() != before;
            }
            // jobs dropped from the queue: their tasks are done (skipped) unless a child ran
            if !dropped {
                continue;
            }
            let queued: HashSet<&str> = queue.iter().map(|j| j.task.as_str()).collect();
            let running_tasks: HashSet<&str> = running.keys().map(|(t, _)| t.as_str()).collect();
            let mut to_skip = Vec::new();
            for (name, st) in &states.map {
                if let State::Running { children, .. } = st
                    && !queued.contains(name.as_str())
                    && !running_tasks.contains(name.as_str())
                    && children.iter().all(Option::is_none)
                {
                    to_skip.push(name.clone());
                }
            }
            for name in to_skip {
                let r = if cancelled {
                    skip::GRACEFULLY_CANCELLED
                } else {
                    timed_out.unwrap_or(skip::STOPPING)
                };
                events.task(&name, Phase::Skipped, r);
                states.insert(
                    name,
                    State::Skipped {
                        reason: r,
                        when: vec![],
                    },
                );
            }
        }
    });

    // Status
    let mut children_out = Vec::new();
    let (mut n_ok, mut n_failed, mut n_cancelled, mut n_skipped, mut n_ignored) = (0, 0, 0, 0, 0);
    let mut n_skipped_timeout = 0;
    for pt in spec.tasks.iter().chain(spec.finally.iter()) {
        match states.get(&pt.name) {
            Some(State::Done {
                children,
                failed,
                ignored,
            }) => {
                // pipelinerunstate.go getPipelineTasksCount: a TaskRun cancelled because the
                // PipelineRun timed out counts as failed, any other cancelled one as cancelled
                let cancelled_for_timeout = children.iter().any(|c| {
                    c.status.reason() == reason::TASKRUN_CANCELLED
                        && c.status
                            .condition()
                            .is_some_and(|c| c.message.ends_with(CANCELLED_BY_PIPELINE_TIMEOUT_MSG))
                });
                let was_cancelled = children
                    .iter()
                    .any(|c| c.status.reason() == reason::TASKRUN_CANCELLED);
                if cancelled_for_timeout {
                    n_failed += 1;
                } else if was_cancelled {
                    n_cancelled += 1;
                } else if *ignored {
                    n_ignored += 1;
                } else if *failed {
                    n_failed += 1;
                } else {
                    n_ok += 1;
                }
                let n = children.len();
                for (i, c) in children.iter().enumerate() {
                    let name = child_name(&plan.meta.name, &pt.name, i, n, pt.matrix.is_some());
                    status.child_references.push(ChildReference {
                        api_version: "tekton.dev/v1".into(),
                        kind: if c.pipeline_run.is_some() {
                            "PipelineRun"
                        } else {
                            "TaskRun"
                        }
                        .into(),
                        name: name.clone(),
                        pipeline_task_name: pt.name.clone(),
                        when_expressions: pt.when.clone(),
                    });
                    let mut c = c.clone();
                    c.name = name;
                    children_out.push(c);
                }
            }
            Some(State::Skipped { reason, when }) => {
                n_skipped += 1;
                if [
                    skip::PIPELINE_TIMED_OUT,
                    skip::TASKS_TIMED_OUT,
                    skip::FINALLY_TIMED_OUT,
                ]
                .contains(reason)
                {
                    n_skipped_timeout += 1;
                }
                status.skipped_tasks.push(SkippedTask {
                    name: pt.name.clone(),
                    reason: (*reason).to_owned(),
                    when_expressions: when.clone(),
                });
            }
            _ => {}
        }
    }
    let cond = pipeline_condition(
        &plan.meta.name,
        timed_out,
        plan.timeout_pipeline,
        plan.timeout_tasks,
        cancelled,
        Counts {
            succeeded: n_ok,
            failed: n_failed,
            ignored: n_ignored,
            cancelled: n_cancelled,
            skipped: n_skipped,
            skipped_timeout: n_skipped_timeout,
        },
    );
    status.conditions.push(cond);
    status.results = pipeline_results(plan, &results);
    status.pipeline_spec = serde_json::to_value(spec).ok();
    status.completion_time = now();
    PipelineOutcome {
        status,
        children: children_out,
    }
}

/// Task counts of a finished PipelineRun (pipelinerunstate.go `pipelineRunStatusCount`).
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    succeeded: usize,
    failed: usize,
    ignored: usize,
    cancelled: usize,
    skipped: usize,
    skipped_timeout: usize,
}

/// The final `Succeeded` condition (pipelinerunstate.go `GetPipelineConditionStatus`):
/// the pipeline timeout, then the tasks timeout, give `PipelineRunTimeout`; otherwise the
/// counts decide, a graceful cancel (Ctrl-C, `CancelledRunFinally`) ending as `Cancelled`
/// unless a task failed.
fn pipeline_condition(
    run: &str,
    timed_out: Option<&'static str>,
    timeout_pipeline: Option<Duration>,
    timeout_tasks: Option<Duration>,
    gracefully_cancelled: bool,
    s: Counts,
) -> Condition {
    if timed_out == Some(skip::PIPELINE_TIMED_OUT) {
        return Condition::succeeded(
            Some(false),
            reason::PIPELINERUN_TIMEOUT,
            format!(
                "PipelineRun {} failed to finish within {}",
                go_quote(run),
                go_quote(&go_duration(timeout_pipeline.unwrap_or_default()))
            ),
        );
    }
    if timed_out == Some(skip::TASKS_TIMED_OUT) {
        return Condition::succeeded(
            Some(false),
            reason::PIPELINERUN_TIMEOUT,
            format!(
                "PipelineRun {} failed due to tasks failed to finish within {}",
                go_quote(run),
                go_quote(&go_duration(timeout_tasks.unwrap_or_default()))
            ),
        );
    }
    let completed = s.succeeded + s.failed + s.cancelled + s.ignored;
    let total_failed = s.failed + s.ignored;
    let mut message = if s.ignored > 0 {
        format!(
            "Tasks Completed: {completed} (Failed: {total_failed} (Ignored: {}), Cancelled {}), Skipped: {}",
            s.ignored, s.cancelled, s.skipped
        )
    } else {
        format!(
            "Tasks Completed: {completed} (Failed: {total_failed}, Cancelled {}), Skipped: {}",
            s.cancelled, s.skipped
        )
    };
    let (ok, why) = if s.failed > 0 || s.skipped_timeout > 0 {
        (false, reason::FAILED)
    } else if gracefully_cancelled {
        message = format!("PipelineRun {} was cancelled", go_quote(run));
        (false, reason::CANCELLED)
    } else if s.cancelled > 0 {
        (false, reason::CANCELLED)
    } else if s.skipped > 0 {
        (true, reason::COMPLETED)
    } else {
        (true, reason::SUCCEEDED)
    };
    Condition::succeeded(Some(ok), why, message)
}

/// A TaskRun whose steps failed, of a pipeline task with `onError: continue`, ends with
/// reason `FailureIgnored` (tektoncd/pipeline `pkg/pod/status.go`
/// `updateCompletedTaskRunStatus`); timeouts, cancellations and validation failures keep
/// their reasons.
fn mark_failure_ignored(st: &mut TaskRunStatus) {
    for c in &mut st.conditions {
        if c.type_ == "Succeeded" && !c.is_true() && c.reason == reason::FAILED {
            c.reason = reason::FAILURE_IGNORED.to_owned();
        }
    }
}

fn index_is_first(job: &Job) -> bool {
    job.index == 0
}

fn fail_task(states: &mut States, name: &str, msg: &str, events: &dyn Events) {
    let st = TaskRunStatus {
        conditions: vec![Condition::succeeded(
            Some(false),
            reason::TASKRUN_VALIDATION_FAILED,
            msg,
        )],
        ..TaskRunStatus::default()
    };
    events.task(name, Phase::Failed, msg);
    states.insert(
        name.to_owned(),
        State::Done {
            children: vec![ChildRun {
                name: String::new(),
                pipeline_task: name.to_owned(),
                status: st,
                params: vec![],
                pipeline_run: None,
            }],
            failed: true,
            ignored: false,
        },
    );
}

/// Child TaskRun names: `<pipelinerun>-<task>`, matrix children `-<i>`.
pub fn child_name(run: &str, task: &str, i: usize, _n: usize, matrix: bool) -> String {
    if matrix {
        format!("{run}-{task}-{i}")
    } else {
        format!("{run}-{task}")
    }
}

/// Results of a finished pipeline task; matrix children's string results become arrays
/// (docs/matrix.md "Results from fanned out Matrixed PipelineTasks").
fn gather_results(
    task: &str,
    children: &[ChildRun],
    results: &mut HashMap<String, BTreeMap<String, ParamValue>>,
) {
    let mut out: BTreeMap<String, ParamValue> = BTreeMap::new();
    if children.len() == 1 {
        for r in &children[0].status.results {
            out.insert(r.name.clone(), r.value.clone());
        }
    } else {
        let mut arrays: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in children {
            for r in &c.status.results {
                if let ParamValue::String(s) = &r.value {
                    arrays.entry(r.name.clone()).or_default().push(s.clone());
                }
            }
        }
        for (k, v) in arrays {
            out.insert(k, ParamValue::Array(v));
        }
    }
    results.insert(task.to_owned(), out);
}

fn task_status_word(s: Option<&State>) -> &'static str {
    match s {
        Some(State::Done { failed: true, .. }) => "Failed",
        Some(State::Done { .. }) => "Succeeded",
        _ => "None",
    }
}

/// What a pipeline task refers to among the other tasks: the names in `$(tasks.<t>...)`
/// anywhere in it (params, when, matrix, an embedded spec) and whether it uses the aggregate
/// `$(tasks.status)`. Scoping the variables to these keeps each task's substitution
/// proportional to its own size, not to the pipeline's (a run stays linear in its tasks).
#[derive(Debug, Default)]
struct TaskRefs {
    names: HashSet<String>,
    aggregate: bool,
}

fn task_refs(pt: &PipelineTask) -> TaskRefs {
    let mut out = TaskRefs::default();
    let Ok(v) = serde_json::to_value(pt) else {
        return out;
    };
    let mut strings = Vec::new();
    collect_strings(&v, &mut strings);
    for s in &strings {
        for r in references(s) {
            let Some(rest) = r.expr.strip_prefix("tasks.") else {
                continue;
            };
            if rest == "status" {
                out.aggregate = true;
            }
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            out.names.insert(rest[..end].to_owned());
        }
    }
    out
}

/// The variables a pipeline task's fields may use (docs/variables.md "Variables available
/// in a Pipeline"), including `$(tasks.status)` and `$(tasks.<t>.status)` for finally;
/// task variables only for the tasks in `refs`.
fn pipeline_replacements(
    plan: &PipelinePlan,
    states: &HashMap<String, State>,
    results: &HashMap<String, BTreeMap<String, ParamValue>>,
    dag_tasks: &HashMap<&str, &PipelineTask>,
    refs: &TaskRefs,
) -> Replacements {
    let mut r = Replacements {
        params: plan.params.clone(),
        results: refs
            .names
            .iter()
            .filter_map(|k| results.get_key_value(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ..Replacements::default()
    };
    let v = &mut r.vars;
    v.insert("context.pipelineRun.name".into(), plan.meta.name.clone());
    v.insert(
        "context.pipelineRun.namespace".into(),
        plan.meta.namespace.clone(),
    );
    v.insert("context.pipelineRun.uid".into(), plan.meta.uid.clone());
    v.insert("context.pipeline.name".into(), plan.pipeline_name.clone());
    let mut any_failed = false;
    let mut any_skipped = false;
    let mut all_done = true;
    if refs.aggregate {
        for t in dag_tasks.keys() {
            match states.get(*t) {
                Some(State::Done { failed: true, .. }) => any_failed = true,
                Some(State::Skipped { .. }) => any_skipped = true,
                Some(State::Done { .. }) => {}
                _ => all_done = false,
            }
        }
    }
    for name in &refs.names {
        let Some(t) = dag_tasks.get(name.as_str()) else {
            continue;
        };
        let st = states.get(name);
        v.insert(
            format!("tasks.{}.status", t.name),
            task_status_word(st).into(),
        );
        v.insert(
            format!("tasks.{}.reason", t.name),
            match st {
                Some(State::Done { children, .. }) => children
                    .iter()
                    .find(|c| !c.status.succeeded())
                    .or(children.first())
                    .map_or("", |c| c.status.reason())
                    .to_owned(),
                Some(State::Skipped { .. }) => "Skipped".into(),
                _ => String::new(),
            },
        );
        if let Some(State::Done { children, .. }) = st
            && t.matrix.is_some()
        {
            v.insert(
                format!("tasks.{}.matrix.length", t.name),
                children.len().to_string(),
            );
            if let Some(rs) = results.get(&t.name) {
                for (name, val) in rs {
                    if let ParamValue::Array(a) = val {
                        v.insert(
                            format!("tasks.{}.matrix.{name}.length", t.name),
                            a.len().to_string(),
                        );
                    }
                }
            }
        }
    }
    // pipelinerunstate.go GetPipelineTaskStatus
    let agg = if any_failed {
        "Failed"
    } else if !all_done {
        "None"
    } else if any_skipped {
        "Completed"
    } else {
        "Succeeded"
    };
    v.insert("tasks.status".into(), agg.into());
    r
}

/// Completes the plan of the child PipelineRun a pipeline task runs (alpha "pipelines in
/// pipelines", TEP-0056; tektoncd/pipeline `pkg/reconciler/pipelinerun`
/// `createChildPipelineRun` and `resources/pipelinerunresolution_child.go`): the child is
/// named like a TaskRun would be, `<pipelinerun>-<pipeline task>`, gets the pipeline task's
/// params (with the child Pipeline's defaults) and its workspace bindings mapped onto the
/// parent's workspaces. An embedded `pipelineSpec` also sees the parent's params and
/// workspaces that it does not declare (docs/pipelineruns.md "Propagated Parameters",
/// "Propagated Workspaces").
fn child_plan(
    plan: &PipelinePlan,
    tmpl: &PipelinePlan,
    orig: &PipelineTask,
    pt: &PipelineTask,
    reps: &Replacements,
) -> Result<PipelinePlan, Error> {
    let mut child = tmpl.clone();
    let name = child_name(&plan.meta.name, &pt.name, 0, 1, false);
    if orig.pipeline_spec.is_some() {
        let mut scoped = Replacements {
            params: reps.params.clone(),
            ..Replacements::default()
        };
        for d in &child.spec.params {
            scoped.params.remove(&d.name);
        }
        for p in &pt.params {
            scoped.params.remove(&p.name);
        }
        let keep_params = std::mem::take(&mut child.spec.params);
        child.spec = scoped.apply(&child.spec)?;
        child.spec.params = keep_params;
        let mut specs = HashMap::new();
        for (k, v) in &child.task_specs {
            let mut v = v.clone();
            let keep = std::mem::take(&mut v.params);
            let mut s = scoped.clone();
            for d in &keep {
                s.params.remove(&d.name);
            }
            let mut v = s.apply(&v)?;
            v.params = keep;
            specs.insert(k.clone(), v);
        }
        child.task_specs = specs;
    }
    child.params = crate::plan::final_params(&child.spec.params, &pt.params);
    let missing = crate::plan::missing_params(&child.spec.params, &child.params);
    if !missing.is_empty() {
        return Err(Error::Resolve(format!(
            "PipelineRun {name:?} parameters is missing some parameters required by Pipeline {:?}'s parameters: {}",
            if child.pipeline_name.is_empty() {
                &name
            } else {
                &child.pipeline_name
            },
            missing.join(", ")
        )));
    }
    for b in &pt.workspaces {
        let pw = if b.workspace.is_empty() {
            &b.name
        } else {
            &b.workspace
        };
        if let Some(pb) = plan.workspaces.get(pw) {
            child.workspaces.insert(
                b.name.clone(),
                WsBinding {
                    source: pb.source.clone(),
                    sub_path: join_sub(&pb.sub_path, &b.sub_path),
                },
            );
        }
    }
    for w in &child.spec.workspaces {
        if child.workspaces.contains_key(&w.name) {
            continue;
        }
        if orig.pipeline_spec.is_some()
            && let Some(pb) = plan.workspaces.get(&w.name)
        {
            child.workspaces.insert(w.name.clone(), pb.clone());
        } else if w.optional != Some(true) {
            return Err(Error::Resolve(format!(
                "pipeline requires workspace with name {:?} be provided by pipelinerun",
                w.name
            )));
        }
    }
    child.meta = crate::plan::RunMeta {
        uid: crate::plan::make_uid(&format!("{}/{}", plan.meta.uid, pt.name), 2),
        namespace: plan.meta.namespace.clone(),
        labels: BTreeMap::from([
            ("tekton.dev/pipelineRun".to_owned(), plan.meta.name.clone()),
            ("tekton.dev/pipelineTask".to_owned(), pt.name.clone()),
        ]),
        name,
    };
    child.run.metadata.name = Some(child.meta.name.clone());
    child.run.metadata.namespace = Some(child.meta.namespace.clone());
    child.run.metadata.labels = child.meta.labels.clone();
    child.run.spec.params = pt.params.clone();
    child.default_service_account = plan.default_service_account.clone();
    Ok(child)
}

/// The TaskRuns of a pipeline task: one, or one per matrix combination.
fn build_invocations(
    plan: &PipelinePlan,
    orig: &PipelineTask,
    pt: &PipelineTask,
    reps: &Replacements,
    opts: &RunOptions,
) -> Result<Vec<TaskInvocation>, Error> {
    let mut spec = plan
        .task_specs
        .get(&pt.name)
        .cloned()
        .ok_or_else(|| Error::Resolve(format!("pipeline task {:?} has no spec", pt.name)))?;
    let mut params = pt.params.clone();
    // Propagated params and results into embedded specs (docs/pipelines.md "Propagated
    // Parameters"): the pipeline's variables apply inside an inline taskSpec, except the
    // params the spec declares itself.
    if orig.task_spec.is_some() {
        let mut scoped = reps.clone();
        for d in &spec.params {
            scoped.params.remove(&d.name);
        }
        for p in &pt.params {
            scoped.params.remove(&p.name);
        }
        let keep_params = std::mem::take(&mut spec.params);
        spec = scoped.apply(&spec)?;
        spec.params = keep_params;
    }
    // param values given for undeclared params are kept (they may be propagated)
    let _ = &mut params;
    // Propagated workspaces (docs/workspaces.md "Propagated Workspaces"): an inline spec may
    // use the pipeline's workspaces without declaring them.
    if orig.task_spec.is_some()
        && let Ok(v) = serde_json::to_value(&spec.steps)
    {
        let mut strings = Vec::new();
        collect_strings(&v, &mut strings);
        for s in strings {
            for r in references(&s) {
                if let Var::Workspace { name, .. } = r.var()
                    && !spec.workspaces.iter().any(|w| w.name == name)
                    && (plan.workspaces.contains_key(name)
                        || pt.workspaces.iter().any(|w| w.name == name))
                {
                    spec.workspaces
                        .push(sluice_apis::tekton::workspace::WorkspaceDeclaration {
                            name: name.to_owned(),
                            ..Default::default()
                        });
                }
            }
        }
    }
    let mut ws = Vec::new();
    for d in &spec.workspaces {
        let b = pt.workspaces.iter().find(|w| w.name == d.name);
        let binding = b.and_then(|b| {
            let pw = if b.workspace.is_empty() {
                &b.name
            } else {
                &b.workspace
            };
            plan.workspaces.get(pw).map(|pb| WsBinding {
                source: pb.source.clone(),
                sub_path: join_sub(&pb.sub_path, &b.sub_path),
            })
        });
        // propagated workspaces of embedded specs bind by name
        let binding = binding.or_else(|| {
            (orig.task_spec.is_some() && b.is_none())
                .then(|| plan.workspaces.get(&d.name).cloned())
                .flatten()
        });
        ws.push((d.clone(), binding));
    }
    let timeout = match plan.task_timeouts.get(&pt.name) {
        Some(t) => *t,
        None => match &pt.timeout {
            Some(t) => crate::plan::timeout(t)
                .ok_or_else(|| Error::Resolve(format!("invalid timeout {t:?}")))?,
            None => None,
        },
    };
    let sa = plan
        .service_accounts
        .get(&pt.name)
        .cloned()
        .unwrap_or_else(|| plan.default_service_account.clone());
    let combos: Vec<Vec<Param>> = match &pt.matrix {
        Some(m) => matrix::combinations(m, opts.max_matrix_combinations)?,
        None => vec![vec![]],
    };
    let n = combos.len();
    let mut out = Vec::with_capacity(n);
    for (i, combo) in combos.into_iter().enumerate() {
        let mut ps = params.clone();
        ps.extend(combo);
        let name = child_name(&plan.meta.name, &pt.name, i, n, pt.matrix.is_some());
        let mut context = HashMap::new();
        for k in [
            "context.pipelineRun.name",
            "context.pipelineRun.namespace",
            "context.pipelineRun.uid",
            "context.pipeline.name",
        ] {
            if let Some(v) = reps.vars.get(k) {
                context.insert(k.to_owned(), v.clone());
            }
        }
        context.insert("context.task.name".into(), pt.name.clone());
        context.insert(
            "context.pipelineTask.retries".into(),
            pt.retries.unwrap_or(0).to_string(),
        );
        out.push(TaskInvocation {
            taskrun_name: name,
            task_label: pt.name.clone(),
            run_name: plan.meta.name.clone(),
            namespace: plan.meta.namespace.clone(),
            uid: crate::plan::make_uid(&format!("{}/{}/{i}", plan.meta.uid, pt.name), 1),
            spec: spec.clone(),
            params: ps,
            context,
            workspaces: ws.clone(),
            timeout,
            service_account: sa.clone(),
            retry_count: 0,
        });
    }
    Ok(out)
}

fn join_sub(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}/{b}"),
    }
}

/// Pipeline results (docs/pipelines.md "Emitting results from a Pipeline"): values with
/// task results substituted; a result whose references cannot all be resolved is left out.
fn pipeline_results(
    plan: &PipelinePlan,
    results: &HashMap<String, BTreeMap<String, ParamValue>>,
) -> Vec<RunResult> {
    let reps = Replacements {
        results: results.clone(),
        params: plan.params.clone(),
        ..Replacements::default()
    };
    let mut out = Vec::new();
    for r in &plan.spec.results {
        let mut v = crate::subst::param_to_json(&r.value);
        // `$(finally.<t>.results.<r>)` names a finally task's result
        fix_finally(&mut v);
        let holder = serde_json::json!({ "value": v });
        let mut holder = holder;
        // a result whose substitution exceeds the budget is left out, as unresolved
        // ones are
        if reps.apply_value(&mut holder).is_err() {
            continue;
        }
        let v = ParamValue::from_json(&holder["value"]);
        let unresolved = v.strings().iter().any(|s| {
            references(s)
                .iter()
                .any(|r| matches!(r.var(), Var::TaskResult { .. } | Var::Param { .. }))
        });
        if unresolved {
            continue;
        }
        out.push(RunResult {
            name: r.name.clone(),
            type_: String::new(),
            value: v,
        });
    }
    out
}

fn fix_finally(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) if s.contains("$(finally.") => {
            *s = s.replace("$(finally.", "$(tasks.");
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(fix_finally),
        serde_json::Value::Object(m) => m.values_mut().for_each(fix_finally),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(input: &str, op: &str, values: &[&str]) -> WhenExpression {
        WhenExpression {
            input: input.into(),
            operator: op.into(),
            values: Some(values.iter().map(|s| s.to_string()).collect()),
            cel: String::new(),
        }
    }

    fn counts(
        ok: usize,
        failed: usize,
        ignored: usize,
        cancelled: usize,
        skipped: usize,
    ) -> Counts {
        Counts {
            succeeded: ok,
            failed,
            ignored,
            cancelled,
            skipped,
            skipped_timeout: 0,
        }
    }

    // tektoncd/pipeline pkg/reconciler/pipelinerun/resources/pipelinerunstate.go
    // GetPipelineConditionStatus: timeouts first (pipeline, then tasks), then the counts.
    #[test]
    fn pipeline_condition_timeouts() {
        let c = pipeline_condition(
            "pr",
            Some(skip::PIPELINE_TIMED_OUT),
            Some(Duration::from_secs(3600)),
            None,
            false,
            Counts::default(),
        );
        assert_eq!(c.reason, "PipelineRunTimeout");
        assert_eq!(
            c.message,
            "PipelineRun \"pr\" failed to finish within \"1h0m0s\""
        );
        let c = pipeline_condition(
            "pr",
            Some(skip::TASKS_TIMED_OUT),
            None,
            Some(Duration::from_secs(90)),
            false,
            Counts::default(),
        );
        assert_eq!(c.reason, "PipelineRunTimeout");
        assert_eq!(
            c.message,
            "PipelineRun \"pr\" failed due to tasks failed to finish within \"1m30s\""
        );
        // a finally timeout is no PipelineRun timeout: its cancelled tasks count as failed
        let c = pipeline_condition(
            "pr",
            Some(skip::FINALLY_TIMED_OUT),
            None,
            None,
            false,
            counts(1, 1, 0, 0, 0),
        );
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", "Failed"));
        assert_eq!(
            c.message,
            "Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 0"
        );
    }

    // Same function: a graceful cancel (CancelledRunFinally) ends as Cancelled with
    // "PipelineRun %q was cancelled" unless a task failed; onError: continue failures are
    // "Ignored" and do not fail the run.
    #[test]
    fn pipeline_condition_cancel_and_counts() {
        let c = pipeline_condition("pr", None, None, None, true, counts(1, 0, 0, 1, 2));
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "Cancelled")
        );
        assert_eq!(c.message, "PipelineRun \"pr\" was cancelled");
        let c = pipeline_condition("pr", None, None, None, true, counts(0, 1, 0, 1, 0));
        assert_eq!(c.reason, "Failed");
        let c = pipeline_condition("pr", None, None, None, false, counts(2, 0, 1, 0, 0));
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("True", "Succeeded")
        );
        assert_eq!(
            c.message,
            "Tasks Completed: 3 (Failed: 1 (Ignored: 1), Cancelled 0), Skipped: 0"
        );
        let c = pipeline_condition("pr", None, None, None, false, counts(2, 0, 0, 0, 1));
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("True", "Completed")
        );
    }

    // tektoncd/pipeline pkg/pod/status.go updateCompletedTaskRunStatus: a failed TaskRun of
    // an `onError: continue` pipeline task has reason FailureIgnored; a timeout keeps its.
    #[test]
    fn failure_ignored_reason() {
        let mut st = TaskRunStatus {
            conditions: vec![Condition::succeeded(Some(false), reason::FAILED, "x")],
            ..TaskRunStatus::default()
        };
        mark_failure_ignored(&mut st);
        assert_eq!(st.reason(), "FailureIgnored");
        let mut st = TaskRunStatus {
            conditions: vec![Condition::succeeded(
                Some(false),
                reason::TASKRUN_TIMEOUT,
                "x",
            )],
            ..TaskRunStatus::default()
        };
        mark_failure_ignored(&mut st);
        assert_eq!(st.reason(), "TaskRunTimeout");
    }

    // docs/pipelines.md "Guard Task execution using when expressions": all expressions
    // must be true; `in` / `notin`.
    #[test]
    fn when_expressions() {
        assert!(when_holds(&[w("a", "in", &["a", "b"]), w("x", "notin", &["y"])]).unwrap());
        assert!(!when_holds(&[w("a", "in", &["b"])]).unwrap());
        assert!(!when_holds(&[w("a", "notin", &["a"])]).unwrap());
    }
}

#[cfg(test)]
mod pinp_tests {
    use super::*;
    use crate::plan::{Catalog, Overrides, plan_pipelinerun};
    use crate::status::RunResult;

    /// Succeeds every TaskRun; each declared result gets the value of param `v`.
    #[derive(Default)]
    struct Fake {
        seen: Mutex<Vec<(String, Vec<Param>)>>,
    }

    impl Executor for Fake {
        fn run_task(&self, inv: &TaskInvocation, _cancel: &CancelToken) -> TaskRunStatus {
            if let Ok(mut s) = self.seen.lock() {
                s.push((inv.taskrun_name.clone(), inv.params.clone()));
            }
            let v = inv
                .params
                .iter()
                .find(|p| p.name == "v")
                .map(|p| p.value.clone())
                .unwrap_or_else(|| ParamValue::String("none".into()));
            TaskRunStatus {
                conditions: vec![Condition::succeeded(Some(true), reason::SUCCEEDED, "")],
                results: inv
                    .spec
                    .results
                    .iter()
                    .map(|r| RunResult {
                        name: r.name.clone(),
                        type_: String::new(),
                        value: v.clone(),
                    })
                    .collect(),
                ..TaskRunStatus::default()
            }
        }
    }

    fn run(
        pr: serde_json::Value,
        pipelines: &[(&str, serde_json::Value)],
    ) -> (PipelineOutcome, Fake) {
        let mut cat = Catalog::default();
        for (n, p) in pipelines {
            let mut spec: sluice_apis::tekton::PipelineSpec =
                serde_json::from_value(p.clone()).unwrap();
            spec.set_defaults();
            cat.pipelines.insert((*n).to_owned(), spec);
        }
        let pr: sluice_apis::tekton::PipelineRun = serde_json::from_value(pr).unwrap();
        let plan = plan_pipelinerun(&pr, &cat, &Overrides::default()).unwrap();
        let fake = Fake::default();
        let out = run_pipeline(&plan, &fake, &RunOptions::default(), &NoEvents);
        (out, fake)
    }

    // tektoncd/pipeline pkg/reconciler/pipelinerun/resources/pipelinerunresolution_child.go
    // (GetNamesOfChildPipelineRuns -> getNewRunNames): the child PipelineRun is named
    // `<pipelinerun>-<pipeline task>`, its TaskRuns `<child>-<task>`; the parent's
    // childReferences name it with kind PipelineRun (pipelinerunstate.go
    // GetChildReferences). Params reach the child Pipeline; its results are the pipeline
    // task's results (TEP-0056).
    #[test]
    fn pipeline_ref_runs_a_child_pipelinerun() {
        let child = serde_json::json!({
            "params": [{"name": "v"}],
            "results": [{"name": "out", "value": "$(tasks.t.results.r)"}],
            "tasks": [{"name": "t", "params": [{"name": "v", "value": "$(params.v)"}],
                       "taskSpec": {"params": [{"name": "v"}], "results": [{"name": "r"}],
                                    "steps": [{"image": "x", "script": "true"}]}}]
        });
        let pr = serde_json::json!({
            "metadata": {"name": "pr"},
            "spec": {"pipelineSpec": {"tasks": [
                {"name": "c", "pipelineRef": {"name": "child"},
                 "params": [{"name": "v", "value": "hello"}]},
                {"name": "after", "params": [{"name": "v", "value": "$(tasks.c.results.out)"}],
                 "taskSpec": {"params": [{"name": "v"}], "steps": [{"image": "x", "script": "true"}]}}
            ]}}
        });
        let (out, fake) = run(pr, &[("child", child)]);
        assert!(out.status.succeeded(), "{:?}", out.status.conditions);
        let refs: Vec<(&str, &str)> = out
            .status
            .child_references
            .iter()
            .map(|c| (c.kind.as_str(), c.name.as_str()))
            .collect();
        assert_eq!(refs, [("PipelineRun", "pr-c"), ("TaskRun", "pr-after")]);
        let seen = fake.seen.lock().unwrap().clone();
        assert_eq!(seen[0].0, "pr-c-t");
        assert_eq!(seen[1].0, "pr-after");
        assert_eq!(seen[1].1[0].value, ParamValue::String("hello".into()));
        let c = out.children[0].pipeline_run.as_ref().unwrap();
        assert_eq!(c.meta.name, "pr-c");
        assert_eq!(c.meta.labels["tekton.dev/pipelineRun"], "pr");
        assert_eq!(c.outcome.children[0].name, "pr-c-t");
    }

    // docs/pipelineruns.md "Propagated Parameters": an embedded pipelineSpec sees the
    // parent's params it does not declare; a missing required child param fails the task
    // with the PipelineRun's "missing some parameters" message.
    #[test]
    fn embedded_pipeline_spec_propagates_params_and_checks_required() {
        let pr = serde_json::json!({
            "metadata": {"name": "pr"},
            "spec": {"params": [{"name": "g", "value": "hi"}],
                "pipelineSpec": {"params": [{"name": "g"}], "tasks": [
                {"name": "c", "pipelineSpec": {"tasks": [
                    {"name": "t", "params": [{"name": "v", "value": "$(params.g)"}],
                     "taskSpec": {"params": [{"name": "v"}], "steps": [{"image": "x", "script": "true"}]}}]}}
            ]}}
        });
        let (out, fake) = run(pr, &[]);
        assert!(out.status.succeeded(), "{:?}", out.status.conditions);
        let seen = fake.seen.lock().unwrap().clone();
        assert_eq!(seen[0].1[0].value, ParamValue::String("hi".into()));

        let pr = serde_json::json!({
            "metadata": {"name": "pr"},
            "spec": {"pipelineSpec": {"tasks": [{"name": "c", "pipelineRef": {"name": "child"}}]}}
        });
        let child = serde_json::json!({"params": [{"name": "need"}], "tasks": [
            {"name": "t", "taskSpec": {"steps": [{"image": "x", "script": "true"}]}}]});
        let (out, _) = run(pr, &[("child", child)]);
        assert!(!out.status.succeeded());
        let msg = &out.children[0].status.conditions[0].message;
        assert!(
            msg.contains(
                "missing some parameters required by Pipeline \"child\"'s parameters: need"
            ),
            "{msg}"
        );
    }
}

#[cfg(test)]
mod scale_tests {
    use super::*;
    use crate::plan::{Catalog, Overrides, plan_pipelinerun};
    use crate::status::RunResult;

    /// Succeeds at once with result `r` = param `p`, or "1" when `p` is empty.
    struct Instant_;
    impl Executor for Instant_ {
        fn run_task(&self, inv: &TaskInvocation, _cancel: &CancelToken) -> TaskRunStatus {
            let v = match inv.params.iter().find(|p| p.name == "p").map(|p| &p.value) {
                Some(ParamValue::String(s)) if !s.is_empty() => s.clone(),
                _ => "1".to_owned(),
            };
            TaskRunStatus {
                conditions: vec![Condition::succeeded(Some(true), reason::SUCCEEDED, "")],
                results: inv
                    .spec
                    .results
                    .iter()
                    .map(|r| RunResult {
                        name: r.name.clone(),
                        type_: String::new(),
                        value: ParamValue::String(v.clone()),
                    })
                    .collect(),
                ..TaskRunStatus::default()
            }
        }
    }

    fn task(name: String, run_after: Vec<String>, param: Option<String>) -> serde_json::Value {
        let mut t = serde_json::json!({"name": name, "runAfter": run_after,
            "taskSpec": {"params": [{"name": "p", "default": ""}], "results": [{"name": "r"}],
                         "steps": [{"image": "x", "script": "true"}]}});
        if let Some(p) = param {
            t["params"] = serde_json::json!([{"name": "p", "value": p}]);
        }
        t
    }

    fn run(
        tasks: Vec<serde_json::Value>,
        finally: Vec<serde_json::Value>,
    ) -> (PipelineOutcome, Duration) {
        let pr = serde_json::json!({"metadata": {"name": "pr"},
            "spec": {"pipelineSpec": {"tasks": tasks, "finally": finally}}});
        let pr: sluice_apis::tekton::PipelineRun = serde_json::from_value(pr).unwrap();
        let t = Instant::now();
        let plan = plan_pipelinerun(&pr, &Catalog::default(), &Overrides::default()).unwrap();
        let out = run_pipeline(&plan, &Instant_, &RunOptions::default(), &NoEvents);
        (out, t.elapsed())
    }

    /// TaskRuns that each prepare for a moment, say so ([`CancelToken::prepared`]), then
    /// wait until all of them wait at once (or give up after 10 s and fail).
    struct Gathering {
        n: usize,
        preparing: std::sync::atomic::AtomicUsize,
        most_preparing: std::sync::atomic::AtomicUsize,
        waiting: Mutex<usize>,
        all: std::sync::Condvar,
    }
    impl Executor for Gathering {
        fn run_task(&self, _inv: &TaskInvocation, cancel: &CancelToken) -> TaskRunStatus {
            use std::sync::atomic::Ordering::SeqCst;
            let now = self.preparing.fetch_add(1, SeqCst) + 1;
            self.most_preparing.fetch_max(now, SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            self.preparing.fetch_sub(1, SeqCst);
            cancel.prepared();
            cancel.prepared(); // a second word changes nothing
            let mut w = self.waiting.lock().unwrap();
            *w += 1;
            self.all.notify_all();
            let (_w, t) = self
                .all
                .wait_timeout_while(w, Duration::from_secs(10), |w| *w < self.n)
                .unwrap();
            let ok = !t.timed_out();
            TaskRunStatus {
                conditions: vec![Condition::succeeded(Some(ok), reason::SUCCEEDED, "")],
                ..TaskRunStatus::default()
            }
        }
    }

    // bench/run.py (c): only a few TaskRuns prepare at once (each preparing thread's
    // allocator heap is touched memory), yet all `parallelism` of them run at once once
    // prepared: three times as many TaskRuns as may prepare at once, each waiting for all the others all succeed.
    #[test]
    fn few_taskruns_prepare_at_once_and_all_run_at_once() {
        let limit = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
        let n = 3 * limit;
        let tasks: Vec<serde_json::Value> = (0..n)
            .map(|i| task(format!("t{i}"), vec![], None))
            .collect();
        let pr = serde_json::json!({"metadata": {"name": "pr"},
            "spec": {"pipelineSpec": {"tasks": tasks}}});
        let pr: sluice_apis::tekton::PipelineRun = serde_json::from_value(pr).unwrap();
        let plan = plan_pipelinerun(&pr, &Catalog::default(), &Overrides::default()).unwrap();
        let exec = Gathering {
            n,
            preparing: Default::default(),
            most_preparing: Default::default(),
            waiting: Mutex::new(0),
            all: Default::default(),
        };
        let opts = RunOptions {
            parallelism: n,
            ..RunOptions::default()
        };
        let out = run_pipeline(&plan, &exec, &opts, &NoEvents);
        assert!(out.status.succeeded(), "{:?}", out.status.conditions);
        let most = exec
            .most_preparing
            .load(std::sync::atomic::Ordering::SeqCst);
        let limit = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
        assert!(
            most <= limit && most < n,
            "{most} prepared at once (limit {limit})"
        );
    }

    // Issue 18 item 6: a run's own work per event is bounded by what changed, not by the
    // pipeline's size (a 2,000-task chain took 11.8 s of scheduling and substitution in a
    // debug build before, 0.7 s after; the bound is generous for loaded machines).
    #[test]
    fn large_pipelines_run_in_linear_time() {
        let n = 2_000;
        let chain: Vec<serde_json::Value> = (0..n)
            .map(|i| {
                if i == 0 {
                    task("t0".into(), vec![], None)
                } else {
                    let prev = format!("t{}", i - 1);
                    let p = format!("$(tasks.{prev}.results.r)");
                    task(format!("t{i}"), vec![prev], Some(p))
                }
            })
            .collect();
        let (out, took) = run(chain, vec![]);
        eprintln!("chain of {n}: {took:?}");
        assert!(out.status.succeeded(), "{:?}", out.status.conditions);
        assert_eq!(out.children.len(), n);
        assert!(took.as_secs_f64() < 10.0, "chain of {n} took {took:?}");

        let mid: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
        let mut fan = vec![task("root".into(), vec![], None)];
        for m in &mid {
            fan.push(task(
                m.clone(),
                vec![],
                Some("$(tasks.root.results.r)".into()),
            ));
        }
        let all: String = mid
            .iter()
            .map(|m| format!("$(tasks.{m}.results.r)"))
            .collect();
        fan.push(task("sink".into(), mid.clone(), Some(all)));
        let fin = task("fin".into(), vec![], Some("$(tasks.status)".into()));
        let (out, took) = run(fan, vec![fin]);
        eprintln!("fan-out/fan-in of {n}: {took:?}");
        assert!(out.status.succeeded(), "{:?}", out.status.conditions);
        assert_eq!(out.children.len(), n + 3);
        let result = |t: &str| {
            let c = out.children.iter().find(|c| c.pipeline_task == t).unwrap();
            c.status.results[0].value.clone()
        };
        assert_eq!(result("sink"), ParamValue::String("1".repeat(n)));
        assert_eq!(result("fin"), ParamValue::String("Succeeded".into()));
        assert!(took.as_secs_f64() < 10.0, "fan of {n} took {took:?}");
    }
}
