//! `sluice kustomize build --enable-helm` (`helmCharts`, `helmGlobals`) against `kubectl
//! kustomize --enable-helm` (kustomize v5.5.0) driving real Helm. There is no `helm` binary on
//! the test machines, so kustomize's `--helm-command` is scripts/helm-sdkpy-shim: a `helm`
//! command line over the helm-sdkpy wheel (Helm's Go library), rendering by installing into
//! a fresh `sluice apiserver` as scripts/helm-reference.py does. Expected output comes from
//! running those tools here, never from text written by hand.
//!
//! The semantics pinned (kubernetes-sigs/kustomize
//! `api/internal/builtins/HelmChartInflationGenerator.go`, `api/types/helmchartargs.go`):
//! chart home `charts` or `helmGlobals.chartHome`, `valuesFile` as `-f`, `valuesInline`
//! merged by `valuesMerge` (kyaml merge2), `additionalValuesFiles`, `releaseName`,
//! `namespace`, `skipTests`, `skipHooks`, and the kustomization's transformers applied to
//! the inflated objects.

use std::path::Path;
use std::process::Command;

use crate::apiserver_kubectl::temp_dir;
use crate::common::{repo_root, sluice, stderr, stdout};

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (p, c) in files {
        let p = dir.join(p);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, c).expect("write");
    }
}

const CHART: &[(&str, &str)] = &[
    (
        "Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 1.2.3\nappVersion: \"4.5\"\n",
    ),
    (
        "values.yaml",
        "replicas: 1\nimage:\n  repo: nginx\n  tag: stable\nlabels:\n  tier: web\nports: [80]\nextra: null\n",
    ),
    (
        "templates/_helpers.tpl",
        "{{- define \"web.name\" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}\n",
    ),
    (
        "templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"web.name\" . }}\n  labels:\n    {{- toYaml .Values.labels | nindent 4 }}\ndata:\n  image: {{ printf \"%s:%s\" .Values.image.repo .Values.image.tag | quote }}\n  replicas: {{ .Values.replicas | quote }}\n  ports: {{ toJson .Values.ports | quote }}\n  ns: {{ .Release.Namespace }}\n  extra: {{ toJson .Values.extra | quote }}\n",
    ),
    (
        "templates/svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ include \"web.name\" . }}\nspec:\n  ports:\n  {{- range .Values.ports }}\n  - name: p{{ . }}\n    port: {{ . }}\n  {{- end }}\n",
    ),
    (
        "templates/test.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ include \"web.name\" . }}-test\n  annotations:\n    helm.sh/hook: test\nspec:\n  containers:\n  - name: t\n    image: busybox\n",
    ),
    (
        "templates/hook.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"web.name\" . }}-pre\n  annotations:\n    helm.sh/hook: pre-install\ndata: {}\n",
    ),
    ("templates/NOTES.txt", "Installed {{ .Release.Name }}.\n"),
];

fn project(kustomization: &str, extra: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = temp_dir("kustomize-helm");
    for home in ["charts/web", "other-home/web"] {
        for (p, c) in CHART {
            write(&dir.join(home), &[(p, c)]);
        }
    }
    write(&dir, &[("kustomization.yaml", kustomization)]);
    write(&dir, extra);
    dir
}

/// What kustomize prints, driving real Helm through the shim.
fn kubectl_kustomize_helm(dir: &Path) -> std::process::Output {
    Command::new("kubectl")
        .arg("kustomize")
        .arg("--enable-helm")
        .arg("--helm-command")
        .arg(repo_root().join("scripts/helm-sdkpy-shim"))
        .arg(dir)
        .env("SLUICE_BIN", env!("CARGO_BIN_EXE_sluice"))
        .output()
        .expect("kubectl runs")
}

/// (case name, kustomization body, files beside it).
type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const CASES: &[Case] = &[
    (
        "defaults",
        "helmCharts:\n- name: web\n  releaseName: one\n",
        &[],
    ),
    (
        "inline-override-and-transformers",
        "namePrefix: p-\ncommonLabels:\n  team: a\nnamespace: apps\nhelmCharts:\n- name: web\n  releaseName: two\n  namespace: apps\n  valuesInline:\n    replicas: 3\n    image:\n      tag: \"1.25\"\n    labels: {tier: null, role: front}\n    ports: [8080, 9090]\n",
        &[],
    ),
    (
        "inline-merge",
        "helmCharts:\n- name: web\n  releaseName: three\n  valuesMerge: merge\n  valuesInline:\n    replicas: 5\n    image:\n      digest: sha\n",
        &[],
    ),
    (
        "inline-replace-with-values-file",
        "helmCharts:\n- name: web\n  releaseName: four\n  valuesFile: my-values.yaml\n  valuesMerge: replace\n  valuesInline:\n    ports: [1]\n",
        &[("my-values.yaml", "replicas: 7\n")],
    ),
    (
        "values-file-additional-and-globals",
        "helmGlobals:\n  chartHome: other-home\nhelmCharts:\n- name: web\n  releaseName: five\n  valuesFile: my-values.yaml\n  additionalValuesFiles: [more.yaml]\n  skipTests: true\n",
        &[
            ("my-values.yaml", "replicas: 7\nimage: {repo: custom}\n"),
            ("more.yaml", "image: {tag: v9}\n"),
        ],
    ),
    (
        "skip-hooks-and-generator",
        "configMapGenerator:\n- name: gen\n  literals: [a=b]\nhelmCharts:\n- name: web\n  releaseName: six\n  skipHooks: true\n",
        &[],
    ),
];

#[test]
#[ignore = "needs python3 and the helm-sdkpy wheel (pip), as sluice-helm's conformance test"]
fn helm_charts_match_kubectl_kustomize_with_real_helm() {
    let mut failures = Vec::new();
    for (name, k, extra) in CASES {
        let dir = project(k, extra);
        let want = kubectl_kustomize_helm(&dir);
        assert!(
            want.status.success(),
            "{name}: kubectl kustomize --enable-helm failed: {}",
            stderr(&want)
        );
        let d = dir.to_string_lossy();
        let got = sluice(&["kustomize", "build", "--enable-helm", &d], None);
        assert_eq!(got.status.code(), Some(0), "{name}: {}", stderr(&got));
        if stdout(&got) != stdout(&want) {
            failures.push(format!(
                "{name}:\n--- sluice\n{}\n--- kubectl kustomize\n{}",
                stdout(&got),
                stdout(&want)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn helm_charts_need_enable_helm() {
    let dir = project("helmCharts:\n- name: web\n  releaseName: one\n", &[]);
    let d = dir.to_string_lossy();
    let o = sluice(&["kustomize", "build", &d], None);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("--enable-helm"), "{}", stderr(&o));
    let o = sluice(&["kustomize", "build", "--enable-helm", &d], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    // NOTES.txt is not a manifest; the test hook and the pre-install hook are
    assert!(out.contains("name: one-web\n"), "{out}");
    assert!(out.contains("name: one-web-test\n"), "{out}");
    assert!(!out.contains("Installed"), "{out}");
}

#[test]
fn remote_charts_are_refused_with_the_path_to_put_them_at() {
    let dir = project(
        "helmCharts:\n- name: cert-manager\n  repo: https://charts.jetstack.io\n  version: v1.14.0\n  releaseName: cm\n",
        &[],
    );
    let d = dir.to_string_lossy();
    let o = sluice(&["kustomize", "build", "--enable-helm", &d], None);
    assert_ne!(o.status.code(), Some(0));
    let e = stderr(&o);
    assert!(e.contains("not supported by sluice"), "{e}");
    // kustomize looks in {chartHome}/{name}-{version}/{name} when repo and version are set
    assert!(
        e.contains("charts/cert-manager-v1.14.0/cert-manager"),
        "{e}"
    );
    // without a repo, kustomize's own message
    let dir = project("helmCharts:\n- name: missing\n", &[]);
    let d = dir.to_string_lossy();
    let o = sluice(&["kustomize", "build", "--enable-helm", &d], None);
    assert!(
        stderr(&o).contains("no repo specified for pull, no chart found at ''"),
        "{}",
        stderr(&o)
    );
    let dir = project("helmCharts:\n- name: web\n  valuesMerge: sideways\n", &[]);
    let d = dir.to_string_lossy();
    let o = sluice(&["kustomize", "build", "--enable-helm", &d], None);
    assert!(
        stderr(&o).contains("valuesMerge must be one of [merge override replace]"),
        "{}",
        stderr(&o)
    );
}
