//! Conformance with real Helm over ../shared/conformance/helm (cases.json): for each case
//! real Helm renders, `render` must print the same bytes. The expected text comes from real
//! Helm at test time (scripts/helm-reference.py: helm-sdkpy, Helm v4.3's Go library,
//! installing into a fresh `sluice apiserver`; the release manifest plus hooks is what
//! `helm template` prints, helm/helm `pkg/action/install.go`), never stored by hand.
//! `.Capabilities` are the server's (recorded by the script), as in that install.
//!
//! Run: `SLUICE_SHARED=../shared cargo test -p sluice-helm --test conformance -- --ignored
//! --nocapture`. SLUICE_HELM_EXPECTED=DIR reuses a directory the script filled earlier.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sluice_helm::render::{Capabilities, RenderOptions};
use sluice_helm::values::merge_maps;

fn sluice_bin() -> PathBuf {
    if let Ok(p) = std::env::var("SLUICE_BIN") {
        return PathBuf::from(p);
    }
    // target/debug/deps/conformance-xxxx -> target/debug/sluice
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("sluice")
}

fn load_values(path: &Path) -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(path).expect("values file");
    let docs = sluice_core::yaml::load_documents_with(
        &text,
        &sluice_core::yaml::Options {
            last_key_wins: true,
            ..Default::default()
        },
    )
    .expect("values YAML");
    match docs.into_iter().next().map(|d| d.value) {
        Some(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

/// Whether `a` and `b` differ only in the values of at most four `key: value` lines.
fn same_but_random(a: &str, b: &str) -> bool {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    if la.len() != lb.len() {
        return false;
    }
    let diffs: Vec<(&str, &str)> = la
        .iter()
        .zip(lb.iter())
        .filter(|(x, y)| x != y)
        .map(|(x, y)| (*x, *y))
        .collect();
    diffs.len() <= 4
        && diffs.iter().all(|(x, y)| {
            matches!((x.split_once(": "), y.split_once(": ")), (Some((kx, _)), Some((ky, _))) if kx == ky)
        })
}

/// Whether `got` and `want` differ only on lines that also differ between two renderings
/// of the chart (`again`): output a chart draws at random (certificates from `genCA` and
/// `genSignedCert`, passwords from `randAlphaNum`), found by rendering twice rather than
/// listed by hand.
fn same_but_nondeterministic(got: &str, want: &str, again: &str) -> bool {
    let (g, w, a): (Vec<&str>, Vec<&str>, Vec<&str>) = (
        got.lines().collect(),
        want.lines().collect(),
        again.lines().collect(),
    );
    if got == again || g.len() != w.len() || g.len() != a.len() {
        return false;
    }
    g.iter()
        .zip(&w)
        .zip(&a)
        .all(|((x, y), z)| x == y || (x != z && matches!((x.split_once(": "), y.split_once(": ")), (Some((kx, _)), Some((ky, _))) if kx == ky)))
}

#[test]
#[ignore = "needs SLUICE_SHARED, python3 and helm-sdkpy (pip)"]
fn helm_template_conformance() {
    let Ok(shared) = std::env::var("SLUICE_SHARED") else {
        eprintln!("SLUICE_SHARED not set: skipped");
        return;
    };
    let shared = PathBuf::from(shared);
    let root = shared.join("conformance/helm");
    let expected = match std::env::var("SLUICE_HELM_EXPECTED") {
        Ok(d) => PathBuf::from(d),
        Err(_) => {
            let dir =
                std::env::temp_dir().join(format!("sluice-helm-expected-{}", std::process::id()));
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/helm-reference.py");
            let st = std::process::Command::new("python3")
                .arg(script)
                .arg(sluice_bin())
                .arg(&shared)
                .arg(&dir)
                .status()
                .expect("python3");
            assert!(st.success(), "helm-reference.py failed");
            dir
        }
    };
    let cases: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(root.join("cases.json")).expect("cases.json"),
    )
    .expect("JSON");
    // charts whose output holds random values (cases.json: `deterministic: false`)
    let random_charts: Vec<&str> = cases
        .iter()
        .filter(|c| c["deterministic"] == Value::Bool(false))
        .filter_map(|c| c["chart"].as_str())
        .collect();
    let only: Option<usize> = std::env::var("SLUICE_HELM_CASE")
        .ok()
        .and_then(|s| s.parse().ok());
    let mut per_chart: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let (mut ok, mut total) = (0, 0);
    for (i, case) in cases.iter().enumerate() {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        let exp_path = expected.join(format!("{i}.yaml"));
        let Ok(want) = std::fs::read_to_string(&exp_path) else {
            continue;
        };
        let Ok(caps_text) = std::fs::read_to_string(expected.join(format!("{i}.caps.json"))) else {
            continue;
        };
        total += 1;
        let chart_rel = case["chart"].as_str().expect("chart");
        let entry = per_chart.entry(chart_rel.to_owned()).or_default();
        entry.1 += 1;
        let caps: Value = serde_json::from_str(&caps_text).expect("caps JSON");
        let mut user = serde_json::Map::new();
        for f in case["values_files"].as_array().expect("values_files") {
            merge_maps(
                &mut user,
                load_values(&root.join(f.as_str().expect("path"))),
            );
        }
        let opts = RenderOptions {
            release_name: case["release"].as_str().expect("release").to_owned(),
            namespace: case["namespace"].as_str().expect("namespace").to_owned(),
            capabilities: Capabilities {
                kube_version: caps["kubeVersion"].as_str().expect("v").to_owned(),
                major: caps["major"].as_str().expect("major").to_owned(),
                minor: caps["minor"].as_str().expect("minor").to_owned(),
                api_versions: caps["apiVersions"]
                    .as_array()
                    .expect("apis")
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            },
            include_crds: false,
            skip_crds: false,
            no_hooks: false,
            skip_schema_validation: false,
        };
        let chart = sluice_helm::load_chart(&sluice_helm::DiskFs, &root.join(chart_rel));
        let got = chart
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|c| sluice_helm::render(c, &user, &opts));
        let again = || {
            chart
                .as_ref()
                .ok()
                .and_then(|c| sluice_helm::render(c, &user, &opts).ok())
                .unwrap_or_default()
        };
        match got {
            Ok(text) if text == want => {
                ok += 1;
                entry.0 += 1;
            }
            // a chart with `deterministic: false` cases (grafana's randAlphaNum admin password
            // and its checksum, whatever the values file):
            // identical but for the values of those lines
            Ok(text) if random_charts.contains(&chart_rel) && same_but_random(&text, &want) => {
                ok += 1;
                entry.0 += 1;
            }
            Ok(text) if same_but_nondeterministic(&text, &want, &again()) => {
                ok += 1;
                entry.0 += 1;
            }
            Ok(text) => {
                let out = std::env::temp_dir().join(format!("sluice-helm-got-{i}.yaml"));
                let _ = std::fs::write(&out, &text);
                let line = text
                    .lines()
                    .zip(want.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                eprintln!(
                    "case {i} ({chart_rel} {}): differs at line {} (got {}; want {})",
                    case["release"],
                    line + 1,
                    out.display(),
                    exp_path.display()
                );
            }
            Err(e) => eprintln!("case {i} ({chart_rel} {}): error: {e}", case["release"]),
        }
    }
    for (chart, (a, b)) in &per_chart {
        println!("helm-template {chart}: {a}/{b}");
    }
    println!("CONFORMANCE helm-template {ok} {total}");
}
