//! `sluice health`: the harness Argo CD's health script tests use
//! (argo-cd `util/lua/health_test.go`: for each `resource_customizations/<group>/<Kind>/`,
//! every `health_test.yaml` case's `inputPath` through `health.lua`, compared with its
//! `healthStatus`), run through the command, over the repository's own scripts
//! (tests/fixtures/health). With `SLUICE_ARGOCD_CUSTOMIZATIONS=DIR` (a checkout of argo-cd's
//! `resource_customizations`) `upstream_customizations` runs the same harness over it and
//! prints the pass count; without it that test does nothing.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{repo_root, sluice, stderr, stdout};

/// Every directory under `root` that has a `health_test.yaml`.
fn suites(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "health_test.yaml") {
                out.push(d.clone());
            }
        }
    }
    out.sort();
    out
}

/// Runs every case; returns (passed, total, failures).
fn run_harness(root: &Path) -> (usize, usize, Vec<String>) {
    let (mut passed, mut total, mut failures) = (0, 0, Vec::new());
    for dir in suites(root) {
        let script = dir.join("health.lua");
        if !script.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(dir.join("health_test.yaml")).expect("read");
        let (tests, _) = sluice_health::load_object(&text).expect("health_test.yaml loads");
        let tests = tests.unwrap_or(Value::Null);
        for t in tests["tests"].as_array().cloned().unwrap_or_default() {
            total += 1;
            let input = dir.join(t["inputPath"].as_str().expect("inputPath"));
            let o = sluice(
                &[
                    "health",
                    "-f",
                    input.to_str().expect("utf-8"),
                    "--lua",
                    script.to_str().expect("utf-8"),
                    "-o",
                    "json",
                ],
                None,
            );
            let got: Value = serde_json::from_str(&stdout(&o)).unwrap_or(Value::Null);
            let want_status = t["healthStatus"]["status"].as_str().unwrap_or("");
            let want_message = t["healthStatus"]["message"].as_str().unwrap_or("");
            if o.status.code() == Some(0)
                && got["status"] == want_status
                && got["message"] == want_message
            {
                passed += 1;
            } else {
                failures.push(format!(
                    "{}: want {want_status} {want_message:?}, got {} {}",
                    input.display(),
                    stdout(&o).trim(),
                    stderr(&o).trim()
                ));
            }
        }
    }
    (passed, total, failures)
}

#[test]
fn fixture_health_scripts_give_their_expected_status() {
    let (passed, total, failures) = run_harness(&repo_root().join("tests/fixtures/health"));
    assert!(
        total >= 17,
        "the fixtures have at least 17 cases, found {total}"
    );
    assert_eq!(passed, total, "\n{}", failures.join("\n"));
}

/// Argo CD's own scripts and tests, when a checkout is given (measurement, not a gate).
#[test]
fn upstream_customizations() {
    let Some(dir) = std::env::var_os("SLUICE_ARGOCD_CUSTOMIZATIONS") else {
        return;
    };
    let (passed, total, failures) = run_harness(Path::new(&dir));
    for f in &failures {
        println!("FAIL {f}");
    }
    println!("upstream health scripts: {passed}/{total} cases");
}

#[test]
fn bad_input_is_reported_with_its_position() {
    let dir = std::env::temp_dir().join(format!("sluice-health-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let obj = dir.join("obj.yaml");
    std::fs::write(&obj, "apiVersion: v1\nkind: Pod\nmetadata: {name: p\n").expect("write");
    let o = sluice(&["health", "-f", obj.to_str().expect("utf-8")], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with(&format!("{}:", obj.display())),
        "{}",
        stderr(&o)
    );
    // a script that does not compile: its file, line and column
    std::fs::write(&obj, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n").expect("write");
    let script = dir.join("h.lua");
    std::fs::write(&script, "hs = {}\nhs.status = = 'x'\nreturn hs\n").expect("write");
    let o = sluice(
        &[
            "health",
            "-f",
            obj.to_str().expect("utf-8"),
            "--lua",
            script.to_str().expect("utf-8"),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o).trim(),
        format!(
            "{}:2:13: error: syntax error: unexpected symbol near '=' (Argo CD reports it on every evaluation)",
            script.display()
        )
    );
    // a script that fails at run time: Unknown with the error, as Argo CD
    std::fs::write(&script, "return {status = obj.spec.x.y}\n").expect("write");
    let o = sluice(
        &[
            "health",
            "-f",
            obj.to_str().expect("utf-8"),
            "--lua",
            script.to_str().expect("utf-8"),
            "-o",
            "json",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["status"], "Unknown");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("<string>:1: attempt to index")),
        "{v}"
    );
    // an unreadable file: exit 2
    let o = sluice(&["health", "-f", "/nonexistent/x.yaml"], None);
    assert_eq!(o.status.code(), Some(2));
    // no check for the kind: nulls
    std::fs::write(
        &obj,
        "apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: t}\n",
    )
    .expect("write");
    let o = sluice(
        &["health", "-f", obj.to_str().expect("utf-8"), "-o", "json"],
        None,
    );
    assert_eq!(stdout(&o).trim(), r#"{"status":null,"message":null}"#);
    let _ = std::fs::remove_dir_all(&dir);
}

// The seed-shaped argocd-cm: a combined `resource.customizations` script for a kind and a
// split key for another; the split key's useOpenLibs opens `string`.
#[test]
fn argocd_cm_scripts_apply_to_their_kinds() {
    let dir = std::env::temp_dir().join(format!("sluice-health-cm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let cm = dir.join("argocd-cm.yaml");
    std::fs::write(
        &cm,
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
data:
  resource.customizations: |
    networking.k8s.io/Ingress:
      health.lua: |
        return {status = "Healthy", message = "custom"}
  resource.customizations.health.example.com_Thing: |
    return {status = "Degraded", message = string.upper(obj.metadata.name)}
  resource.customizations.useOpenLibs.example.com_Thing: "true"
  resource.customizations.health.example.com_Other: |
    return {status = "Degraded", message = string.upper(obj.metadata.name)}
"#,
    )
    .expect("write");
    let obj = dir.join("obj.yaml");
    let run = |text: &str| {
        std::fs::write(&obj, text).expect("write");
        let o = sluice(
            &[
                "health",
                "-f",
                obj.to_str().expect("utf-8"),
                "--argocd-cm",
                cm.to_str().expect("utf-8"),
            ],
            None,
        );
        stdout(&o).trim().to_owned()
    };
    assert_eq!(
        run("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\n"),
        "Healthy: custom"
    );
    assert_eq!(
        run("apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: t}\n"),
        "Degraded: T"
    );
    // without useOpenLibs there is no string library: the script fails
    let other = run("apiVersion: example.com/v1\nkind: Other\nmetadata: {name: t}\n");
    assert!(
        other.starts_with("Unknown: <string>:1: attempt to index global 'string'"),
        "{other}"
    );
    // no script for Deployments: the built-in check
    assert_eq!(
        run("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {paused: true}\n"),
        "Suspended: Deployment is paused"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// `sluice validate` places a health script finding inside the combined key's nested block
// scalars: the file line and column of the call (the seed's defect 8 shape).
#[test]
fn validate_finds_undefined_globals_in_combined_customizations() {
    let dir = std::env::temp_dir().join(format!("sluice-health-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let cm = dir.join("argocd-cm.yaml");
    std::fs::write(
        &cm,
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
data:
  resource.customizations: |
    example.com/Thing:
      health.lua: |
        hs = {}
        if obj.status ~= nil then
          hs.status = pick(obj.status.phase)
        end
        hs.message = string.lower("X")
        return hs
      health.lua.useOpenLibs: false
    example.com/Other:
      health.lua: |
        hs = {status = = "Healthy"}
        return hs
"#,
    )
    .expect("write");
    let o = sluice(&["validate", cm.to_str().expect("utf-8")], None);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    let prefix = cm.display().to_string();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with(&format!("{prefix}:11:23: error: ConfigMap/argocd-cm: data[resource.customizations][example.com/Thing][health.lua]: Lua health script for example.com/Thing: undefined global 'pick'")), "{out}");
    assert!(
        lines[1].starts_with(&format!("{prefix}:13:22: error: ")),
        "{out}"
    );
    assert!(lines[1].contains("undefined global 'string' (the standard libraries are open only with useOpenLibs: true)"), "{out}");
    assert!(lines[2].starts_with(&format!("{prefix}:18:")), "{out}");
    assert!(
        lines[2].contains("syntax error: unexpected symbol near '='"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
