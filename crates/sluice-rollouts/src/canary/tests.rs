//! The canary pass against a small simulated cluster: ReplicaSets become available at once,
//! AnalysisRuns take the phase the test gives them.

use super::*;

/// Go's FNV-32a test vectors (hash/fnv fnv_test.go golden32a).
#[test]
fn fnv32a_golden() {
    assert_eq!(fnv32a(b""), 0x811c_9dc5);
    assert_eq!(fnv32a(b"a"), 0xe40c_292c);
    assert_eq!(fnv32a(b"ab"), 0x4d25_05ca);
    assert_eq!(fnv32a(b"abc"), 0x1a47_e90b);
}

/// `rand.SafeEncodeString` maps each byte to `alphanums[b % 27]`: decimal digits land on
/// `4 5 6 7 8 9 b c d f`, which is why real pod-template hashes look like `7c4c8d5d4f`.
#[test]
fn safe_encode_digits() {
    assert_eq!(safe_encode("0123456789"), "456789bcdf");
    let h = pod_template_hash(&json!({"spec": {"containers": [{"image": "a"}]}}), None);
    assert!(h.chars().all(|c| "456789bcdf".contains(c)), "{h}");
    assert_ne!(
        h,
        pod_template_hash(&json!({"spec": {"containers": [{"image": "a"}]}}), Some(1))
    );
}

fn rs(name: &str, replicas: i32, available: i32) -> ReplicaSet {
    ReplicaSet {
        name: name.into(),
        pod_hash: name.into(),
        replicas,
        status_replicas: replicas,
        ready: available,
        available,
        revision: 1,
    }
}

/// The examples of `CalculateReplicaCountsForCanary`'s doc comment
/// (argo-rollouts utils/replicaset/canary.go).
#[test]
fn replica_counts_upstream_examples() {
    let cases = [
        // replicas, weight, new, stable, maxUnavailable, maxSurge, want (new, stable)
        (10, 10, 0, 10, 1, 1, (1, 9)),
        (10, 30, 0, 10, 0, 3, (3, 10)),
        (10, 30, 0, 10, 5, 0, (0, 7)),
        // the comment's `replicas 10 weight 5 ... (1, 9)` predates `extraReplicaAdded`: the
        // function itself keeps the stable at ceil(9.5) = 10 and surges the canary to 1
        (10, 5, 0, 10, 1, 1, (1, 10)),
        (1, 5, 0, 1, 0, 1, (1, 1)),
        (1, 95, 0, 1, 0, 1, (1, 1)),
    ];
    for (replicas, weight, new, stable, unav, surge, want) in cases {
        let n = rs("new", new, new);
        let s = rs("stable", stable, stable);
        let canary = json!({"maxSurge": surge, "maxUnavailable": unav});
        let got = replica_counts(
            replicas,
            weight,
            fenceposts(&canary, replicas),
            Some(&n),
            Some(&s),
            0,
        );
        assert_eq!(got, want, "replicas {replicas} weight {weight}");
    }
}

#[test]
fn fenceposts_resolve_as_upstream() {
    // percentages: surge rounds up, unavailable down; both zero means one unavailable
    assert_eq!(fenceposts(&json!({}), 3), (1, 0));
    assert_eq!(
        fenceposts(&json!({"maxSurge": "25%", "maxUnavailable": 0}), 3),
        (1, 0)
    );
    assert_eq!(
        fenceposts(&json!({"maxSurge": 0, "maxUnavailable": 0}), 3),
        (0, 1)
    );
    assert_eq!(
        fenceposts(&json!({"maxSurge": "50%", "maxUnavailable": "50%"}), 5),
        (3, 2)
    );
}

/// A tiny cluster: the controller's plan applied, ReplicaSets available at once.
struct Cluster {
    rollout: Json,
    rss: Vec<ReplicaSet>,
    runs: Vec<Run>,
    now: Millis,
}

impl Cluster {
    fn new(spec: Json) -> Cluster {
        Cluster {
            rollout: json!({"metadata": {"name": "web", "generation": 1}, "spec": spec}),
            rss: Vec::new(),
            runs: Vec::new(),
            now: 1_700_000_000_000,
        }
    }

    fn step(&mut self) -> Plan {
        let plan = reconcile(&Input {
            rollout: &self.rollout,
            replica_sets: &self.rss,
            runs: &self.runs,
            now: self.now,
        });
        if let Some((name, hash, rev)) = &plan.create_rs {
            self.rss.push(ReplicaSet {
                name: name.clone(),
                pod_hash: hash.clone(),
                revision: *rev,
                ..ReplicaSet::default()
            });
        }
        for (name, n) in &plan.scale {
            if let Some(r) = self.rss.iter_mut().find(|r| &r.name == name) {
                *r = ReplicaSet {
                    replicas: *n,
                    status_replicas: *n,
                    ready: *n,
                    available: *n,
                    ..r.clone()
                };
            }
        }
        for nr in &plan.create_runs {
            self.runs.push(Run {
                name: nr.name.clone(),
                phase: "Running".into(),
                message: String::new(),
                terminating: false,
            });
        }
        for t in &plan.terminate_runs {
            if let Some(r) = self.runs.iter_mut().find(|r| &r.name == t) {
                r.terminating = true;
            }
        }
        self.rollout["status"] = plan.status.clone();
        plan
    }

    fn settle(&mut self) {
        for _ in 0..20 {
            let before = self.rollout["status"].clone();
            let rss = self.rss.clone();
            self.step();
            if self.rollout["status"] == before && self.rss == rss {
                return;
            }
        }
    }

    fn counts(&self) -> (i32, i32) {
        let st = &self.rollout["status"];
        let stable = st["stableRS"].as_str().unwrap_or("");
        let cur = st["currentPodHash"].as_str().unwrap_or("");
        let get = |h: &str| {
            self.rss
                .iter()
                .filter(|r| r.pod_hash == h)
                .map(|r| r.replicas)
                .sum::<i32>()
        };
        if stable == cur {
            (get(cur), 0)
        } else {
            (get(cur), get(stable))
        }
    }

    fn set_image(&mut self, image: &str) {
        self.rollout["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
    }
}

fn spec(steps: Json) -> Json {
    json!({
        "replicas": 10,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "web:1"}]}},
        "strategy": {"canary": {"maxSurge": "25%", "maxUnavailable": 0, "steps": steps}},
    })
}

fn phase(c: &Cluster) -> &str {
    c.rollout["status"]["phase"].as_str().unwrap_or("")
}

#[test]
fn first_deploy_is_stable_at_once_then_a_canary_walks_its_steps() {
    let mut c = Cluster::new(spec(json!([
        {"setWeight": 20},
        {"pause": {"duration": "30s"}},
        {"setWeight": 50},
        {"pause": {}},
        {"setWeight": 80}
    ])));
    c.settle();
    assert_eq!(phase(&c), "Healthy", "{}", c.rollout["status"]);
    assert_eq!(c.counts(), (10, 0));
    assert_eq!(c.rollout["status"]["currentStepIndex"], 5);
    // Argo CD's Rollout health reads the status as healthy
    let first_hash = c.rollout["status"]["stableRS"].clone();

    c.set_image("web:2");
    c.settle();
    // setWeight 20 reached, paused on step 1 for 30 s
    assert_eq!(c.counts(), (2, 8), "{}", c.rollout["status"]);
    assert_eq!(c.rollout["status"]["currentStepIndex"], 1);
    assert_eq!(phase(&c), "Paused");
    assert_eq!(c.rollout["status"]["message"], "CanaryPauseStep");
    assert_eq!(c.rollout["status"]["stableRS"], first_hash);
    c.now += 29_000;
    c.settle();
    assert_eq!(c.rollout["status"]["currentStepIndex"], 1);
    c.now += 1_000;
    c.settle();
    // setWeight 50, then the indefinite pause
    assert_eq!(c.counts(), (5, 5));
    assert_eq!(c.rollout["status"]["currentStepIndex"], 3);
    assert_eq!(phase(&c), "Paused");
    c.now += 3_600_000;
    c.settle();
    assert_eq!(c.rollout["status"]["currentStepIndex"], 3, "indefinite");
    // promote: the pause condition is removed
    let p = promote_patch(&c.rollout, false);
    assert_eq!(p, json!({"status": {"pauseConditions": null}}));
    c.rollout["status"]["pauseConditions"] = Json::Null;
    c.settle();
    assert_eq!(c.rollout["status"]["currentStepIndex"], 5);
    assert_eq!(phase(&c), "Healthy", "{}", c.rollout["status"]);
    assert_eq!(c.counts(), (10, 0));
    assert_ne!(c.rollout["status"]["stableRS"], first_hash);
    assert_eq!(
        c.rollout["status"]["stableRS"],
        c.rollout["status"]["currentPodHash"]
    );
    // the old ReplicaSet is scaled to zero
    assert!(
        c.rss
            .iter()
            .filter(|r| r.revision == 1)
            .all(|r| r.replicas == 0)
    );
}

#[test]
fn surge_keeps_availability_while_stepping() {
    // maxUnavailable 0: the total never drops below spec.replicas
    let mut c = Cluster::new(spec(json!([{"setWeight": 30}, {"pause": {}}])));
    c.settle();
    c.set_image("web:2");
    for _ in 0..10 {
        c.step();
        let avail: i32 = c.rss.iter().map(|r| r.available).sum();
        assert!(avail >= 10, "{avail}");
        let total: i32 = c.rss.iter().map(|r| r.replicas).sum();
        assert!(total <= 10 + 3 + 1, "{total}");
    }
    assert_eq!(c.counts(), (3, 7));
}

#[test]
fn failed_step_analysis_aborts_and_retry_starts_over() {
    let mut c = Cluster::new(spec(json!([
        {"setWeight": 20},
        {"analysis": {"templates": [{"templateName": "rate"}]}},
        {"setWeight": 60}
    ])));
    c.settle();
    c.set_image("web:2");
    c.settle();
    assert_eq!(c.rollout["status"]["currentStepIndex"], 1);
    assert_eq!(c.runs.len(), 1);
    let run = c.runs[0].name.clone();
    assert!(run.starts_with("web-") && run.ends_with("-2-1"), "{run}");
    assert_eq!(
        c.rollout["status"]["canary"]["currentStepAnalysisRunStatus"]["name"],
        json!(run)
    );
    assert_eq!(phase(&c), "Progressing");
    c.runs[0].phase = "Failed".into();
    c.runs[0].message = "Metric \"rate\" assessed Failed".into();
    c.settle();
    assert_eq!(c.rollout["status"]["abort"], true);
    assert_eq!(phase(&c), "Degraded");
    let msg = c.rollout["status"]["message"].as_str().unwrap_or("");
    assert!(
        msg.starts_with("RolloutAborted: Rollout aborted update to revision 2"),
        "{msg}"
    );
    // traffic (replicas) back on stable
    assert_eq!(c.counts(), (0, 10));
    // retry: a new run, not the failed one
    let patch = retry_patch();
    merge(&mut c.rollout, &patch);
    c.settle();
    assert_eq!(c.rollout["status"]["currentStepIndex"], 1);
    assert_eq!(c.runs.len(), 2);
    assert_eq!(c.runs[1].name, format!("{run}.1"));
    c.runs[1].phase = "Successful".into();
    c.settle();
    assert_eq!(phase(&c), "Healthy", "{}", c.rollout["status"]);
    assert_eq!(c.counts(), (10, 0));
}

#[test]
fn background_analysis_from_starting_step_and_promote_full() {
    let mut c = Cluster::new(spec(json!([
        {"setWeight": 10},
        {"pause": {}},
        {"setWeight": 50},
        {"pause": {}}
    ])));
    c.rollout["spec"]["strategy"]["canary"]["analysis"] =
        json!({"templates": [{"templateName": "rate"}], "startingStep": 2});
    c.settle();
    c.set_image("web:2");
    c.settle();
    assert_eq!(c.rollout["status"]["currentStepIndex"], 1);
    assert!(c.runs.is_empty(), "before startingStep");
    let p = promote_patch(&c.rollout, false);
    merge(&mut c.rollout, &p);
    c.settle();
    assert_eq!(c.rollout["status"]["currentStepIndex"], 3);
    assert_eq!(c.runs.len(), 1);
    assert!(
        !c.runs[0].name.ends_with("-3"),
        "background run: {}",
        c.runs[0].name
    );
    let p = promote_patch(&c.rollout, true);
    merge(&mut c.rollout, &p);
    c.settle();
    assert_eq!(phase(&c), "Healthy");
    assert!(
        c.runs[0].terminating,
        "background analysis ends on promotion"
    );
}

#[test]
fn background_failure_aborts() {
    let mut c = Cluster::new(spec(json!([{"setWeight": 40}, {"pause": {}}])));
    c.rollout["spec"]["strategy"]["canary"]["analysis"] =
        json!({"templates": [{"templateName": "rate"}]});
    c.settle();
    c.set_image("web:2");
    c.settle();
    assert_eq!(c.counts(), (4, 6));
    c.runs[0].phase = "Error".into();
    c.settle();
    assert_eq!(phase(&c), "Degraded");
    assert_eq!(c.counts(), (0, 10));
}

#[test]
fn unsupported_strategies_are_invalid_spec() {
    let mut s = spec(json!([{"setWeight": 5}]));
    s["strategy"]["canary"]["trafficRouting"] = json!({"nginx": {"stableIngress": "web"}});
    let mut c = Cluster::new(s);
    let plan = c.step();
    assert_eq!(phase(&c), "Degraded");
    assert!(plan.scale.is_empty() && plan.create_rs.is_none());
    let msg = c.rollout["status"]["message"].as_str().unwrap_or("");
    assert!(msg.contains("trafficRouting.nginx"), "{msg}");
    let mut c =
        Cluster::new(json!({"replicas": 1, "strategy": {"blueGreen": {"activeService": "a"}}}));
    c.step();
    assert_eq!(phase(&c), "Degraded");
}

#[test]
fn new_template_during_rollout_starts_over() {
    let mut c = Cluster::new(spec(
        json!([{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}, {"pause": {}}]),
    ));
    c.settle();
    c.set_image("web:2");
    c.settle();
    let p = promote_patch(&c.rollout, false);
    merge(&mut c.rollout, &p);
    c.settle();
    assert_eq!(c.rollout["status"]["currentStepIndex"], 3);
    c.set_image("web:3");
    c.settle();
    assert_eq!(c.rollout["status"]["currentStepIndex"], 1);
    // the web:2 ReplicaSet is an old one now, scaled down
    assert_eq!(c.counts(), (2, 8));
    let total: i32 = c.rss.iter().map(|r| r.replicas).sum();
    assert_eq!(total, 10);
}

fn merge(target: &mut Json, patch: &Json) {
    match (target, patch) {
        (Json::Object(t), Json::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Json::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}
