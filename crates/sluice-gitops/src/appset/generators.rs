//! The generators: list, clusters, git (directories, files), matrix, merge; and
//! `Transform` (argo-cd `applicationset/generators/generator_spec_processor.go`).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};
use sluice_core::selector::{Operator, Requirement, Selector};
use sluice_expr::appset::{self, Params, fasttemplate_params_of_element, normalize};

use super::params::{
    ParamSet, combine_string_maps, flatten, merge_template, mergo_merge, mergo_override,
    string_values,
};
use super::{GenerateError, Inputs, MAX_PARAM_SETS, Settings, TransformResult};
use crate::repo::{path_match, pathspec_match};

type Errs = Vec<GenerateError>;

/// The generator kinds in the order of upstream's `ApplicationSetGenerator` fields (the
/// order `GetRelevantGenerators` visits them).
const KINDS: &[&str] = &[
    "list",
    "clusters",
    "git",
    "scmProvider",
    "clusterDecisionResource",
    "pullRequest",
    "matrix",
    "merge",
    "plugin",
];

/// Generators that need a service Sluice does not have offline.
const NOT_OFFLINE: &[&str] = &[
    "scmProvider",
    "clusterDecisionResource",
    "pullRequest",
    "plugin",
];

/// The Argo CD cluster Secret label and the in-cluster defaults (`common`,
/// `KubernetesInternalAPIServerAddr`, `KubernetesInClusterName`).
const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";
const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";
const IN_CLUSTER_NAME: &str = "in-cluster";

/// An Argo CD cluster Secret, decoded.
struct ClusterSecret {
    name: String,
    server: String,
    project: Option<String>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

pub(crate) struct Generators<'a> {
    settings: &'a Settings,
    inputs: &'a Inputs<'a>,
    clusters: Option<Vec<ClusterSecret>>,
}

fn err(path: &str, message: impl Into<String>) -> Errs {
    vec![GenerateError::new(path, message)]
}

impl<'a> Generators<'a> {
    pub fn new(settings: &'a Settings, inputs: &'a Inputs<'a>) -> Self {
        Generators {
            settings,
            inputs,
            clusters: None,
        }
    }

    /// `Transform`: the parameter sets of every generator in `entry`, each with its merged
    /// template. `gen_params` (matrix) interpolates the entry first. `depth` counts the
    /// enclosing matrix/merge generators; `drop_selector` ignores the entry's selector
    /// (a nested combination's children without `applyNestedSelectors`).
    pub fn transform(
        &mut self,
        entry: &Value,
        path: &str,
        base: Option<&Value>,
        gen_params: Option<&ParamSet>,
        depth: usize,
        drop_selector: bool,
    ) -> Result<Vec<TransformResult>, Errs> {
        let Some(obj) = entry.as_object() else {
            return Err(err(path, "a generator entry must be an object"));
        };
        let mut errs = Errs::new();
        for k in obj.keys() {
            if k != "selector" && !KINDS.contains(&k.as_str()) {
                errs.push(GenerateError::new(
                    format!("{path}.{k}"),
                    format!(
                        "unknown generator {k:?}: supported are list, clusters, git, matrix and merge"
                    ),
                ));
            }
        }
        let selector = if drop_selector {
            None
        } else {
            match obj.get("selector") {
                None | Some(Value::Null) => None,
                Some(s) => match post_selector(s) {
                    Ok(sel) => Some(sel),
                    Err(e) => {
                        errs.push(GenerateError::new(
                            format!("{path}.selector"),
                            format!("error parsing label selector: {e}"),
                        ));
                        None
                    }
                },
            }
        };
        if !errs.is_empty() {
            return Err(errs);
        }
        let interpolated;
        let entry_obj = match gen_params {
            Some(p) if !p.is_empty() => {
                interpolated = self.interpolate(entry, p, path)?;
                interpolated.as_object().cloned().unwrap_or_default()
            }
            _ => obj.clone(),
        };
        let mut out = Vec::new();
        for kind in KINDS {
            let Some(g) = entry_obj.get(*kind).filter(|g| !g.is_null()) else {
                continue;
            };
            let gpath = format!("{path}.{kind}");
            if NOT_OFFLINE.contains(kind) {
                errs.push(GenerateError::new(
                    gpath,
                    format!("the {kind} generator reads an external service and is not supported by Sluice yet"),
                ));
                continue;
            }
            // Unknown fields: kubectl apply (strict field validation) refuses them, and a
            // misspelt field would otherwise silently generate nothing.
            if let Some(known) = known_fields(kind)
                && let Some(m) = g.as_object()
            {
                let unknown: Vec<&String> =
                    m.keys().filter(|k| !known.contains(&k.as_str())).collect();
                if !unknown.is_empty() {
                    for k in unknown {
                        errs.push(GenerateError::new(
                            format!("{gpath}.{k}"),
                            format!("unknown field {k:?} of the {kind} generator"),
                        ));
                    }
                    continue;
                }
            }
            if !g.is_object() {
                errs.push(GenerateError::new(gpath, "expected an object"));
                continue;
            }
            let own = g.get("template").filter(|t| !t.is_null()).cloned();
            let template = match base {
                Some(b) => merge_template(own.as_ref().unwrap_or(&Value::Null), b),
                None => Value::Null,
            };
            let params = match *kind {
                "list" => self.list(g, &gpath),
                "clusters" => self.clusters(g, &gpath),
                "git" => self.git(g, &gpath),
                "matrix" => self.matrix(g, &gpath, depth),
                "merge" => self.merge(g, &gpath, depth),
                _ => Ok(Vec::new()),
            };
            let params = match params {
                Ok(p) => p,
                Err(e) => {
                    errs.extend(e);
                    continue;
                }
            };
            if params.len() > MAX_PARAM_SETS {
                errs.push(GenerateError::new(
                    gpath,
                    format!(
                        "the generator yields {} parameter sets, more than the limit of {MAX_PARAM_SETS}",
                        params.len()
                    ),
                ));
                continue;
            }
            let params = match &selector {
                Some(sel) => params
                    .into_iter()
                    .filter(|p| {
                        let strings = string_values(p);
                        sel.matches_map(strings.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    })
                    .collect(),
                None => params,
            };
            out.push(TransformResult {
                params,
                template,
                own_template: own.map(|t| (format!("{gpath}.template"), t)),
                origin: gpath,
            });
        }
        if errs.is_empty() { Ok(out) } else { Err(errs) }
    }

    /// `InterpolateGenerator`: every string of the entry rendered with `params`.
    fn interpolate(&self, entry: &Value, params: &ParamSet, path: &str) -> Result<Value, Errs> {
        let p = self.params_for(params);
        appset::render_value(entry, self.settings.engine, &p).map_err(|list| {
            list.into_iter()
                .map(|(fp, e)| {
                    let at = join(path, &fp.to_string());
                    GenerateError::new(
                        at,
                        format!("failed to interpolate the generator with the first generator's parameters: {e}"),
                    )
                })
                .collect()
        })
    }

    fn params_for(&self, p: &ParamSet) -> Params {
        if self.settings.go {
            Params::Nested(Value::Object(p.clone()))
        } else {
            Params::Flat(string_values(p))
        }
    }

    /// `values` of the clusters and git generators (`appendTemplatedValues`): each value
    /// rendered with the parameters so far; `values.<key>` (fasttemplate) or a `values` map.
    fn append_values(&self, values: &Value, params: &mut ParamSet, path: &str) -> Result<(), Errs> {
        let Some(values) = values.as_object() else {
            if values.is_null() {
                return Ok(());
            }
            return Err(err(path, "expected a map of strings"));
        };
        let p = self.params_for(params);
        let mut rendered = Map::new();
        let mut errs = Errs::new();
        for (k, v) in values {
            let Some(s) = v.as_str() else {
                errs.push(GenerateError::new(
                    format!("{path}[{k}]"),
                    "expected a string",
                ));
                continue;
            };
            match appset::render_str(s, self.settings.engine, &p) {
                Ok(r) => {
                    rendered.insert(k.clone(), Value::String(r));
                }
                Err(e) => errs.push(GenerateError::new(
                    format!("{path}[{k}]"),
                    format!("failed to replace templated string: {e}"),
                )),
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        if self.settings.go {
            if !rendered.is_empty() {
                params.insert("values".to_owned(), Value::Object(rendered));
            }
        } else {
            for (k, v) in rendered {
                params.insert(format!("values.{k}"), v);
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------------
    // list
    // ---------------------------------------------------------------------------------

    fn list(&self, g: &Value, path: &str) -> Result<Vec<ParamSet>, Errs> {
        let mut out = Vec::new();
        let mut errs = Errs::new();
        match g.get("elements") {
            None | Some(Value::Null) => {}
            Some(Value::Array(els)) => {
                for (i, el) in els.iter().enumerate() {
                    let at = format!("{path}.elements[{i}]");
                    let Some(m) = el.as_object() else {
                        errs.push(GenerateError::new(
                            at,
                            "error unmarshling list element: expected an object",
                        ));
                        continue;
                    };
                    if self.settings.go {
                        out.push(m.clone());
                    } else {
                        match fasttemplate_params_of_element(m) {
                            Ok(p) => out
                                .push(p.into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
                            Err(e) => errs.push(GenerateError::new(at, e)),
                        }
                    }
                }
            }
            Some(_) => errs.push(GenerateError::new(
                format!("{path}.elements"),
                "expected a list",
            )),
        }
        match g.get("elementsYaml") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.trim().is_empty() => {}
            Some(Value::String(s)) => match load_yaml(s) {
                Ok(Value::Array(items)) => {
                    for (i, it) in items.into_iter().enumerate() {
                        match it {
                            Value::Object(m) => out.push(m),
                            _ => errs.push(GenerateError::new(
                                format!("{path}.elementsYaml"),
                                format!("error unmarshling decoded ElementsYaml: element {i} is not an object"),
                            )),
                        }
                    }
                }
                Ok(Value::Null) => {}
                Ok(_) => errs.push(GenerateError::new(
                    format!("{path}.elementsYaml"),
                    "error unmarshling decoded ElementsYaml: expected a list of objects",
                )),
                Err(e) => errs.push(GenerateError::new(
                    format!("{path}.elementsYaml"),
                    format!("error unmarshling decoded ElementsYaml: {e}"),
                )),
            },
            Some(_) => errs.push(GenerateError::new(
                format!("{path}.elementsYaml"),
                "expected a string",
            )),
        }
        if errs.is_empty() { Ok(out) } else { Err(errs) }
    }

    // ---------------------------------------------------------------------------------
    // clusters
    // ---------------------------------------------------------------------------------

    fn cluster_secrets(&mut self) -> &[ClusterSecret] {
        if self.clusters.is_none() {
            let mut found: Vec<(String, String, ClusterSecret)> = Vec::new();
            for o in self.inputs.objects {
                if o.get("kind").and_then(Value::as_str) != Some("Secret")
                    || o.get("apiVersion").and_then(Value::as_str) != Some("v1")
                    || o.pointer(&format!(
                        "/metadata/labels/{}",
                        SECRET_TYPE_LABEL.replace('/', "~1")
                    ))
                    .and_then(Value::as_str)
                        != Some("cluster")
                {
                    continue;
                }
                let field = |k: &str| -> Option<String> {
                    if let Some(s) = o
                        .pointer(&format!("/stringData/{k}"))
                        .and_then(Value::as_str)
                    {
                        return Some(s.to_owned());
                    }
                    let b = o.pointer(&format!("/data/{k}")).and_then(Value::as_str)?;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b.trim())
                        .ok()?;
                    Some(String::from_utf8_lossy(&bytes).into_owned())
                };
                let strmap = |k: &str| -> BTreeMap<String, String> {
                    o.pointer(&format!("/metadata/{k}"))
                        .and_then(Value::as_object)
                        .map(|m| {
                            m.iter()
                                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let ns = o
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let name = o
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                found.push((
                    ns.to_owned(),
                    name.to_owned(),
                    ClusterSecret {
                        name: field("name").unwrap_or_default(),
                        server: field("server").unwrap_or_default(),
                        project: field("project"),
                        labels: strmap("labels"),
                        annotations: strmap("annotations"),
                    },
                ));
            }
            // The API server lists Secrets by namespace and name.
            found.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
            self.clusters = Some(found.into_iter().map(|(_, _, c)| c).collect());
        }
        self.clusters.as_deref().unwrap_or_default()
    }

    fn clusters(&mut self, g: &Value, path: &str) -> Result<Vec<ParamSet>, Errs> {
        let sel_raw = g.get("selector").cloned().unwrap_or(Value::Null);
        let non_empty = |k: &str| {
            sel_raw.get(k).is_some_and(|v| match v {
                Value::Object(m) => !m.is_empty(),
                Value::Array(a) => !a.is_empty(),
                _ => false,
            })
        };
        // Local clusters have no labels: a non-empty selector leaves them out.
        let ignore_local = non_empty("matchLabels") || non_empty("matchExpressions");
        let selector = Selector::from_label_selector(&sel_raw).map_err(|e| {
            e.into_iter()
                .map(|fe| {
                    GenerateError::new(
                        join(&format!("{path}.selector"), &fe.path.to_string()),
                        format!("error converting label selector: {}", fe.message),
                    )
                })
                .collect::<Errs>()
        })?;
        let flat = g.get("flatList").and_then(Value::as_bool).unwrap_or(false);
        let go = self.settings.go;
        let values = g.get("values").cloned().unwrap_or(Value::Null);
        let secrets = self.cluster_secrets();
        let matches = |c: &ClusterSecret| {
            selector.matches_map(
                c.labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .chain([(SECRET_TYPE_LABEL, "cluster")]),
            )
        };
        // utils.ListClusters: every cluster Secret, then the local cluster unless a Secret
        // holds the in-cluster address; matching Secrets by name (the last one wins).
        let mut by_name: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, c) in secrets.iter().enumerate() {
            if matches(c) {
                by_name.insert(c.name.as_str(), i);
            }
        }
        let mut listed: Vec<(&str, &str)> = secrets
            .iter()
            .map(|c| (c.name.as_str(), c.server.as_str()))
            .collect();
        if !secrets.iter().any(|c| c.server == IN_CLUSTER_SERVER) {
            listed.push((IN_CLUSTER_NAME, IN_CLUSTER_SERVER));
        }
        let mut local: Vec<ParamSet> = Vec::new();
        let mut found: Vec<usize> = Vec::new();
        for (name, server) in listed {
            if let Some(i) = by_name.get(name) {
                found.push(*i);
            } else if !ignore_local {
                let mut p = ParamSet::new();
                p.insert("name".into(), Value::String(name.to_owned()));
                p.insert("nameNormalized".into(), Value::String(name.to_owned()));
                p.insert("server".into(), Value::String(server.to_owned()));
                p.insert("project".into(), Value::String(String::new()));
                local.push(p);
            }
        }
        let mut out = Vec::new();
        for mut p in local {
            self.append_values(&values, &mut p, &format!("{path}.values"))?;
            out.push(p);
        }
        let secrets = self.cluster_secrets();
        let mut built = Vec::new();
        for i in found {
            let c = &secrets[i];
            let mut p = ParamSet::new();
            p.insert("name".into(), Value::String(c.name.clone()));
            p.insert("nameNormalized".into(), Value::String(normalize(&c.name)));
            p.insert("server".into(), Value::String(c.server.clone()));
            p.insert(
                "project".into(),
                Value::String(c.project.clone().unwrap_or_default()),
            );
            if go {
                let mut meta = Map::new();
                let to_obj = |m: &BTreeMap<String, String>| {
                    Value::Object(
                        m.iter()
                            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                            .collect(),
                    )
                };
                if !c.annotations.is_empty() {
                    meta.insert("annotations".into(), to_obj(&c.annotations));
                }
                if !c.labels.is_empty() {
                    meta.insert("labels".into(), to_obj(&c.labels));
                }
                p.insert("metadata".into(), Value::Object(meta));
            } else {
                for (k, v) in &c.annotations {
                    p.insert(
                        format!("metadata.annotations.{k}"),
                        Value::String(v.clone()),
                    );
                }
                for (k, v) in &c.labels {
                    p.insert(format!("metadata.labels.{k}"), Value::String(v.clone()));
                }
            }
            built.push(p);
        }
        for mut p in built {
            self.append_values(&values, &mut p, &format!("{path}.values"))?;
            out.push(p);
        }
        if flat {
            return Ok(vec![ParamSet::from_iter([(
                "clusters".to_owned(),
                Value::Array(out.into_iter().map(Value::Object).collect()),
            )])]);
        }
        Ok(out)
    }

    // ---------------------------------------------------------------------------------
    // git
    // ---------------------------------------------------------------------------------

    fn git(&self, g: &Value, path: &str) -> Result<Vec<ParamSet>, Errs> {
        let repo = g.get("repoURL").and_then(Value::as_str).unwrap_or_default();
        if repo.is_empty() {
            return Err(err(&format!("{path}.repoURL"), "Required value"));
        }
        let revision = g
            .get("revision")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let prefix = g
            .get("pathParamPrefix")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let values = g.get("values").cloned().unwrap_or(Value::Null);
        let items = |k: &str| -> Vec<(String, bool)> {
            g.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|it| {
                            (
                                it.get("path")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_owned(),
                                it.get("exclude").and_then(Value::as_bool).unwrap_or(false),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let dirs = items("directories");
        let files = items("files");
        let repo_err = |e: crate::repo::RepoError| {
            err(
                &format!("{path}.repoURL"),
                format!("error reading {repo}: {e}"),
            )
        };
        if !dirs.is_empty() {
            let all = self
                .inputs
                .repos
                .directories(repo, revision)
                .map_err(repo_err)?;
            let mut out = Vec::new();
            for d in all {
                // The repo-server skips hidden directories and what is under them.
                if d.split('/').any(|s| s.starts_with('.')) {
                    continue;
                }
                let mut include = false;
                let mut exclude = false;
                for (pat, ex) in &dirs {
                    if path_match(pat, &d) {
                        if *ex {
                            exclude = true;
                        } else {
                            include = true;
                        }
                    }
                }
                if !include || exclude {
                    continue;
                }
                if out.len() >= MAX_PARAM_SETS {
                    return Err(err(
                        path,
                        format!("the git generator matches more than {MAX_PARAM_SETS} directories"),
                    ));
                }
                let mut p = ParamSet::new();
                self.path_params(&d, None, prefix, &mut p);
                self.append_values(&values, &mut p, &format!("{path}.values"))?;
                out.push(p);
            }
            return Ok(out);
        }
        if !files.is_empty() {
            let all = self.inputs.repos.files(repo, revision).map_err(repo_err)?;
            let mut chosen: Vec<&String> = all
                .iter()
                .filter(|f| {
                    files.iter().any(|(p, ex)| !ex && pathspec_match(p, f))
                        && !files.iter().any(|(p, ex)| *ex && pathspec_match(p, f))
                })
                .collect();
            chosen.sort();
            chosen.dedup();
            let mut out = Vec::new();
            for f in chosen {
                let bytes = self
                    .inputs
                    .repos
                    .read(repo, revision, f)
                    .map_err(repo_err)?;
                let text = String::from_utf8_lossy(&bytes);
                let objects = parse_params_file(&text).map_err(|e| {
                    err(
                        &format!("{path}.files"),
                        format!("unable to process file '{f}': unable to parse file: {e}"),
                    )
                })?;
                let dir = go_path_dir(f);
                for obj in objects {
                    let mut p = if self.settings.go { obj } else { flatten(&obj) };
                    self.path_params(&dir, Some(f), prefix, &mut p);
                    self.append_values(&values, &mut p, &format!("{path}.values"))?;
                    if out.len() >= MAX_PARAM_SETS {
                        return Err(err(
                            path,
                            format!(
                                "the git generator yields more than {MAX_PARAM_SETS} parameter sets"
                            ),
                        ));
                    }
                    out.push(p);
                }
            }
            return Ok(out);
        }
        Err(err(path, "the git generator needs directories or files"))
    }

    /// The `path` parameters of a directory (or of a file's directory).
    fn path_params(&self, dir: &str, file: Option<&str>, prefix: &str, p: &mut ParamSet) {
        let base = go_path_base(dir);
        if self.settings.go {
            let mut m = Map::new();
            m.insert("path".into(), Value::String(dir.to_owned()));
            m.insert("basename".into(), Value::String(base.clone()));
            if let Some(f) = file {
                let fname = go_path_base(f);
                m.insert("filename".into(), Value::String(fname.clone()));
                m.insert(
                    "filenameNormalized".into(),
                    Value::String(normalize(&fname)),
                );
            }
            m.insert("basenameNormalized".into(), Value::String(normalize(&base)));
            m.insert(
                "segments".into(),
                Value::Array(
                    dir.split('/')
                        .map(|s| Value::String(s.to_owned()))
                        .collect(),
                ),
            );
            if prefix.is_empty() {
                p.insert("path".into(), Value::Object(m));
            } else {
                p.insert(
                    prefix.to_owned(),
                    Value::Object(Map::from_iter([("path".to_owned(), Value::Object(m))])),
                );
            }
        } else {
            let name = if prefix.is_empty() {
                "path".to_owned()
            } else {
                format!("{prefix}.path")
            };
            p.insert(name.clone(), Value::String(dir.to_owned()));
            p.insert(format!("{name}.basename"), Value::String(base.clone()));
            if let Some(f) = file {
                let fname = go_path_base(f);
                p.insert(format!("{name}.filename"), Value::String(fname.clone()));
                p.insert(
                    format!("{name}.filenameNormalized"),
                    Value::String(normalize(&fname)),
                );
            }
            p.insert(
                format!("{name}.basenameNormalized"),
                Value::String(normalize(&base)),
            );
            for (k, seg) in dir.split('/').enumerate() {
                if !seg.is_empty() {
                    p.insert(format!("{name}[{k}]"), Value::String(seg.to_owned()));
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // matrix and merge
    // ---------------------------------------------------------------------------------

    fn children<'g>(&self, g: &'g Value, path: &str, depth: usize) -> Result<&'g [Value], Errs> {
        if depth >= 2 {
            return Err(err(
                path,
                "combination-type generators (matrix or merge) can only be nested once",
            ));
        }
        match g.get("generators") {
            Some(Value::Array(a)) => Ok(a.as_slice()),
            None | Some(Value::Null) => Ok(&[]),
            Some(_) => Err(err(&format!("{path}.generators"), "expected a list")),
        }
    }

    /// The parameters of one child of a matrix or merge (`getParams`).
    fn child_params(
        &mut self,
        child: &Value,
        path: &str,
        prev: Option<&ParamSet>,
        depth: usize,
    ) -> Result<Vec<ParamSet>, Errs> {
        if depth >= 1 {
            for k in ["matrix", "merge"] {
                if child.get(k).is_some_and(|v| !v.is_null()) {
                    return Err(err(
                        &format!("{path}.{k}"),
                        "combination-type generators (matrix or merge) can only be nested once",
                    ));
                }
            }
        }
        // A nested combination's own children lose their selectors unless
        // applyNestedSelectors (dropDisabledNestedSelectors).
        let drop = !self.settings.apply_nested_selectors;
        let child = if drop && ["matrix", "merge"].iter().any(|k| child.get(*k).is_some()) {
            let mut c = child.clone();
            for k in ["matrix", "merge"] {
                if let Some(Value::Array(gs)) = c.get_mut(k).and_then(|m| m.get_mut("generators")) {
                    for g in gs {
                        if let Some(m) = g.as_object_mut() {
                            m.remove("selector");
                        }
                    }
                }
            }
            c
        } else {
            child.clone()
        };
        let t = self.transform(&child, path, None, prev, depth + 1, false)?;
        match t.len() {
            0 => Err(err(path, "child generator generated no parameters")),
            1 => Ok(t.into_iter().next().map(|r| r.params).unwrap_or_default()),
            _ => Err(err(
                path,
                "found more than one generator in matrix.Generators",
            )),
        }
    }

    fn matrix(&mut self, g: &Value, path: &str, depth: usize) -> Result<Vec<ParamSet>, Errs> {
        let gens = self.children(g, path, depth)?;
        if gens.len() < 2 {
            return Err(err(
                &format!("{path}.generators"),
                "found less than two generators, Matrix support only two",
            ));
        }
        if gens.len() > 2 {
            return Err(err(
                &format!("{path}.generators"),
                "found more than two generators, Matrix support only two",
            ));
        }
        let mut res = self.child_params(&gens[0], &format!("{path}.generators[0]"), None, depth)?;
        for (i, child) in gens.iter().enumerate().skip(1) {
            let cpath = format!("{path}.generators[{i}]");
            let mut list = Vec::new();
            for prev in &res {
                let params = self.child_params(child, &cpath, Some(prev), depth)?;
                if list.len().saturating_add(params.len()) > MAX_PARAM_SETS {
                    return Err(err(
                        path,
                        format!(
                            "the matrix yields more than {MAX_PARAM_SETS} parameter sets ({} x at least {}): refused",
                            res.len(),
                            params.len().max(1)
                        ),
                    ));
                }
                for curr in params {
                    if self.settings.go {
                        let mut tmp = ParamSet::new();
                        mergo_merge(&mut tmp, prev);
                        mergo_merge(&mut tmp, &curr);
                        list.push(tmp);
                    } else {
                        let merged = combine_string_maps(prev, &curr).map_err(|e| {
                            err(path, format!("failed to combine string maps with merging params for the matrix generator: {e}"))
                        })?;
                        list.push(merged);
                    }
                }
            }
            res = list;
        }
        Ok(res)
    }

    fn merge(&mut self, g: &Value, path: &str, depth: usize) -> Result<Vec<ParamSet>, Errs> {
        let gens = self.children(g, path, depth)?;
        if gens.len() < 2 {
            return Err(err(
                &format!("{path}.generators"),
                "found less than two generators, Merge requires two or more",
            ));
        }
        let keys: Vec<String> = g
            .get("mergeKeys")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if keys.is_empty() {
            return Err(err(
                &format!("{path}.mergeKeys"),
                "no merge keys were specified, Merge requires at least one",
            ));
        }
        let mut sets = Vec::new();
        for (i, child) in gens.iter().enumerate() {
            sets.push(self.child_params(child, &format!("{path}.generators[{i}]"), None, depth)?);
        }
        let key_of = |p: &ParamSet| -> String {
            let m: BTreeMap<&str, &Value> = keys
                .iter()
                .map(|k| (k.as_str(), p.get(k).unwrap_or(&Value::Null)))
                .collect();
            serde_json::to_string(&m).unwrap_or_default()
        };
        let mut base: Vec<ParamSet> = sets.remove(0);
        for (n, others) in sets.iter().enumerate() {
            let mut by_key: BTreeMap<String, &ParamSet> = BTreeMap::new();
            for p in others {
                let k = key_of(p);
                if by_key.insert(k.clone(), p).is_some() {
                    return Err(err(
                        &format!("{path}.generators[{}]", n + 1),
                        format!(
                            "the parameters from a generator were not unique by the given mergeKeys, Merge requires all param sets to be unique. Duplicate key was {k}"
                        ),
                    ));
                }
            }
            for b in &mut base {
                if let Some(over) = by_key.get(&key_of(b)) {
                    if self.settings.go {
                        mergo_override(b, over);
                    } else {
                        for (k, v) in *over {
                            b.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
        Ok(base)
    }
}

/// The fields of each generator (argo-cd `applicationset_types.go`).
fn known_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "list" => &["elements", "elementsYaml", "template"],
        "clusters" => &["selector", "template", "values", "flatList"],
        "git" => &[
            "repoURL",
            "directories",
            "files",
            "revision",
            "requeueAfterSeconds",
            "template",
            "pathParamPrefix",
            "values",
        ],
        "matrix" => &["generators", "template"],
        "merge" => &["generators", "mergeKeys", "template"],
        _ => return None,
    })
}

/// The post-selector of a generator entry (`utils.LabelSelectorAsSelector`: as
/// metav1's, without restrictions on values, so that URLs can be matched).
fn post_selector(v: &Value) -> Result<Selector, String> {
    let Some(m) = v.as_object() else {
        return Err("expected a label selector".to_owned());
    };
    let mut reqs = Vec::new();
    if let Some(ml) = m.get("matchLabels").filter(|x| !x.is_null()) {
        let Some(ml) = ml.as_object() else {
            return Err("matchLabels: expected a map of strings".to_owned());
        };
        for (k, val) in ml {
            let Some(s) = val.as_str() else {
                return Err(format!("matchLabels[{k}]: expected a string"));
            };
            reqs.push(Requirement {
                key: k.clone(),
                op: Operator::In,
                values: [s.to_owned()].into(),
            });
        }
    }
    if let Some(me) = m.get("matchExpressions").filter(|x| !x.is_null()) {
        let only = Value::Object(Map::from_iter([(
            "matchExpressions".to_owned(),
            me.clone(),
        )]));
        let sel = Selector::from_label_selector(&only).map_err(|e| {
            e.into_iter()
                .map(|fe| format!("{}: {}", fe.path, fe.message))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        reqs.extend(sel.requirements);
    }
    Ok(Selector { requirements: reqs })
}

/// Loads YAML as sigs.k8s.io/yaml does (go-yaml v2 scalars), first document only.
fn load_yaml(text: &str) -> Result<Value, String> {
    let docs =
        sluice_core::yaml::load_documents(text, &Default::default()).map_err(|e| e.message())?;
    Ok(docs
        .into_iter()
        .next()
        .map(|d| d.value)
        .unwrap_or(Value::Null))
}

/// A git generator file: a list of objects, or one object; empty gives one empty set.
fn parse_params_file(text: &str) -> Result<Vec<ParamSet>, String> {
    match load_yaml(text)? {
        Value::Null => Ok(vec![ParamSet::new()]),
        Value::Array(items) if items.is_empty() => Ok(vec![ParamSet::new()]),
        Value::Array(items) => items
            .into_iter()
            .map(|it| match it {
                Value::Object(m) => Ok(m),
                Value::Null => Ok(ParamSet::new()),
                _ => Err("cannot unmarshal a list of non-objects".to_owned()),
            })
            .collect(),
        Value::Object(m) => Ok(vec![m]),
        _ => Err("cannot unmarshal a scalar into parameters".to_owned()),
    }
}

/// Go's `path.Dir`.
fn go_path_dir(p: &str) -> String {
    match p.rfind('/') {
        Some(0) => "/".to_owned(),
        Some(i) => p[..i].to_owned(),
        None => ".".to_owned(),
    }
}

/// Go's `path.Base`.
fn go_path_base(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.is_empty() {
            ".".to_owned()
        } else {
            "/".to_owned()
        };
    }
    match t.rfind('/') {
        Some(i) => t[i + 1..].to_owned(),
        None => t.to_owned(),
    }
}

fn join(prefix: &str, rest: &str) -> String {
    if rest.is_empty() {
        prefix.to_owned()
    } else if rest.starts_with('[') {
        format!("{prefix}{rest}")
    } else {
        format!("{prefix}.{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_functions() {
        assert_eq!(go_path_dir("a/b/c.json"), "a/b");
        assert_eq!(go_path_dir("c.json"), ".");
        assert_eq!(go_path_base("a/b"), "b");
        assert_eq!(go_path_base("b"), "b");
    }

    #[test]
    fn params_files() {
        assert_eq!(parse_params_file("").unwrap().len(), 1);
        assert_eq!(parse_params_file("[{a: 1}, {a: 2}]").unwrap().len(), 2);
        assert_eq!(parse_params_file("a: 1").unwrap().len(), 1);
        assert!(parse_params_file("just text").is_err());
    }
}
