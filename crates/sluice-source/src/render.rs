//! One Application's sources rendered into objects (Argo CD's repo-server
//! `GenerateManifests`: the source type from its fields, else discovered from the files:
//! a kustomization means kustomize, `Chart.yaml` Helm, anything else a directory).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::fs::TreeFs;
use crate::{Error, SourceTree, Sources, kustomize_edit};

const KUSTOMIZATION_FILES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// What rendering needs besides the source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RenderOptions {
    /// The Application's name (Helm's default release name).
    pub app_name: String,
    /// `spec.destination.namespace` (Helm's release namespace).
    pub dest_namespace: String,
    /// argocd-cm `kustomize.buildOptions` holds `--load-restrictor LoadRestrictionsNone`.
    pub kustomize_load_restrictor_none: bool,
    /// argocd-cm `kustomize.buildOptions` holds `--enable-helm`: inflate `helmCharts`.
    pub kustomize_enable_helm: bool,
}

/// The objects of an Application and the revision of each source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderedApp {
    pub objects: Vec<Value>,
    pub revisions: Vec<String>,
}

/// The sources of an Application spec: `spec.sources` when given, else `spec.source`,
/// each with its field path.
pub fn app_sources(spec: &Value) -> Result<Vec<(String, Value)>, Error> {
    if let Some(list) = spec.get("sources").and_then(Value::as_array)
        && !list.is_empty()
    {
        return Ok(list
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("spec.sources[{i}]"), s.clone()))
            .collect());
    }
    match spec.get("source") {
        Some(s) if s.is_object() => Ok(vec![("spec.source".into(), s.clone())]),
        _ => Err(Error::Spec {
            path: "spec.source".into(),
            message: "an Application needs spec.source or spec.sources".into(),
        }),
    }
}

fn str_field<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Renders every source of `spec` (resolving repositories through `sources`), through
/// `cache` when given.
pub fn render_app(
    spec: &Value,
    sources: &dyn Sources,
    opts: &RenderOptions,
    cache: Option<&crate::cache::RenderCache>,
) -> Result<RenderedApp, Error> {
    let list = app_sources(spec)?;
    // resolve every repository once; `ref` sources are named trees for `$ref/` value files
    let mut resolved = Vec::new();
    let mut refs: HashMap<String, Arc<dyn SourceTree>> = HashMap::new();
    let mut charts: Vec<Option<Arc<sluice_helm::Chart>>> = Vec::new();
    for (path, s) in &list {
        let repo = str_field(s, "repoURL");
        if repo.is_empty() {
            return Err(Error::Spec {
                path: format!("{path}.repoURL"),
                message: "required".into(),
            });
        }
        let rev = match str_field(s, "targetRevision") {
            "" => "HEAD",
            r => r,
        };
        let chart_name = str_field(s, "chart");
        if !chart_name.is_empty() {
            let rev = str_field(s, "targetRevision");
            let f = sources.chart(repo, chart_name, rev).map_err(|e| {
                Error::Repo(format!("{path}: {repo} chart {chart_name} {rev}: {e}"))
            })?;
            let chart = sluice_helm::chart::load_archive(&f.archive, 0).map_err(|e| {
                Error::Render(format!(
                    "{path}: {repo} chart {chart_name} {}: {e}",
                    f.version
                ))
            })?;
            charts.push(Some(Arc::new(chart)));
            resolved.push(crate::Resolved {
                revision: f.version,
                tree: Arc::new(crate::dir::EmptyTree),
            });
            continue;
        }
        charts.push(None);
        let r = sources
            .resolve(repo, rev)
            .map_err(|e| Error::Repo(format!("{path}: {repo} at {rev}: {e}")))?;
        let name = str_field(s, "ref");
        if !name.is_empty() {
            refs.insert(name.to_string(), r.tree.clone());
        }
        resolved.push(r);
    }
    let mut out = RenderedApp::default();
    for (((path, s), r), loaded) in list.iter().zip(&resolved).zip(&charts) {
        out.revisions.push(r.revision.clone());
        // a source with only `ref` (no path, no chart) contributes no manifests
        if !str_field(s, "ref").is_empty() && s.get("path").is_none() && s.get("chart").is_none() {
            continue;
        }
        let key = cache.map(|_| {
            crate::cache::Key::new(str_field(s, "repoURL"), &r.revision, s, opts, &resolved)
        });
        if let (Some(c), Some(k)) = (cache, &key)
            && let Some(objs) = c.get(k)
        {
            out.objects.extend(objs.iter().cloned());
            continue;
        }
        let objs = match loaded {
            Some(c) => render_helm(&r.tree, s, path, "", Some(c), &refs, opts)?,
            None => render_source(&r.tree, s, path, &refs, opts)?,
        };
        if let (Some(c), Some(k)) = (cache, key) {
            c.put(k, Arc::new(objs.clone()));
        }
        out.objects.extend(objs);
    }
    Ok(out)
}

/// `source.path` as a clean tree path; `..` leading out of the repository is refused.
pub fn clean_path(p: &str, field: &str) -> Result<String, Error> {
    if p.starts_with('/') {
        return Err(Error::Spec {
            path: field.into(),
            message: format!("{p:?}: the path must be relative to the repository root"),
        });
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(Error::Spec {
                        path: field.into(),
                        message: format!("{p:?}: the path leads outside the repository"),
                    });
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Renders one source.
pub fn render_source(
    tree: &Arc<dyn SourceTree>,
    source: &Value,
    field: &str,
    refs: &HashMap<String, Arc<dyn SourceTree>>,
    opts: &RenderOptions,
) -> Result<Vec<Value>, Error> {
    if source.get("chart").is_some_and(|c| !c.is_null()) {
        return Err(Error::Render(format!(
            "{field}.chart: a Helm repository chart is rendered by render_app (it needs the repository)"
        )));
    }
    if source.get("plugin").is_some_and(|c| !c.is_null()) {
        return Err(Error::Render(format!(
            "{field}.plugin: config management plugins are not supported"
        )));
    }
    let path = clean_path(str_field(source, "path"), &format!("{field}.path"))?;
    if !tree.is_dir(&path) {
        return Err(Error::Render(format!(
            "{field}.path: {:?}: app path does not exist",
            str_field(source, "path")
        )));
    }
    let has = |f: &str| source.get(f).is_some_and(|v| !v.is_null());
    let kust_file = KUSTOMIZATION_FILES
        .iter()
        .map(|f| join(&path, f))
        .find(|f| tree.read(f).is_some());
    let chart = tree.read(&join(&path, "Chart.yaml")).is_some();
    if has("helm") || (!has("kustomize") && !has("directory") && kust_file.is_none() && chart) {
        return render_helm(tree, source, field, &path, None, refs, opts);
    }
    if has("kustomize") || (!has("directory") && kust_file.is_some()) {
        return render_kustomize(tree, source, field, &path, kust_file, opts);
    }
    render_directory(tree.as_ref(), source, field, &path)
}

fn parse_objects(file: &str, text: &str) -> Result<Vec<Value>, Error> {
    let loaded = sluice_core::object::load_objects(file, text, &sluice_core::Limits::default())
        .map_err(|e| Error::Render(format!("{file}:{e}")))?;
    if let Some(p) = loaded.problems.first() {
        return Err(Error::Render(format!("{file}:{}: {}", p.pos, p.message)));
    }
    Ok(loaded
        .objects
        .into_iter()
        .map(|o| o.object.into_value())
        .collect())
}

fn render_directory(
    tree: &dyn SourceTree,
    source: &Value,
    field: &str,
    path: &str,
) -> Result<Vec<Value>, Error> {
    let d = source.get("directory").cloned().unwrap_or(Value::Null);
    if d.get("jsonnet")
        .is_some_and(|j| j.as_object().is_some_and(|m| !m.is_empty()))
    {
        return Err(Error::Render(format!(
            "{field}.directory.jsonnet: Jsonnet is not supported"
        )));
    }
    let recurse = d.get("recurse").and_then(Value::as_bool).unwrap_or(false);
    let include = str_field(&d, "include").to_string();
    let exclude = str_field(&d, "exclude").to_string();
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    let mut files = Vec::new();
    while let Some(rel) = stack.pop() {
        let full = join(path, &rel);
        let mut subdirs = Vec::new();
        for e in tree.list_dir(&full).unwrap_or_default() {
            let r = join(&rel, &e.name);
            if e.is_dir {
                if recurse && e.name != ".git" {
                    subdirs.push(r);
                }
                continue;
            }
            let ext = e.name.rsplit_once('.').map(|(_, x)| x).unwrap_or("");
            if !matches!(ext, "yaml" | "yml" | "json" | "jsonnet") {
                continue;
            }
            if !exclude.is_empty() && glob_match(&exclude, &r) {
                continue;
            }
            if !include.is_empty() && !glob_match(&include, &r) {
                continue;
            }
            files.push(r);
        }
        // walk order: lexical, directories depth-first as filepath.Walk
        for s in subdirs.into_iter().rev() {
            stack.push(s);
        }
    }
    files.sort();
    for r in files {
        let full = join(path, &r);
        if r.ends_with(".jsonnet") {
            return Err(Error::Render(format!(
                "{full}: Jsonnet is not supported (exclude it with {field}.directory.exclude)"
            )));
        }
        let bytes = tree
            .read(&full)
            .ok_or_else(|| Error::Render(format!("{full}: cannot be read")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::Render(format!("{full}: not UTF-8 text")))?;
        out.extend(parse_objects(&full, &text)?);
    }
    Ok(out)
}

/// Argo CD's `glob.Match` (gobwas/glob without separators: `*` also matches `/`), with `?`
/// and `{a,b}` alternatives.
pub fn glob_match(pattern: &str, s: &str) -> bool {
    if let Some(open) = pattern.find('{')
        && let Some(close_rel) = pattern[open..].find('}')
    {
        let close = open + close_rel;
        let (pre, alts, post) = (
            &pattern[..open],
            &pattern[open + 1..close],
            &pattern[close + 1..],
        );
        return alts
            .split(',')
            .any(|a| glob_match(&format!("{pre}{a}{post}"), s));
    }
    fn m(p: &[char], s: &[char]) -> bool {
        let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
        while si < s.len() {
            if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
                pi += 1;
                si += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some(pi);
                mark = si;
                pi += 1;
            } else if let Some(st) = star {
                pi = st + 1;
                mark += 1;
                si = mark;
            } else {
                return false;
            }
        }
        while pi < p.len() && p[pi] == '*' {
            pi += 1;
        }
        pi == p.len()
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    m(&p, &s)
}

fn render_kustomize(
    tree: &Arc<dyn SourceTree>,
    source: &Value,
    field: &str,
    path: &str,
    kust_file: Option<String>,
    opts: &RenderOptions,
) -> Result<Vec<Value>, Error> {
    let mut fs = TreeFs::new(tree.clone());
    let k = source.get("kustomize").cloned().unwrap_or(Value::Null);
    if kustomize_edit::has_edits(&k) {
        let Some(file) = kust_file else {
            return Err(Error::Render(format!(
                "{field}.path: no kustomization file in {path:?} to apply {field}.kustomize to"
            )));
        };
        let bytes = tree.read(&file).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let mut kust = match sluice_core::yaml::load_documents(&text, &Default::default()) {
            Ok(d) => d.into_iter().next().map(|d| d.value).unwrap_or(Value::Null),
            Err(e) => return Err(Error::Render(format!("{file}:{e}"))),
        };
        kustomize_edit::apply(&mut kust, &k, &format!("{field}.kustomize"))?;
        let json = serde_json::to_vec(&kust).map_err(|e| Error::Render(e.to_string()))?;
        fs.replace(&file, json);
    }
    let options = sluice_kustomize::Options {
        load_restrictor: if opts.kustomize_load_restrictor_none {
            sluice_kustomize::LoadRestrictor::None
        } else {
            sluice_kustomize::LoadRestrictor::RootOnly
        },
        helm: opts.kustomize_enable_helm,
    };
    let out = sluice_kustomize::build(&fs, &TreeFs::abs(path), &options)
        .map_err(|e| Error::Render(format!("kustomize build {path}: {e}")))?;
    parse_objects(&format!("kustomize build {path}"), &out.yaml)
}

fn render_helm(
    tree: &Arc<dyn SourceTree>,
    source: &Value,
    field: &str,
    path: &str,
    loaded: Option<&Arc<sluice_helm::Chart>>,
    refs: &HashMap<String, Arc<dyn SourceTree>>,
    opts: &RenderOptions,
) -> Result<Vec<Value>, Error> {
    use sluice_helm::strvals::{self, Mode};
    let h = source.get("helm").cloned().unwrap_or(Value::Null);
    let fs = TreeFs::new(tree.clone());
    let mut vals = sluice_helm::values::Values::new();
    for (i, vf) in h
        .get("valueFiles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let f = vf.as_str().unwrap_or("");
        let at = format!("{field}.helm.valueFiles[{i}]");
        let (t, p): (&Arc<dyn SourceTree>, String) = if let Some(rest) = f.strip_prefix('$') {
            let (name, p) = rest.split_once('/').unwrap_or((rest, ""));
            let Some(t) = refs.get(name) else {
                return Err(Error::Spec {
                    path: at,
                    message: format!("{f:?}: no source has ref {name:?}"),
                });
            };
            (t, clean_path(p, &at)?)
        } else if let Some(c) = loaded {
            // a repository chart's value files are files of the chart
            let p = clean_path(f, &at)?;
            let bytes = if p == "values.yaml" {
                Some(serde_json::to_vec(&c.values).unwrap_or_default())
            } else {
                c.files
                    .iter()
                    .find(|(n, _)| *n == p)
                    .map(|(_, b)| b.clone())
            };
            let Some(bytes) = bytes else {
                if h.get("ignoreMissingValueFiles").and_then(Value::as_bool) == Some(true) {
                    continue;
                }
                return Err(Error::Render(format!(
                    "{at}: {f:?}: no such file in the chart"
                )));
            };
            let v = yaml_value(&String::from_utf8_lossy(&bytes))
                .map_err(|e| Error::Render(format!("{p}:{e}")))?;
            if let Value::Object(m) = v {
                sluice_helm::values::merge_maps(&mut vals, m);
            }
            continue;
        } else {
            (tree, clean_path(&join(path, f), &at)?)
        };
        let ignore_missing = h
            .get("ignoreMissingValueFiles")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let Some(bytes) = t.read(&p) else {
            if ignore_missing {
                continue;
            }
            return Err(Error::Render(format!("{at}: {f:?}: no such file")));
        };
        let text = String::from_utf8_lossy(&bytes);
        let v = yaml_value(&text).map_err(|e| Error::Render(format!("{p}:{e}")))?;
        if let Value::Object(m) = v {
            sluice_helm::values::merge_maps(&mut vals, m);
        }
    }
    if let Some(s) = h.get("values").and_then(Value::as_str) {
        let v = yaml_value(s).map_err(|e| Error::Render(format!("{field}.helm.values:{e}")))?;
        if let Value::Object(m) = v {
            sluice_helm::values::merge_maps(&mut vals, m);
        }
    }
    if let Some(Value::Object(m)) = h.get("valuesObject") {
        sluice_helm::values::merge_maps(&mut vals, m.clone());
    }
    for (i, p) in h
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = str_field(p, "name");
        let value = str_field(p, "value");
        let mode = if p.get("forceString").and_then(Value::as_bool) == Some(true) {
            Mode::String
        } else {
            Mode::Typed
        };
        strvals::parse_into(&format!("{name}={value}"), &mut vals, mode).map_err(|e| {
            Error::Spec {
                path: format!("{field}.helm.parameters[{i}]"),
                message: e,
            }
        })?;
    }
    let release = match str_field(&h, "releaseName") {
        "" => opts.app_name.clone(),
        r => r.to_string(),
    };
    let ropts = sluice_helm::RenderOptions {
        release_name: release,
        namespace: if opts.dest_namespace.is_empty() {
            "default".into()
        } else {
            opts.dest_namespace.clone()
        },
        capabilities: sluice_helm::Capabilities::default(),
        include_crds: !h.get("skipCrds").and_then(Value::as_bool).unwrap_or(false),
        skip_crds: h.get("skipCrds").and_then(Value::as_bool).unwrap_or(false),
        no_hooks: false,
        skip_schema_validation: h
            .get("skipSchemaValidation")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    let (chart, what);
    let chart = match loaded {
        Some(c) => {
            what = format!(
                "helm template {} {}",
                str_field(source, "repoURL"),
                c.name()
            );
            c.as_ref()
        }
        None => {
            what = format!("helm template {path}");
            chart = sluice_helm::load_chart(&fs, Path::new(&TreeFs::abs(path)))
                .map_err(|e| Error::Render(format!("{what}: {e}")))?;
            &chart
        }
    };
    let text = sluice_helm::render(chart, &vals, &ropts)
        .map_err(|e| Error::Render(format!("{what}: {e}")))?;
    parse_objects(&what, &text)
}

fn yaml_value(text: &str) -> Result<Value, String> {
    sluice_core::yaml::load_documents(text, &Default::default())
        .map(|d| d.into_iter().next().map(|d| d.value).unwrap_or(Value::Null))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dir::DirTree;
    use serde_json::json;

    struct One(Arc<dyn SourceTree>);
    impl Sources for One {
        fn resolve(&self, repo: &str, rev: &str) -> Result<crate::Resolved, String> {
            if repo == "bad" {
                return Err("repository not found".into());
            }
            Ok(crate::Resolved {
                revision: format!("r-{rev}"),
                tree: self.0.clone(),
            })
        }
    }

    fn repo(name: &str, files: &[(&str, &str)]) -> (std::path::PathBuf, One) {
        let root = std::env::temp_dir().join(format!(
            "sluice-source-render-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        for (p, c) in files {
            let f = root.join(p);
            std::fs::create_dir_all(f.parent().expect("parent")).expect("mkdir");
            std::fs::write(f, c).expect("write");
        }
        let t: Arc<dyn SourceTree> = Arc::new(DirTree::new(&root).expect("tree"));
        (root, One(t))
    }

    fn names(objs: &[Value]) -> Vec<String> {
        objs.iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap_or(""),
                    o["metadata"]["name"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    const CM: &str =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: NAME\ndata:\n  a: \"1\"\n";

    // argo-cd reposerver/repository findManifests: recurse, include, exclude; yaml/yml/json
    #[test]
    fn directory_sources() {
        let (root, s) = repo(
            "dir",
            &[
                ("app/a.yaml", &CM.replace("NAME", "a")),
                (
                    "app/b.json",
                    r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}"#,
                ),
                ("app/notes.txt", "ignored"),
                ("app/sub/c.yml", &CM.replace("NAME", "c")),
                ("app/sub/skip.yaml", &CM.replace("NAME", "skip")),
            ],
        );
        let spec = json!({"source": {"repoURL": "file:///x", "path": "app"}});
        let r = render_app(&spec, &s, &RenderOptions::default(), None).expect("render");
        assert_eq!(names(&r.objects), vec!["ConfigMap/a", "ConfigMap/b"]);
        assert_eq!(r.revisions, vec!["r-HEAD"]);
        let spec = json!({"source": {"repoURL": "file:///x", "path": "app", "targetRevision": "main",
            "directory": {"recurse": true, "exclude": "{sub/skip.yaml,b.json}"}}});
        let r = render_app(&spec, &s, &RenderOptions::default(), None).expect("render");
        assert_eq!(names(&r.objects), vec!["ConfigMap/a", "ConfigMap/c"]);
        let spec = json!({"source": {"repoURL": "file:///x", "path": "app",
            "directory": {"recurse": true, "include": "*.yml"}}});
        let r = render_app(&spec, &s, &RenderOptions::default(), None).expect("render");
        assert_eq!(names(&r.objects), vec!["ConfigMap/c"]);
        // errors: outside the repository, missing path, bad repo, bad YAML with position
        let spec = json!({"source": {"repoURL": "file:///x", "path": "../.."}});
        let e = render_app(&spec, &s, &RenderOptions::default(), None).expect_err("refused");
        assert!(e.to_string().contains("outside the repository"), "{e}");
        let spec = json!({"source": {"repoURL": "bad", "path": "app"}});
        let e = render_app(&spec, &s, &RenderOptions::default(), None).expect_err("refused");
        assert!(matches!(e, Error::Repo(_)), "{e}");
        std::fs::write(root.join("app/a.yaml"), "kind: [\n").expect("write");
        let spec = json!({"source": {"repoURL": "file:///x", "path": "app"}});
        let e = render_app(&spec, &s, &RenderOptions::default(), None).expect_err("bad yaml");
        assert!(e.to_string().starts_with("app/a.yaml:"), "{e}");
        std::fs::write(root.join("app/x.jsonnet"), "{}").expect("write");
        std::fs::write(root.join("app/a.yaml"), CM).expect("write");
        let e = render_app(&spec, &s, &RenderOptions::default(), None).expect_err("jsonnet");
        assert!(e.to_string().contains("Jsonnet is not supported"), "{e}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn kustomize_source_with_overrides() {
        let (root, s) = repo(
            "kust",
            &[
                (
                    "base/kustomization.yaml",
                    "resources:\n- cm.yaml\n- deploy.yaml\n",
                ),
                ("base/cm.yaml", &CM.replace("NAME", "cfg")),
                (
                    "base/deploy.yaml",
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.0\n",
                ),
                (
                    "overlay/kustomization.yaml",
                    "resources:\n- ../base\nnamePrefix: dev-\n",
                ),
            ],
        );
        let spec = json!({"source": {"repoURL": "file:///x", "path": "overlay",
            "kustomize": {"images": ["nginx:2.0"], "replicas": [{"name": "dev-web", "count": 3}],
                          "commonLabels": {"team": "a"}, "namespace": "dev"}}});
        let r = render_app(&spec, &s, &RenderOptions::default(), None).expect("render");
        assert_eq!(
            names(&r.objects),
            vec!["ConfigMap/dev-cfg", "Deployment/dev-web"]
        );
        let d = &r.objects[1];
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:2.0"
        );
        assert_eq!(d["spec"]["replicas"], 3);
        assert_eq!(d["metadata"]["labels"]["team"], "a");
        assert_eq!(d["metadata"]["namespace"], "dev");
        // the default load restrictor: a file outside the kustomization root is refused
        std::fs::write(
            root.join("overlay/kustomization.yaml"),
            "resources:\n- ../base/cm.yaml\n",
        )
        .expect("write");
        let spec = json!({"source": {"repoURL": "file:///x", "path": "overlay"}});
        let e = render_app(&spec, &s, &RenderOptions::default(), None).expect_err("restricted");
        assert!(e.to_string().contains("kustomize build overlay"), "{e}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn helm_source_and_multiple_sources() {
        let (root, s) = repo(
            "helm",
            &[
                (
                    "chart/Chart.yaml",
                    "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
                ),
                ("chart/values.yaml", "greeting: hello\ncount: 1\n"),
                (
                    "chart/templates/cm.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  count: {{ .Values.count | quote }}\n  extra: {{ .Values.extra | default \"none\" | quote }}\n",
                ),
                ("values/prod.yaml", "greeting: prod\n"),
            ],
        );
        let spec = json!({"sources": [
            {"repoURL": "file:///x", "path": "chart", "helm": {
                "releaseName": "rel", "valueFiles": ["$vals/values/prod.yaml"],
                "values": "count: 2\n", "valuesObject": {"extra": "obj"},
                "parameters": [{"name": "count", "value": "3"}]}},
            {"repoURL": "file:///x", "ref": "vals"}
        ]});
        let r = render_app(&spec, &s, &RenderOptions::default(), None).expect("render");
        assert_eq!(names(&r.objects), vec!["ConfigMap/rel-cm"]);
        assert_eq!(
            r.objects[0]["data"],
            json!({"greeting": "prod", "count": "3", "extra": "obj"})
        );
        assert_eq!(r.revisions.len(), 2);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.yaml", "a/b.yaml"));
        assert!(glob_match("{a,b}.json", "b.json"));
        assert!(!glob_match("{a,b}.json", "c.json"));
        assert!(glob_match("?.y*", "a.yml"));
    }

    proptest::proptest! {
        #[test]
        fn paths_never_escape(p in "[./a-z]{0,24}") {
            if let Ok(c) = clean_path(&p, "f") {
                proptest::prop_assert!(!c.split('/').any(|x| x == ".."));
            }
        }
    }
}
