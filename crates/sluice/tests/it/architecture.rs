//! Holds the crate boundaries of ARCHITECTURE.md: reads `cargo metadata` and checks each
//! workspace crate's dependencies against what it must not depend on.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

use crate::common::repo_root;

/// Crates that do I/O, run async, or talk to a cluster: forbidden in pure crates.
const IO_CRATES: &[&str] = &[
    "tokio",
    "kube",
    "kube-client",
    "kube-runtime",
    "k8s-openapi",
    "hyper",
    "reqwest",
    "axum",
    "rusqlite",
    "gix",
    "tower",
    "mlua",
];

/// (crate, forbidden dependencies). Every library crate is also forbidden `anyhow`
/// (thiserror in libraries, anyhow only in the binary).
fn rules() -> BTreeMap<&'static str, Vec<&'static str>> {
    let mut r = BTreeMap::new();
    let pure_and = |extra: &[&'static str]| -> Vec<&'static str> {
        IO_CRATES
            .iter()
            .copied()
            .chain(extra.iter().copied())
            .chain(["anyhow"])
            .collect()
    };
    r.insert(
        "sluice-core",
        pure_and(&["sluice-expr", "sluice-apis", "sluice"]),
    );
    r.insert("sluice-expr", pure_and(&["sluice-apis", "sluice"]));
    r.insert("sluice-apis", pure_and(&["sluice"]));
    // kustomize reads files only through its FileSystem trait; no cluster, no async, no
    // network (remote resources are refused), and none of the validation or GitOps crates
    r.insert(
        "sluice-kustomize",
        pure_and(&["sluice", "sluice-apis", "sluice-expr", "sluice-gitops"]),
    );
    // helm reads charts only through its FileSystem trait; no cluster, no async, no network
    r.insert(
        "sluice-helm",
        pure_and(&["sluice", "sluice-apis", "sluice-kustomize", "sluice-gitops"]),
    );
    r.insert("sluice-policy", pure_and(&["sluice"]));
    // the ApplicationSet engine is pure: repositories come through its `Repos` trait
    r.insert(
        "sluice-gitops",
        pure_and(&[
            "sluice",
            "sluice-kube",
            "sluice-apiserver",
            "sluice-kustomize",
        ]),
    );
    // Application sources: repositories only through its SourceTree/Sources traits (a
    // local-directory tree is its one edge); no cluster, no async, no git yet
    r.insert(
        "sluice-source",
        pure_and(&["sluice", "sluice-kube", "sluice-apiserver", "sluice-gitops"]),
    );
    // the engine is pure: no I/O, async runtime or process crates
    r.insert(
        "sluice-pipeline",
        pure_and(&["sluice", "sluice-exec", "nix", "libc", "ctrlc"]),
    );
    // the Triggers sink is pure: HTTP calls to interceptors go through its caller trait
    r.insert(
        "sluice-triggers",
        pure_and(&[
            "sluice",
            "sluice-exec",
            "sluice-pipeline",
            "nix",
            "libc",
            "ctrlc",
        ]),
    );
    // health checks are values in, values out: no I/O crate; the one crate that may embed
    // Lua (mlua, sandboxed: no io, no module loading, no full os library)
    r.insert(
        "sluice-health",
        pure_and(&[
            "sluice",
            "sluice-apis",
            "sluice-exec",
            "sluice-kube",
            "sluice-apiserver",
        ])
        .into_iter()
        .filter(|c| *c != "mlua")
        .collect(),
    );
    // the Argo Rollouts engines are pure: providers (Prometheus, web, job) and secrets come
    // through the caller (measurement outcomes, the ArgLookup trait); time is passed in
    r.insert(
        "sluice-rollouts",
        pure_and(&[
            "sluice",
            "sluice-apis",
            "sluice-apiserver",
            "sluice-kube",
            "sluice-exec",
            "sluice-pipeline",
            "sluice-gitops",
            "nix",
            "libc",
            "ctrlc",
            "chrono",
            "time",
        ]),
    );
    // Git through gix only: no cluster, no async runtime, none of the servers or the binary;
    // reqwest only as gix's smart HTTP backend (its TLS configured in transport.rs)
    r.insert(
        "sluice-git",
        vec![
            "sluice",
            "sluice-apiserver",
            "sluice-kube",
            "sluice-exec",
            "sluice-pipeline",
            "tokio",
            "kube",
            "kube-client",
            "kube-runtime",
            "k8s-openapi",
            "hyper",
            "axum",
            "rusqlite",
            "anyhow",
        ],
    );
    // who may do what is decided without I/O: the API server and the CLI read the objects,
    // the token file and the key, and hand them in
    r.insert(
        "sluice-auth",
        pure_and(&[
            "sluice",
            "sluice-apis",
            "sluice-apiserver",
            "sluice-kube",
            "sluice-exec",
            "sluice-pipeline",
            "sluice-gitops",
        ]),
    );
    // the local executor runs processes but never talks to a cluster
    r.insert(
        "sluice-exec",
        vec![
            "kube",
            "kube-client",
            "kube-runtime",
            "k8s-openapi",
            "sluice",
            "anyhow",
        ],
    );
    // the API server serves objects; controllers, executors and the policy engine plug in
    // from outside (AdmissionHook), never the other way round; kube-rs only in its tests
    r.insert(
        "sluice-apiserver",
        vec![
            "sluice",
            "sluice-pipeline",
            "sluice-exec",
            "sluice-gitops",
            "sluice-policy",
            "sluice-triggers",
            "sluice-kube",
            "sluice-server",
            "kube",
            "kube-client",
            "kube-runtime",
            "k8s-openapi",
            "anyhow",
        ],
    );
    // the controllers reach the API only through a kube::Client: never the embedded
    // server's internals, never the binary
    r.insert(
        "sluice-kube",
        vec!["sluice", "sluice-apiserver", "sluice-server", "anyhow"],
    );
    // the CLI's client edge and formatting core: never the server's internals, the
    // executor or the binary
    r.insert(
        "sluice-cli",
        vec![
            "sluice",
            "sluice-apiserver",
            "sluice-server",
            "sluice-exec",
            "sluice-pipeline",
            "anyhow",
        ],
    );
    // the OCI registry: a store and an HTTP edge the binary mounts; no cluster, no API
    // server internals, no controllers or executors
    r.insert(
        "sluice-registry",
        vec![
            "sluice",
            "sluice-apiserver",
            "sluice-kube",
            "sluice-exec",
            "sluice-pipeline",
            "sluice-server",
            "kube",
            "kube-client",
            "kube-runtime",
            "k8s-openapi",
            "rusqlite",
            "anyhow",
        ],
    );
    // notifications are pure: the controller reads the ConfigMap and Secret, passes the
    // clock in and performs the HTTP requests the engine builds
    r.insert(
        "sluice-notify",
        pure_and(&[
            "sluice",
            "sluice-apis",
            "sluice-apiserver",
            "sluice-kube",
            "sluice-exec",
            "sluice-pipeline",
            "sluice-gitops",
            "rustls",
            "nix",
            "libc",
            "chrono",
        ]),
    );
    // the web UI: embedded assets and their router; it talks to nothing but the browser
    // (the page reads the API over HTTP like any client)
    r.insert(
        "sluice-ui",
        vec![
            "sluice",
            "sluice-apiserver",
            "sluice-kube",
            "sluice-exec",
            "sluice-pipeline",
            "sluice-core",
            "kube",
            "kube-client",
            "kube-runtime",
            "k8s-openapi",
            "rusqlite",
            "serde_json",
            "anyhow",
        ],
    );
    // the allocator crate (the one with unsafe code) is two FFI calls: nothing of Sluice,
    // no I/O crates
    r.insert(
        "sluice-alloc",
        pure_and(&[
            "sluice",
            "sluice-core",
            "sluice-apiserver",
            "sluice-kube",
            "serde_json",
        ]),
    );
    // kube-rs lives in sluice-kube and sluice-cli only: the binary hands them a tower
    // service or a kubeconfig path
    r.insert(
        "sluice",
        vec!["kube", "kube-client", "kube-runtime", "k8s-openapi"],
    );
    r
}

#[test]
fn crate_boundaries_hold() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(repo_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let mut seen = BTreeSet::new();
    let rules = rules();
    for p in packages {
        let name = p["name"].as_str().unwrap_or_default();
        seen.insert(name.to_owned());
        let deps: Vec<(&str, &str)> = p["dependencies"]
            .as_array()
            .map(|d| {
                d.iter()
                    .map(|d| {
                        (
                            d["name"].as_str().unwrap_or_default(),
                            d["kind"].as_str().unwrap_or("normal"),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(forbidden) = rules.get(name) {
            for (dep, kind) in &deps {
                // dev-dependencies (test tools) do not ship in the crate
                if kind == &"dev" {
                    continue;
                }
                assert!(
                    !forbidden.contains(dep),
                    "{name} must not depend on {dep} (see ARCHITECTURE.md)"
                );
            }
        }
    }
    for name in rules.keys() {
        assert!(
            seen.contains(*name),
            "crate {name} named in the rules is missing"
        );
    }
    // Every crate of the workspace is named in ARCHITECTURE.md's code map.
    let arch =
        std::fs::read_to_string(repo_root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    for name in &seen {
        assert!(
            arch.contains(&format!("### `{name}`")),
            "ARCHITECTURE.md has no section for crate {name}"
        );
    }
}

/// The workspace forbids unsafe code (`[workspace.lints.rust] unsafe_code = "forbid"`): every
/// crate inherits the workspace lints but sluice-alloc, whose two calls into mimalloc's C API
/// are the only unsafe code (ARCHITECTURE.md, `sluice-alloc`).
#[test]
fn only_the_allocator_crate_may_hold_unsafe_code() {
    let root = repo_root().join("crates");
    let mut checked = 0;
    for e in std::fs::read_dir(&root).expect("crates/") {
        let dir = e.expect("entry").path();
        let Ok(toml) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let inherits = toml.contains("[lints]\nworkspace = true");
        if name == "sluice-alloc" {
            assert!(!inherits, "sluice-alloc needs unsafe for its FFI calls");
        } else {
            assert!(
                inherits,
                "{name}/Cargo.toml must inherit the workspace lints ([lints] workspace = true)"
            );
        }
        checked += 1;
    }
    assert!(checked > 20, "only {checked} crates found");
}
