//! `sluice run -f FILE...`: validates, resolves and runs a Tekton PipelineRun or TaskRun
//! on the local executor.

use std::collections::{HashMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::{Args, ValueEnum};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use sluice_apis::manifests::{Options, validate_files};
use sluice_apis::tekton::param::{Param, ParamValue};
use sluice_apis::tekton::{PipelineRun, TaskRun};
use sluice_core::{Limits, Object, Severity};
use sluice_exec::{Config, LocalExecutor, LogSink};
use sluice_pipeline::engine::{self, Events, Interrupt, Phase, RunOptions};
use sluice_pipeline::plan::{self, Catalog, Overrides, Plan};

use crate::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Json,
    Yaml,
}

/// Run Tekton pipelines locally, with no cluster.
///
/// Resolves Tasks, Pipelines and StepActions among the files (ConfigMaps and Secrets in
/// the files feed workspaces, env valueFrom and credentials), validates everything first
/// (nothing runs if validation fails), then runs the PipelineRuns and TaskRuns of the files,
/// or the Pipeline/Task named with --pipeline/--task.
///
/// Each step runs as a host process in a per-run sandbox directory: a step's `image` is
/// recorded but NOT used, so the tools a step calls must be installed on the host.
/// --isolate runs each step under bubblewrap with the sandbox mounted at Tekton's container
/// paths (/workspace/<name>, /tekton/results, /tekton/home). Step logs stream prefixed with
/// `[task/step]`, Secret values masked as `***`; each step's log is kept under the run
/// directory. Ctrl-C cancels the run and still runs finally tasks (a second Ctrl-C stops
/// them too).
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 the run succeeded, 1 validation failed or the run failed, 2 usage or I/O error."
)]
pub struct RunArgs {
    /// Manifest files or directories (Tasks, Pipelines, StepActions, runs, ConfigMaps,
    /// Secrets, ServiceAccounts). Repeatable.
    #[arg(short = 'f', long = "filename", required = true, value_name = "FILE")]
    files: Vec<String>,
    /// Run this Pipeline (with -p and -w) instead of the runs in the files.
    #[arg(long, value_name = "NAME", conflicts_with = "task")]
    pipeline: Option<String>,
    /// Run this Task (with -p and -w) instead of the runs in the files.
    #[arg(long, value_name = "NAME")]
    task: Option<String>,
    /// A param: `name=value`; a value starting with `[` or `{` is read as a JSON array or
    /// object. Repeatable; overrides the run's params.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE", value_parser = parse_kv)]
    params: Vec<(String, String)>,
    /// A workspace: `name=DIR`, `name=emptyDir`, `name=pvc=CLAIM`, `name=secret=NAME`,
    /// `name=configmap=NAME`. Repeatable; overrides the run's bindings.
    #[arg(short = 'w', long = "workspace", value_name = "NAME=SOURCE", value_parser = parse_kv)]
    workspaces: Vec<(String, String)>,
    /// Overall timeout (Go duration, e.g. 10m, 1h30m; 0 for none). Overrides the run's.
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// How many TaskRuns may run at once.
    #[arg(long, default_value_t = 8)]
    parallelism: usize,
    /// Print the final run status (PipelineRun/TaskRun objects with status) as JSON or YAML.
    #[arg(short = 'o', long = "output", value_enum)]
    output: Option<Output>,
    /// Run steps under bubblewrap at Tekton's container paths.
    #[arg(long)]
    isolate: bool,
    /// Data directory: persistent PVC claims (claims/NAME) and run directories (runs/).
    /// Default: $SLUICE_DATA_DIR, else $XDG_DATA_HOME/sluice, else ~/.local/share/sluice.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Do not stream step logs.
    #[arg(short, long)]
    quiet: bool,
    /// A Tekton feature flag, e.g. `enable-api-fields=alpha`. Repeatable.
    #[arg(long = "feature-flag", value_name = "KEY=VALUE", value_parser = parse_kv)]
    feature_flags: Vec<(String, String)>,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected NAME=VALUE, got {s:?}")),
    }
}

fn param_value(v: &str) -> Result<ParamValue> {
    if v.starts_with('[') || v.starts_with('{') {
        let j: Value =
            serde_json::from_str(v).with_context(|| format!("param value {v:?} is not JSON"))?;
        Ok(ParamValue::from_json(&j))
    } else {
        Ok(ParamValue::String(v.to_owned()))
    }
}

/// Streams logs and progress. On a TTY the progress is a table redrawn in place (one row
/// per unfinished task: pending or running with its elapsed time, and a totals row); a
/// finished task leaves the table as a line printed above it, and logs stream above it
/// too. Elsewhere progress is one line per state change.
struct Console {
    out: Mutex<()>,
    quiet: bool,
    to_stderr: bool,
    color: bool,
    started: Mutex<HashMap<String, Instant>>,
    table: Option<Mutex<Table>>,
    /// Masks Secret values in progress details (step output is masked by the executor).
    masker: sluice_exec::Masker,
}

/// The live table (indicatif): rows for pending and running tasks, then a totals row.
struct Table {
    multi: MultiProgress,
    totals: ProgressBar,
    rows: HashMap<String, ProgressBar>,
    /// Pending tasks without a row (the table is kept within the terminal's height).
    hidden: VecDeque<String>,
    phases: HashMap<String, Phase>,
    max_rows: usize,
    width: usize,
}

/// A row style; `{secs}` is the bar's elapsed time with a tenth of a second.
fn style(t: &str) -> ProgressStyle {
    ProgressStyle::with_template(t)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key(
            "secs",
            |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1}s", s.elapsed().as_secs_f64());
            },
        )
}

impl Table {
    fn new(tasks_hint: usize) -> Table {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let totals = multi.add(ProgressBar::new_spinner());
        totals.set_style(style("  {msg} | {secs}"));
        totals.enable_steady_tick(Duration::from_millis(200));
        let height = console::Term::stderr().size().0 as usize;
        let _ = tasks_hint;
        Table {
            multi,
            totals,
            rows: HashMap::new(),
            hidden: VecDeque::new(),
            phases: HashMap::new(),
            max_rows: height.saturating_sub(3).max(3),
            width: 24,
        }
    }

    fn add_row(&mut self, task: &str, phase: Phase) {
        let pb = self
            .multi
            .insert_before(&self.totals, ProgressBar::new_spinner());
        pb.set_prefix(task.to_owned());
        self.rows.insert(task.to_owned(), pb);
        self.restyle(task, phase, "");
    }

    fn restyle(&self, task: &str, phase: Phase, detail: &str) {
        let Some(pb) = self.rows.get(task) else {
            return;
        };
        let w = self.width;
        match phase {
            Phase::Pending => {
                pb.set_style(style(&format!("  {{prefix:{w}}} {{msg:.dim}}")));
                pb.set_message("pending");
            }
            Phase::Running | Phase::Retrying => {
                pb.set_style(
                    style(&format!(
                        "{{spinner:.cyan}} {{prefix:{w}}} running {{secs:>7}} {{msg}}"
                    ))
                    .tick_chars("|/-\\ "),
                );
                pb.set_message(detail.to_owned());
                if phase == Phase::Running {
                    pb.reset_elapsed();
                }
                pb.enable_steady_tick(Duration::from_millis(100));
            }
            _ => {}
        }
    }

    fn update_totals(&self, start: Instant) {
        let mut n = [0usize; 5];
        for p in self.phases.values() {
            let i = match p {
                Phase::Pending => 0,
                Phase::Running | Phase::Retrying => 1,
                Phase::Succeeded => 2,
                Phase::Failed => 3,
                Phase::Skipped => 4,
            };
            n[i] += 1;
        }
        self.totals.set_message(format!(
            "pending {} | running {} | succeeded {} | failed {} | skipped {}",
            n[0], n[1], n[2], n[3], n[4]
        ));
        let _ = start;
    }
}

impl Console {
    fn print(&self, s: &str) {
        let _g = self.out.lock();
        let write = || {
            if self.to_stderr {
                let _ = writeln!(std::io::stderr().lock(), "{s}");
            } else {
                let _ = writeln!(std::io::stdout().lock(), "{s}");
            }
        };
        match &self.table {
            Some(t) => {
                let t = t.lock().unwrap_or_else(|e| e.into_inner());
                t.multi.suspend(write);
            }
            None => write(),
        }
    }

    fn eprint(&self, s: &str) {
        match &self.table {
            Some(t) => {
                let t = t.lock().unwrap_or_else(|e| e.into_inner());
                let _ = t.multi.println(s);
            }
            None => {
                let _g = self.out.lock();
                let _ = writeln!(std::io::stderr().lock(), "{s}");
            }
        }
    }

    /// Clears the live table (before the final summary is printed).
    fn finish_table(&self) {
        if let Some(t) = &self.table {
            let mut t = t.lock().unwrap_or_else(|e| e.into_inner());
            for (_, pb) in t.rows.drain() {
                pb.finish_and_clear();
            }
            t.totals.finish_and_clear();
            let _ = t.multi.clear();
            t.hidden.clear();
            t.phases.clear();
        }
    }
}

impl LogSink for Console {
    fn line(&self, prefix: &str, line: &str) {
        if !self.quiet {
            self.print(&format!("[{prefix}] {line}"));
        }
    }
    fn step_failed(&self, task: &str, step: &str, code: i32, tail: &[String]) {
        let mut s = format!("error: task {task} step {step} failed with exit code {code}");
        if !tail.is_empty() {
            s.push_str("\n  last lines of its log:");
            for l in tail.iter().rev().take(10).rev() {
                s.push_str(&format!("\n  | {l}"));
            }
        }
        self.eprint(&s);
    }
}

impl Events for Console {
    fn task(&self, task: &str, phase: Phase, detail: &str) {
        let (elapsed, run_start) = {
            let mut m = self.started.lock().unwrap_or_else(|e| e.into_inner());
            let run_start = *m.entry(String::new()).or_insert_with(Instant::now);
            let e = match phase {
                Phase::Running => {
                    m.insert(task.to_owned(), Instant::now());
                    None
                }
                _ => m.get(task).map(|t| t.elapsed()),
            };
            (e, run_start)
        };
        if let Some(t) = &self.table {
            let mut t = t.lock().unwrap_or_else(|e| e.into_inner());
            t.width = t.width.max(task.len().min(40));
            t.phases.insert(task.to_owned(), phase);
            match phase {
                Phase::Pending => {
                    if t.rows.len() < t.max_rows {
                        t.add_row(task, phase);
                    } else {
                        t.hidden.push_back(task.to_owned());
                    }
                }
                Phase::Running | Phase::Retrying => {
                    if !t.rows.contains_key(task) {
                        t.hidden.retain(|h| h != task);
                        t.add_row(task, phase);
                    }
                    t.restyle(task, phase, detail);
                }
                Phase::Succeeded | Phase::Failed | Phase::Skipped => {
                    if let Some(pb) = t.rows.remove(task) {
                        pb.finish_and_clear();
                        t.multi.remove(&pb);
                    }
                    t.hidden.retain(|h| h != task);
                    let line = self.phase_line(task, phase, elapsed, detail);
                    let _ = t.multi.println(line);
                    while t.rows.len() < t.max_rows {
                        let Some(next) = t.hidden.pop_front() else {
                            break;
                        };
                        let p = t.phases.get(&next).copied().unwrap_or(Phase::Pending);
                        t.add_row(&next, p);
                    }
                }
            }
            t.update_totals(run_start);
            return;
        }
        if phase == Phase::Pending {
            return;
        }
        let line = self.phase_line(task, phase, elapsed, detail);
        let _g = self.out.lock();
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

impl Console {
    /// `==> task: state (elapsed): detail`, coloured on a colour terminal.
    fn phase_line(
        &self,
        task: &str,
        phase: Phase,
        elapsed: Option<Duration>,
        detail: &str,
    ) -> String {
        let word = match phase {
            Phase::Pending => "pending",
            Phase::Running => "running",
            Phase::Retrying => "retrying",
            Phase::Succeeded => "succeeded",
            Phase::Failed => "failed",
            Phase::Skipped => "skipped",
        };
        let mut s = format!("{task}: {word}");
        if let Some(e) = elapsed {
            s.push_str(&format!(" ({:.1}s)", e.as_secs_f64()));
        }
        if !detail.is_empty() {
            s.push_str(&format!(": {}", self.masker.mask(detail)));
        }
        if self.color {
            let color = match phase {
                Phase::Succeeded => "32",
                Phase::Failed => "31",
                Phase::Skipped => "33",
                _ => "36",
            };
            format!("\x1b[{color}m==> {s}\x1b[0m")
        } else {
            format!("==> {s}")
        }
    }
}

fn data_dir(args: &RunArgs) -> PathBuf {
    if let Some(d) = &args.data_dir {
        return d.clone();
    }
    if let Some(x) = std::env::var_os("SLUICE_DATA_DIR") {
        return PathBuf::from(x);
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(x).join("sluice");
    }
    if let Some(h) = std::env::var_os("HOME") {
        return PathBuf::from(h).join(".local/share/sluice");
    }
    PathBuf::from(".sluice")
}

pub fn run(args: &RunArgs) -> Result<u8> {
    let mut files = Vec::new();
    let mut charts = Vec::new();
    for p in &args.files {
        crate::validate::collect(p, &mut files, &mut charts)?;
    }
    // 1. validate everything first
    let opts = Options {
        tekton_flag_overrides: args.feature_flags.clone(),
        ..Options::default()
    };
    let report = validate_files(&files, &opts);
    if report.errors() > 0 {
        for f in report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
        {
            eprintln!("{}", f.render());
        }
        eprintln!(
            "error: validation failed ({} error(s)); nothing was run",
            report.errors()
        );
        return Ok(exit::FINDINGS);
    }
    // 2. load objects and resolve
    let mut objects: Vec<Object> = Vec::new();
    for f in &files {
        if let Ok(lf) = sluice_core::object::load_objects(&f.name, &f.text, &Limits::default()) {
            objects.extend(lf.objects.into_iter().map(|o| o.object));
        }
    }
    let mut catalog = Catalog::from_objects(&objects);
    for (k, v) in &args.feature_flags {
        catalog.flags.set(k, v);
    }
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let mut params = Vec::new();
    for (k, v) in &args.params {
        params.push(Param {
            name: k.clone(),
            value: param_value(v)?,
        });
    }
    let ov = Overrides {
        params,
        workspaces: args
            .workspaces
            .iter()
            .map(|(k, v)| (k.clone(), plan::ws_from_cli(v)))
            .collect(),
        timeout: match &args.timeout {
            None => None,
            Some(t) => Some(
                plan::timeout(t).with_context(|| format!("--timeout: invalid duration {t:?}"))?,
            ),
        },
        nonce,
    };
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    if let Some(p) = &args.pipeline {
        if !catalog.pipelines.contains_key(p) {
            bail!("Pipeline {p:?} not found among the inputs");
        }
        let run: PipelineRun = serde_json::from_value(json!({
            "apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
            "metadata": {"generateName": format!("{p}-run-")},
            "spec": {"pipelineRef": {"name": p}}
        }))?;
        match plan::plan_pipelinerun(&run, &catalog, &ov) {
            Ok(p) => plans.push(Plan::Pipeline(Box::new(p))),
            Err(e) => errors.push(format!("PipelineRun for Pipeline {p}: {e}")),
        }
    } else if let Some(t) = &args.task {
        if !catalog.tasks.contains_key(t) {
            bail!("Task {t:?} not found among the inputs");
        }
        let run: TaskRun = serde_json::from_value(json!({
            "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
            "metadata": {"generateName": format!("{t}-run-")},
            "spec": {"taskRef": {"name": t}}
        }))?;
        match plan::plan_taskrun(&run, &catalog, &ov) {
            Ok(p) => plans.push(Plan::Task(Box::new(p))),
            Err(e) => errors.push(format!("TaskRun for Task {t}: {e}")),
        }
    } else {
        for r in &catalog.pipeline_runs {
            match plan::plan_pipelinerun(r, &catalog, &ov) {
                Ok(p) => plans.push(Plan::Pipeline(Box::new(p))),
                Err(e) => errors.push(format!(
                    "PipelineRun/{}: {e}",
                    r.metadata
                        .name
                        .clone()
                        .or(r.metadata.generate_name.clone())
                        .unwrap_or_default()
                )),
            }
        }
        for r in &catalog.task_runs {
            match plan::plan_taskrun(r, &catalog, &ov) {
                Ok(p) => plans.push(Plan::Task(Box::new(p))),
                Err(e) => errors.push(format!(
                    "TaskRun/{}: {e}",
                    r.metadata
                        .name
                        .clone()
                        .or(r.metadata.generate_name.clone())
                        .unwrap_or_default()
                )),
            }
        }
        if plans.is_empty() && errors.is_empty() {
            bail!("no PipelineRun or TaskRun among the inputs; name one with --pipeline or --task");
        }
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("error: {e}");
        }
        eprintln!("error: nothing was run");
        return Ok(exit::FINDINGS);
    }

    // 3. run
    let interrupt = Arc::new(Interrupt::default());
    {
        let i = interrupt.clone();
        let _ = ctrlc::set_handler(move || {
            i.raise();
            if i.level() == 1 {
                eprintln!(
                    "\ncancelling: running tasks are stopped, finally tasks still run (Ctrl-C again to stop them too)"
                );
            }
        });
    }
    let tty = std::io::stderr().is_terminal();
    let console = Arc::new(Console {
        out: Mutex::new(()),
        quiet: args.quiet,
        to_stderr: args.output.is_some(),
        color: tty && std::env::var_os("NO_COLOR").is_none(),
        started: Mutex::new(HashMap::new()),
        table: tty.then(|| Mutex::new(Table::new(0))),
        masker: sluice_exec::Masker::new(catalog.secret_values()),
    });
    let catalog = Arc::new(catalog);
    let data = data_dir(args);
    let run_opts = RunOptions {
        parallelism: args.parallelism.max(1),
        interrupt: interrupt.clone(),
        max_matrix_combinations: catalog.flags.default_max_matrix_combinations_count,
    };
    if args.isolate && !sluice_exec::bwrap_available() {
        bail!(
            "--isolate needs bubblewrap (`bwrap`), which is not installed or cannot create namespaces here (Debian: apt-get install bubblewrap)"
        );
    }
    // Secret values are masked in what is printed, as in the logs: results, messages and
    // every string of the statuses (a result computed from a Secret would show it)
    let masker = console.masker.clone();
    let mut items = Vec::new();
    let mut all_ok = true;
    for p in &plans {
        let name = match p {
            Plan::Pipeline(p) => p.meta.name.clone(),
            Plan::Task(t) => t.meta.name.clone(),
        };
        // the run's name is one path element: its directory stays under runs/
        let run_dir = sluice_exec::confine::join_name(&data.join("runs"), &name)?;
        // a run of the same name replaces the previous one's directory
        if run_dir.exists() {
            std::fs::remove_dir_all(&run_dir).with_context(|| {
                format!("{}: cannot remove the previous run", run_dir.display())
            })?;
        }
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("{}: cannot create", run_dir.display()))?;
        let exec = LocalExecutor::new(Config {
            run_dir: run_dir.clone(),
            data_dir: data.clone(),
            isolate: args.isolate,
            max_result_size: catalog.flags.max_result_size as usize,
            catalog: catalog.clone(),
            sink: console.clone(),
        });
        match p {
            Plan::Pipeline(plan) => {
                console.eprint(&format!(
                    "PipelineRun {} started (run directory {})",
                    plan.meta.name,
                    run_dir.display()
                ));
                let out = engine::run_pipeline(plan, &exec, &run_opts, console.as_ref());
                console.finish_table();
                let cond = out.status.condition().cloned();
                all_ok &= out.status.succeeded();
                let mut pr = serde_json::to_value(&plan.run)?;
                set_meta(&mut pr, &plan.meta);
                pr["status"] = serde_json::to_value(&out.status)?;
                items.push(pr);
                push_children(&mut items, &plan.meta, &out.children)?;
                summary_pipeline(&out, &masker);
                if let Some(c) = cond {
                    eprintln!(
                        "PipelineRun {}: {} ({}): {}",
                        plan.meta.name,
                        if c.is_true() { "Succeeded" } else { "Failed" },
                        c.reason,
                        masker.mask(&c.message)
                    );
                }
            }
            Plan::Task(plan) => {
                console.eprint(&format!(
                    "TaskRun {} started (run directory {})",
                    plan.meta.name,
                    run_dir.display()
                ));
                let st = engine::run_taskrun(plan, &exec, &run_opts, console.as_ref());
                console.finish_table();
                all_ok &= st.succeeded();
                let mut tr = serde_json::to_value(&plan.run)?;
                set_meta(&mut tr, &plan.meta);
                tr["status"] = serde_json::to_value(&st)?;
                items.push(tr);
                for r in &st.results {
                    eprintln!(
                        "  result {} = {}",
                        r.name,
                        masked_json(serde_json::to_value(&r.value)?, &masker)
                    );
                }
                if let Some(c) = st.condition() {
                    eprintln!(
                        "TaskRun {}: {} ({}): {}",
                        plan.meta.name,
                        if c.is_true() { "Succeeded" } else { "Failed" },
                        c.reason,
                        masker.mask(&c.message)
                    );
                }
            }
        }
    }
    // nothing a step started outlives the run (each step's leftovers were swept already;
    // this catches what could not be attributed while other steps ran)
    sluice_exec::contain::sweep_all();
    for it in &mut items {
        if let Some(st) = it.get_mut("status") {
            mask_strings(st, &masker);
        }
    }
    if let Some(o) = args.output {
        let doc = json!({"apiVersion": "v1", "kind": "List", "items": items});
        let mut out = std::io::stdout().lock();
        match o {
            Output::Json => {
                serde_json::to_writer_pretty(&mut out, &doc)?;
                writeln!(out)?;
            }
            Output::Yaml => out.write_all(sluice_core::emit::to_string(&doc).as_bytes())?,
        }
    }
    Ok(if all_ok { exit::OK } else { exit::FINDINGS })
}

/// The child runs of a PipelineRun as objects: TaskRuns, and the child PipelineRuns of
/// pipelines in pipelines followed by their own children.
fn push_children(
    items: &mut Vec<Value>,
    parent: &plan::RunMeta,
    children: &[engine::ChildRun],
) -> Result<()> {
    for c in children {
        if let Some(pr) = &c.pipeline_run {
            let mut v = serde_json::to_value(&pr.run)?;
            v["apiVersion"] = json!("tekton.dev/v1");
            v["kind"] = json!("PipelineRun");
            set_meta(&mut v, &pr.meta);
            v["status"] = serde_json::to_value(&pr.outcome.status)?;
            items.push(v);
            push_children(items, &pr.meta, &pr.outcome.children)?;
            continue;
        }
        items.push(json!({
            "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
            "metadata": {"name": c.name, "namespace": parent.namespace,
                "labels": {"tekton.dev/pipelineRun": parent.name, "tekton.dev/pipelineTask": c.pipeline_task}},
            "status": c.status,
        }));
    }
    Ok(())
}

fn set_meta(v: &mut Value, m: &plan::RunMeta) {
    let meta = &mut v["metadata"];
    meta["name"] = json!(m.name);
    meta["namespace"] = json!(m.namespace);
    meta["uid"] = json!(m.uid);
    if let Some(o) = meta.as_object_mut() {
        o.remove("generateName");
    }
}

/// Masks Secret values in every string of `v` (keys are names, left as they are).
fn mask_strings(v: &mut Value, masker: &sluice_exec::Masker) {
    match v {
        Value::String(s) => {
            let m = masker.mask(s);
            if m != *s {
                *s = m;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| mask_strings(x, masker)),
        Value::Object(o) => o.values_mut().for_each(|x| mask_strings(x, masker)),
        _ => {}
    }
}

/// A value as JSON with Secret values masked (masked before encoding, so that a value
/// with quotes or newlines is still found).
fn masked_json(mut v: Value, masker: &sluice_exec::Masker) -> String {
    mask_strings(&mut v, masker);
    serde_json::to_string(&v).unwrap_or_default()
}

fn summary_pipeline(out: &engine::PipelineOutcome, masker: &sluice_exec::Masker) {
    for c in &out.children {
        let cond = c.status.condition();
        eprintln!(
            "  {:<24} {:<10} {}",
            c.pipeline_task,
            cond.map_or("", |c| if c.is_true() { "Succeeded" } else { "Failed" }),
            c.name
        );
    }
    for s in &out.status.skipped_tasks {
        eprintln!("  {:<24} {:<10} {}", s.name, "Skipped", s.reason);
    }
    for r in &out.status.results {
        eprintln!(
            "  result {} = {}",
            r.name,
            masked_json(serde_json::to_value(&r.value).unwrap_or_default(), masker)
        );
    }
}
