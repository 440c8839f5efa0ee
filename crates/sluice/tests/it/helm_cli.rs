//! `sluice helm template`: flags and exit codes on a chart written here. Byte-identity with
//! real Helm is sluice-helm's conformance test (scripts/helm-reference.py); these pin the
//! command line as helm/helm `pkg/cmd/template.go` and `pkg/cli/values/options.go` define
//! it (values files, then --set-json, --set, --set-string, --set-file).

use std::path::Path;

use crate::apiserver_kubectl::temp_dir;
use crate::common::{sluice, stderr, stdout};

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (p, c) in files {
        let p = dir.join(p);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, c).expect("write");
    }
}

fn chart() -> std::path::PathBuf {
    let dir = temp_dir("helm-cli");
    write(
        &dir,
        &[
            (
                "app/Chart.yaml",
                "apiVersion: v2\nname: app\nversion: 0.1.0\n",
            ),
            ("app/values.yaml", "a: default\nb: default\nn: 1\n"),
            (
                "app/templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n  namespace: {{ .Release.Namespace }}\ndata:\n  a: {{ .Values.a | quote }}\n  b: {{ .Values.b | quote }}\n  s: {{ .Values.s | quote }}\n  f: {{ .Values.f | quote }}\n  j: {{ .Values.j | toJson | quote }}\n  k: {{ .Capabilities.KubeVersion.Version }} {{ .Capabilities.APIVersions.Has \"example.com/v1\" }}\n",
            ),
            (
                "app/templates/hook.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hook\n  annotations:\n    helm.sh/hook: test\n",
            ),
            (
                "app/templates/bad.yaml",
                "{{ if .Values.fail }}{{ fail \"asked to fail\" }}{{ end }}",
            ),
            ("app/crds/crd.yaml", "kind: CustomResourceDefinition\n"),
            ("over.yaml", "a: from-file\nb: from-file\n"),
            ("f.txt", "file content"),
        ],
    );
    dir
}

#[test]
fn renders_with_values_and_flags() {
    let dir = chart();
    let c = dir.join("app");
    let over = dir.join("over.yaml");
    let set_file = format!("f={}", dir.join("f.txt").display());
    let o = sluice(
        &[
            "helm",
            "template",
            "rel",
            c.to_str().expect("utf-8"),
            "-f",
            over.to_str().expect("utf-8"),
            "--set",
            "b=from-set",
            "--set-string",
            "s=007",
            "--set-file",
            &set_file,
            "--set-json",
            r#"j={"x":[1,2]}"#,
            "-n",
            "team",
            "--kube-version",
            "1.30",
            "--api-versions",
            "example.com/v1",
            "--no-hooks",
            "--include-crds",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "---\n# Source: app/crds/crd.yaml\nkind: CustomResourceDefinition\n\n\
         ---\n# Source: app/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rel\n  namespace: team\ndata:\n  a: \"from-file\"\n  b: \"from-set\"\n  s: \"007\"\n  f: \"file content\"\n  j: \"{\\\"x\\\":[1,2]}\"\n  k: v1.30.0 true\n"
    );
    // hooks come after the manifests
    let o = sluice(
        &["helm", "template", "rel", c.to_str().expect("utf-8")],
        None,
    );
    assert!(stdout(&o).ends_with("---\n# Source: app/templates/hook.yaml\napiVersion: v1\nkind: Pod\nmetadata:\n  name: hook\n  annotations:\n    helm.sh/hook: test\n\n"), "{}", stdout(&o));
}

#[test]
fn exit_codes() {
    let dir = chart();
    let c = dir.join("app");
    let o = sluice(
        &[
            "helm",
            "template",
            "rel",
            c.to_str().expect("utf-8"),
            "--set",
            "fail=true",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "Error: execution error at (app/templates/bad.yaml:1:24): asked to fail\n"
    );
    let o = sluice(
        &[
            "helm",
            "template",
            "rel",
            c.to_str().expect("utf-8"),
            "--set",
            "a[x]=1",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let missing = dir.join("nope");
    let o = sluice(
        &["helm", "template", "rel", missing.to_str().expect("utf-8")],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}
