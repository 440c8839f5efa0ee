//! `sluice appset generate -f FILE... [--repo URL=PATH]... [-o yaml|json]`: the
//! Applications an ApplicationSet generates, offline (`sluice_gitops::appset`).
//!
//! Inputs: every `-f` file is loaded; its ApplicationSets are generated in order, its
//! Argo CD cluster Secrets feed the clusters generator (the in-cluster destination is
//! there without a Secret, as in Argo CD). Git generators read a local directory: the one
//! `--repo URL=PATH` maps the repoURL to, else the repoURL itself when it is a local path
//! or a `file://` URL. When that directory is a git repository (a work tree with `.git`, or
//! a bare repository), it is read as the server reads it: through gix, at the generator's
//! `revision` (branch, tag, SHA, HEAD), from a mirror in a temporary cache removed on exit.
//! Any other directory is read as it is (the revision cannot be resolved); symlinks are
//! not followed.
//!
//! Output (`-o yaml`, the default) is what `argocd appset generate -o yaml` prints: the
//! Applications without namespace and status, keys sorted, as a YAML list (one object
//! alone when there is exactly one). `-o json` prints a `kind: List`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::rc::Rc;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;
use sluice_core::{FieldPath, MAX_FILE_BYTES};
use sluice_gitops::appset::sort_keys;
use sluice_gitops::repo::{RepoError, Repos};

use crate::{exit, input};

#[derive(Debug, Subcommand)]
pub enum AppsetCommand {
    /// Print the Applications an ApplicationSet generates, as `argocd appset generate`.
    Generate(GenerateArgs),
    /// ApplicationSets on the server, as `argocd appset list`.
    #[command(alias = "ls")]
    List(crate::argocd_cli::AppsetListArgs),
    /// One ApplicationSet on the server, as `argocd appset get`.
    Get(crate::argocd_cli::AppsetGetArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Output {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Files with the ApplicationSet(s) and any Argo CD cluster Secrets (repeatable).
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<String>,
    /// A git generator repository as a local directory: `REPO_URL=PATH` (repeatable).
    #[arg(long = "repo", value_name = "URL=PATH")]
    pub repos: Vec<String>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "yaml")]
    pub output: Output,
}

/// At most this many directory entries are listed per repository.
const MAX_TREE_ENTRIES: usize = 200_000;

/// A repository's tree: (directories, files).
type Tree = (Vec<String>, Vec<String>);

/// Local directories standing in for repositories. Each tree is walked once (a matrix
/// calls its git generator once per parameter set of the first child).
struct LocalRepos {
    mapped: BTreeMap<String, PathBuf>,
    walked: RefCell<BTreeMap<String, Rc<Tree>>>,
}

impl LocalRepos {
    fn root(&self, url: &str) -> Result<PathBuf, RepoError> {
        if let Some(p) = self.mapped.get(url) {
            return Ok(p.clone());
        }
        let local = url.strip_prefix("file://").unwrap_or(url);
        if url.starts_with("file://") || local.starts_with('/') || local.starts_with('.') {
            return Ok(PathBuf::from(local));
        }
        Err(RepoError(format!(
            "no local directory for this repository: give --repo {url}=PATH"
        )))
    }

    /// (directories, files) under the root, relative and `/`-separated, in lexical walk
    /// order; symlinks and special files are left out.
    fn tree(&self, url: &str) -> Result<Rc<Tree>, RepoError> {
        if let Some(t) = self.walked.borrow().get(url) {
            return Ok(t.clone());
        }
        let t = Rc::new(self.walk(url)?);
        self.walked.borrow_mut().insert(url.to_owned(), t.clone());
        Ok(t)
    }

    fn walk(&self, url: &str) -> Result<Tree, RepoError> {
        let root = self.root(url)?;
        let meta =
            fs::metadata(&root).map_err(|e| RepoError(format!("{}: {e}", root.display())))?;
        if !meta.is_dir() {
            return Err(RepoError(format!("{}: not a directory", root.display())));
        }
        let (mut dirs, mut files) = (Vec::new(), Vec::new());
        // Depth-first in lexical order, as filepath.WalkDir, with an explicit stack.
        let mut stack: Vec<String> = vec![String::new()];
        let mut seen = 0usize;
        while let Some(rel) = stack.pop() {
            let abs = if rel.is_empty() {
                root.clone()
            } else {
                root.join(&rel)
            };
            let mut entries: Vec<(String, fs::Metadata)> = Vec::new();
            for e in fs::read_dir(&abs).map_err(|e| RepoError(format!("{}: {e}", abs.display())))? {
                let e = e.map_err(|e| RepoError(format!("{}: {e}", abs.display())))?;
                seen += 1;
                if seen > MAX_TREE_ENTRIES {
                    return Err(RepoError(format!(
                        "{}: more than {MAX_TREE_ENTRIES} entries",
                        root.display()
                    )));
                }
                let Ok(name) = e.file_name().into_string() else {
                    continue;
                };
                let Ok(m) = e.metadata() else { continue };
                entries.push((name, m));
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut subdirs = Vec::new();
            for (name, m) in entries {
                let child = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                if m.is_dir() {
                    if name == ".git" {
                        continue;
                    }
                    dirs.push(child.clone());
                    subdirs.push(child);
                } else if m.is_file() {
                    files.push(child);
                }
            }
            for d in subdirs.into_iter().rev() {
                stack.push(d);
            }
        }
        // WalkDir lists a directory before what is in it, in lexical order overall.
        dirs.sort_by(|a, b| walk_order(a, b));
        files.sort();
        Ok((dirs, files))
    }
}

/// filepath.WalkDir's order: path elements compared one by one.
fn walk_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

/// A git repository's directory: a work tree (`.git`) or a bare repository.
fn is_git_repository(dir: &std::path::Path) -> bool {
    dir.join(".git").exists() || (dir.join("HEAD").is_file() && dir.join("objects").is_dir())
}

/// Local directories, through gix at the revision when they are git repositories.
struct OfflineRepos {
    local: LocalRepos,
    git: Option<sluice_git::GitRepos>,
    /// The repoURLs read through `git`, decided once each.
    kind: RefCell<BTreeMap<String, bool>>,
}

impl OfflineRepos {
    fn git_for(&self, url: &str) -> Option<&sluice_git::GitRepos> {
        let git = self.git.as_ref()?;
        if let Some(k) = self.kind.borrow().get(url) {
            return k.then_some(git);
        }
        let is_git = self.local.root(url).is_ok_and(|p| is_git_repository(&p));
        self.kind.borrow_mut().insert(url.to_owned(), is_git);
        is_git.then_some(git)
    }
}

impl Repos for OfflineRepos {
    fn directories(&self, url: &str, revision: &str) -> Result<Vec<String>, RepoError> {
        match self.git_for(url) {
            Some(g) => g.directories(url, revision),
            None => self.local.directories(url, revision),
        }
    }
    fn files(&self, url: &str, revision: &str) -> Result<Vec<String>, RepoError> {
        match self.git_for(url) {
            Some(g) => g.files(url, revision),
            None => self.local.files(url, revision),
        }
    }
    fn read(&self, url: &str, revision: &str, path: &str) -> Result<Vec<u8>, RepoError> {
        match self.git_for(url) {
            Some(g) => g.read(url, revision, path),
            None => self.local.read(url, revision, path),
        }
    }
}

/// The temporary mirror cache of one `appset generate`, removed when dropped.
struct TempCache(PathBuf);

impl Drop for TempCache {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

impl Repos for LocalRepos {
    fn directories(&self, url: &str, _revision: &str) -> Result<Vec<String>, RepoError> {
        Ok(self.tree(url)?.0.clone())
    }
    fn files(&self, url: &str, _revision: &str) -> Result<Vec<String>, RepoError> {
        Ok(self.tree(url)?.1.clone())
    }
    fn read(&self, url: &str, _revision: &str, path: &str) -> Result<Vec<u8>, RepoError> {
        let root = self.root(url)?;
        if path.split('/').any(|s| s == ".." || s.is_empty()) {
            return Err(RepoError(format!(
                "{path}: not a path inside the repository"
            )));
        }
        let abs = root.join(path);
        let m = fs::symlink_metadata(&abs).map_err(|e| RepoError(format!("{path}: {e}")))?;
        if !m.is_file() {
            return Err(RepoError(format!("{path}: not a regular file")));
        }
        if m.size() > MAX_FILE_BYTES {
            return Err(RepoError(format!("{path}: larger than the input limit")));
        }
        let f = fs::File::open(&abs).map_err(|e| RepoError(format!("{path}: {e}")))?;
        sluice_kustomize::fs::read_capped(f, MAX_FILE_BYTES, Some(m.size()))
            .map_err(|e| RepoError(format!("{path}: {e}")))
    }
}

pub fn run(cmd: &AppsetCommand) -> Result<u8> {
    let args = match cmd {
        AppsetCommand::Generate(args) => args,
        AppsetCommand::List(a) => return crate::argocd_cli::appset_list(a),
        AppsetCommand::Get(a) => return crate::argocd_cli::appset_get(a),
    };
    let mut mapped = BTreeMap::new();
    for r in &args.repos {
        let Some((url, path)) = r.rsplit_once('=') else {
            bail!("--repo {r:?}: expected URL=PATH");
        };
        mapped.insert(url.to_owned(), PathBuf::from(path));
    }
    let cache_dir = std::env::temp_dir().join(format!(
        "sluice-appset-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let _cleanup = TempCache(cache_dir.clone());
    let mut git = sluice_git::RepoCache::new(sluice_git::CacheOptions::new(&cache_dir))
        .ok()
        .map(|c| sluice_git::GitRepos::new(std::sync::Arc::new(c)));
    let local = LocalRepos {
        mapped,
        walked: RefCell::default(),
    };
    if let Some(g) = git.take() {
        let mut g = g;
        for (url, path) in &local.mapped {
            if is_git_repository(path) {
                let abs = fs::canonicalize(path).unwrap_or_else(|_| path.clone());
                g = g.with_url(url, &abs.display().to_string());
            }
        }
        git = Some(g);
    }
    let repos = OfflineRepos {
        local,
        git,
        kind: RefCell::default(),
    };
    let mut loaded = Vec::new();
    for f in &args.files {
        let text = if f == "-" {
            input::read_text("-", std::io::stdin().lock(), None)?
        } else {
            input::read_named(f)?
        };
        let lf = sluice_core::object::load_objects(f, &text, &Default::default())
            .map_err(|e| anyhow::anyhow!("{f}:{}", e))
            .with_context(|| format!("{f}: cannot load"))?;
        for p in &lf.problems {
            eprintln!("{f}:{p}: skipped");
        }
        loaded.extend(lf.objects);
    }
    let objects: Vec<Value> = loaded.iter().map(|o| o.object.value().clone()).collect();
    let inputs = sluice_gitops::Inputs {
        objects: &objects,
        repos: &repos,
    };
    let appsets: Vec<_> = loaded
        .iter()
        .filter(|o| o.object.gvk().group == "argoproj.io" && o.object.kind() == "ApplicationSet")
        .collect();
    if appsets.is_empty() {
        eprintln!("error: no ApplicationSet in {}", args.files.join(", "));
        return Ok(exit::USAGE);
    }
    let mut apps = Vec::new();
    let mut failed = false;
    for a in appsets {
        match sluice_gitops::generate(a.object.value(), &inputs) {
            Ok(list) => apps.extend(list),
            Err(errs) => {
                failed = true;
                for e in errs {
                    let pos = a.locate(&FieldPath::parse(&e.path));
                    eprintln!(
                        "{}:{}:{}: error: ApplicationSet/{}: {}: {}",
                        a.source.file,
                        pos.line,
                        pos.col,
                        a.object.name(),
                        e.path,
                        e.message
                    );
                }
            }
        }
    }
    if failed {
        return Ok(exit::FINDINGS);
    }
    let printed: Vec<Value> = apps.iter().map(printable).collect();
    let text = match args.output {
        // sigs.k8s.io/yaml Marshal (JSON, then go-yaml v2), as kustomize prints.
        Output::Yaml => match printed.len() {
            1 => sluice_kustomize::emit::to_yaml(&printed[0]),
            _ => sluice_kustomize::emit::to_yaml(&Value::Array(printed)),
        },
        Output::Json => {
            let list = serde_json::json!({
                "apiVersion": "v1",
                "items": printed,
                "kind": "List",
                "metadata": {"resourceVersion": ""},
            });
            let mut s = serde_json::to_string_pretty(&list)?;
            s.push('\n');
            s
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(exit::OK)
}

/// What `argocd appset generate` prints of an Application (`omitFields`): no status, no
/// creationTimestamp, no namespace; keys sorted.
fn printable(app: &Value) -> Value {
    let mut v = app.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
        if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("creationTimestamp");
            meta.remove("namespace");
        }
    }
    sort_keys(&v)
}
