//! The ApplicationSet generator engine against upstream's behaviour, each case citing the
//! argo-cd source (`applicationset/generators/*.go`, `applicationset/utils/utils.go`) or
//! docs (`docs/operator-manual/applicationset/*.md`) it pins.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sluice_gitops::appset::{GenerateError, Inputs, MAX_PARAM_SETS, generate};
use sluice_gitops::repo::{RepoError, Repos};

/// An in-memory repository: file path -> content; directories derived from the files.
#[derive(Default)]
struct Mem(BTreeMap<String, String>);

impl Repos for Mem {
    fn directories(&self, _: &str, _: &str) -> Result<Vec<String>, RepoError> {
        let mut dirs: Vec<String> = Vec::new();
        for f in self.0.keys() {
            let parts: Vec<&str> = f.split('/').collect();
            for i in 1..parts.len() {
                let d = parts[..i].join("/");
                if !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
        }
        dirs.sort_by(|a, b| a.split('/').cmp(b.split('/')));
        Ok(dirs)
    }
    fn files(&self, _: &str, _: &str) -> Result<Vec<String>, RepoError> {
        Ok(self.0.keys().cloned().collect())
    }
    fn read(&self, _: &str, _: &str, p: &str) -> Result<Vec<u8>, RepoError> {
        self.0
            .get(p)
            .map(|s| s.as_bytes().to_vec())
            .ok_or_else(|| RepoError(format!("{p}: not found")))
    }
}

fn appset(spec: Value) -> Value {
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
           "metadata": {"name": "t", "namespace": "argocd"}, "spec": spec})
}

fn tmpl(name: &str) -> Value {
    json!({"metadata": {"name": name},
           "spec": {"project": "default", "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"}}})
}

fn run(spec: Value, objects: &[Value], repo: &Mem) -> Result<Vec<Value>, Vec<GenerateError>> {
    generate(
        &appset(spec),
        &Inputs {
            objects,
            repos: repo,
        },
    )
}

fn names(apps: &[Value]) -> Vec<String> {
    apps.iter()
        .map(|a| {
            a["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn ok(spec: Value) -> Vec<Value> {
    run(spec, &[], &Mem::default()).expect("generates")
}

fn errs(spec: Value) -> Vec<String> {
    run(spec, &[], &Mem::default())
        .expect_err("fails")
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn secret(name: &str, server: &str, labels: Value) -> Value {
    let mut l = labels;
    l["argocd.argoproj.io/secret-type"] = json!("cluster");
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": format!("cluster-{name}"), "namespace": "argocd", "labels": l,
                        "annotations": {"note": "n"}},
           "stringData": {"name": name, "server": server}})
}

// list.go: fasttemplate elements hold strings (values.* flattened); goTemplate keeps any
// JSON; elementsYaml is appended.
#[test]
fn list_generator() {
    let apps = ok(json!({
        "generators": [{"list": {"elements": [{"c": "a", "values": {"v": "1"}}],
                                  "elementsYaml": "- c: b\n  values: {v: '2'}\n"}}],
        "template": tmpl("{{c}}-{{values.v}}"),
    }));
    // elementsYaml elements are appended as they are, not flattened: `values` stays a map.
    assert_eq!(names(&apps), ["a-1", "b-{{values.v}}"]);
    let apps = ok(json!({
        "goTemplate": true,
        "generators": [{"list": {"elements": [{"c": "a", "n": 3, "nested": {"k": "v"}}]}}],
        "template": tmpl("{{.c}}-{{.n}}-{{.nested.k}}"),
    }));
    assert_eq!(names(&apps), ["a-3-v"]);
    let e = errs(json!({
        "generators": [{"list": {"elements": [{"c": 1}]}}],
        "template": tmpl("{{c}}"),
    }));
    assert_eq!(
        e,
        ["spec.generators[0].list.elements[0]: error parsing value as string (c is not a string)"]
    );
}

// utils.go RenderTemplateParams: the resources-finalizer unless the template has
// finalizers or syncPolicy.preserveResourcesOnDeletion; the namespace is the
// ApplicationSet's when the template has none.
#[test]
fn finalizer_and_namespace() {
    let apps = ok(
        json!({"generators": [{"list": {"elements": [{"c": "a"}]}}], "template": tmpl("{{c}}")}),
    );
    assert_eq!(
        apps[0]["metadata"],
        json!({"name": "a", "namespace": "argocd", "finalizers": ["resources-finalizer.argocd.argoproj.io"]})
    );
    let mut t = tmpl("{{c}}");
    t["metadata"]["finalizers"] = json!(["mine"]);
    let apps = ok(json!({"generators": [{"list": {"elements": [{"c": "a"}]}}], "template": t}));
    assert_eq!(apps[0]["metadata"]["finalizers"], json!(["mine"]));
    let apps = ok(
        json!({"generators": [{"list": {"elements": [{"c": "a"}]}}], "template": tmpl("{{c}}"),
                         "syncPolicy": {"preserveResourcesOnDeletion": true}}),
    );
    assert!(apps[0]["metadata"].get("finalizers").is_none());
}

// cluster.go: the local cluster (in-cluster, https://kubernetes.default.svc) without a
// Secret, first, unless the selector is non-empty; Secrets in list order; nameNormalized;
// metadata.labels.* (fasttemplate) or metadata.labels map (goTemplate); values rendered
// with the cluster's parameters; flatList.
#[test]
fn clusters_generator() {
    let objects = [
        secret("Prod_1", "https://p1", json!({"env": "prod"})),
        secret("dev", "https://d", json!({"env": "dev"})),
    ];
    let spec = |sel: Value, go: bool, name: &str| {
        json!({"goTemplate": go,
               "generators": [{"clusters": {"selector": sel, "values": {"where": if go {"{{.server}}"} else {"{{server}}"}}}}],
               "template": tmpl(name)})
    };
    let apps = run(
        spec(
            json!({}),
            false,
            "{{nameNormalized}}-{{metadata.labels.env}}-{{values.where}}",
        ),
        &objects,
        &Mem::default(),
    )
    .expect("ok");
    assert_eq!(
        names(&apps),
        [
            "in-cluster-{{metadata.labels.env}}-https://kubernetes.default.svc",
            // Secrets as the API lists them: by name (cluster-Prod_1 < cluster-dev).
            "prod-1-prod-https://p1",
            "dev-dev-https://d",
        ]
    );
    let apps = run(
        spec(
            json!({"matchLabels": {"env": "prod"}}),
            true,
            "{{.name}}-{{.metadata.labels.env}}-{{.metadata.annotations.note}}-{{.values.where}}",
        ),
        &objects,
        &Mem::default(),
    )
    .expect("ok");
    assert_eq!(names(&apps), ["Prod_1-prod-n-https://p1"]);
    let apps = run(
        json!({"goTemplate": true,
               "generators": [{"clusters": {"flatList": true, "selector": {"matchExpressions": [{"key": "env", "operator": "Exists"}]}}}],
               "template": tmpl("all-{{len .clusters}}")}),
        &objects,
        &Mem::default(),
    )
    .expect("ok");
    assert_eq!(names(&apps), ["all-2"]);
}

fn repo() -> Mem {
    Mem(BTreeMap::from([
        ("apps/a/kustomization.yaml".into(), String::new()),
        ("apps/b/kustomization.yaml".into(), String::new()),
        ("apps/skip/kustomization.yaml".into(), String::new()),
        ("apps/.hidden/x.yaml".into(), String::new()),
        (
            "cfg/east/config.yaml".into(),
            "cluster:\n  name: east\n  size: 2\nflag: yes\n".into(),
        ),
        (
            "cfg/many.json".into(),
            "[{\"cluster\": {\"name\": \"n1\"}}, {\"cluster\": {\"name\": \"n2\"}}]".into(),
        ),
    ]))
}

// git.go: directories matched with path.Match, exclude wins, hidden directories skipped
// (repo-server); path, path.basename, path.basenameNormalized, path[n]; pathParamPrefix.
#[test]
fn git_directories() {
    let git = |extra: Value| {
        let mut g = json!({"repoURL": "https://r", "revision": "HEAD",
                           "directories": [{"path": "apps/*"}, {"path": "apps/skip", "exclude": true}]});
        if let (Some(g), Some(e)) = (g.as_object_mut(), extra.as_object()) {
            g.extend(e.clone());
        }
        g
    };
    let apps = run(
        json!({"generators": [{"git": git(json!({}))}], "template": tmpl("{{path.basename}}-{{path[0]}}-{{path}}")}),
        &[],
        &repo(),
    )
    .expect("ok");
    assert_eq!(names(&apps), ["a-apps-apps/a", "b-apps-apps/b"]);
    let apps = run(
        json!({"goTemplate": true, "generators": [{"git": git(json!({"pathParamPrefix": "p"}))}],
               "template": tmpl("{{.p.path.basename}}-{{index .p.path.segments 0}}")}),
        &[],
        &repo(),
    )
    .expect("ok");
    assert_eq!(names(&apps), ["a-apps", "b-apps"]);
}

// git.go generateParamsFromGitFile: YAML or JSON, one object or a list; fasttemplate
// flattens (flatten.DotStyle, %v of go-yaml v2 values: `yes` is true); path.* of the file.
#[test]
fn git_files() {
    let apps = run(
        json!({"generators": [{"git": {"repoURL": "https://r", "files": [{"path": "cfg/**"}]}}],
               "template": tmpl("{{cluster.name}}-{{cluster.size}}-{{flag}}-{{path.basename}}-{{path.filename}}")}),
        &[],
        &repo(),
    )
    .expect("ok");
    assert_eq!(
        names(&apps),
        [
            "east-2-true-east-config.yaml",
            "n1-{{cluster.size}}-{{flag}}-cfg-many.json",
            "n2-{{cluster.size}}-{{flag}}-cfg-many.json"
        ]
    );
    let e = run(
        json!({"generators": [{"git": {"repoURL": "https://r", "files": [{"path": "apps/a/*"}]}}],
               "template": tmpl("x")}),
        &[],
        &Mem(BTreeMap::from([(
            "apps/a/bad.yaml".into(),
            "just a string".into(),
        )])),
    )
    .expect_err("fails");
    assert!(
        e[0].message
            .contains("unable to process file 'apps/a/bad.yaml'"),
        "{e:?}"
    );
}

// matrix.go: the second child interpolated with each parameter set of the first;
// fasttemplate combination refuses a key with two values (CombineStringMaps).
#[test]
fn matrix_generator() {
    let apps = run(
        json!({"generators": [{"matrix": {"generators": [
                    {"list": {"elements": [{"dir": "apps/a"}, {"dir": "apps/b"}]}},
                    {"git": {"repoURL": "https://r", "directories": [{"path": "{{dir}}"}]}}]}}],
               "template": tmpl("{{dir}}-{{path.basename}}")}),
        &[],
        &repo(),
    )
    .expect("ok");
    assert_eq!(names(&apps), ["apps/a-a", "apps/b-b"]);
    let e = errs(json!({"generators": [{"matrix": {"generators": [
            {"list": {"elements": [{"k": "1"}]}}, {"list": {"elements": [{"k": "2"}]}}]}}],
        "template": tmpl("{{k}}")}));
    assert_eq!(
        e,
        [
            "spec.generators[0].matrix: failed to combine string maps with merging params for the matrix generator: found duplicate key k with different value, a: 1 ,b: 2"
        ]
    );
    // goTemplate: mergo.Merge, the first set's values win.
    let apps = ok(
        json!({"goTemplate": true, "generators": [{"matrix": {"generators": [
            {"list": {"elements": [{"k": "1"}]}}, {"list": {"elements": [{"k": "2", "j": "x"}]}}]}}],
        "template": tmpl("{{.k}}{{.j}}")}),
    );
    assert_eq!(names(&apps), ["1x"]);
}

// Generators-Matrix.md "Restrictions": exactly two children; matrix/merge nest once.
#[test]
fn matrix_restrictions() {
    let l = |k: &str| json!({"list": {"elements": [{k: "v"}]}});
    let e =
        errs(json!({"generators": [{"matrix": {"generators": [l("a")]}}], "template": tmpl("x")}));
    assert_eq!(
        e,
        [
            "spec.generators[0].matrix.generators: found less than two generators, Matrix support only two"
        ]
    );
    let nested =
        json!({"matrix": {"generators": [l("a"), {"matrix": {"generators": [l("b"), l("c")]}}]}});
    let apps = ok(json!({"generators": [nested], "template": tmpl("{{a}}{{b}}{{c}}")}));
    assert_eq!(names(&apps), ["vvv"]);
    let deep = json!({"matrix": {"generators": [l("a"), {"matrix": {"generators": [l("b"), {"matrix": {"generators": [l("c"), l("d")]}}]}}]}});
    let e = errs(json!({"generators": [deep], "template": tmpl("x")}));
    assert_eq!(
        e,
        [
            "spec.generators[0].matrix.generators[1].matrix.generators[1].matrix: combination-type generators (matrix or merge) can only be nested once"
        ]
    );
    let elements: Vec<Value> = (0..150).map(|i| json!({"a": format!("{i}")})).collect();
    let belements: Vec<Value> = (0..150).map(|i| json!({"b": format!("{i}")})).collect();
    let e = errs(json!({"generators": [{"matrix": {"generators": [
            {"list": {"elements": elements}}, {"list": {"elements": belements}}]}}], "template": tmpl("x")}));
    assert!(
        e[0].contains(&format!("more than {MAX_PARAM_SETS} parameter sets")),
        "{e:?}"
    );
}

// merge.go: the first child is the base; later children override by merge key and must
// be unique by it; the base's order is kept.
#[test]
fn merge_generator() {
    let apps = ok(
        json!({"generators": [{"merge": {"mergeKeys": ["k"], "generators": [
            {"list": {"elements": [{"k": "1", "v": "a"}, {"k": "2", "v": "b"}]}},
            {"list": {"elements": [{"k": "2", "v": "B"}, {"k": "3", "v": "C"}]}}]}}],
        "template": tmpl("{{k}}-{{v}}")}),
    );
    assert_eq!(names(&apps), ["1-a", "2-B"]);
    let e = errs(
        json!({"generators": [{"merge": {"mergeKeys": ["k"], "generators": [
            {"list": {"elements": [{"k": "1"}]}},
            {"list": {"elements": [{"k": "1"}, {"k": "1"}]}}]}}], "template": tmpl("x")}),
    );
    assert!(
        e[0].contains("not unique by the given mergeKeys")
            && e[0].contains("Duplicate key was {\"k\":\"1\"}"),
        "{e:?}"
    );
    let e = errs(json!({"generators": [{"merge": {"generators": [
            {"list": {"elements": [{"k": "1"}]}}, {"list": {"elements": [{"k": "1"}]}}]}}], "template": tmpl("x")}));
    assert_eq!(
        e,
        [
            "spec.generators[0].merge.mergeKeys: no merge keys were specified, Merge requires at least one"
        ]
    );
}

// Generators-Post-Selector.md: the selector filters parameter sets on their string values
// (values may be URLs); generator templates override the ApplicationSet's (Template.md).
#[test]
fn selector_and_template_override() {
    let apps = ok(json!({
        "generators": [{"list": {"elements": [{"c": "a", "url": "https://a"}, {"c": "b", "url": "https://b"}],
                                  "template": {"metadata": {}, "spec": {"project": "special"}}},
                        "selector": {"matchLabels": {"url": "https://b"}}}],
        "template": tmpl("{{c}}"),
    }));
    assert_eq!(names(&apps), ["b"]);
    assert_eq!(apps[0]["spec"]["project"], "special");
    assert_eq!(apps[0]["spec"]["destination"]["namespace"], "x");
}

// GoTemplate.md: missingkey=error fails; templatePatch is rendered then merged.
#[test]
fn go_templates_and_patch() {
    let e = errs(
        json!({"goTemplate": true, "goTemplateOptions": ["missingkey=error"],
        "generators": [{"list": {"elements": [{"c": "a"}]}}], "template": tmpl("{{.nope}}")}),
    );
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("spec.template.metadata.name: failed to execute go template:")
            && e[0].contains("map has no entry for key \"nope\""),
        "{e:?}"
    );
    let apps = ok(json!({"goTemplate": true,
        "generators": [{"list": {"elements": [{"c": "a", "auto": true}, {"c": "b", "auto": false}]}}],
        "template": tmpl("{{.c}}"),
        "templatePatch": "{{ if .auto }}\nspec:\n  syncPolicy:\n    automated: {selfHeal: true}\n{{ end }}\n"}));
    assert_eq!(
        apps[0]["spec"]["syncPolicy"],
        json!({"automated": {"selfHeal": true}})
    );
    assert!(apps[1]["spec"].get("syncPolicy").is_none());
    // template.go applyTemplatePatch: the project cannot be patched; the namespace is the
    // ApplicationSet's whatever the template says.
    let mut t = tmpl("{{.c}}");
    t["metadata"]["namespace"] = json!("elsewhere");
    let apps = ok(json!({"goTemplate": true,
        "generators": [{"list": {"elements": [{"c": "a"}]}}],
        "template": t,
        "templatePatch": "spec:\n  project: other\n  destination:\n    namespace: patched\n"}));
    assert_eq!(apps[0]["spec"]["project"], "default");
    assert_eq!(apps[0]["spec"]["destination"]["namespace"], "patched");
    assert_eq!(apps[0]["metadata"]["namespace"], "argocd");
}

#[test]
fn unknown_and_unsupported_generators() {
    let e =
        errs(json!({"generators": [{"lists": {}}, {"pullRequest": {}}], "template": tmpl("x")}));
    assert_eq!(
        e,
        [
            "spec.generators[0].lists: unknown generator \"lists\": supported are list, clusters, git, matrix and merge",
            "spec.generators[1].pullRequest: the pullRequest generator reads an external service and is not supported by Sluice yet",
        ]
    );
    let e =
        errs(json!({"generators": [{"list": {"element": [{"c": "a"}]}}], "template": tmpl("x")}));
    assert_eq!(
        e,
        ["spec.generators[0].list.element: unknown field \"element\" of the list generator"]
    );
    let e = errs(json!({"template": tmpl("x")}));
    assert_eq!(e, ["spec.generators: Required value"]);
}

mod props {
    use proptest::prelude::*;
    use serde_json::{Map, Value};
    use sluice_gitops::appset::{flatten, go_sprint};

    fn json_tree() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-1_000_000i64..1_000_000).prop_map(Value::from),
            "[a-z]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn leaves(v: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    leaves(
                        x,
                        &if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        },
                        out,
                    );
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    leaves(x, &format!("{prefix}.{i}"), out);
                }
            }
            leaf => out.push((prefix.to_owned(), go_sprint(leaf))),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Every leaf appears once under its dotted path, printed as Go's %v; nothing else.
        #[test]
        fn flatten_keeps_every_leaf(m in prop::collection::btree_map("[a-z]{1,4}", json_tree(), 0..5)) {
            let obj: Map<String, Value> = m.into_iter().collect();
            let flat = flatten(&obj);
            let mut want = Vec::new();
            leaves(&Value::Object(obj), "", &mut want);
            // Distinct paths can collide ("a.0" from a list and a key "0"); compare as maps.
            let want: std::collections::BTreeMap<String, String> = want.into_iter().collect();
            prop_assert_eq!(flat.len(), want.len());
            for (k, v) in want {
                prop_assert_eq!(flat.get(&k).and_then(Value::as_str), Some(v.as_str()));
            }
        }

        /// Integral numbers print as Go prints a float64 with %v.
        #[test]
        fn integers_print_as_go_floats(n in -999_999i64..999_999) {
            prop_assert_eq!(go_sprint(&Value::from(n)), n.to_string());
        }
    }
}

mod render_props {
    use proptest::prelude::*;
    use serde_json::{Value, json};
    use sluice_gitops::appset::{Inputs, generate};
    use sluice_gitops::repo::NoRepos;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// fasttemplate: a name made of text and tags renders to the text with each known
        /// tag replaced once (a value holding `{{...}}` is not scanned again), unknown tags
        /// left as written; goTemplate renders the same from the same element.
        #[test]
        fn rendering_is_single_pass(
            parts in prop::collection::vec(("[a-z-]{0,4}", prop::option::of(0usize..4)), 0..6),
            vals in prop::collection::vec("[a-z{}]{0,6}", 3),
        ) {
            let keys = ["a", "b", "c"];
            let mut fast = String::new();
            let mut go = String::new();
            let mut want = String::new();
            for (text, tag) in &parts {
                fast.push_str(text);
                go.push_str(text);
                want.push_str(text);
                if let Some(i) = tag {
                    if *i < 3 {
                        fast.push_str(&format!("{{{{{}}}}}", keys[*i]));
                        go.push_str(&format!("{{{{.{}}}}}", keys[*i]));
                        want.push_str(&vals[*i]);
                    } else {
                        fast.push_str("{{zz}}");
                        go.push_str("{{\"{{zz}}\"}}");
                        want.push_str("{{zz}}");
                    }
                }
            }
            let el = json!({"a": vals[0], "b": vals[1], "c": vals[2]});
            for (go_mode, name) in [(false, fast), (true, go)] {
                let set = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
                    "metadata": {"name": "p"},
                    "spec": {"goTemplate": go_mode, "generators": [{"list": {"elements": [el.clone()]}}],
                             "template": {"metadata": {"name": name}, "spec": {"project": "default"}}}});
                let out = generate(&set, &Inputs { objects: &[], repos: &NoRepos });
                // A value ending in `{` next to a `{{` may form a tag only in the output,
                // never re-read: the output is exactly the concatenation.
                let apps = out.map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                let got = apps[0]["metadata"].get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
                prop_assert_eq!(got, want.clone());
            }
        }

        /// Arbitrary generator entries never panic: they generate or fail with errors.
        #[test]
        fn arbitrary_generators_never_panic(g in super::props_json()) {
            let set = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
                "metadata": {"name": "p"},
                "spec": {"generators": [g], "template": {"metadata": {"name": "{{x}}"}, "spec": {}}}});
            let _ = generate(&set, &Inputs { objects: &[], repos: &NoRepos });
        }
    }
}

fn props_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let key = prop_oneof![
        Just("list".to_owned()),
        Just("matrix".to_owned()),
        Just("merge".to_owned()),
        Just("generators".to_owned()),
        Just("elements".to_owned()),
        Just("mergeKeys".to_owned()),
        Just("selector".to_owned()),
        Just("clusters".to_owned()),
        Just("x".to_owned()),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        "[a-z{}.]{0,5}".prop_map(Value::String),
        (0i64..3).prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

// A template that would build more than the template budget fails with an error, never
// an allocation of that size (sluice_expr::appset::TEMPLATE_LIMITS).
#[test]
fn template_budget_is_an_error() {
    let e = errs(json!({"goTemplate": true,
        "generators": [{"list": {"elements": [{"c": "a"}]}}],
        "template": tmpl("{{ repeat 100000000 \"x\" }}")}));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("spec.template.metadata.name: failed to execute go template:"),
        "{e:?}"
    );
}
