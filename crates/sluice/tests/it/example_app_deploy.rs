//! End-to-end test of examples/app_deploy: its setup script creates the local repositories,
//! its receiver stands in for the Slack webhook, and `sluice run` runs the counterpart of
//! the seed's Pipeline build-and-deploy (issue 3, item 4).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::repo_root;

/// Kills the receiver however the test ends.
struct Receiver(Child);
impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn git(git_dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(o.status.success(), "git {args:?}: {o:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn sha256_hex(file: &Path) -> String {
    let o = Command::new("sha256sum")
        .arg(file)
        .output()
        .expect("sha256sum");
    assert!(o.status.success(), "sha256sum {}: {o:?}", file.display());
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn result<'a>(items: &'a [Value], name: &str, result: &str) -> &'a Value {
    let item = items
        .iter()
        .find(|i| i["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {name} among {items:#?}"));
    item["status"]["results"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == result))
        .map(|r| &r["value"])
        .unwrap_or_else(|| panic!("{name} has no result {result}: {item:#?}"))
}

#[test]
fn app_deploy_example_runs_end_to_end() {
    if !(have("git") && have("python3") && have("sha256sum")) {
        eprintln!("skipped: the example needs git, python3 and sha256sum on the host");
        return;
    }
    let example = repo_root().join("examples/app_deploy");
    let dir: PathBuf =
        std::env::temp_dir().join(format!("sluice-example-app-deploy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp dir");

    // the local webhook receiver, on a free port
    let port_file = dir.join("port");
    let notifications = dir.join("notifications.jsonl");
    let _receiver = Receiver(
        Command::new("python3")
            .arg(example.join("receiver.py"))
            .args(["--port", "0", "--out"])
            .arg(&notifications)
            .arg("--port-file")
            .arg(&port_file)
            .stdout(Stdio::null())
            .spawn()
            .expect("receiver starts"),
    );
    let t0 = Instant::now();
    let port = loop {
        if let Ok(p) = std::fs::read_to_string(&port_file) {
            break p;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "receiver did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let url = format!("http://127.0.0.1:{}/hooks/build", port.trim());

    // the example's setup script: the local repositories and the run file
    let o = Command::new("sh")
        .arg(example.join("setup.sh"))
        .arg(&dir)
        .arg(&url)
        .env("IMAGE_TAG", "1.2.3")
        .output()
        .expect("setup.sh runs");
    assert!(o.status.success(), "setup.sh: {o:?}");

    let o = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "-o", "json", "-f"])
        .arg(example.join("pipeline.yaml"))
        .arg("-f")
        .arg(dir.join("run.yaml"))
        .env("SLUICE_DATA_DIR", dir.join("data"))
        .env("NO_COLOR", "1")
        .current_dir(&dir)
        .output()
        .expect("sluice runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "sluice run failed:\n{err}");
    let doc: Value = serde_json::from_slice(&o.stdout).expect("JSON status");
    let items = doc["items"].as_array().cloned().unwrap_or_default();
    let pr = &items[0];
    assert_eq!(pr["status"]["conditions"][0]["status"], "True", "{err}");
    assert_eq!(
        pr["status"]["conditions"][0]["reason"], "Succeeded",
        "{err}"
    );
    // every task of the seed's DAG ran, finally included
    for t in [
        "clone",
        "unit-test",
        "lint",
        "build",
        "scan",
        "helm-package",
        "update-manifest",
        "notify",
    ] {
        let name = format!("app-deploy-run-{t}");
        let child = items
            .iter()
            .find(|i| i["metadata"]["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no TaskRun {name}"));
        assert_eq!(child["status"]["conditions"][0]["status"], "True", "{name}");
    }
    assert!(err.contains("Ran 2 tests"), "unit tests ran:\n{err}");

    // IMAGE_DIGEST is the sha256 of the built tarball
    let tarball = dir.join("data/runs/app-deploy-run/volumes/shared-workspace/image/image.tar.gz");
    let digest = format!("sha256:{}", sha256_hex(&tarball));
    assert_eq!(
        result(&items, "app-deploy-run-build", "IMAGE_DIGEST"),
        &digest
    );
    let pr_digest = pr["status"]["results"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == "image-digest"))
        .map(|r| r["value"].clone());
    assert_eq!(pr_digest, Some(Value::String(digest.clone())));

    // the GitOps repository got a commit with the new tag and digest
    let gitops = dir.join("gitops.git");
    let subject = git(&gitops, &["log", "-1", "--format=%s", "main"]);
    assert_eq!(subject.trim(), "chore(dev): update order-service to 1.2.3");
    assert_eq!(git(&gitops, &["rev-list", "--count", "main"]).trim(), "2");
    let values = git(
        &gitops,
        &["show", "main:environments/dev/order-service/values.yaml"],
    );
    assert!(values.contains("tag: \"1.2.3\""), "{values}");
    assert!(
        values.contains(&format!("digest: \"{digest}\"")),
        "{values}"
    );

    // the receiver got the notification with the pipeline's status
    let got = std::fs::read_to_string(&notifications).expect("a notification arrived");
    let n: Value = serde_json::from_str(got.lines().next().unwrap_or("")).expect("JSON line");
    assert_eq!(n["path"], "/hooks/build");
    assert_eq!(n["body"]["status"], "Succeeded");
    assert_eq!(n["body"]["text"], "Pipeline Succeeded");
    assert_eq!(n["body"]["image"], "order-service:1.2.3");
    // the webhook URL and tokens are Secret values: masked in the logs
    assert!(!err.contains("example-gitops-token"), "{err}");
    assert!(!err.contains("example-helm-password"), "{err}");

    let _ = std::fs::remove_dir_all(&dir);
}
