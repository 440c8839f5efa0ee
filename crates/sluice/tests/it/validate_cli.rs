//! `sluice validate` end to end: the real binary on files, directories and stdin.

use crate::common::{platform, sluice, stderr, stdout};

#[test]
fn clean_input_exits_zero() {
    let o = sluice(
        &["validate", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\ndata:\n  a: b\n"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("0 error(s), 0 warning(s) in 1 object(s) from 1 file(s)"));
}

#[test]
fn yaml_syntax_error_has_file_line_col_and_exit_one() {
    let o = sluice(
        &["validate", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\ndata: [a, b\n"),
    );
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.starts_with("-:4:1: error: invalid YAML: "), "{out}");
}

#[test]
fn missing_kind_is_reported_like_kubectl() {
    // kubectl: error validating data: [apiVersion not set, kind not set]
    let o = sluice(&["validate", "-"], Some("metadata:\n  name: x\nspec: {}\n"));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "-:1:1: error: apiVersion not set, kind not set\n"
    );
}

#[test]
fn hostile_yaml_fails_cleanly() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let mut prev = "a".to_owned();
    for n in ["b", "c", "d", "e", "f", "g", "h", "i", "j"] {
        bomb.push_str(&format!(
            "{n}: &{n} [{}]\n",
            vec![format!("*{prev}"); 10].join(", ")
        ));
        prev = n.to_owned();
    }
    let o = sluice(&["validate", "-"], Some(&bomb));
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("billion laughs"), "{}", stdout(&o));
    let deep = "[".repeat(5000);
    let o = sluice(&["validate", "-"], Some(&deep));
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("nesting deeper than"), "{}", stdout(&o));
}

#[test]
fn io_and_usage_errors_exit_two() {
    let o = sluice(&["validate", "/nonexistent/file.yaml"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/file.yaml: cannot read"));
    let o = sluice(&["validate"], None);
    assert_eq!(o.status.code(), Some(2));
    let o = sluice(&["validate", "--output", "xml", "-"], Some(""));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn json_and_yaml_output() {
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\nkind: Task\n";
    let o = sluice(&["validate", "-o", "json", "-"], Some(input));
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON output");
    assert_eq!(v["summary"]["errors"], 1);
    assert_eq!(v["summary"]["objects"], 1);
    assert_eq!(v["findings"][0]["line"], 5);
    assert_eq!(v["findings"][0]["message"], "apiVersion not set");
    let o = sluice(&["validate", "-o", "yaml", "-"], Some(input));
    assert!(
        stdout(&o).contains("summary:\n  files: 1\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn directories_are_walked_and_non_objects_skipped() {
    let root = platform();
    let o = sluice(
        &["validate", "-v", root.to_str().expect("utf-8 path")],
        None,
    );
    let err = stderr(&o);
    // Helm values files are not Kubernetes objects; kustomize patches are build inputs.
    assert!(
        err.contains("argocd-values.yaml (document 1): skipped: not a Kubernetes object"),
        "{err}"
    );
    assert!(
        err.contains(
            "patches/autoscaling.yaml (document 1): skipped: a kustomization's build input"
        ),
        "{err}"
    );
    assert!(
        err.contains("base/settings.yaml (document 1): skipped: a kustomization's build input"),
        "{err}"
    );
}

#[test]
fn helm_charts_and_top_level_lists() {
    let dir = std::env::temp_dir().join(format!("sluice-chart-{}", std::process::id()));
    let chart = dir.join("chart");
    std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
    std::fs::write(chart.join("Chart.yaml"), "name: c\nversion: 0.1.0\n").expect("write");
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "{{- if .Values.x }}\nkind: ConfigMap\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("list.yaml"),
        "- apiVersion: v1\n  kind: ConfigMap\n",
    )
    .expect("write");
    std::fs::write(dir.join("data.json"), "[1, 2, 3]\n").expect("write");
    let o = sluice(&["validate", "-v", dir.to_str().expect("utf-8")], None);
    let _ = std::fs::remove_dir_all(&dir);
    let (out, err) = (stdout(&o), stderr(&o));
    // Helm templates are not YAML until Helm renders them: the chart is skipped, not an error.
    assert!(
        err.contains("chart (document 1): skipped: a Helm chart"),
        "{err}"
    );
    // A JSON array of numbers is data; a top-level list of objects is a mistake kubectl rejects.
    assert!(
        err.contains("data.json (document 1): skipped: not a Kubernetes object"),
        "{err}"
    );
    assert!(
        out.contains("list.yaml:1:1: error: a top-level list is not an object"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1, "{out}");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn help_texts_tell_what_matters() {
    // issue 3: `image` is recorded but not used, said in --help
    let o = sluice(&["run", "--help"], None);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("`image` is\nrecorded but NOT used")
            || stdout(&o).contains("`image` is recorded but NOT used"),
        "{}",
        stdout(&o)
    );
    let o = sluice(&["validate", "--help"], None);
    assert!(stdout(&o).contains("Exit codes: 0"), "{}", stdout(&o));
}
