//! The local executor: each Tekton step runs as a host process (its own process group) in
//! a per-run sandbox directory holding the TaskRun's workspaces, results, step
//! directories and HOME. Path variables resolve into the sandbox. A step's `image` is
//! recorded and not used. With `isolate`, each step runs under bubblewrap with the sandbox
//! bound at Tekton's container paths (`/workspace/<name>`, `/tekton/results`,
//! `/tekton/home`, `/tekton/steps`), so scripts with absolute paths run unchanged.
//!
//! Invariants: no process outlives its step (the step's process group is killed when the
//! step ends, times out or is cancelled; sidecars when the TaskRun ends); Secret values are
//! masked as `***` in every log line; each step's log is kept in the run directory.

pub mod confine;
pub mod contain;
pub mod creds;
pub mod mask;
mod process;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use sluice_apis::tekton::param::ParamValue;
use sluice_apis::tekton::step::{EnvVar, Step};
use sluice_apis::tekton::workspace::WorkspaceDeclaration;
use sluice_pipeline::plan::{Catalog, WsBinding, WsSource};
use sluice_pipeline::status::{
    Condition, RunResult, SidecarState, StepState, TaskRunStatus, Terminated, now, reason,
    result_too_large_message, taskrun_cancelled_message, taskrun_timeout_message,
};
use sluice_pipeline::task::{apply_step_results, prepare, step_container};
use sluice_pipeline::{CancelToken, Executor, Paths, TaskInvocation};

pub use mask::Masker;
use process::{Exit, StepCommand, StepProcess};

/// Errors of setting up a TaskRun's sandbox.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Plan(#[from] sluice_pipeline::Error),
    #[error(transparent)]
    Escape(#[from] confine::Escape),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Where log lines go (besides the step's log file).
pub trait LogSink: Send + Sync {
    /// One line of a step's output, already masked. `prefix` is `task/step`.
    fn line(&self, prefix: &str, line: &str);
    /// A step failed: its exit code and last lines.
    fn step_failed(&self, _task: &str, _step: &str, _exit_code: i32, _tail: &[String]) {}
    /// Whether the sink stores the logs itself (a server's log store): then the sandbox
    /// gets no `logs/` files of its own (each was a new inode per step, and a copy).
    fn keeps_logs(&self) -> bool {
        false
    }
}

/// Prints nothing.
pub struct Quiet;
impl LogSink for Quiet {
    fn line(&self, _: &str, _: &str) {}
}

/// Executor settings.
#[derive(Clone)]
pub struct Config {
    /// The run directory (sandboxes, volumeClaimTemplate workspaces, logs).
    pub run_dir: PathBuf,
    /// The data directory (one persistent directory per PVC claim under `claims/`).
    pub data_dir: PathBuf,
    /// Run steps under bubblewrap at Tekton's container paths.
    pub isolate: bool,
    pub max_result_size: usize,
    pub catalog: Arc<Catalog>,
    pub sink: Arc<dyn LogSink>,
}

/// The local executor.
pub struct LocalExecutor {
    cfg: Config,
    masker: Masker,
    vct: Mutex<HashMap<String, PathBuf>>,
}

/// Host paths of one TaskRun's sandbox.
struct Sandbox {
    root: PathBuf,
    /// Host dir of each bound workspace, by declaration name.
    workspaces: HashMap<String, PathBuf>,
    /// Host dir of each pod volume (`spec.volumes`), by name.
    volumes: HashMap<String, PathBuf>,
    isolate: bool,
    /// Files and directories holding Secret data (projected Secrets, credentials): 0600
    /// files in 0700 directories while the TaskRun runs, removed when it ends.
    secret_paths: Vec<PathBuf>,
    /// Result files are masked in place when the TaskRun ends (a result computed from a
    /// Secret would stay on disk in clear otherwise).
    masker: Masker,
}

impl Sandbox {
    fn mask_result_files(&self) {
        if self.masker.is_empty() {
            return;
        }
        // the steps could have replaced these directories with links: real ones only
        let real_dir = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
        let mut dirs = vec![self.results()];
        if real_dir(&self.steps())
            && let Ok(rd) = fs::read_dir(self.steps())
        {
            dirs.extend(
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| real_dir(p))
                    .map(|p| p.join("results")),
            );
        }
        for d in dirs.into_iter().filter(|d| real_dir(d)) {
            for e in fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if let Ok(v) = confine::read_regular(&p, 16 << 20) {
                    let text = String::from_utf8_lossy(&v);
                    let masked = self.masker.mask(&text);
                    if masked != text {
                        let _ = confine::write_nofollow(&p, masked.as_bytes(), 0o644);
                    }
                }
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.mask_result_files();
        for p in self.secret_paths.drain(..) {
            match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {
                    let _ = fs::remove_dir_all(&p);
                }
                Ok(_) => {
                    let _ = fs::remove_file(&p);
                }
                Err(_) => {}
            }
        }
    }
}

impl Sandbox {
    /// Tekton's `/tekton`: a directory of its own under --isolate (it is bound there),
    /// else the sandbox root itself (one directory less to create per TaskRun).
    fn tekton(&self) -> PathBuf {
        if self.isolate {
            self.root.join("tekton")
        } else {
            self.root.clone()
        }
    }
    fn home(&self) -> PathBuf {
        self.tekton().join("home")
    }
    fn results(&self) -> PathBuf {
        self.tekton().join("results")
    }
    fn steps(&self) -> PathBuf {
        self.tekton().join("steps")
    }
    fn workspace_root(&self) -> PathBuf {
        self.root.join("workspace")
    }
    /// A container path as a host directory and the path under it (used for workingDir
    /// outside isolation); `None` for a path outside the sandbox's container paths.
    fn host_path<'p>(
        &self,
        p: &'p str,
        decls: &[(WorkspaceDeclaration, Option<WsBinding>)],
    ) -> Option<(PathBuf, &'p str)> {
        let under = |prefix: &str| {
            p.strip_prefix(prefix)
                .filter(|rest| rest.is_empty() || rest.starts_with('/'))
                .map(|rest| rest.trim_start_matches('/'))
        };
        for (d, _) in decls {
            if let Some(host) = self.workspaces.get(&d.name)
                && let Some(rest) = under(&d.mount_path())
            {
                return Some((host.clone(), rest));
            }
        }
        if let Some(rest) = under("/workspace") {
            return Some((self.workspace_root(), rest));
        }
        under("/tekton").map(|rest| (self.tekton(), rest))
    }
}

impl Paths for Sandbox {
    fn workspace(&self, decl: &WorkspaceDeclaration) -> String {
        if self.isolate {
            decl.mount_path()
        } else {
            self.workspaces
                .get(&decl.name)
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        }
    }
    fn results_dir(&self) -> String {
        if self.isolate {
            "/tekton/results".into()
        } else {
            self.results().display().to_string()
        }
    }
    fn step_dir(&self, container: &str) -> String {
        if self.isolate {
            format!("/tekton/steps/{container}")
        } else {
            self.steps().join(container).display().to_string()
        }
    }
    fn credentials(&self) -> String {
        if self.isolate {
            "/tekton/creds".into()
        } else {
            self.tekton().join("creds").display().to_string()
        }
    }
}

/// Directory and file modes of projected ConfigMap data and of Secret data.
const PUBLIC_MODES: (u32, u32) = (0o755, 0o644);
const SECRET_MODES: (u32, u32) = (0o700, 0o600);

/// Writes the keys of a ConfigMap or Secret as files under `dir` (`items` selects and
/// renames them); every item path is confined under `dir` (`confine::write_within`).
fn write_projection(
    dir: &Path,
    data: &BTreeMap<String, Vec<u8>>,
    items: &[(String, String)],
    (dir_mode, file_mode): (u32, u32),
) -> Result<(), Error> {
    let pairs: Vec<(String, String)> = if items.is_empty() {
        data.keys().map(|k| (k.clone(), k.clone())).collect()
    } else {
        items.to_vec()
    };
    for (key, rel) in pairs {
        if let Some(v) = data.get(&key) {
            confine::write_within(dir, &rel, v, dir_mode, file_mode)?;
        }
    }
    Ok(())
}

/// Whether a workspace or volume source projects Secret data.
fn holds_secret(src: &WsSource) -> bool {
    match src {
        WsSource::Secret { .. } => true,
        WsSource::Projected(s) => s.iter().any(holds_secret),
        _ => false,
    }
}

impl LocalExecutor {
    pub fn new(cfg: Config) -> Self {
        let masker = Masker::new(cfg.catalog.secret_values());
        LocalExecutor {
            cfg,
            masker,
            vct: Mutex::new(HashMap::new()),
        }
    }

    pub fn masker(&self) -> &Masker {
        &self.masker
    }

    fn project(&self, dir: &Path, src: &WsSource) -> Result<(), Error> {
        match src {
            WsSource::ConfigMap {
                name,
                items,
                optional,
            } => match self.cfg.catalog.config_maps.get(name) {
                Some(d) => write_projection(dir, d, items, PUBLIC_MODES),
                None if *optional => Ok(()),
                None => Err(Error::Setup(format!("configmap {name:?} not found"))),
            },
            WsSource::Secret {
                name,
                items,
                optional,
            } => match self.cfg.catalog.secrets.get(name) {
                Some(s) => write_projection(dir, &s.data, items, SECRET_MODES),
                None if *optional => Ok(()),
                None => Err(Error::Setup(format!("secret {name:?} not found"))),
            },
            WsSource::Projected(srcs) => {
                for s in srcs {
                    self.project(dir, s)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The host directory of a workspace binding, created as needed. The claim, binding and
    /// workspace names are single path elements and the `subPath` stays under its volume
    /// (`confine`), whatever validation let through.
    fn workspace_dir(&self, sb: &mut Sandbox, name: &str, b: &WsBinding) -> Result<PathBuf, Error> {
        let ws = sb.root.join("ws");
        let base = match &b.source {
            WsSource::EmptyDir | WsSource::Unsupported(_) => confine::join_name(&ws, name)?,
            WsSource::HostDir(p) => {
                let p = PathBuf::from(p);
                if p.is_absolute() {
                    p
                } else {
                    std::env::current_dir().map_err(io_err(&p))?.join(p)
                }
            }
            WsSource::Pvc { claim } => {
                confine::join_name(&self.cfg.data_dir.join("claims"), claim)?
            }
            WsSource::VolumeClaimTemplate { key } => {
                let dir = confine::join_name(&self.cfg.run_dir.join("volumes"), key)?;
                let mut m = self.vct.lock().map_err(|_| Error::Setup("lock".into()))?;
                m.entry(key.clone()).or_insert(dir).clone()
            }
            WsSource::ConfigMap { .. } | WsSource::Secret { .. } | WsSource::Projected(_) => {
                let secret = holds_secret(&b.source);
                let modes = if secret { SECRET_MODES } else { PUBLIC_MODES };
                let d = confine::dir_within(&ws, name, modes.0)?;
                if secret {
                    sb.secret_paths.push(d.clone());
                }
                self.project(&d, &b.source)?;
                d
            }
        };
        Ok(confine::dir_within(&base, &b.sub_path, 0o755)?)
    }

    fn setup(&self, inv: &TaskInvocation) -> Result<Sandbox, Error> {
        let mut name = inv.taskrun_name.clone();
        if inv.retry_count > 0 {
            name = format!("{name}-retry{}", inv.retry_count);
        }
        let root = confine::join_name(&self.cfg.run_dir.join("taskruns"), &name)?;
        if root.exists() {
            fs::remove_dir_all(&root).map_err(io_err(&root))?;
        }
        let mut sb = Sandbox {
            root,
            workspaces: HashMap::new(),
            volumes: HashMap::new(),
            isolate: self.cfg.isolate,
            secret_paths: Vec::new(),
            masker: self.masker.clone(),
        };
        // Each new inode costs: on ext4, allocating one (mkdir, create) dominated the
        // per-TaskRun cost in profiles (`__ext4_new_inode` -> `recently_deleted`), so only
        // the directories every step needs are made up front (the sandbox, home/ and
        // logs/); results/, steps/<container>/, creds/, scripts/ and workspace/ are made when
        // the task uses them. Under --isolate the whole tree is bound, so it is all made.
        fs::create_dir_all(&sb.root).map_err(io_err(&sb.root))?;
        let files = creds::credential_files(&self.cfg.catalog, &inv.service_account);
        let mut dirs = Vec::new();
        if self.cfg.isolate {
            dirs.push(sb.tekton());
        }
        dirs.push(sb.home());
        if !self.cfg.sink.keeps_logs() {
            dirs.push(sb.root.join("logs"));
        }
        if self.cfg.isolate {
            dirs.extend([
                sb.results(),
                sb.steps(),
                sb.workspace_root(),
                sb.tekton().join("creds"),
            ]);
        } else {
            if !inv.spec.results.is_empty() {
                dirs.push(sb.results());
            }
            if !files.is_empty() || mentions(inv, "credentials.path") {
                dirs.push(sb.tekton().join("creds"));
            }
        }
        for d in &dirs {
            fs::create_dir(d).map_err(io_err(d))?;
        }
        for (decl, binding) in &inv.workspaces {
            if let Some(b) = binding {
                let dir = self.workspace_dir(&mut sb, &decl.name, b)?;
                sb.workspaces.insert(decl.name.clone(), dir);
            }
        }
        if !files.is_empty() {
            let home = sb.home();
            for (rel, data) in &files {
                let p = confine::write_within(&home, rel, data, 0o700, 0o600)?;
                sb.secret_paths.push(p);
            }
        }
        Ok(sb)
    }

    fn env_value(&self, e: &EnvVar) -> Option<String> {
        if let Some(v) = &e.value {
            return Some(v.clone());
        }
        let vf = e.value_from.as_ref()?;
        if let Some(r) = vf.get("secretKeyRef") {
            let s = self.cfg.catalog.secrets.get(r.get("name")?.as_str()?)?;
            let v = s.data.get(r.get("key")?.as_str()?)?;
            return Some(String::from_utf8_lossy(v).into_owned());
        }
        if let Some(r) = vf.get("configMapKeyRef") {
            let c = self.cfg.catalog.config_maps.get(r.get("name")?.as_str()?)?;
            let v = c.get(r.get("key")?.as_str()?)?;
            return Some(String::from_utf8_lossy(v).into_owned());
        }
        None
    }

    fn step_env(
        &self,
        step_env: &[EnvVar],
        env_from: Option<&Value>,
        home: &str,
    ) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![("HOME".into(), home.into())];
        for src in env_from.and_then(Value::as_array).into_iter().flatten() {
            let prefix = src.get("prefix").and_then(Value::as_str).unwrap_or("");
            let data = if let Some(r) = src.get("secretRef") {
                r.get("name")
                    .and_then(Value::as_str)
                    .and_then(|n| self.cfg.catalog.secrets.get(n))
                    .map(|s| s.data.clone())
            } else if let Some(r) = src.get("configMapRef") {
                r.get("name")
                    .and_then(Value::as_str)
                    .and_then(|n| self.cfg.catalog.config_maps.get(n))
                    .cloned()
            } else {
                None
            };
            for (k, v) in data.into_iter().flatten() {
                env.push((
                    format!("{prefix}{k}"),
                    String::from_utf8_lossy(&v).into_owned(),
                ));
            }
        }
        for e in step_env {
            if let Some(v) = self.env_value(e) {
                // $(VAR) references to earlier variables, as Kubernetes expands them
                let v = expand_env(&v, &env);
                env.push((e.name.clone(), v));
            }
        }
        env
    }
}

/// Kubernetes `$(VAR)` expansion in env values.
fn expand_env(v: &str, env: &[(String, String)]) -> String {
    if !v.contains("$(") {
        return v.to_owned();
    }
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find("$(") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(j) if env.iter().any(|(k, _)| k == &after[..j]) => {
                let name = &after[..j];
                if let Some((_, val)) = env.iter().rev().find(|(k, _)| k == name) {
                    out.push_str(val);
                }
                rest = &after[j + 1..];
            }
            _ => {
                out.push_str("$(");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether a step of the task mentions `needle` (in its script, command, args or env).
fn mentions(inv: &TaskInvocation, needle: &str) -> bool {
    let in_template = inv
        .spec
        .step_template
        .as_ref()
        .is_some_and(|t| serde_json::to_string(t).is_ok_and(|j| j.contains(needle)));
    in_template
        || inv.spec.steps.iter().any(|s| {
            s.script.contains(needle)
                || s.command
                    .iter()
                    .chain(s.args.iter())
                    .any(|a| a.contains(needle))
                || s.env
                    .iter()
                    .flatten()
                    .any(|e| e.value.as_deref().is_some_and(|v| v.contains(needle)))
        })
}

/// Tekton's default shell prelude for a script without a shebang
/// (pkg/pod/script.go: `#!/bin/sh\nset -e\n`).
pub const DEFAULT_PRELUDE: &str = "#!/bin/sh\nset -e\n";

/// The interpreter line of a script; `ash` (Alpine's shell) maps to `sh`.
fn interpreter(script: &str) -> (Vec<String>, String) {
    let (first, body) = if script.starts_with("#!") {
        (
            script.lines().next().unwrap_or("#!/bin/sh").to_owned(),
            script.to_owned(),
        )
    } else {
        ("#!/bin/sh".to_owned(), format!("{DEFAULT_PRELUDE}{script}"))
    };
    let mut parts: Vec<String> = first[2..].split_whitespace().map(str::to_owned).collect();
    if parts.is_empty() {
        parts.push("/bin/sh".into());
    }
    for p in &mut parts {
        if p == "ash" || p.ends_with("/ash") {
            *p = if p.contains('/') {
                "/bin/sh".into()
            } else {
                "sh".into()
            };
        }
    }
    (parts, body)
}

/// Images whose `/bin/sh` is BusyBox ash (alpine, busybox and the alpine-based `bash`
/// image): ash accepts bashisms such as `[ a == b ]` that Debian's dash rejects.
fn ash_like_image(image: &str) -> bool {
    let name = image.rsplit('/').next().unwrap_or(image);
    ["alpine", "busybox", "bash"]
        .iter()
        .any(|n| name.starts_with(n))
}

/// Runs a `sh` script with bash in POSIX mode (closest to ash on a Debian host).
fn posix_bash(interp: &mut Vec<String>) {
    let is_sh = |s: &str| s == "sh" || s == "/bin/sh";
    match interp.as_slice() {
        [one] if is_sh(one) => *interp = vec!["bash".into(), "--posix".into()],
        [env, one] if env.ends_with("/env") && is_sh(one) => {
            *interp = vec!["bash".into(), "--posix".into()]
        }
        _ => {}
    }
}

/// The result files of a results directory (writable by the steps): regular files only,
/// never through a symlink, each read up to one byte past `max` (so that an oversized
/// result is reported, not loaded whole).
fn read_results(dir: &Path, max: usize) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if let (Some(n), Ok(v)) = (
                e.file_name().to_str(),
                confine::read_regular(&e.path(), max as u64 + 1),
            ) {
                out.insert(n.to_owned(), String::from_utf8_lossy(&v).into_owned());
            }
        }
    }
    out
}

fn typed(v: &str, t: &str) -> ParamValue {
    match t {
        "array" | "object" => serde_json::from_str::<Value>(v)
            .map(|j| ParamValue::from_json(&j))
            .unwrap_or_else(|_| ParamValue::String(v.to_owned())),
        _ => ParamValue::String(v.to_owned()),
    }
}

impl Executor for LocalExecutor {
    fn run_task(&self, inv: &TaskInvocation, cancel: &CancelToken) -> TaskRunStatus {
        let start_time = now();
        let started = Instant::now();
        let fail = |reason: &str, msg: String| TaskRunStatus {
            conditions: vec![Condition::succeeded(Some(false), reason, msg)],
            start_time: start_time.clone(),
            completion_time: now(),
            ..TaskRunStatus::default()
        };
        let mut sb = match self.setup(inv) {
            Ok(s) => s,
            Err(e) => return fail("CreateContainerConfigError", e.to_string()),
        };
        let spec = match prepare(inv, &self.cfg.catalog.step_actions, &sb) {
            Ok(s) => s,
            Err(e) => return fail(reason::TASKRUN_VALIDATION_FAILED, e.to_string()),
        };
        if let Err(e) = self.volumes(&mut sb, &spec.volumes) {
            return fail("CreateContainerConfigError", e.to_string());
        }
        let home = if self.cfg.isolate {
            "/tekton/home".to_owned()
        } else {
            sb.home().display().to_string()
        };
        let deadline = inv.timeout.map(|t| started + t);
        let sink = self.cfg.sink.clone();

        // sidecars, started before the steps
        let mut sidecars: Vec<(String, StepProcess)> = Vec::new();
        let mut sidecar_states = Vec::new();
        for (i, sc) in spec.sidecars.iter().enumerate() {
            let container = format!(
                "sidecar-{}",
                if sc.name.is_empty() {
                    i.to_string()
                } else {
                    sc.name.clone()
                }
            );
            let as_step = Step {
                volume_mounts: sc.volume_mounts.clone(),
                name: sc.name.clone(),
                image: sc.image.clone(),
                command: sc.command.clone(),
                args: sc.args.clone(),
                working_dir: sc.working_dir.clone(),
                env: sc.env.clone(),
                env_from: sc.env_from.clone(),
                script: sc.script.clone(),
                ..Step::default()
            };
            match self.spawn(&sb, inv, &as_step, &container, &home) {
                Ok(p) => sidecars.push((container.clone(), p)),
                Err(e) => {
                    return fail(
                        "CreateContainerConfigError",
                        format!("sidecar {container}: {e}"),
                    );
                }
            }
            sidecar_states.push(SidecarState {
                name: sc.name.clone(),
                container,
                terminated: None,
            });
        }

        if !sidecars.is_empty() {
            cancel.prepared();
            // Steps start once the sidecars are running (await-sidecar-readiness); without
            // a kubelet the local stand-in for "ready" is a short start-up grace.
            std::thread::sleep(Duration::from_millis(300));
        }
        let mut steps_out: Vec<StepState> = Vec::new();
        let mut step_results: HashMap<String, BTreeMap<String, ParamValue>> = HashMap::new();
        let mut outcome: Option<(String, String)> = None; // (reason, message) of failure
        for (i, step0) in spec.steps.iter().enumerate() {
            let container = step_container(step0, i);
            let sname = if step0.name.is_empty() {
                format!("unnamed-{i}")
            } else {
                step0.name.clone()
            };
            if outcome.is_some() {
                steps_out.push(StepState {
                    name: sname,
                    container,
                    terminated: Some(Terminated {
                        exit_code: 1,
                        reason: "Error".into(),
                        ..Terminated::default()
                    }),
                    termination_reason: "Skipped".into(),
                    ..StepState::default()
                });
                continue;
            }
            let step = match apply_step_results(step0, &step_results) {
                Ok(s) => s,
                Err(e) => {
                    outcome = Some((reason::FAILED.into(), e.to_string()));
                    continue;
                }
            };
            // a step's directory holds its results and its exitCode, which only its own
            // results and later steps (`$(steps.<step>.exitCode.path)`) can read; under
            // --isolate /tekton/steps is writable by the steps, so it is confined
            let step_dir =
                if self.cfg.isolate || !step.results.is_empty() || i + 1 < spec.steps.len() {
                    confine::check_name(&container)
                        .and_then(|c| {
                            confine::dir_within(&sb.tekton(), &format!("steps/{c}/results"), 0o755)
                        })
                        .ok()
                        .and_then(|r| r.parent().map(Path::to_path_buf))
                } else {
                    None
                };
            let s_start = now();
            let step_deadline = step
                .timeout
                .as_deref()
                .and_then(sluice_pipeline::plan::timeout)
                .flatten()
                .map(|t| Instant::now() + t);
            let dl = match (deadline, step_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let exit = match self.run_step(&sb, inv, &step, &container, &home, dl, cancel) {
                Ok(exit) => exit,
                Err(e) => {
                    if !sink.keeps_logs() {
                        let _ = fs::write(
                            sb.root.join("logs").join(format!("{container}.log")),
                            e.to_string(),
                        );
                    }
                    sink.line(&format!("{}/{}", inv.task_label, sname), &e.to_string());
                    Exit::Code(127, vec![e.to_string()])
                }
            };
            let (code, tail, term_reason) = match &exit {
                Exit::Code(c, t) => (*c, t.clone(), None),
                Exit::TimedOut(t) => (1, t.clone(), Some("TimeoutExceeded")),
                Exit::Cancelled(t) => (1, t.clone(), Some("Cancelled")),
            };
            if let Some(d) = &step_dir {
                let _ = confine::write_nofollow(
                    &d.join("exitCode"),
                    code.to_string().as_bytes(),
                    0o644,
                );
            }
            let step_results_dir = step_dir.as_ref().map(|d| d.join("results"));
            let results: Vec<RunResult> = step_results_dir
                .map(|d| read_results(&d, self.cfg.max_result_size))
                .unwrap_or_default()
                .into_iter()
                .map(|(name, v)| {
                    let t = step
                        .results
                        .iter()
                        .find(|r| r.name == name)
                        .and_then(|r| r.type_.clone())
                        .unwrap_or_default();
                    RunResult {
                        name,
                        type_: if t.is_empty() {
                            "string".into()
                        } else {
                            t.clone()
                        },
                        value: typed(&v, &t),
                    }
                })
                .collect();
            step_results.insert(
                step0.name.clone(),
                results
                    .iter()
                    .map(|r| (r.name.clone(), r.value.clone()))
                    .collect(),
            );
            let continue_on_error = step.on_error == "continue";
            let mut termination_reason = String::new();
            match &exit {
                Exit::Cancelled(_) => {
                    let (r, m) = cancel
                        .cancelled()
                        .unwrap_or_else(|| (reason::TASKRUN_CANCELLED.into(), String::new()));
                    let m = if r == reason::TASKRUN_CANCELLED {
                        taskrun_cancelled_message(&inv.taskrun_name, &m)
                    } else {
                        m
                    };
                    outcome = Some((r, m));
                    termination_reason = "TaskRunCancelled".into();
                }
                Exit::TimedOut(_) if deadline.is_some_and(|d| Instant::now() >= d) => {
                    outcome = Some((
                        reason::TASKRUN_TIMEOUT.into(),
                        taskrun_timeout_message(&inv.taskrun_name, inv.timeout.unwrap_or_default()),
                    ));
                    termination_reason = "TimeoutExceeded".into();
                }
                _ if code != 0 && continue_on_error => {
                    termination_reason = "Continued".into();
                }
                _ if code != 0 => {
                    sink.step_failed(&inv.task_label, &sname, code, &tail);
                    let msg = if term_reason == Some("TimeoutExceeded") {
                        format!(
                            "{container:?} exited because the step exceeded the specified timeout limit"
                        )
                    } else {
                        format!("{container:?} exited with code {code}")
                    };
                    outcome = Some((reason::FAILED.into(), msg));
                    termination_reason = term_reason.unwrap_or("Error").into();
                }
                _ => {}
            }
            steps_out.push(StepState {
                name: sname,
                container,
                image_id: step.image.clone(),
                terminated: Some(Terminated {
                    exit_code: code,
                    reason: if code == 0 {
                        "Completed".into()
                    } else {
                        "Error".into()
                    },
                    message: String::new(),
                    started_at: s_start,
                    finished_at: now(),
                }),
                termination_reason: if termination_reason.is_empty() {
                    "Completed".into()
                } else {
                    termination_reason
                },
                results,
            });
        }
        for (c, p) in sidecars {
            p.kill();
            if let Some(s) = sidecar_states.iter_mut().find(|s| s.container == c) {
                s.terminated = Some(Terminated {
                    exit_code: 0,
                    reason: "Completed".into(),
                    finished_at: now(),
                    ..Terminated::default()
                });
            }
        }

        // Task results
        let mut results = Vec::new();
        if outcome.is_none() {
            // under --isolate /tekton/results is writable by the steps: confined
            let files = if spec.results.is_empty() {
                BTreeMap::new()
            } else {
                confine::dir_within(&sb.tekton(), "results", 0o755)
                    .map(|d| read_results(&d, self.cfg.max_result_size))
                    .unwrap_or_default()
            };
            for r in &spec.results {
                let t = r.type_.clone().unwrap_or_else(|| "string".into());
                let value = if let Some(v) = files.get(&r.name) {
                    if v.len() > self.cfg.max_result_size {
                        outcome = Some((
                            reason::TASKRUN_RESULT_TOO_LARGE.into(),
                            result_too_large_message(&inv.taskrun_name, self.cfg.max_result_size),
                        ));
                        continue;
                    }
                    typed(v, &t)
                } else if let Some(val) = &r.value {
                    // a result taken from a step's result (docs/stepactions.md)
                    let mut j = serde_json::json!([sluice_pipeline::subst::param_to_json(val)]);
                    if let Ok(s) = apply_step_results(
                        &Step {
                            args: j
                                .as_array()
                                .map(|a| {
                                    a.iter()
                                        .filter_map(|x| x.as_str().map(str::to_owned))
                                        .collect()
                                })
                                .unwrap_or_default(),
                            ..Step::default()
                        },
                        &step_results,
                    ) {
                        j = serde_json::json!(s.args);
                    }
                    match (val, j.as_array()) {
                        (ParamValue::String(_), Some(a)) if a.len() == 1 => {
                            ParamValue::String(a[0].as_str().unwrap_or("").to_owned())
                        }
                        (_, Some(a)) => ParamValue::Array(
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_owned))
                                .collect(),
                        ),
                        _ => continue,
                    }
                } else {
                    continue;
                };
                results.push(RunResult {
                    name: r.name.clone(),
                    type_: t,
                    value,
                });
            }
        }
        let cond = match &outcome {
            None => Condition::succeeded(
                Some(true),
                reason::SUCCEEDED,
                "All Steps have completed executing",
            ),
            Some((r, m)) => Condition::succeeded(Some(false), r, m.clone()),
        };
        TaskRunStatus {
            conditions: vec![cond],
            pod_name: String::new(),
            start_time,
            completion_time: now(),
            steps: steps_out,
            sidecars: sidecar_states,
            results,
            retries_status: vec![],
            task_spec: serde_json::to_value(&spec).ok(),
        }
    }
}

impl LocalExecutor {
    /// Materializes pod volumes (emptyDir, configMap, secret, projected) as directories;
    /// they are mounted at the steps' volumeMounts under --isolate.
    fn volumes(&self, sb: &mut Sandbox, vols: &[Value]) -> Result<(), Error> {
        for v in vols {
            let Some(name) = v.get("name").and_then(Value::as_str) else {
                continue;
            };
            let b = sluice_apis::tekton::workspace::WorkspaceBinding {
                name: name.to_owned(),
                config_map: v.get("configMap").cloned(),
                secret: v.get("secret").cloned(),
                projected: v.get("projected").cloned(),
                ..Default::default()
            };
            let wb = sluice_pipeline::plan::ws_binding(&b);
            let secret = holds_secret(&wb.source);
            let modes = if secret { SECRET_MODES } else { PUBLIC_MODES };
            let dir = confine::dir_within(
                &sb.root.join("volumes"),
                confine::check_name(name)?,
                modes.0,
            )?;
            if secret {
                sb.secret_paths.push(dir.clone());
            }
            self.project(&dir, &wb.source)?;
            sb.volumes.insert(name.to_owned(), dir);
        }
        Ok(())
    }

    /// Starts a sidecar: its process runs on a thread of its own until it is killed.
    fn spawn(
        &self,
        sb: &Sandbox,
        inv: &TaskInvocation,
        step: &Step,
        container: &str,
        home: &str,
    ) -> Result<StepProcess, Error> {
        self.start(sb, inv, step, container, home, StepProcess::spawn)
    }

    /// Runs a step to its end on this thread (`StepProcess::run`).
    #[allow(clippy::too_many_arguments)]
    fn run_step(
        &self,
        sb: &Sandbox,
        inv: &TaskInvocation,
        step: &Step,
        container: &str,
        home: &str,
        deadline: Option<Instant>,
        cancel: &CancelToken,
    ) -> Result<Exit, Error> {
        self.start(sb, inv, step, container, home, |c| {
            StepProcess::run(c, deadline, cancel)
        })
    }

    /// Hands a step's or sidecar's command ([`Self::launch`]) to `go`; a process that does
    /// not start is a setup error naming its program.
    fn start<T>(
        &self,
        sb: &Sandbox,
        inv: &TaskInvocation,
        step: &Step,
        container: &str,
        home: &str,
        go: impl FnOnce(StepCommand) -> std::io::Result<T>,
    ) -> Result<T, Error> {
        let c = self.launch(sb, inv, step, container, home)?;
        let argv0 = c.argv.first().cloned().unwrap_or_default();
        go(c).map_err(|e| Error::Setup(format!("{argv0}: {e}")))
    }

    /// A step's or sidecar's command line, environment, directory, log and log prefix.
    fn launch(
        &self,
        sb: &Sandbox,
        inv: &TaskInvocation,
        step: &Step,
        container: &str,
        home: &str,
    ) -> Result<StepCommand, Error> {
        let mut argv: Vec<String> = if !step.script.is_empty() {
            let (mut interp, body) = interpreter(&step.script);
            if ash_like_image(&step.image) {
                posix_bash(&mut interp);
            }
            // under --isolate /tekton is writable by the steps: never write through a link
            let file = confine::write_within(
                &sb.tekton(),
                &format!("scripts/{}", confine::check_name(container)?),
                body.as_bytes(),
                0o755,
                0o644,
            )?;
            let mut a = interp;
            a.push(if self.cfg.isolate {
                format!("/tekton/scripts/{container}")
            } else {
                file.display().to_string()
            });
            // args are the script's arguments (docs/tasks.md "Running scripts within Steps")
            a.extend(step.args.iter().cloned());
            a
        } else if !step.command.is_empty() {
            let mut a = step.command.clone();
            a.extend(step.args.iter().cloned());
            a
        } else if !step.args.is_empty() {
            // The image's entrypoint is unknown here: the args are the command, as with
            // images without an entrypoint (alpine, busybox, ubuntu); the `bash` image's
            // entrypoint runs bash when the first arg is an option.
            // the image's entrypoint is unknown here; images without one run their CMD
            // (a shell) with these args (Tekton reads Entrypoint, else Cmd)
            let mut a = step.args.clone();
            if a[0].starts_with('-') {
                a.insert(
                    0,
                    if step.image.contains("bash") {
                        "bash".into()
                    } else {
                        "sh".into()
                    },
                );
            }
            a
        } else {
            return Err(Error::Setup(format!(
                "step {container:?} has neither script nor command; the local executor cannot use the image's entrypoint ({})",
                step.image
            )));
        };
        let env = self.step_env(
            step.env.as_deref().unwrap_or(&[]),
            step.env_from.as_ref(),
            home,
        );
        let cwd_container = if step.working_dir.is_empty() {
            "/workspace".to_owned()
        } else {
            step.working_dir.clone()
        };
        // the working directory is created when it lies in the sandbox (confined there);
        // any other host path is used as it is
        let host_cwd = match sb.host_path(&cwd_container, &inv.workspaces) {
            Some((root, rest)) => confine::dir_within(&root, rest, 0o755)?,
            None => PathBuf::from(&cwd_container),
        };
        let mut cwd = host_cwd;
        if self.cfg.isolate {
            // a PID namespace per step: when the step's process ends, bubblewrap's init
            // ends and the kernel kills everything left in it; with its parent (sluice's
            // thread waiting for it) bubblewrap dies too
            let mut b: Vec<String> = vec![
                "bwrap".into(),
                "--die-with-parent".into(),
                "--unshare-pid".into(),
            ];
            for d in [
                "/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin", "/etc", "/opt",
            ] {
                b.extend(["--ro-bind-try".into(), d.into(), d.into()]);
            }
            b.extend([
                "--dev".into(),
                "/dev".into(),
                "--proc".into(),
                "/proc".into(),
                "--tmpfs".into(),
                "/tmp".into(),
            ]);
            b.extend([
                "--bind".into(),
                sb.workspace_root().display().to_string(),
                "/workspace".into(),
            ]);
            b.extend([
                "--bind".into(),
                sb.tekton().display().to_string(),
                "/tekton".into(),
            ]);
            for (d, _) in &inv.workspaces {
                if let Some(host) = sb.workspaces.get(&d.name) {
                    let flag = if d.read_only == Some(true) {
                        "--ro-bind"
                    } else {
                        "--bind"
                    };
                    b.extend([flag.into(), host.display().to_string(), d.mount_path()]);
                }
            }
            for m in &step.volume_mounts {
                if let Some(host) = sb.volumes.get(&m.name) {
                    let host = match &m.sub_path {
                        Some(sp) if !sp.is_empty() => confine::path_within(host, sp)?,
                        _ => host.clone(),
                    };
                    let flag = if m.read_only == Some(true) {
                        "--ro-bind"
                    } else {
                        "--bind"
                    };
                    b.extend([
                        flag.into(),
                        host.display().to_string(),
                        m.mount_path.clone(),
                    ]);
                }
            }
            b.extend([
                "--dir".into(),
                cwd_container.clone(),
                "--chdir".into(),
                cwd_container.clone(),
            ]);
            b.push("--".into());
            b.extend(argv);
            argv = b;
            cwd = sb.root.clone();
        }
        let log = (!self.cfg.sink.keeps_logs())
            .then(|| sb.root.join("logs").join(format!("{container}.log")));
        let prefix = format!(
            "{}/{}",
            inv.task_label,
            container.strip_prefix("step-").unwrap_or(container)
        );
        Ok(StepCommand {
            argv,
            env,
            cwd,
            log,
            prefix,
            masker: self.masker.clone(),
            sink: self.cfg.sink.clone(),
        })
    }
}

/// Whether bubblewrap can run here (installed and allowed to create namespaces).
pub fn bwrap_available() -> bool {
    std::process::Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "true"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    // docs/tasks.md "Running scripts within Steps": a script without a shebang runs with
    // the default `#!/bin/sh` and `set -e`.
    #[test]
    fn script_prelude_and_shebangs() {
        let (i, b) = interpreter("echo hi");
        assert_eq!(i, ["/bin/sh"]);
        assert_eq!(b, "#!/bin/sh\nset -e\necho hi");
        let (i, _) = interpreter("#!/usr/bin/env ash\necho");
        assert_eq!(i, ["/usr/bin/env", "sh"]);
        let (i, _) = interpreter("#!/usr/bin/env bash\necho");
        assert_eq!(i, ["/usr/bin/env", "bash"]);
    }

    #[test]
    fn env_expansion() {
        let env = vec![("A".to_owned(), "x".to_owned())];
        assert_eq!(expand_env("$(A)-$(B)", &env), "x-$(B)");
    }
}
