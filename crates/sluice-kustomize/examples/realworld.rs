//! Measures the native renderer against cached `kubectl kustomize` output on the real-world
//! corpora of `../shared/conformance/kustomize` (every directory of each `buildable.txt`).
//!
//! `cargo run --release -p sluice-kustomize --example realworld -- CACHE_DIR [CORPUS...]`
//! (`-- --build DIR` prints our build of DIR.)
//!
//! CACHE_DIR holds `<corpus>__<dir with / as __>.{out,err,rc}` written by running
//! `kubectl kustomize` (missing entries are produced here and stored). Prints one line per
//! directory that differs, then the identical counts per corpus. With `SLUICE_DIFF_DIR` set,
//! our output of each differing directory is written there for diffing.

use std::path::{Path, PathBuf};
use std::process::Command;

use sluice_kustomize::{DiskFs, Options};

const CORPORA: &[&str] = &[
    "argo-workflows",
    "argo-rollouts",
    "kubebuilder",
    "cluster-api",
    "kueue",
    "flux2",
    "ingress-nginx",
    "opentelemetry-operator",
    "tektoncd-operator",
    "kube-prometheus",
    "argocd-e2e-testdata",
    "argocd-example-apps",
    "argocd-manifests",
    "flux2-kustomize-helm-example",
    "flux2-multi-tenancy",
    "upstream-examples",
];

fn kubectl_cached(cache: &Path, key: &str, dir: &Path) -> (bool, String, String) {
    let rc = cache.join(format!("{key}.rc"));
    if !rc.exists() {
        let out = Command::new("kubectl").arg("kustomize").arg(dir).output();
        let Ok(out) = out else {
            return (false, String::new(), "kubectl did not run".to_owned());
        };
        let _ = std::fs::write(cache.join(format!("{key}.out")), &out.stdout);
        let _ = std::fs::write(cache.join(format!("{key}.err")), &out.stderr);
        let code = out.status.code().unwrap_or(1);
        let _ = std::fs::write(&rc, format!("{code}\n"));
    }
    let read =
        |ext: &str| std::fs::read_to_string(cache.join(format!("{key}.{ext}"))).unwrap_or_default();
    (read("rc").trim() == "0", read("out"), read("err"))
}

fn first_diff(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: kubectl {x:?} / sluice {y:?}", i + 1);
        }
    }
    format!(
        "length {} vs {} lines",
        a.lines().count(),
        b.lines().count()
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--build") {
        let dir = PathBuf::from(args.get(1).map(String::as_str).unwrap_or("."));
        match sluice_kustomize::build(&DiskFs, &dir, &Options::default()) {
            Ok(out) => {
                for w in out.warnings {
                    eprintln!("{w}");
                }
                print!("{}", out.yaml);
            }
            Err(e) => {
                eprintln!("Error: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let Some(cache) = args.first().map(PathBuf::from) else {
        eprintln!("usage: realworld CACHE_DIR [CORPUS...]");
        std::process::exit(2);
    };
    let _ = std::fs::create_dir_all(&cache);
    let diff_dir = std::env::var_os("SLUICE_DIFF_DIR").map(PathBuf::from);
    let base = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/kustomize"
    ));
    let chosen: Vec<&str> = if args.len() > 1 {
        args[1..].iter().map(String::as_str).collect()
    } else {
        CORPORA.to_vec()
    };
    let mut summary = Vec::new();
    for corpus in chosen {
        let Ok(list) = std::fs::read_to_string(base.join(corpus).join("buildable.txt")) else {
            continue;
        };
        let (mut total, mut same) = (0, 0);
        for d in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
            total += 1;
            let key = format!("{corpus}/{d}").replace('/', "__");
            let dir = base.join(corpus).join(d);
            let (ok, expected, stderr) = kubectl_cached(&cache, &key, &dir);
            let warnings: Vec<String> = stderr
                .lines()
                .filter(|l| l.starts_with("# Warning:"))
                .map(str::to_owned)
                .collect();
            let ours = sluice_kustomize::build(&DiskFs, &dir, &Options::default());
            let verdict = match (&ours, ok) {
                (Ok(out), true) if out.yaml == expected => {
                    if out.warnings == warnings {
                        None
                    } else {
                        Some(format!(
                            "warnings differ: {:?} vs {:?}",
                            warnings, out.warnings
                        ))
                    }
                }
                (Ok(out), true) => Some(format!("DIFF {}", first_diff(&expected, &out.yaml))),
                (Err(e), true) => Some(format!("ERR {e}")),
                (Err(_), false) => None,
                (Ok(_), false) => Some(format!("kubectl failed, sluice built: {}", stderr.trim())),
            };
            match verdict {
                None => same += 1,
                Some(why) => {
                    println!("{corpus}/{d}: {why}");
                    if let (Some(dd), Ok(out)) = (&diff_dir, &ours) {
                        let _ = std::fs::create_dir_all(dd);
                        let _ = std::fs::write(dd.join(format!("{key}.sluice")), &out.yaml);
                    }
                }
            }
        }
        summary.push(format!("{corpus}: {same}/{total}"));
    }
    for s in summary {
        println!("{s}");
    }
}
