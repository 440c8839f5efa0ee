//! Chart semantics on small charts written here (an in-memory file system). Each test names
//! the upstream behaviour it pins: helm/helm `pkg/chart/common/util/coalesce.go`
//! (values), `pkg/chart/v2/util/dependencies.go` (condition, tags, alias, import-values),
//! `pkg/engine/engine.go` (built-in objects, `.Subcharts`, library charts),
//! `pkg/release/v1/util/kind_sorter.go` and `manifest_sorter.go` (order, hooks),
//! `pkg/action/install.go` (`# Source:` lines, CRDs, NOTES.txt), `internal/ignore`
//! (.helmignore), `pkg/strvals` (--set).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{Value, json};
use sluice_helm::render::{Capabilities, RenderOptions};
use sluice_helm::strvals::{self, Mode};
use sluice_helm::{FileSystem, load_chart, render};

struct MemFs(BTreeMap<PathBuf, Vec<u8>>);

impl MemFs {
    fn new(files: &[(&str, &str)]) -> MemFs {
        MemFs(
            files
                .iter()
                .map(|(p, c)| (PathBuf::from("/c").join(p), c.as_bytes().to_vec()))
                .collect(),
        )
    }
}

impl FileSystem for MemFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }
    fn list(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
        let mut out: Vec<(String, bool)> = Vec::new();
        for p in self.0.keys() {
            if let Ok(rest) = p.strip_prefix(path) {
                let mut comps = rest.components();
                if let Some(first) = comps.next() {
                    let name = first.as_os_str().to_string_lossy().into_owned();
                    let is_dir = comps.next().is_some();
                    if !out.iter().any(|(n, _)| *n == name) {
                        out.push((name, is_dir));
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }
    fn is_dir(&self, path: &Path) -> bool {
        self.0.keys().any(|p| p.starts_with(path) && p != path)
    }
}

fn opts() -> RenderOptions {
    RenderOptions {
        release_name: "rel".into(),
        namespace: "ns".into(),
        capabilities: Capabilities::default(),
        include_crds: false,
        skip_crds: false,
        no_hooks: false,
        skip_schema_validation: false,
    }
}

fn run(files: &[(&str, &str)], user: Value) -> Result<String, String> {
    run_with(files, user, &opts())
}

fn run_with(files: &[(&str, &str)], user: Value, o: &RenderOptions) -> Result<String, String> {
    let fs = MemFs::new(files);
    let chart = load_chart(&fs, Path::new("/c")).map_err(|e| e.to_string())?;
    let Value::Object(user) = user else {
        panic!("object")
    };
    render(&chart, &user, o).map_err(|e| e.to_string())
}

const CHART: (&str, &str) = (
    "Chart.yaml",
    "apiVersion: v2\nname: app\nversion: 1.2.3\nappVersion: \"9.9\"\n",
);

#[test]
fn values_coalesce_user_over_defaults_and_null_deletes() {
    let out = run(
        &[
            CHART,
            ("values.yaml", "a: 1\nb: {x: 1, y: 2}\nc: keep\n"),
            (
                "templates/cm.yaml",
                "a={{ .Values.a }} x={{ .Values.b.x }} y={{ .Values.b.y }} c={{ .Values.c }}\n",
            ),
        ],
        json!({"b": {"x": 5, "y": null}, "c": null}),
    )
    .expect("render");
    assert_eq!(out, "---\n# Source: app/templates/cm.yaml\na=1 x=5 y= c=\n");
}

#[test]
fn builtin_objects() {
    let out = run(
        &[
            CHART,
            ("files/a.conf", "k=v\n"),
            ("files/b.conf", "l1\nl2\n"),
            (
                "templates/x.yaml",
                "r: {{ .Release.Name }}/{{ .Release.Namespace }}/{{ .Release.IsInstall }}/{{ .Release.Revision }}/{{ .Release.Service }}\n\
                 c: {{ .Chart.Name }}-{{ .Chart.Version }}-{{ .Chart.AppVersion }}\n\
                 t: {{ .Template.Name }} {{ .Template.BasePath }}\n\
                 k: {{ .Capabilities.KubeVersion.Version }} {{ .Capabilities.APIVersions.Has \"apps/v1\" }}\n\
                 f: {{ .Files.Get \"files/a.conf\" | trim }} {{ range .Files.Lines \"files/b.conf\" }}[{{ . }}]{{ end }}\n\
                 cfg:\n{{ (.Files.Glob \"files/*.conf\").AsConfig | indent 2 }}\n\
                 sec:\n{{ (.Files.Glob \"files/a.*\").AsSecrets | indent 2 }}\n",
            ),
        ],
        json!({}),
    )
    .expect("render");
    assert_eq!(
        out,
        "---\n# Source: app/templates/x.yaml\n\
         r: rel/ns/true/1/Helm\nc: app-1.2.3-9.9\nt: app/templates/x.yaml app/templates\n\
         k: v1.32.0 true\nf: k=v [l1][l2]\ncfg:\n  a.conf: |\n    k=v\n  b.conf: |\n    l1\n    l2\n\
         sec:\n  a.conf: az12Cg==\n"
    );
}

#[test]
fn kind_order_hooks_notes_and_sources() {
    let files = [
        CHART,
        ("templates/NOTES.txt", "notes {{ .Release.Name }}"),
        ("templates/_helpers.tpl", "{{ define \"x\" }}x{{ end }}"),
        (
            "templates/a.yaml",
            "kind: Deployment\nmetadata:\n  name: d\n---\nkind: Service\nmetadata:\n  name: s\n",
        ),
        (
            "templates/b.yaml",
            "kind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install\n",
        ),
        (
            "templates/c.yaml",
            "kind: ConfigMap\nmetadata:\n  name: {{ include \"x\" . }}\n",
        ),
        ("templates/z.yaml", "kind: Zebra\n"),
        ("crds/crd.yaml", "kind: CustomResourceDefinition\n"),
    ];
    let out = run(&files, json!({})).expect("render");
    assert_eq!(
        out,
        "---\n# Source: app/templates/c.yaml\nkind: ConfigMap\nmetadata:\n  name: x\n\n\
         ---\n# Source: app/templates/a.yaml\nkind: Service\nmetadata:\n  name: s\n\n\
         ---\n# Source: app/templates/a.yaml\nkind: Deployment\nmetadata:\n  name: d\n\n\
         ---\n# Source: app/templates/z.yaml\nkind: Zebra\n\
         ---\n# Source: app/templates/b.yaml\nkind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install\n\n"
    );
    let mut o = opts();
    o.no_hooks = true;
    o.include_crds = true;
    let out = run_with(&files, json!({}), &o).expect("render");
    assert!(
        out.starts_with("---\n# Source: app/crds/crd.yaml\nkind: CustomResourceDefinition\n"),
        "{out}"
    );
    assert!(
        !out.contains("helm.sh/hook") && !out.contains("notes"),
        "{out}"
    );
}

#[test]
fn dependencies_condition_tags_alias_globals_imports_library() {
    let files = [
        (
            "Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n\
             - name: sub\n  version: 0.1.0\n  condition: sub.enabled\n\
             - name: sub\n  alias: other\n  version: 0.1.0\n\
             - name: opt\n  version: 0.1.0\n  tags: [extra]\n\
             - name: lib\n  version: 0.1.0\n\
             - name: exp\n  version: 0.1.0\n  import-values: [data]\n",
        ),
        (
            "values.yaml",
            "global:\n  g: top\nsub:\n  enabled: true\n  v: parent\ntags:\n  extra: false\n",
        ),
        (
            "templates/p.yaml",
            "p: {{ include \"lib.hello\" . }} imported={{ .Values.imported }} {{ with .Subcharts.sub }}{{ .Values.v }}{{ end }}\n",
        ),
        (
            "charts/sub/Chart.yaml",
            "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
        ),
        (
            "charts/sub/values.yaml",
            "v: own\nglobal:\n  g: sub\n  h: subonly\n",
        ),
        (
            "charts/sub/templates/s.yaml",
            "s: {{ .Chart.Name }} {{ .Values.v }} {{ .Values.global.g }} {{ .Values.global.h }}\n",
        ),
        (
            "charts/opt/Chart.yaml",
            "apiVersion: v2\nname: opt\nversion: 0.1.0\n",
        ),
        ("charts/opt/templates/o.yaml", "o: never\n"),
        (
            "charts/lib/Chart.yaml",
            "apiVersion: v2\nname: lib\nversion: 0.1.0\ntype: library\n",
        ),
        (
            "charts/lib/templates/_h.tpl",
            "{{ define \"lib.hello\" }}hi{{ end }}",
        ),
        (
            "charts/lib/templates/l.yaml",
            "library templates are not rendered\n",
        ),
        (
            "charts/exp/Chart.yaml",
            "apiVersion: v2\nname: exp\nversion: 0.1.0\n",
        ),
        (
            "charts/exp/values.yaml",
            "exports:\n  data:\n    imported: yes-it-is\n",
        ),
    ];
    let out = run(&files, json!({})).expect("render");
    assert_eq!(
        out,
        "---\n# Source: app/charts/other/templates/s.yaml\ns: other own top subonly\n\n\
         ---\n# Source: app/charts/sub/templates/s.yaml\ns: sub parent top subonly\n\n\
         ---\n# Source: app/templates/p.yaml\np: hi imported=yes-it-is parent\n"
    );
    // the condition turns the dependency off
    let out = run(&files, json!({"sub": {"enabled": false}})).expect("render");
    assert!(!out.contains("charts/sub/"), "{out}");
    // tags turn `off` on
    let out = run(&files, json!({"tags": {"extra": true}})).expect("render");
    assert!(out.contains("charts/opt/templates/o.yaml"), "{out}");
}

#[test]
fn helmignore_and_hidden_templates() {
    let out = run(
        &[
            CHART,
            (".helmignore", "# comment\n*.bak\nsecret/\n"),
            ("a.bak", "x"),
            ("secret/key", "x"),
            ("kept.txt", "x"),
            ("templates/.hidden.yaml", "hidden: true\n"),
            (
                "templates/l.yaml",
                "{{ range $p, $_ := .Files }}{{ $p }} {{ end }}\n",
            ),
        ],
        json!({}),
    )
    .expect("render");
    assert_eq!(
        out,
        "---\n# Source: app/templates/l.yaml\n.helmignore kept.txt\n"
    );
}

#[test]
fn template_errors_name_chart_template_and_line() {
    let e = run(
        &[CHART, ("templates/e.yaml", "a: 1\nb: {{ .Values.x.y }}\n")],
        json!({}),
    )
    .unwrap_err();
    assert_eq!(
        e,
        "template: app/templates/e.yaml:2:6: executing \"app/templates/e.yaml\" at <.Values.x.y>: nil pointer evaluating interface {}.y"
    );
    let e = run(
        &[
            CHART,
            (
                "templates/e.yaml",
                "{{ required \"x is required\" .Values.x }}",
            ),
        ],
        json!({}),
    )
    .unwrap_err();
    assert_eq!(
        e,
        "execution error at (app/templates/e.yaml:1:3): x is required"
    );
    let e = run(&[CHART, ("templates/e.yaml", "{{ if }}")], json!({})).unwrap_err();
    assert!(
        e.starts_with("parse error at (app/templates/e.yaml)"),
        "{e}"
    );
    let e = run(
        &[
            CHART,
            (
                "templates/_h.tpl",
                "{{ define \"l\" }}{{ include \"l\" . }}{{ end }}",
            ),
            ("templates/e.yaml", "{{ include \"l\" . }}"),
        ],
        json!({}),
    )
    .unwrap_err();
    assert!(e.contains("exceeded max depth"), "{e}");
}

#[test]
fn values_yaml_bomb_is_refused() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..8 {
        bomb.push_str(&format!(
            "b{i}: &b{i} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n",
            p = if i == 0 {
                "a".to_owned()
            } else {
                format!("b{}", i - 1)
            }
        ));
    }
    let e = run(
        &[CHART, ("values.yaml", &bomb), ("templates/x.yaml", "x")],
        json!({}),
    )
    .unwrap_err();
    assert!(e.contains("values.yaml") && e.contains("alias"), "{e}");
}

/// A ustar archive of `(name, typeflag, content)` entries, gzipped.
fn tgz(entries: &[(&str, u8, &str)]) -> Vec<u8> {
    use std::io::Write as _;
    let mut tar = Vec::new();
    for (name, flag, content) in entries {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{:011o}", content.len()).as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = *flag;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        tar.extend_from_slice(&h);
        tar.extend_from_slice(content.as_bytes());
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.resize(tar.len() + 1024, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).expect("gzip");
    gz.finish().expect("gzip")
}

#[test]
fn packaged_dependencies_and_escaping_archives() {
    let sub = tgz(&[
        (
            "sub/Chart.yaml",
            b'0',
            "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
        ),
        ("sub/values.yaml", b'0', "v: packaged\n"),
        ("sub/templates/s.yaml", b'0', "s: {{ .Values.v }}\n"),
    ]);
    let mut fs = MemFs::new(&[CHART, ("templates/p.yaml", "p: 1\n")]);
    fs.0.insert(PathBuf::from("/c/charts/sub-0.1.0.tgz"), sub);
    let chart = load_chart(&fs, Path::new("/c")).expect("load");
    let Value::Object(user) = json!({}) else {
        unreachable!()
    };
    let out = render(&chart, &user, &opts()).expect("render");
    assert_eq!(
        out,
        "---\n# Source: app/charts/sub/templates/s.yaml\ns: packaged\n\n---\n# Source: app/templates/p.yaml\np: 1\n"
    );
    // Helm's loader refuses entries that climb out; Sluice also refuses absolute paths and links
    for (bad, why) in [
        (
            tgz(&[("sub/../../etc/passwd", b'0', "x")]),
            "parent directory",
        ),
        (tgz(&[("/etc/passwd", b'0', "x")]), "absolute"),
        (tgz(&[("sub/link", b'2', "")]), "links"),
        (b"not gzip".to_vec(), "gzip"),
    ] {
        let mut fs = MemFs::new(&[CHART]);
        fs.0.insert(PathBuf::from("/c/charts/bad.tgz"), bad);
        let e = load_chart(&fs, Path::new("/c"))
            .expect_err("refused")
            .to_string();
        assert!(e.contains(why), "{why}: {e}");
    }
}

#[test]
fn values_schema_validation() {
    let files = [
        CHART,
        ("values.yaml", "replicas: 1\nmode: a\n"),
        (
            "values.schema.json",
            r#"{"type": "object", "required": ["name"], "properties": {"replicas": {"type": "integer"}, "mode": {"enum": ["a", "b"]}}}"#,
        ),
        ("templates/x.yaml", "x: {{ .Values.replicas }}\n"),
    ];
    let e = run(&files, json!({"replicas": "three", "mode": "c"})).unwrap_err();
    assert_eq!(
        e,
        "values don't meet the specifications of the schema(s) in the following chart(s):\napp:\n\
         - at '': missing property 'name'\n- at '/replicas': got string, want integer\n- at '/mode': value must be one of 'a', 'b'"
    );
    assert!(run(&files, json!({"name": "n"})).is_ok());
    let mut o = opts();
    o.skip_schema_validation = true;
    assert!(run_with(&files, json!({"replicas": "x"}), &o).is_ok());
}

#[test]
fn set_parser_examples() {
    let mut m = serde_json::Map::new();
    strvals::parse_into(
        "a.b=1,c=true,d=null,e={x,2},f[1]=y,g\\.h=z,i=012",
        &mut m,
        Mode::Typed,
    )
    .expect("parse");
    assert_eq!(
        Value::Object(m),
        json!({"a": {"b": 1}, "c": true, "d": null, "e": ["x", 2], "f": [null, "y"], "g.h": "z", "i": "012"})
    );
    let mut m = serde_json::Map::new();
    strvals::parse_into("a=1,b=true", &mut m, Mode::String).expect("parse");
    assert_eq!(Value::Object(m), json!({"a": "1", "b": "true"}));
    let mut m = serde_json::Map::new();
    strvals::parse_into(r#"a={"k":[1,2]}"#, &mut m, Mode::Json).expect("parse");
    assert_eq!(Value::Object(m), json!({"a": {"k": [1, 2]}}));
    let mut m = serde_json::Map::new();
    assert!(strvals::parse_into("a[999999]=1", &mut m, Mode::Typed).is_err());
    assert!(strvals::parse_into("novalue", &mut m, Mode::Typed).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, .. ProptestConfig::default() })]
    #[test]
    fn set_parser_never_panics(s in "[a-z0-9.,=\\[\\]{}\\\\\"-]{0,40}") {
        for mode in [Mode::Typed, Mode::String, Mode::Json] {
            let mut m = serde_json::Map::new();
            let _ = strvals::parse_into(&s, &mut m, mode);
        }
    }

    #[test]
    fn set_parser_round_trips_simple_keys(k in "[a-z]{1,8}", v in "[a-z]{1,8}") {
        let mut m = serde_json::Map::new();
        strvals::parse_into(&format!("{k}.x={v}"), &mut m, Mode::String).expect("parse");
        prop_assert_eq!(Value::Object(m), json!({ k: {"x": v} }));
    }
}
