//! RBAC decisions per second with N RoleBindings (bench/auth.sh runs this), against a
//! baseline in the same run: the same decisions with only the default roles stored.
//! Also the index build time and peak RSS.
//!
//! `cargo run -p sluice-auth --example rbac_bench [-- BINDINGS]`

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_auth::UserInfo;
use sluice_auth::rbac::{Attributes, Rbac};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn binding(ns: &str, name: &str, role: &str, subjects: Value) -> Value {
    json!({"kind": "RoleBinding", "metadata": {"namespace": ns, "name": name},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
           "subjects": subjects})
}

fn index(bindings: usize) -> (Rbac, Duration) {
    let defaults = sluice_auth::bootstrap::objects();
    let cr: Vec<Value> = defaults
        .iter()
        .filter(|o| o["kind"] == "ClusterRole")
        .cloned()
        .collect();
    let crb: Vec<Value> = defaults
        .iter()
        .filter(|o| o["kind"] == "ClusterRoleBinding")
        .cloned()
        .collect();
    let mut rbs: Vec<Value> = (0..bindings)
        .map(|i| {
            binding(
                &format!("ns-{}", i % 100),
                &format!("rb-{i}"),
                "view",
                json!([{"kind": "User", "name": format!("user-{i}")}, {"kind": "Group", "name": format!("group-{}", i % 50)}]),
            )
        })
        .collect();
    rbs.push(binding(
        "ns-0",
        "jane",
        "edit",
        json!([{"kind": "User", "name": "jane"}]),
    ));
    let start = Instant::now();
    let r = Rbac::new(&[], &cr, &rbs, &crb);
    (r, start.elapsed())
}

fn decide(r: &Rbac, n: usize) -> Duration {
    let jane = UserInfo::new("jane", &["devs", "system:authenticated"]);
    let yes = Attributes::resource("get", "", "configmaps", "ns-0").named("target");
    let no = Attributes::resource("delete", "", "nodes", "");
    let start = Instant::now();
    let mut allowed = 0usize;
    for i in 0..n {
        if r.authorize(&jane, if i % 2 == 0 { &yes } else { &no })
            .allowed
        {
            allowed += 1;
        }
    }
    assert_eq!(allowed, n / 2, "half the decisions allow");
    start.elapsed()
}

fn main() {
    let bindings: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let n = 500_000;
    let (base, _) = index(0);
    let (full, built) = index(bindings);
    let _ = decide(&base, 10_000);
    let d0 = decide(&base, n);
    let d1 = decide(&full, n);
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "index of {bindings} RoleBindings + the default roles built in {:.2?}",
        built
    );
    println!(
        "baseline (default roles only): {:.0} decisions/s, {:.3} us each",
        n as f64 / d0.as_secs_f64(),
        us(d0)
    );
    println!(
        "{bindings} RoleBindings: {:.0} decisions/s, {:.3} us each; ratio {:.2}x the baseline",
        n as f64 / d1.as_secs_f64(),
        us(d1),
        us(d1) / us(d0)
    );
    println!("peak rss: {:.1} MiB", peak_rss_mib());
}
