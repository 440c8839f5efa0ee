//! Dependencies between Applications (beyond Argo CD; argo-cd#3454): an Application
//! annotated `sluice.dev/depends-on: app-a,other-ns/app-b` syncs (manually or automated)
//! only once every Application it names is Synced and Healthy at its current revision with
//! no operation pending or running. A cycle is an error naming it. Pure: the caller reads
//! the Applications.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// The annotation listing the Applications an Application depends on (comma-separated,
/// `name` in its own namespace or `namespace/name`).
pub const ANNOTATION: &str = "sluice.dev/depends-on";

/// At most this many Applications are visited looking for a cycle.
pub const MAX_GRAPH: usize = 512;

/// The dependencies an Application names, as `(namespace, name)`, in order, without
/// duplicates; `own_ns` for names without a namespace.
pub fn parse(app: &Value, own_ns: &str) -> Vec<(String, String)> {
    let raw = app
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ANNOTATION))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut out: Vec<(String, String)> = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let key = match part.split_once('/') {
            Some((ns, n)) => (ns.trim().to_owned(), n.trim().to_owned()),
            None => (own_ns.to_owned(), part.to_owned()),
        };
        if !key.1.is_empty() && !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// Whether a dependency is ready; the reason it is not (`OutOfSync, Progressing`,
/// `operation running`).
pub fn readiness(dep: &Value) -> Result<(), String> {
    let sync = s(dep, "/status/sync/status");
    let health = s(dep, "/status/health/status");
    let mut reasons: Vec<String> = Vec::new();
    if sync != "Synced" {
        reasons.push(if sync.is_empty() { "Unknown" } else { sync }.to_owned());
    }
    if health != "Healthy" {
        reasons.push(if health.is_empty() { "Unknown" } else { health }.to_owned());
    }
    if dep.get("operation").is_some_and(|o| !o.is_null()) {
        reasons.push("operation pending".into());
    } else if s(dep, "/status/operationState/phase") == "Running" {
        reasons.push("operation running".into());
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons.join(", "))
    }
}

fn label(key: &(String, String), own_ns: &str) -> String {
    if key.0 == own_ns {
        key.1.clone()
    } else {
        format!("{}/{}", key.0, key.1)
    }
}

/// Why the Application must wait, or `None` when every dependency is ready: `deps` are
/// the named dependencies with what was read of each (`None`: not found).
pub fn waiting(deps: &[((String, String), Option<Value>)], own_ns: &str) -> Option<String> {
    let mut not_ready: Vec<String> = Vec::new();
    for (key, dep) in deps {
        let why = match dep {
            None => Some("not found".to_owned()),
            Some(d) => readiness(d).err(),
        };
        if let Some(why) = why {
            not_ready.push(format!("{} ({why})", label(key, own_ns)));
        }
    }
    (!not_ready.is_empty()).then(|| format!("waiting for dependencies: {}", not_ready.join(", ")))
}

/// The first cycle through `start` in the dependency graph `edges` (Application -> the ones
/// it depends on), as the path `start -> ... -> start`.
pub fn find_cycle(
    start: &(String, String),
    edges: &BTreeMap<(String, String), Vec<(String, String)>>,
) -> Option<Vec<(String, String)>> {
    // depth-first with an explicit stack: (node, index of the next edge to follow)
    let mut path: Vec<(String, String)> = vec![start.clone()];
    let mut next: Vec<usize> = vec![0];
    let mut done: BTreeSet<(String, String)> = BTreeSet::new();
    while let Some(top) = path.last().cloned() {
        let i = next.last().copied().unwrap_or(0);
        let succ = edges.get(&top).and_then(|e| e.get(i)).cloned();
        match succ {
            Some(n) => {
                if let Some(l) = next.last_mut() {
                    *l += 1;
                }
                if &n == start {
                    path.push(n);
                    return Some(path);
                }
                if path.contains(&n) || done.contains(&n) {
                    continue;
                }
                path.push(n);
                next.push(0);
            }
            None => {
                done.insert(top);
                path.pop();
                next.pop();
            }
        }
    }
    None
}

/// A cycle's message: `dependency cycle: a -> b -> a (annotation sluice.dev/depends-on)`.
pub fn cycle_message(cycle: &[(String, String)], own_ns: &str) -> String {
    let names: Vec<String> = cycle.iter().map(|k| label(k, own_ns)).collect();
    format!(
        "dependency cycle: {} (annotation {ANNOTATION})",
        names.join(" -> ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn k(ns: &str, n: &str) -> (String, String) {
        (ns.into(), n.into())
    }

    #[test]
    fn parses_names_and_namespaces() {
        let app = json!({"metadata": {"annotations": {ANNOTATION: " db , infra/net,db,,"}}});
        assert_eq!(
            parse(&app, "argocd"),
            vec![k("argocd", "db"), k("infra", "net")]
        );
        assert!(parse(&json!({}), "argocd").is_empty());
    }

    #[test]
    fn ready_only_when_synced_healthy_and_idle() {
        let ok = json!({"status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"},
            "operationState": {"phase": "Succeeded"}}});
        assert_eq!(readiness(&ok), Ok(()));
        let mut running = ok.clone();
        running["status"]["operationState"]["phase"] = json!("Running");
        assert_eq!(readiness(&running), Err("operation running".into()));
        let bad = json!({"status": {"sync": {"status": "OutOfSync"}, "health": {"status": "Progressing"}},
            "operation": {"sync": {}}});
        assert_eq!(
            readiness(&bad),
            Err("OutOfSync, Progressing, operation pending".into())
        );
        assert_eq!(
            waiting(
                &[(k("argocd", "db"), Some(bad)), (k("x", "net"), None), (k("argocd", "ok"), Some(ok))],
                "argocd"
            ),
            Some("waiting for dependencies: db (OutOfSync, Progressing, operation pending), x/net (not found)".into())
        );
    }

    #[test]
    fn cycles_are_found_through_the_start() {
        let mut g = BTreeMap::new();
        g.insert(k("a", "web"), vec![k("a", "api")]);
        g.insert(k("a", "api"), vec![k("a", "db"), k("a", "cache")]);
        g.insert(k("a", "cache"), vec![]);
        g.insert(k("a", "db"), vec![k("a", "web")]);
        let c = find_cycle(&k("a", "web"), &g).expect("a cycle");
        assert_eq!(
            cycle_message(&c, "a"),
            "dependency cycle: web -> api -> db -> web (annotation sluice.dev/depends-on)"
        );
        // a cycle elsewhere is not this app's
        g.insert(k("a", "db"), vec![k("a", "cache")]);
        g.insert(k("a", "cache"), vec![k("a", "db")]);
        assert_eq!(find_cycle(&k("a", "web"), &g), None);
        // a self-dependency
        let mut g = BTreeMap::new();
        g.insert(k("a", "x"), vec![k("a", "x")]);
        assert!(find_cycle(&k("a", "x"), &g).is_some());
    }

    proptest::proptest! {
        #[test]
        fn any_annotation_and_graph_is_handled(raw in "\\PC{0,64}", edges in proptest::collection::vec((0u8..6, 0u8..6), 0..20)) {
            let app = json!({"metadata": {"annotations": {ANNOTATION: raw}}});
            let _ = parse(&app, "ns");
            let mut g: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
            for (a, b) in edges {
                g.entry(k("n", &a.to_string())).or_default().push(k("n", &b.to_string()));
            }
            if let Some(c) = find_cycle(&k("n", "0"), &g) {
                proptest::prop_assert_eq!(c.first(), c.last());
                proptest::prop_assert!(c.len() >= 2);
            }
        }
    }
}
