//! `helmCharts` and `helmGlobals` under `--enable-helm`: kustomize's
//! HelmChartInflationGenerator (kubernetes-sigs/kustomize
//! `api/internal/builtins/HelmChartInflationGenerator.go`, `api/types/helmchartargs.go`),
//! with the chart rendered in process by sluice-helm instead of a `helm template`
//! subprocess.
//!
//! What kustomize does, and so what this does:
//! - the chart is `{chartHome}/{name}` (chartHome defaults to `charts`, relative to the
//!   kustomization; with both `version` and `repo`, `{chartHome}/{name}-{version}/{name}`);
//! - `valuesFile` (default `{chart}/values.yaml`) is the values passed to Helm (`-f`);
//!   `valuesInline` is merged into it by `valuesMerge` (`override`, the default: inline wins;
//!   `merge`: the file wins; `replace`: inline alone), with kyaml's `merge2` (maps merge, a
//!   `null` deletes, lists are replaced); `additionalValuesFiles` follow as further `-f`;
//! - `releaseName` (or `--generate-name`), `namespace`, `includeCRDs`, `skipHooks`
//!   (`--no-hooks`), `skipTests`, `apiVersions`, `kubeVersion` as the `helm template` flags;
//! - the deprecated `helmChartInflationGenerator` entries are appended to `helmCharts`
//!   (`types.SplitHelmParameters` in `FixKustomization`).
//!
//! A chart that is not in the chart home is pulled by kustomize with `helm pull`; Sluice
//! reaches no network while building, so that is an error naming the path to put it at.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::Error;
use crate::fs::FileSystem;

/// `types.HelmDefaultHome`.
pub const DEFAULT_CHART_HOME: &str = "charts";

struct ChartFs<'a>(&'a dyn FileSystem);

impl sluice_helm::FileSystem for ChartFs<'_> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.0.read(path)
    }
    fn list(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
        self.0.list(path)
    }
    fn is_dir(&self, path: &Path) -> bool {
        self.0.is_dir(path)
    }
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn bool_of(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

fn strings_of(v: &Value, k: &str) -> Vec<String> {
    sluice_core::json::string_list(v.get(k))
}

/// The charts a kustomization inflates: `helmCharts`, then the deprecated
/// `helmChartInflationGenerator` entries; and the globals (`helmGlobals`, else the last
/// non-empty `chartHome`/`helmHome` of the deprecated entries).
fn charts_and_globals(k: &Map<String, Value>) -> (Vec<Value>, Value) {
    let mut charts: Vec<Value> = match k.get("helmCharts") {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    let mut globals = k.get("helmGlobals").cloned().unwrap_or(Value::Null);
    if let Some(Value::Array(old)) = k.get("helmChartInflationGenerator") {
        let mut g = Map::new();
        for o in old {
            let mut c = Map::new();
            for (from, to) in [
                ("chartName", "name"),
                ("chartVersion", "version"),
                ("chartRepoUrl", "repo"),
                ("values", "valuesFile"),
                ("valuesLocal", "valuesInline"),
                ("valuesMerge", "valuesMerge"),
                ("releaseName", "releaseName"),
            ] {
                if let Some(v) = o.get(from) {
                    c.insert(to.into(), v.clone());
                }
            }
            charts.push(Value::Object(c));
            if !str_of(o, "helmHome").is_empty() {
                g.insert("configHome".into(), o["helmHome"].clone());
            }
            if !str_of(o, "chartHome").is_empty() {
                g.insert("chartHome".into(), o["chartHome"].clone());
            }
        }
        if globals.is_null() {
            globals = Value::Object(g);
        }
    }
    (charts, globals)
}

/// Whether a kustomization asks for Helm.
pub fn wants_helm(k: &Map<String, Value>) -> bool {
    !charts_and_globals(k).0.is_empty()
}

/// kyaml `merge2.Merge(src, dest)`: `src` merged into `dest` (maps recursively, a `null`
/// in `src` clears the field, anything else replaces).
pub fn merge2(dest: &mut Map<String, Value>, src: &Map<String, Value>) {
    for (k, v) in src {
        match (dest.get_mut(k), v) {
            (_, Value::Null) => {
                dest.remove(k);
            }
            (Some(Value::Object(d)), Value::Object(s)) => merge2(d, s),
            _ => {
                let mut v = v.clone();
                if let Value::Object(m) = &mut v {
                    strip_nulls(m);
                }
                dest.insert(k.clone(), v);
            }
        }
    }
}

fn strip_nulls(m: &mut Map<String, Value>) {
    m.retain(|_, v| !v.is_null());
    for v in m.values_mut() {
        if let Value::Object(inner) = v {
            strip_nulls(inner);
        }
    }
}

/// A values file as Helm reads it (`chartutil.ReadValues`: an empty file is no values, a
/// document that is not a mapping is an error).
fn read_values(fs: &dyn FileSystem, path: &Path) -> Result<Map<String, Value>, Error> {
    let bytes = fs.read(path).map_err(|e| Error::Read {
        path: path.to_path_buf(),
        source: e,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| Error::NotText(path.to_path_buf()))?;
    let docs = sluice_core::yaml::load_documents_with(
        &text,
        &sluice_core::yaml::Options {
            last_key_wins: true,
            ..Default::default()
        },
    )
    .map_err(|e| Error::Yaml {
        path: path.to_path_buf(),
        source: e,
    })?;
    match docs.into_iter().next().map(|d| d.value) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(Error::Invalid {
            path: path.to_path_buf(),
            message: "values must be a YAML mapping".into(),
        }),
    }
}

fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// The loader's root restriction: `path` (resolved) must be in or below `root`.
fn restricted(
    fs: &dyn FileSystem,
    root: &Path,
    path: &Path,
    restrict: bool,
) -> Result<PathBuf, Error> {
    let p = clean(path);
    if !restrict {
        return Ok(p);
    }
    let real = fs.canonicalize(&p).unwrap_or_else(|_| p.clone());
    if real.starts_with(root) {
        Ok(p)
    } else {
        Err(Error::Restricted {
            file: real,
            root: root.to_path_buf(),
        })
    }
}

/// Whether a hook manifest is a test hook (`helm.sh/hook: test`, Helm's `isTestHook`;
/// `test-success` is the Helm 2 spelling of the same event).
fn is_test_hook(obj: &Map<String, Value>) -> bool {
    obj.get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get("helm.sh/hook"))
        .and_then(Value::as_str)
        .is_some_and(|h| {
            h.split(',')
                .any(|e| matches!(e.trim(), "test" | "test-success"))
        })
}

/// One chart inflated: the text `helm template` prints, and where it came from (for
/// errors).
pub struct Inflated {
    pub text: String,
    pub source: PathBuf,
    /// Drop objects that are test hooks (`skipTests`).
    pub skip_tests: bool,
}

impl Inflated {
    /// Whether an object parsed from [`Inflated::text`] stays.
    pub fn keeps(&self, obj: &Map<String, Value>) -> bool {
        !(self.skip_tests && is_test_hook(obj))
    }
}

/// Renders every chart of the kustomization in `dir` (its root for load restrictions).
pub fn inflate(
    fs: &dyn FileSystem,
    dir: &Path,
    k: &Map<String, Value>,
    restrict: bool,
) -> Result<Vec<Inflated>, Error> {
    let (charts, globals) = charts_and_globals(k);
    let mut out = Vec::new();
    for chart in &charts {
        out.push(inflate_one(fs, dir, chart, &globals, restrict)?);
    }
    Ok(out)
}

fn inflate_one(
    fs: &dyn FileSystem,
    dir: &Path,
    c: &Value,
    globals: &Value,
    restrict: bool,
) -> Result<Inflated, Error> {
    let fail = |m: String| Error::other(format!("HelmChartInflationGenerator: {m}"));
    let name = str_of(c, "name");
    if name.is_empty() {
        return Err(fail("chart name cannot be empty".into()));
    }
    let home = match str_of(globals, "chartHome") {
        "" => DEFAULT_CHART_HOME,
        h => h,
    };
    let mut abs_home = if Path::new(home).is_absolute() {
        PathBuf::from(home)
    } else {
        dir.join(home)
    };
    let (version, repo) = (str_of(c, "version"), str_of(c, "repo"));
    if !version.is_empty() && !repo.is_empty() {
        abs_home = abs_home.join(format!("{name}-{version}"));
    }
    let chart_dir = clean(&abs_home.join(name));
    if !fs.is_dir(&chart_dir) {
        if repo.is_empty() {
            // chartExistsLocally returns "" as the path when the chart is missing
            return Err(fail(
                "no repo specified for pull, no chart found at ''".into(),
            ));
        }
        return Err(Error::Unsupported {
            what: "pulling Helm charts from a repository".into(),
            detail: format!(
                "chart {name:?} (repo {repo}{}) is not in the chart home: put it at {} \
                 (e.g. `helm pull --untar --untardir {} {}{name}{}`)",
                if version.is_empty() {
                    String::new()
                } else {
                    format!(", version {version}")
                },
                chart_dir.display(),
                abs_home.display(),
                if repo.starts_with("oci://") {
                    format!("{}/", repo.trim_end_matches('/'))
                } else {
                    format!("--repo {repo} ")
                },
                if version.is_empty() {
                    String::new()
                } else {
                    format!(" --version {version}")
                },
            ),
        });
    }
    let merge = match str_of(c, "valuesMerge") {
        "" => "override",
        m @ ("merge" | "override" | "replace") => m,
        _ => {
            return Err(fail(
                "valuesMerge must be one of [merge override replace]".into(),
            ));
        }
    };
    let values_file = match str_of(c, "valuesFile") {
        "" => chart_dir.join("values.yaml"),
        f if Path::new(f).is_absolute() => PathBuf::from(f),
        f => dir.join(f),
    };
    let mut extra = Vec::new();
    for f in strings_of(c, "additionalValuesFiles") {
        let p = restricted(fs, dir, &dir.join(&f), restrict)
            .map_err(|e| fail(format!("could not load additionalValuesFile: {e}")))?;
        if !fs.exists(&p) {
            return Err(fail(format!(
                "could not load additionalValuesFile: {}: no such file or directory",
                p.display()
            )));
        }
        extra.push(p);
    }
    let values_file = restricted(fs, dir, &values_file, restrict)?;
    let inline = match c.get("valuesInline") {
        Some(Value::Object(m)) if !m.is_empty() => Some(m),
        _ => None,
    };
    let mut user = match (inline, merge) {
        (Some(i), "replace") => i.clone(),
        (Some(i), "override") => {
            let mut v = read_values(fs, &values_file)?;
            merge2(&mut v, i);
            v
        }
        (Some(i), _) => {
            let file = read_values(fs, &values_file)?;
            let mut v = i.clone();
            merge2(&mut v, &file);
            v
        }
        (None, _) => read_values(fs, &values_file)?,
    };
    for p in &extra {
        sluice_helm::values::merge_maps(&mut user, read_values(fs, p)?);
    }
    let mut apis: Vec<String> = sluice_helm::render::DEFAULT_API_VERSIONS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    apis.extend(strings_of(c, "apiVersions"));
    let capabilities = match str_of(c, "kubeVersion") {
        "" => sluice_helm::Capabilities {
            api_versions: apis,
            ..sluice_helm::Capabilities::default()
        },
        v => sluice_helm::Capabilities::with_version(v, apis)
            .map_err(|e| fail(format!("invalid kubeVersion {v:?}: {e}")))?,
    };
    let release_name = match str_of(c, "releaseName") {
        // `--generate-name`: `{chart name}-{unix seconds}` (helm `action.Install.NameAndChart`)
        "" => format!(
            "{}-{}",
            name.rsplit('/').next().unwrap_or(name),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        ),
        r => r.to_owned(),
    };
    let opts = sluice_helm::RenderOptions {
        release_name,
        namespace: match str_of(c, "namespace") {
            "" => "default".to_owned(),
            n => n.to_owned(),
        },
        capabilities,
        include_crds: bool_of(c, "includeCRDs"),
        skip_crds: false,
        no_hooks: bool_of(c, "skipHooks"),
        skip_schema_validation: false,
    };
    let cfs = ChartFs(fs);
    let text = sluice_helm::load_chart(&cfs, &chart_dir)
        .and_then(|ch| sluice_helm::render(&ch, &user, &opts))
        .map_err(|e| fail(format!("chart {}: {e}", chart_dir.display())))?;
    Ok(Inflated {
        text,
        source: chart_dir,
        skip_tests: bool_of(c, "skipTests"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // kyaml merge2 as HelmChartInflationGenerator.replaceValuesInline calls it
    #[test]
    fn merge2_semantics() {
        let mut dest = json!({"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": 1})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let src = json!({"a": {"c": [3], "n": null}, "d": null, "f": {"g": null, "h": 2}});
        merge2(&mut dest, src.as_object().unwrap_or(&Map::new()));
        assert_eq!(
            Value::Object(dest),
            json!({"a": {"b": 1, "c": [3]}, "e": 1, "f": {"h": 2}})
        );
    }

    #[test]
    fn legacy_entries_are_appended() {
        let k = json!({
            "helmCharts": [{"name": "a"}],
            "helmChartInflationGenerator": [{"chartName": "b", "chartHome": "home", "releaseNamespace": "x"}]
        });
        let (charts, globals) = charts_and_globals(k.as_object().unwrap_or(&Map::new()));
        assert_eq!(charts.len(), 2);
        assert_eq!(charts[1]["name"], "b");
        assert_eq!(globals["chartHome"], "home");
    }
}
