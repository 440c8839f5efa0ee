//! Commands against a server, as kubectl and tkn: `apply`, `get`, `delete`, `pipeline`,
//! `pipelinerun`, `taskrun`, `task`. Clap wiring and file reading here; formatting and the
//! client are `sluice_cli`'s.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use sluice_cli::format::Style;
use sluice_cli::get::{Resource, TableOpts};
use sluice_cli::tekton::{self, ListOpts};
use sluice_cli::{Conn, Error};

use crate::exit;

/// How to reach the server: `DATA/kubeconfig` of `sluice serve` unless `--kubeconfig`.
#[derive(Debug, Clone, Args)]
pub struct ConnFlags {
    /// The data directory of `sluice serve`, whose kubeconfig is used.
    #[arg(long, default_value = ".sluice")]
    pub data: PathBuf,
    /// A kubeconfig (its current context) instead of DATA/kubeconfig.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace (default: the kubeconfig context's, else `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

/// Flags of list commands.
#[derive(Debug, Clone, Args)]
pub struct ListFlags {
    /// List across all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Only objects with these labels (`k=v,k2!=v2,k3`).
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<Output>,
    /// Print no header line.
    #[arg(long)]
    pub no_headers: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Yaml,
    Json,
    Wide,
    Name,
}

/// Apply manifests (server-side apply, field manager `sluice`, conflicts forced): prints
/// `<kind>.<group>/<name> created|configured|unchanged` per object.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Files or directories (walked for .yaml/.yml/.json), `-` for standard input.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<String>,
    #[command(flatten)]
    pub conn: ConnFlags,
}

/// Print objects of any kind the server's discovery lists, as `kubectl get` (the server's
/// printer columns).
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Resource type: plural, singular, short name or kind, optionally `.group`.
    pub kind: String,
    /// Object name (all of the namespace when absent).
    pub name: Option<String>,
    #[command(flatten)]
    pub list: ListFlags,
    #[command(flatten)]
    pub conn: ConnFlags,
}

/// Delete objects by type and name, or those of manifests (`-f`).
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Resource type, then names.
    pub args: Vec<String>,
    /// Delete the objects these manifests describe.
    #[arg(short = 'f', long = "filename")]
    pub files: Vec<String>,
    #[command(flatten)]
    pub conn: ConnFlags,
}

#[derive(Debug, Subcommand)]
pub enum PipelineCmd {
    /// NAME AGE LAST RUN STARTED DURATION STATUS (tkn pipeline list).
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        list: ListFlags,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Params, tasks and runs of a Pipeline (tkn pipeline describe).
    Describe {
        name: String,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Create a PipelineRun of a Pipeline (tkn pipeline start).
    Start(Box<StartArgs>),
}

#[derive(Debug, Args)]
pub struct StartArgs {
    pub name: String,
    /// A param, `-p key=value` (an array param takes `a,b,c`).
    #[arg(short = 'p', long = "param")]
    pub params: Vec<String>,
    /// A workspace: `name=NAME,emptyDir=`, `name=NAME,claimName=PVC[,subPath=P]`,
    /// `name=NAME,config=CM`, `name=NAME,secret=S`.
    #[arg(short = 'w', long = "workspace")]
    pub workspaces: Vec<String>,
    /// Follow the run's logs until it ends (exit 1 when it does not succeed).
    #[arg(long)]
    pub showlog: bool,
    #[command(flatten)]
    pub conn: ConnFlags,
}

#[derive(Debug, Subcommand)]
pub enum PipelineRunCmd {
    /// NAME STARTED DURATION STATUS, newest first (tkn pipelinerun list).
    #[command(alias = "ls")]
    List {
        /// Only the runs of this Pipeline.
        pipeline: Option<String>,
        #[command(flatten)]
        list: ListFlags,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Status, params, results, workspaces and TaskRuns of a run (tkn pipelinerun describe).
    Describe {
        name: String,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// The step logs of a run's TaskRuns, `[task : step] line` (tkn pipelinerun logs).
    Logs {
        name: String,
        /// Follow until the run ends.
        #[arg(short = 'f', long)]
        follow: bool,
        /// Only these pipeline tasks.
        #[arg(short = 't', long = "task")]
        tasks: Vec<String>,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Cancel a run (spec.status: Cancelled).
    Cancel {
        name: String,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Delete runs by name, or all finished runs but the newest N (`--keep N`).
    #[command(alias = "rm")]
    Delete {
        names: Vec<String>,
        /// Keep the N most recently finished runs (per Pipeline with --pipeline, else of
        /// the namespace); unfinished runs are never deleted.
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
        /// With --keep: only the runs of this Pipeline.
        #[arg(short = 'p', long)]
        pipeline: Option<String>,
        /// Accepted for tkn's habit; sluice never prompts.
        #[arg(short = 'f', long)]
        force: bool,
        #[command(flatten)]
        conn: ConnFlags,
    },
}

#[derive(Debug, Subcommand)]
pub enum TaskRunCmd {
    /// NAME STARTED DURATION STATUS, newest first (tkn taskrun list).
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        list: ListFlags,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// Status, params, results and steps of a TaskRun (tkn taskrun describe).
    Describe {
        name: String,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// The TaskRun's step logs (tkn taskrun logs).
    Logs {
        name: String,
        #[arg(short = 'f', long)]
        follow: bool,
        #[command(flatten)]
        conn: ConnFlags,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventListenerCmd {
    /// NAME AGE URL AVAILABLE (tkn eventlistener list).
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        list: ListFlags,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// URL, triggers (bindings, template, interceptors) and the latest deliveries.
    Describe {
        name: String,
        #[command(flatten)]
        conn: ConnFlags,
    },
    /// The deliveries to an EventListener, newest first: what each created, or why it was
    /// filtered or refused (the event records `sluice serve` keeps, the last 100).
    Events {
        name: String,
        /// Print the records' objects instead of the table.
        #[arg(short = 'o', long, value_enum)]
        output: Option<Output>,
        #[command(flatten)]
        conn: ConnFlags,
    },
}

#[derive(Debug, Subcommand)]
pub enum TaskCmd {
    /// NAME DESCRIPTION AGE (tkn task list).
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        list: ListFlags,
        #[command(flatten)]
        conn: ConnFlags,
    },
}

fn style() -> Style {
    Style {
        colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs `f` against a connection on a small runtime; errors print as kubectl's and map to
/// the exit codes of docs/cli.md.
pub(crate) fn with_conn<F, Fut>(conn: &ConnFlags, f: F) -> anyhow::Result<u8>
where
    F: FnOnce(Conn) -> Fut,
    Fut: std::future::Future<Output = Result<u8, Error>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let kubeconfig = conn
        .kubeconfig
        .clone()
        .unwrap_or_else(|| conn.data.join("kubeconfig"));
    let res = rt.block_on(async {
        if !kubeconfig.is_file() {
            return Err(Error::Connection(format!(
                "{}: no kubeconfig (start `sluice serve --data {}`, or give --kubeconfig FILE)",
                kubeconfig.display(),
                conn.data.display()
            )));
        }
        let c = Conn::connect(&kubeconfig, conn.namespace.as_deref()).await?;
        f(c).await
    });
    match res {
        Ok(code) => Ok(code),
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("{e}");
            Ok(e.exit_code())
        }
    }
}

fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

fn print_objects(items: Vec<Value>, single: bool, output: Output, r: &Resource) -> String {
    let doc = if single {
        items.into_iter().next().unwrap_or(Value::Null)
    } else {
        json!({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}})
    };
    match output {
        Output::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        ),
        Output::Yaml => sluice_core::emit::to_string(&doc),
        _ => {
            let items = if single {
                vec![doc]
            } else {
                doc["items"].as_array().cloned().unwrap_or_default()
            };
            items
                .iter()
                .map(|i| {
                    format!(
                        "{}/{}\n",
                        r.kind_name(),
                        i["metadata"]["name"].as_str().unwrap_or("")
                    )
                })
                .collect()
        }
    }
}

/// Reads manifests: every object of every file, with its file for messages.
fn read_objects(files: &[String]) -> anyhow::Result<Vec<(String, Value)>> {
    let mut sources = Vec::new();
    let mut charts = Vec::new();
    for f in files {
        crate::validate::collect(f, &mut sources, &mut charts)?;
    }
    for c in &charts {
        eprintln!("warning: {c}: a Helm chart, skipped");
    }
    let mut out = Vec::new();
    for s in &sources {
        for o in objects_of(&s.name, &s.text)? {
            out.push((s.name.clone(), o));
        }
    }
    Ok(out)
}

/// Every object of one manifest text (`name` for messages); the first problem is an error.
pub(crate) fn objects_of(name: &str, text: &str) -> anyhow::Result<Vec<Value>> {
    let loaded =
        sluice_core::object::load_objects(name, text, &sluice_core::yaml::Limits::default())
            .map_err(|e| anyhow::anyhow!("{name}:{e}"))?;
    if let Some(p) = loaded.problems.first() {
        anyhow::bail!("{name}:{}: {}", p.pos, p.message);
    }
    Ok(loaded
        .objects
        .into_iter()
        .map(|o| o.object.into_value())
        .collect())
}

pub fn apply(args: &ApplyArgs) -> anyhow::Result<u8> {
    let objects = match read_objects(&args.files) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(exit::USAGE);
        }
    };
    with_conn(&args.conn, |c| async move {
        let all = c.discover().await?;
        let mut code = exit::OK;
        for (file, obj) in &objects {
            let (av, kind) = (
                obj["apiVersion"].as_str().unwrap_or(""),
                obj["kind"].as_str().unwrap_or(""),
            );
            let Some(r) = Conn::resource_for(&all, av, kind) else {
                eprintln!(
                    "error: {file}: resource mapping not found for kind \"{kind}\" in version \"{av}\""
                );
                code = exit::FINDINGS;
                continue;
            };
            let ns = obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or(&c.namespace)
                .to_owned();
            let name = obj["metadata"]["name"].as_str().unwrap_or("");
            match c.apply(r, &ns, obj).await {
                Ok(what) => out(&format!("{}/{name} {what}\n", r.kind_name())),
                Err(e @ Error::Api { .. }) => {
                    eprintln!("{e}");
                    code = exit::FINDINGS;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(code)
    })
}

pub fn get(args: &GetArgs) -> anyhow::Result<u8> {
    let l = args.list.clone();
    with_conn(&args.conn, |c| async move {
        let r = c.resource(&args.kind).await?;
        let ns = (!l.all_namespaces).then_some(c.namespace.as_str());
        match l.output {
            Some(o @ (Output::Yaml | Output::Json | Output::Name)) => {
                let items = match &args.name {
                    Some(n) => vec![with_type(c.get(&r, &c.namespace, n).await?, &r)],
                    None => c.list(&r, ns, l.selector.as_deref()).await?,
                };
                out(&print_objects(items, args.name.is_some(), o, &r));
            }
            _ => {
                let t = c
                    .table(&r, ns, args.name.as_deref(), l.selector.as_deref())
                    .await?;
                let o = TableOpts {
                    wide: l.output == Some(Output::Wide),
                    all_namespaces: l.all_namespaces && r.namespaced,
                    no_headers: l.no_headers,
                };
                let text = sluice_cli::get::render_table(&t, now(), o, ns);
                if text.starts_with("No resources found") {
                    eprint!("{text}");
                } else {
                    out(&text);
                }
            }
        }
        Ok(exit::OK)
    })
}

fn with_type(mut v: Value, r: &Resource) -> Value {
    v["apiVersion"] = json!(r.api_version());
    v["kind"] = json!(r.kind);
    v
}

pub fn delete(args: &DeleteArgs) -> anyhow::Result<u8> {
    let objects = match read_objects(&args.files) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(exit::USAGE);
        }
    };
    if objects.is_empty() && args.args.len() < 2 {
        eprintln!("error: give a resource type and names, or -f FILE");
        return Ok(exit::USAGE);
    }
    with_conn(&args.conn, |c| async move {
        let all = c.discover().await?;
        let mut targets: Vec<(Resource, String, String)> = Vec::new();
        if let Some((kind, names)) = args.args.split_first() {
            let r = sluice_cli::get::resolve(&all, kind)
                .cloned()
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "the server doesn't have a resource type \"{kind}\""
                    ))
                })?;
            for n in names {
                targets.push((r.clone(), c.namespace.clone(), n.clone()));
            }
        }
        for (file, obj) in &objects {
            let (av, kind) = (
                obj["apiVersion"].as_str().unwrap_or(""),
                obj["kind"].as_str().unwrap_or(""),
            );
            let r = Conn::resource_for(&all, av, kind).ok_or_else(|| {
                Error::Usage(format!(
                    "{file}: resource mapping not found for kind \"{kind}\" in version \"{av}\""
                ))
            })?;
            let ns = obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or(&c.namespace)
                .to_owned();
            let name = obj["metadata"]["name"].as_str().unwrap_or("").to_owned();
            targets.push((r.clone(), ns, name));
        }
        let mut code = exit::OK;
        for (r, ns, name) in &targets {
            match c.delete(r, ns, name).await {
                Ok(()) => out(&format!("{} \"{name}\" deleted\n", r.kind_name())),
                Err(e @ Error::Api { .. }) => {
                    eprintln!("{e}");
                    code = exit::FINDINGS;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(code)
    })
}

fn tekton_res(kind: &str, plural: &str) -> Resource {
    Resource {
        group: "tekton.dev".into(),
        version: "v1".into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        short_names: Vec::new(),
        namespaced: true,
    }
}

fn pr_res() -> Resource {
    tekton_res("PipelineRun", "pipelineruns")
}
fn tr_res() -> Resource {
    tekton_res("TaskRun", "taskruns")
}

fn list_opts(l: &ListFlags) -> ListOpts {
    ListOpts {
        style: style(),
        all_namespaces: l.all_namespaces,
        no_headers: l.no_headers,
    }
}

/// Lists a Tekton kind: `-o yaml|json|name` as kubectl, else `table(items)`.
async fn tekton_list(
    c: &Conn,
    r: &Resource,
    l: &ListFlags,
    extra_selector: Option<String>,
    table: impl FnOnce(&mut Vec<Value>) -> String,
) -> Result<u8, Error> {
    let ns = (!l.all_namespaces).then_some(c.namespace.as_str());
    let sel = match (l.selector.clone(), extra_selector) {
        (Some(a), Some(b)) => Some(format!("{a},{b}")),
        (a, b) => a.or(b),
    };
    let mut items = c.list(r, ns, sel.as_deref()).await?;
    match l.output {
        Some(o @ (Output::Yaml | Output::Json | Output::Name)) => {
            out(&print_objects(items, false, o, r));
        }
        _ => out(&table(&mut items)),
    }
    Ok(exit::OK)
}

pub fn pipeline(cmd: &PipelineCmd) -> anyhow::Result<u8> {
    match cmd {
        PipelineCmd::List { list, conn } => with_conn(conn, |c| async move {
            let ns = (!list.all_namespaces).then_some(c.namespace.as_str());
            let mut runs = c.list(&pr_res(), ns, None).await?;
            tekton::sort_runs(&mut runs);
            tekton_list(&c, &tekton_res("Pipeline", "pipelines"), list, None, |ps| {
                tekton::pipeline_list(ps, &runs, now(), list_opts(list))
            })
            .await
        }),
        PipelineCmd::Describe { name, conn } => with_conn(conn, |c| async move {
            let p = c
                .get(&tekton_res("Pipeline", "pipelines"), &c.namespace, name)
                .await?;
            let mut runs = c.list(&pr_res(), Some(&c.namespace), None).await?;
            tekton::sort_runs(&mut runs);
            let mine = tekton::runs_of(&runs, name, &c.namespace);
            out(&tekton::pipeline_describe(&p, &mine, now(), style()));
            Ok(exit::OK)
        }),
        PipelineCmd::Start(a) => with_conn(&a.conn, |c| async move {
            let p = c
                .get(&tekton_res("Pipeline", "pipelines"), &c.namespace, &a.name)
                .await?;
            let pr =
                tekton::start_pipelinerun(&p, &a.params, &a.workspaces).map_err(Error::Usage)?;
            let created = c.create(&pr_res(), &c.namespace, &pr).await?;
            let name = created["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            out(&format!("PipelineRun started: {name}\n"));
            if !a.showlog {
                out(&format!(
                    "\nIn order to track the PipelineRun progress run:\nsluice pipelinerun logs {name} -f -n {}\n",
                    c.namespace
                ));
                return Ok(exit::OK);
            }
            out("Waiting for logs to be available...\n");
            let done = pipelinerun_logs(&c, &name, true, &[]).await?;
            if done == Some(true) {
                Ok(exit::OK)
            } else {
                Err(Error::RunFailed(format!(
                    "PipelineRun {name} did not succeed"
                )))
            }
        }),
    }
}

fn succeeded(v: &Value) -> Option<bool> {
    let c = v["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Succeeded")?;
    match c["status"].as_str() {
        Some("True") => Some(true),
        Some("False") => Some(false),
        _ => None,
    }
}

/// Prints the step logs of one TaskRun, `[task : step] line`. With `follow`, waits for
/// each step to start and follows it to its end. Returns whether every step was printed
/// (false: some step has not started yet).
async fn taskrun_logs(c: &Conn, tr: &Value, follow: bool, style: Style) -> Result<bool, Error> {
    let ns = tr["metadata"]["namespace"].as_str().unwrap_or(&c.namespace);
    let task = tr["metadata"]["labels"]["tekton.dev/pipelineTask"]
        .as_str()
        .or_else(|| tr["metadata"]["name"].as_str())
        .unwrap_or("")
        .to_owned();
    let Some(pod) = tr["status"]["podName"].as_str().filter(|p| !p.is_empty()) else {
        return Ok(succeeded(tr).is_some());
    };
    let pods = Resource {
        group: String::new(),
        version: "v1".into(),
        kind: "Pod".into(),
        plural: "pods".into(),
        singular: "pod".into(),
        short_names: Vec::new(),
        namespaced: true,
    };
    let p = match c.get(&pods, ns, pod).await {
        Ok(p) => p,
        Err(e) if e.is_not_found() => return Ok(succeeded(tr).is_some()),
        Err(e) => return Err(e),
    };
    let containers: Vec<String> = p["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .filter(|n| n.starts_with("step-"))
        .collect();
    for ct in containers {
        // a step that has not started has no log yet
        let started = |p: &Value| {
            p["status"]["containerStatuses"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| s["name"] == ct.as_str())
                .is_some_and(|s| {
                    s["state"].get("running").is_some() || s["state"].get("terminated").is_some()
                })
        };
        let mut cur = p.clone();
        while !started(&cur) {
            if !follow {
                return Ok(false);
            }
            let t = c
                .get(&tr_res(), ns, tr["metadata"]["name"].as_str().unwrap_or(""))
                .await?;
            if succeeded(&t).is_some() {
                cur = c.get(&pods, ns, pod).await?;
                if !started(&cur) {
                    break;
                }
            } else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                cur = c.get(&pods, ns, pod).await?;
            }
        }
        if !started(&cur) {
            continue;
        }
        let step = ct.trim_start_matches("step-");
        let prefix = style.paint(92, &format!("[{task} : {step}]"));
        c.pod_log(ns, pod, &ct, follow, |l| out(&format!("{prefix} {l}\n")))
            .await?;
        out("\n");
    }
    Ok(true)
}

/// Prints (and with `follow` follows) a PipelineRun's logs; returns its outcome when it
/// has ended.
async fn pipelinerun_logs(
    c: &Conn,
    name: &str,
    follow: bool,
    tasks: &[String],
) -> Result<Option<bool>, Error> {
    let st = style();
    let mut printed: HashSet<String> = HashSet::new();
    let mut after_end = 0u32;
    loop {
        let pr = c.get(&pr_res(), &c.namespace, name).await?;
        let outcome = succeeded(&pr);
        let sel = format!("tekton.dev/pipelineRun={name}");
        let mut trs = c.list(&tr_res(), Some(&c.namespace), Some(&sel)).await?;
        // the order the run created its TaskRuns (childReferences), then start time
        let order: Vec<&str> = pr["status"]["childReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect();
        trs.sort_by_key(|t| {
            let n = t["metadata"]["name"].as_str().unwrap_or("");
            (
                order.iter().position(|o| *o == n).unwrap_or(usize::MAX),
                sluice_cli::format::time(&t["status"]["startTime"]).unwrap_or(i64::MAX),
                n.to_owned(),
            )
        });
        for tr in &trs {
            let n = tr["metadata"]["name"].as_str().unwrap_or("").to_owned();
            let task = tr["metadata"]["labels"]["tekton.dev/pipelineTask"]
                .as_str()
                .unwrap_or("");
            if printed.contains(&n) || (!tasks.is_empty() && !tasks.iter().any(|t| t == task)) {
                continue;
            }
            if taskrun_logs(c, tr, follow, st).await? || !follow {
                printed.insert(n);
            }
        }
        if !follow || outcome.is_some() {
            // after the end, TaskRuns still finishing (a cancellation) get some more
            // passes, then what is left unprinted is left
            if follow
                && after_end < 100
                && trs
                    .iter()
                    .any(|t| !printed.contains(t["metadata"]["name"].as_str().unwrap_or("")))
            {
                after_end += 1;
                tokio::time::sleep(Duration::from_millis(300)).await;
                continue;
            }
            if !follow && trs.is_empty() {
                eprintln!("No logs found");
            }
            return Ok(outcome);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

pub fn pipelinerun(cmd: &PipelineRunCmd) -> anyhow::Result<u8> {
    match cmd {
        PipelineRunCmd::List {
            pipeline,
            list,
            conn,
        } => with_conn(conn, |c| async move {
            // a run's Pipeline is its tekton.dev/pipeline label, else its pipelineRef
            let p = pipeline.clone();
            tekton_list(&c, &pr_res(), list, None, move |items| {
                if let Some(p) = &p {
                    items.retain(|r| sluice_kube::retention::pipeline_of(r) == p);
                }
                tekton::sort_runs(items);
                tekton::run_list(items, "PipelineRuns", now(), list_opts(list))
            })
            .await
        }),
        PipelineRunCmd::Describe { name, conn } => with_conn(conn, |c| async move {
            let pr = c.get(&pr_res(), &c.namespace, name).await?;
            let sel = format!("tekton.dev/pipelineRun={name}");
            let trs = c.list(&tr_res(), Some(&c.namespace), Some(&sel)).await?;
            out(&tekton::pipelinerun_describe(&pr, &trs, now(), style()));
            Ok(exit::OK)
        }),
        PipelineRunCmd::Logs {
            name,
            follow,
            tasks,
            conn,
        } => with_conn(conn, |c| async move {
            pipelinerun_logs(&c, name, *follow, tasks).await?;
            Ok(exit::OK)
        }),
        PipelineRunCmd::Cancel { name, conn } => with_conn(conn, |c| async move {
            let pr = c.get(&pr_res(), &c.namespace, name).await?;
            if succeeded(&pr).is_some() {
                return Err(Error::RunFailed(format!(
                    "failed to cancel PipelineRun {name}: PipelineRun has already finished execution"
                )));
            }
            c.merge_patch(
                &pr_res(),
                &c.namespace,
                name,
                &json!({"spec": {"status": "Cancelled"}}),
            )
            .await?;
            out(&format!("PipelineRun cancelled: {name}\n"));
            Ok(exit::OK)
        }),
        PipelineRunCmd::Delete {
            names,
            keep,
            pipeline,
            force: _,
            conn,
        } => with_conn(conn, |c| async move {
            let mut victims: Vec<String> = names.clone();
            if let Some(k) = keep {
                let mut runs = c.list(&pr_res(), Some(&c.namespace), None).await?;
                match pipeline {
                    Some(p) => runs.retain(|r| sluice_kube::retention::pipeline_of(r) == p),
                    None => {
                        // tkn keeps N of the namespace, whatever their Pipeline
                        for r in &mut runs {
                            r["metadata"]["labels"]["tekton.dev/pipeline"] = json!("");
                        }
                    }
                }
                for i in sluice_kube::retention::select(&runs, *k) {
                    victims.push(
                        runs[i]["metadata"]["name"]
                            .as_str()
                            .unwrap_or("")
                            .to_owned(),
                    );
                }
            } else if names.is_empty() {
                return Err(Error::Usage("give PipelineRun names or --keep N".into()));
            }
            if victims.is_empty() {
                out("There is/are no PipelineRun(s) to delete\n");
                return Ok(exit::OK);
            }
            for v in &victims {
                c.delete(&pr_res(), &c.namespace, v).await?;
            }
            let quoted: Vec<String> = victims.iter().map(|v| format!("\"{v}\"")).collect();
            out(&format!("PipelineRuns deleted: {}\n", quoted.join(", ")));
            Ok(exit::OK)
        }),
    }
}

pub fn taskrun(cmd: &TaskRunCmd) -> anyhow::Result<u8> {
    match cmd {
        TaskRunCmd::List { list, conn } => with_conn(conn, |c| async move {
            tekton_list(&c, &tr_res(), list, None, |items| {
                tekton::sort_runs(items);
                tekton::run_list(items, "TaskRuns", now(), list_opts(list))
            })
            .await
        }),
        TaskRunCmd::Describe { name, conn } => with_conn(conn, |c| async move {
            let tr = c.get(&tr_res(), &c.namespace, name).await?;
            out(&tekton::taskrun_describe(&tr, now(), style()));
            Ok(exit::OK)
        }),
        TaskRunCmd::Logs { name, follow, conn } => with_conn(conn, |c| async move {
            let st = style();
            loop {
                let tr = c.get(&tr_res(), &c.namespace, name).await?;
                let printed = taskrun_logs(&c, &tr, *follow, st).await?;
                if printed || !*follow {
                    return Ok(exit::OK);
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }),
    }
}

pub fn task(cmd: &TaskCmd) -> anyhow::Result<u8> {
    match cmd {
        TaskCmd::List { list, conn } => with_conn(conn, |c| async move {
            tekton_list(&c, &tekton_res("Task", "tasks"), list, None, |items| {
                tekton::task_list(items, now(), list_opts(list))
            })
            .await
        }),
    }
}

fn el_res() -> Resource {
    Resource {
        group: "triggers.tekton.dev".into(),
        version: "v1beta1".into(),
        kind: "EventListener".into(),
        plural: "eventlisteners".into(),
        singular: "eventlistener".into(),
        short_names: vec!["el".into()],
        namespaced: true,
    }
}

fn configmap_res() -> Resource {
    Resource {
        group: String::new(),
        version: "v1".into(),
        kind: "ConfigMap".into(),
        plural: "configmaps".into(),
        singular: "configmap".into(),
        short_names: vec!["cm".into()],
        namespaced: true,
    }
}

/// The event records of one EventListener (ConfigMaps `sluice serve` writes per delivery).
async fn event_records(c: &Conn, listener: &str) -> Result<Vec<Value>, Error> {
    let sel = format!(
        "{}=true,{}={listener}",
        sluice_kube::triggers::RECORD_LABEL,
        sluice_triggers::EVENT_LISTENER_LABEL
    );
    c.list(&configmap_res(), Some(&c.namespace), Some(&sel))
        .await
}

pub fn eventlistener(cmd: &EventListenerCmd) -> anyhow::Result<u8> {
    match cmd {
        EventListenerCmd::List { list, conn } => with_conn(conn, |c| async move {
            let ns = (!list.all_namespaces).then_some(c.namespace.as_str());
            let items = c.list(&el_res(), ns, list.selector.as_deref()).await?;
            match list.output {
                Some(o @ (Output::Yaml | Output::Json | Output::Name)) => {
                    out(&print_objects(items, false, o, &el_res()));
                }
                _ => match tekton::eventlistener_list(&items, now(), list_opts(list)) {
                    Some(t) => out(&t),
                    // tkn prints this on stderr and exits 0
                    None => eprintln!("No EventListeners found"),
                },
            }
            Ok(exit::OK)
        }),
        EventListenerCmd::Describe { name, conn } => with_conn(conn, |c| async move {
            let el = c.get(&el_res(), &c.namespace, name).await?;
            let records = event_records(&c, name).await?;
            out(&tekton::eventlistener_describe(
                &el,
                &records,
                now(),
                style(),
            ));
            Ok(exit::OK)
        }),
        EventListenerCmd::Events { name, output, conn } => with_conn(conn, |c| async move {
            // the listener must exist: a typo is an error, not an empty list
            c.get(&el_res(), &c.namespace, name).await?;
            let records = event_records(&c, name).await?;
            match output {
                Some(o @ (Output::Yaml | Output::Json | Output::Name)) => {
                    out(&print_objects(records, false, *o, &configmap_res()));
                }
                _ => out(&tekton::event_records(
                    &records,
                    now(),
                    ListOpts {
                        style: style(),
                        ..ListOpts::default()
                    },
                )),
            }
            Ok(exit::OK)
        }),
    }
}
