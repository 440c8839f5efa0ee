//! `sluice quickstart --exit-when-done` end to end: the whole loop runs (push -> EventListener
//! -> PipelineRun -> image and chart in the registry -> GitOps commit -> Argo CD sync ->
//! Healthy), and every step's outcome is then checked from the APIs of the servers it left
//! behind in its directory, not from its printed text: the stored objects through a
//! `sluice apiserver` on the server's data, the registry through `sluice serve`'s `/v2`,
//! the repositories with git, the production cluster through its own API server.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apiserver_kubectl::{Server, kubectl_available, temp_dir};
use crate::common::{run, stderr, stdout};

fn git_out(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(o.status.success(), "git {args:?}: {}", stderr(&o));
    stdout(&o).trim().to_string()
}

fn tools_available() -> bool {
    kubectl_available()
        && ["git", "python3"].iter().all(|t| {
            Command::new(t)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

fn succeeded(o: &Value) -> bool {
    o["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Succeeded" && c["status"] == "True")
}

fn result<'a>(o: &'a Value, name: &str) -> &'a str {
    o["status"]["results"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["name"] == name)
        .and_then(|r| r["value"].as_str())
        .unwrap_or("")
}

#[test]
fn quickstart_refuses_a_directory_that_is_not_its_own() {
    let dir = temp_dir("quickstart-refuse");
    std::fs::write(dir.join("precious.txt"), "keep me").expect("write");
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
    c.args(["quickstart", "--exit-when-done", "--dir"])
        .arg(&dir);
    let o = run(c, None);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("is not a quickstart directory"),
        "{}",
        stderr(&o)
    );
    assert!(dir.join("precious.txt").is_file());
}

#[test]
fn quickstart_runs_the_whole_loop() {
    if !tools_available() {
        eprintln!("skipped: kubectl, git or python3 not installed");
        return;
    }
    let dir = temp_dir("quickstart");
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
    c.args([
        "quickstart",
        "--exit-when-done",
        "--timeout",
        "300",
        "--dir",
    ])
    .arg(&dir)
    .env("NO_COLOR", "1");
    let o = run(c, None);
    let printed = format!("{}\n{}", stdout(&o), stderr(&o));
    assert!(o.status.success(), "quickstart failed:\n{printed}");

    // the repositories: the pushed commit, and CI's commit on the GitOps repository
    let app_sha = git_out(&dir.join("git/order-service.git"), &["rev-parse", "main"]);
    let gitops = dir.join("git/gitops-manifests.git");
    let gitops_head = git_out(&gitops, &["rev-parse", "main"]);
    assert_eq!(
        git_out(&gitops, &["log", "-1", "--format=%s", "main"]),
        format!("chore(dev): update apps/order-service to {app_sha}")
    );
    let overlay = git_out(
        &gitops,
        &[
            "show",
            "main:apps/order-service/overlays/dev/kustomization.yaml",
        ],
    );
    assert!(
        overlay.contains(&format!("newTag: \"{app_sha}\"")),
        "{overlay}"
    );

    // the server's objects
    let registry;
    let (image_digest, chart_url);
    {
        // a copy: the harness's Server removes its directory when dropped
        let view = dir.join("server-view");
        let cp = Command::new("cp")
            .arg("-a")
            .arg(dir.join("server"))
            .arg(&view)
            .status()
            .expect("cp runs");
        assert!(cp.success());
        let s = Server::start_in(view, 0);
        let env = s.json(&[
            "get",
            "configmap",
            "quickstart-env",
            "-n",
            "tekton-pipelines",
        ]);
        registry = env["data"]["registry"].as_str().unwrap_or("").to_string();
        // one delivery, accepted, that created the run
        let records = s.json(&[
            "get",
            "configmaps",
            "-n",
            "tekton-pipelines",
            "-l",
            "sluice.dev/event-record",
        ]);
        assert_eq!(
            records["items"].as_array().map(Vec::len),
            Some(1),
            "{records}"
        );
        let prs = s.json(&["get", "pipelineruns", "-n", "tekton-pipelines"]);
        let prs = prs["items"].as_array().cloned().unwrap_or_default();
        assert_eq!(prs.len(), 1, "one PipelineRun");
        let pr = &prs[0];
        let pr_name = pr["metadata"]["name"].as_str().unwrap_or("");
        assert!(pr_name.starts_with("build-order-service-"), "{pr_name}");
        assert!(succeeded(pr), "{pr}");
        assert!(
            records.to_string().contains(pr_name),
            "the event record names the run: {records}"
        );
        let rev = pr["spec"]["params"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "git-revision")
            .and_then(|p| p["value"].as_str())
            .unwrap_or("");
        assert_eq!(rev, app_sha, "the run builds the pushed commit");
        let trs = s.json(&[
            "get",
            "taskruns",
            "-n",
            "tekton-pipelines",
            "-l",
            &format!("tekton.dev/pipelineRun={pr_name}"),
        ]);
        let mut tasks: Vec<String> = Vec::new();
        for tr in trs["items"].as_array().into_iter().flatten() {
            assert!(succeeded(tr), "{tr}");
            tasks.push(
                tr["metadata"]["labels"]["tekton.dev/pipelineTask"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            );
        }
        tasks.sort();
        assert_eq!(
            tasks,
            [
                "build",
                "clone",
                "helm-package",
                "lint",
                "notify",
                "scan",
                "unit-test",
                "update-manifest"
            ]
        );
        image_digest = result(pr, "image-digest").to_string();
        chart_url = result(pr, "chart-url").to_string();
        assert!(image_digest.starts_with("sha256:"), "{pr}");
        assert_eq!(
            chart_url,
            format!(
                "oci://{registry}/charts/order-service:0.1.0-g{}",
                &app_sha[..7]
            )
        );
        // CD: dev at CI's GitOps commit, running the new image; staging synced; production
        // (manual sync, on the other cluster) not synced
        let app = |env: &str| {
            s.json(&[
                "get",
                "application",
                &format!("order-service-{env}"),
                "-n",
                "argocd",
            ])
        };
        let dev = app("dev");
        assert_eq!(dev["status"]["sync"]["status"], "Synced", "{dev}");
        assert_eq!(dev["status"]["health"]["status"], "Healthy", "{dev}");
        assert_eq!(dev["status"]["sync"]["revision"], gitops_head.as_str());
        let staging = app("staging");
        assert_eq!(staging["status"]["sync"]["status"], "Synced", "{staging}");
        let prod = app("production");
        assert!(
            prod["spec"]["syncPolicy"].get("automated").is_none(),
            "{prod}"
        );
        assert_eq!(prod["status"]["sync"]["status"], "OutOfSync", "{prod}");
        let dep = s.json(&["get", "deployment", "order-service", "-n", "dev"]);
        assert_eq!(
            dep["spec"]["template"]["spec"]["containers"][0]["image"],
            format!("{registry}/apps/order-service:{app_sha}").as_str()
        );
        let pols = s.json(&["get", "clusterpolicies"]);
        assert_eq!(pols["items"].as_array().map(Vec::len), Some(2));
    }
    // the production cluster: policies there, nothing deployed (manual sync)
    {
        let p = Server::start_in(dir.join("prod-cluster"), 0);
        let pols = p.json(&["get", "clusterpolicies"]);
        assert_eq!(pols["items"].as_array().map(Vec::len), Some(2));
        let deps = p.json(&["get", "deployments", "-A"]);
        assert_eq!(deps["items"].as_array().map(Vec::len), Some(0));
    }
    // the registry: the chart pulls, the image's manifest has the digest CI reported
    let data = dir.join("server");
    let _ = std::fs::remove_file(data.join("kubeconfig"));
    let mut serve = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sluice serve starts");
    let start = Instant::now();
    let url = loop {
        if let Ok(t) = std::fs::read_to_string(data.join("kubeconfig"))
            && let Some(i) = t.find("https://127.0.0.1:")
        {
            let rest = &t[i..];
            break rest[..rest.find(['\n', '"', '\''].as_ref()).unwrap_or(rest.len())]
                .trim()
                .to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "serve wrote no kubeconfig"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let host = url.trim_start_matches("https://").to_string();
    let version = format!("0.1.0-g{}", &app_sha[..7]);
    let pull_dir = temp_dir("quickstart-pull");
    let mut ok = false;
    let mut last = String::new();
    for _ in 0..100 {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
        c.args(["helm", "pull"])
            .arg(format!("oci://{host}/charts/order-service"))
            .args(["--version", &version, "--kubeconfig"])
            .arg(data.join("kubeconfig"))
            .current_dir(&pull_dir);
        let o = run(c, None);
        if o.status.success() {
            ok = true;
            break;
        }
        last = format!("{}{}", stdout(&o), stderr(&o));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ok, "the chart pulls from {host}: {last}");
    assert!(
        pull_dir
            .join(format!("order-service-{version}.tgz"))
            .is_file()
    );
    let token = std::fs::read_to_string(data.join("token")).expect("token");
    let mut c = Command::new("python3");
    c.args([
        "-c",
        "import ssl,sys,urllib.request as u;r=u.Request(sys.argv[1],headers={'Authorization':'Bearer '+sys.argv[2],'Accept':'application/vnd.oci.image.manifest.v1+json'});print(u.urlopen(r,context=ssl.create_default_context(cafile=sys.argv[3])).headers['Docker-Content-Digest'])",
        &format!("{url}/v2/apps/order-service/manifests/{app_sha}"),
        token.trim(),
    ])
    .arg(dir.join("server-ca.pem"));
    let o = run(c, None);
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), image_digest);
}
