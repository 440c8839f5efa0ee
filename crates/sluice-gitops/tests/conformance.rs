//! Conformance suite `argocd-appset-generate` (`./scripts/conformance`): Argo CD's own
//! ApplicationSet examples (argoproj/argo-cd `applicationset/examples`, the corpus under
//! `SLUICE_SHARED/conformance/argocd/applicationset-examples`, listed by its `index.json`)
//! generated with the engine. The corpus holds no generated output, so the expectations are
//! derived here from each example, its comments and the corpus tree:
//!
//! - `EXPECTED`: the Applications' names and destinations (or the error) each example
//!   gives with the cluster Secrets below, the argo-cd repository being the corpus tree
//!   (the git examples read `applicationset/examples/...` of `https://github.com/argoproj/argo-cd.git`);
//! - every generated Application validates as an Application (sluice-apis) except where
//!   upstream's example itself renders an invalid name (pinned);
//! - the `-fasttemplate` twin of a goTemplate example generates the same Applications,
//!   except where upstream's twins differ (pinned with the reason).
//!
//! Examples whose generators need an external service (scmProvider, pullRequest,
//! clusterDecisionResource), a repository absent from the corpus
//! (`github.com/infra-team/cluster-deployments`) or an unimplemented proposal
//! (`design-doc/proposal`) are outside the suite and listed as such.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sluice_gitops::appset::{Inputs, generate};
use sluice_gitops::repo::{RepoError, Repos};

const ARGO_CD: &str = "https://github.com/argoproj/argo-cd.git";

/// A directory standing in for a repository (test-only I/O).
struct Dir(PathBuf);

impl Dir {
    fn walk(&self) -> (Vec<String>, Vec<String>) {
        let (mut dirs, mut files) = (Vec::new(), Vec::new());
        let mut stack = vec![String::new()];
        while let Some(rel) = stack.pop() {
            let abs = self.0.join(&rel);
            let Ok(rd) = std::fs::read_dir(&abs) else {
                continue;
            };
            let mut names: Vec<(String, bool)> = rd
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let ft = e.file_type().ok()?;
                    Some((e.file_name().into_string().ok()?, ft.is_dir()))
                })
                .collect();
            names.sort();
            for (n, is_dir) in names.into_iter().rev() {
                let p = if rel.is_empty() {
                    n
                } else {
                    format!("{rel}/{n}")
                };
                if is_dir {
                    dirs.push(p.clone());
                    stack.push(p);
                } else {
                    files.push(p);
                }
            }
        }
        dirs.sort_by(|a, b| a.split('/').cmp(b.split('/')));
        files.sort();
        (dirs, files)
    }
}

impl Repos for Dir {
    fn directories(&self, url: &str, _: &str) -> Result<Vec<String>, RepoError> {
        if url != ARGO_CD {
            return Err(RepoError(format!("{url}: not in the corpus")));
        }
        Ok(self.walk().0)
    }
    fn files(&self, url: &str, _: &str) -> Result<Vec<String>, RepoError> {
        if url != ARGO_CD {
            return Err(RepoError(format!("{url}: not in the corpus")));
        }
        Ok(self.walk().1)
    }
    fn read(&self, _: &str, _: &str, p: &str) -> Result<Vec<u8>, RepoError> {
        std::fs::read(self.0.join(p)).map_err(|e| RepoError(e.to_string()))
    }
}

/// Two clusters besides the in-cluster default, with the labels the examples select on.
fn clusters() -> Vec<Value> {
    let secret = |name: &str, server: &str, labels: Value| {
        let mut l = labels;
        l["argocd.argoproj.io/secret-type"] = json!("cluster");
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": format!("cluster-{name}"), "namespace": "argocd", "labels": l},
               "stringData": {"name": name, "server": server}})
    };
    vec![
        secret(
            "staging",
            "https://staging.example.test",
            json!({"environment": "staging", "staging": "true"}),
        ),
        secret(
            "prod",
            "https://prod.example.test",
            json!({"environment": "production", "use-kafka": "false"}),
        ),
    ]
}

const IN: &str = "https://kubernetes.default.svc";
const STG: &str = "https://staging.example.test";
const PRD: &str = "https://prod.example.test";

/// What each example gives: (name, server, namespace) of every Application, or an error.
#[derive(Clone)]
enum Want {
    Apps(Vec<(String, String, String)>),
    Error(&'static str),
}

/// `Want::Apps` from (name, server, namespace) triples.
fn apps(v: &[(&str, &str, &str)]) -> Want {
    Want::Apps(
        v.iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect(),
    )
}

fn expected() -> BTreeMap<String, Want> {
    use Want::Error;
    let e = "applicationset/examples/";
    let guestbook_list = || {
        apps(&[
            ("engineering-dev-guestbook", IN, "guestbook"),
            ("engineering-prod-guestbook", IN, "guestbook"),
        ])
    };
    let three_clusters = || {
        apps(&[
            ("in-cluster-guestbook", IN, "guestbook"),
            ("prod-guestbook", PRD, "guestbook"),
            ("staging-guestbook", STG, "guestbook"),
        ])
    };
    let design_list = || {
        apps(&[
            ("engineering-dev-guestbook", "https://1.2.3.4", "guestbook"),
            ("engineering-prod-guestbook", "https://2.4.6.8", "guestbook"),
            ("finance-preprod-guestbook", "https://9.8.7.6", "guestbook"),
        ])
    };
    let addons = || {
        apps(&[
            ("argo-workflows", IN, "argo-workflows"),
            ("prometheus-operator", IN, "prometheus-operator"),
        ])
    };
    let cluster_git = || {
        apps(&[
            ("argo-workflows-prod", PRD, "argo-workflows"),
            ("argo-workflows-staging", STG, "argo-workflows"),
            ("prometheus-operator-prod", PRD, "prometheus-operator"),
            ("prometheus-operator-staging", STG, "prometheus-operator"),
        ])
    };
    let list_git = || {
        apps(&[
            (
                "argo-workflows-engineering-dev",
                "https://1.2.3.4",
                "argo-workflows",
            ),
            (
                "argo-workflows-engineering-prod",
                "https://2.4.6.8",
                "argo-workflows",
            ),
            (
                "prometheus-operator-engineering-dev",
                "https://1.2.3.4",
                "prometheus-operator",
            ),
            (
                "prometheus-operator-engineering-prod",
                "https://2.4.6.8",
                "prometheus-operator",
            ),
        ])
    };
    let union = || {
        let mut v = Vec::new();
        for c in ["engineering-dev", "engineering-prod"] {
            for s in ["1", "2"] {
                for p in ["first", "second"] {
                    let n = format!("{p}-{c}-{s}");
                    v.push((n.clone(), IN.to_owned(), n));
                }
            }
        }
        Want::Apps(v)
    };
    let merged_clusters = || {
        apps(&[
            ("in-cluster", IN, "default"),
            ("prod", PRD, "default"),
            ("staging", STG, "default"),
        ])
    };
    let two_matrixes = || {
        apps(&[
            ("in-cluster-guestbook-staging", IN, "guestbook-non-prod"),
            ("in-cluster-guestbook-prod", IN, "guestbook"),
            ("prod-guestbook-staging", PRD, "guestbook-non-prod"),
            ("prod-guestbook-prod", PRD, "guestbook"),
            ("staging-guestbook-staging", STG, "guestbook-non-prod"),
            ("staging-guestbook-prod", STG, "guestbook"),
        ])
    };
    let files = || {
        apps(&[
            ("engineering-dev-guestbook", IN, "guestbook"),
            ("engineering-prod-guestbook", IN, "guestbook"),
        ])
    };
    let mut m = BTreeMap::new();
    let mut put = |f: &str, w: Want| {
        m.insert(format!("{e}{f}"), w);
    };
    put(
        "applications-sync-policies/create-only.yaml",
        guestbook_list(),
    );
    put(
        "applications-sync-policies/create-update.yaml",
        guestbook_list(),
    );
    put(
        "cluster/cluster-example-fasttemplate.yaml",
        three_clusters(),
    );
    put("cluster/cluster-example.yaml", three_clusters());
    put(
        "design-doc/applicationset-fasttemplate.yaml",
        three_clusters(),
    );
    put("design-doc/applicationset.yaml", three_clusters());
    // A fasttemplate file written with Go-template tags: `{{.name}}` is no parameter, left
    // as written; the selector is non-empty, so no in-cluster.
    put(
        "design-doc/clusters.yaml",
        apps(&[
            ("{{.name}}-guestbook", "{{.server}}", "guestbook"),
            ("{{.name}}-guestbook", "{{.server}}", "guestbook"),
        ]),
    );
    put("design-doc/list-fasttemplate.yaml", design_list());
    put("design-doc/list.yaml", design_list());
    let overridden = || {
        apps(&[
            ("engineering-dev-guestbook", "https://1.2.3.4", "guestbook"),
            ("engineering-prod-guestbook", "https://1.2.3.4", "guestbook"),
        ])
    };
    put(
        "design-doc/template-override-fasttemplate.yaml",
        overridden(),
    );
    put("design-doc/template-override.yaml", overridden());
    put(
        "git-generator-directory/excludes/git-directories-exclude-example-fasttemplate.yaml",
        addons(),
    );
    put(
        "git-generator-directory/excludes/git-directories-exclude-example.yaml",
        addons(),
    );
    put(
        "git-generator-directory/git-directories-example-fasttemplate.yaml",
        addons(),
    );
    put(
        "git-generator-directory/git-directories-example.yaml",
        addons(),
    );
    let prod_only = || apps(&[("engineering-prod-guestbook", IN, "guestbook")]);
    put(
        "git-generator-files-discovery/excludes/git-files-exclude-example-fasttemplate.yaml",
        prod_only(),
    );
    put(
        "git-generator-files-discovery/excludes/git-files-exclude-example.yaml",
        prod_only(),
    );
    put(
        "git-generator-files-discovery/git-generator-files-fasttemplate.yaml",
        files(),
    );
    put(
        "git-generator-files-discovery/git-generator-files.yaml",
        files(),
    );
    put(
        "list-generator/list-example-fasttemplate.yaml",
        guestbook_list(),
    );
    put("list-generator/list-example.yaml", guestbook_list());
    put("matrix/cluster-and-git-fasttemplate.yaml", cluster_git());
    put("matrix/cluster-and-git.yaml", cluster_git());
    put("matrix/list-and-git-fasttemplate.yaml", list_git());
    put("matrix/list-and-git.yaml", list_git());
    // The template reads path.basename, which neither list gives: fasttemplate leaves the
    // tag, goTemplate with missingkey=error fails.
    put(
        "matrix/list-and-list-fasttemplate.yaml",
        apps(&[
            ("engineering-dev-1", IN, "{{path.basename}}"),
            ("engineering-dev-2", IN, "{{path.basename}}"),
            ("engineering-prod-1", IN, "{{path.basename}}"),
            ("engineering-prod-2", IN, "{{path.basename}}"),
        ]),
    );
    put(
        "matrix/list-and-list.yaml",
        Error("map has no entry for key \"path\""),
    );
    put(
        "matrix/matrix-and-union-in-matrix-fasttemplate.yaml",
        union(),
    );
    put("matrix/matrix-and-union-in-matrix.yaml", union());
    put(
        "merge/merge-clusters-and-list-fasttemplate.yaml",
        merged_clusters(),
    );
    put("merge/merge-clusters-and-list.yaml", merged_clusters());
    put("merge/merge-two-matrixes-fasttemplate.yaml", two_matrixes());
    put("merge/merge-two-matrixes.yaml", two_matrixes());
    let tov = || apps(&[("engineering-dev-guestbook", IN, "guestbook")]);
    put(
        "template-override/template-overrides-example-fasttemplate.yaml",
        tov(),
    );
    put("template-override/template-overrides-example.yaml", tov());
    m
}

/// Twins upstream wrote differently, and why.
const TWINS_DIFFER: &[(&str, &str)] = &[
    (
        "git-directories-exclude-example",
        "the goTemplate file writes `{{.path}}` for the source path: Go prints the path map",
    ),
    (
        "list-and-list",
        "the goTemplate file fails (missingkey=error)",
    ),
    (
        "merge-two-matrixes",
        "goTemplate: the list's flat `values.replicaCount` key does not override the `values` map",
    ),
];

/// Examples whose generated names are not valid Application names, by upstream's making.
const INVALID_NAMES: &[&str] = &["design-doc/clusters.yaml"];

fn shared() -> PathBuf {
    PathBuf::from(std::env::var_os("SLUICE_SHARED").expect(
        "SLUICE_SHARED is not set: the conformance suites run with ./scripts/conformance [PATH]",
    ))
}

fn run(root: &Path, file: &str, objects: &[Value]) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(root.join(file)).map_err(|e| e.to_string())?;
    let docs =
        sluice_core::yaml::load_documents(&text, &Default::default()).map_err(|e| e.message())?;
    let appset = docs
        .into_iter()
        .next()
        .map(|d| d.value)
        .unwrap_or(Value::Null);
    let repos = Dir(root.to_path_buf());
    generate(
        &appset,
        &Inputs {
            objects,
            repos: &repos,
        },
    )
    .map_err(|e| {
        e.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

#[test]
#[ignore = "conformance: needs the upstream corpora (./scripts/conformance)"]
fn applicationset_examples_generate_what_argocd_generates() {
    let root = shared().join("conformance/argocd/applicationset-examples");
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("index.json")).expect("index.json"),
    )
    .expect("index.json is JSON");
    let expected = expected();
    let objects = clusters();
    let (mut passed, mut total) = (0usize, 0usize);
    let mut failures = Vec::new();
    let mut outside = Vec::new();
    let mut outputs: BTreeMap<String, Result<Vec<Value>, String>> = BTreeMap::new();
    for entry in index.as_array().expect("a list") {
        let file = entry["file"].as_str().expect("file");
        let Some(want) = expected.get(file) else {
            outside.push(file.to_owned());
            continue;
        };
        total += 1;
        let got = run(&root, file, &objects);
        let ok = match (want, &got) {
            (Want::Apps(w), Ok(apps)) => {
                let seen: Vec<(String, String, String)> = apps
                    .iter()
                    .map(|a| {
                        let s = |p: &str| {
                            a.pointer(p)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned()
                        };
                        (
                            s("/metadata/name"),
                            s("/spec/destination/server"),
                            s("/spec/destination/namespace"),
                        )
                    })
                    .collect();
                let want = w.clone();
                let valid = INVALID_NAMES.iter().any(|f| file.ends_with(f))
                    || apps.iter().all(|a| {
                        let o = sluice_core::Object::new(a.clone());
                        let set = sluice_apis::ObjectSet::new([&o]);
                        let ctx = sluice_apis::Context::new(&set);
                        !sluice_apis::validate_one(&o, &ctx).has_errors()
                    });
                if seen != want {
                    failures.push(format!("{file}: got {seen:?}"));
                } else if !valid {
                    failures.push(format!("{file}: a generated Application does not validate"));
                }
                seen == want && valid
            }
            (Want::Error(w), Err(e)) => {
                let ok = e.contains(w);
                if !ok {
                    failures.push(format!("{file}: error {e}"));
                }
                ok
            }
            (_, other) => {
                failures.push(format!("{file}: got {other:?}"));
                false
            }
        };
        if ok {
            passed += 1;
        }
        outputs.insert(file.to_owned(), got);
    }
    // Twins: the fasttemplate file and its goTemplate original.
    for (file, got) in &outputs {
        let Some(orig) = file.strip_suffix("-fasttemplate.yaml") else {
            continue;
        };
        let Some(go) = outputs.get(&format!("{orig}.yaml")) else {
            continue;
        };
        if TWINS_DIFFER.iter().any(|(n, _)| orig.ends_with(n)) {
            continue;
        }
        total += 1;
        if got == go {
            passed += 1;
        } else {
            failures.push(format!("{file}: differs from its goTemplate twin"));
        }
    }
    println!("CONFORMANCE argocd-appset-generate {passed} {total}");
    println!("outside the suite: {}", outside.join(", "));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
