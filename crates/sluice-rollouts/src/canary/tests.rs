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
        scale_down_deadline: None,
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

/// A tiny cluster: the controller's plan applied, ReplicaSets available at once (unless
/// `hold` is set: then their pods never become available).
pub(crate) struct Cluster {
    pub rollout: Json,
    pub rss: Vec<ReplicaSet>,
    pub runs: Vec<Run>,
    pub services: Vec<Service>,
    pub ingresses: Vec<Json>,
    /// The canary Ingresses the controller wrote, by name.
    pub canary_ingresses: Vec<Json>,
    pub hold: bool,
    pub now: Millis,
}

impl Cluster {
    pub fn new(spec: Json) -> Cluster {
        Cluster {
            rollout: json!({"metadata": {"name": "web", "generation": 1}, "spec": spec}),
            rss: Vec::new(),
            runs: Vec::new(),
            services: Vec::new(),
            ingresses: Vec::new(),
            canary_ingresses: Vec::new(),
            hold: false,
            now: 1_700_000_000_000,
        }
    }

    pub fn service(&mut self, name: &str) {
        self.services.push(Service {
            name: name.into(),
            ..Service::default()
        });
    }

    pub fn selector(&self, name: &str) -> Option<String> {
        self.services
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.selector_hash.clone())
    }

    pub fn step(&mut self) -> Plan {
        let plan = reconcile(&Input {
            rollout: &self.rollout,
            replica_sets: &self.rss,
            runs: &self.runs,
            services: &self.services,
            ingresses: &self.ingresses,
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
            let avail = if self.hold { 0 } else { *n };
            if let Some(r) = self.rss.iter_mut().find(|r| &r.name == name) {
                *r = ReplicaSet {
                    replicas: *n,
                    status_replicas: *n,
                    ready: avail,
                    available: avail,
                    ..r.clone()
                };
            }
        }
        for (name, rev) in &plan.rs_revisions {
            if let Some(r) = self.rss.iter_mut().find(|r| &r.name == name) {
                r.revision = *rev;
            }
        }
        for (name, a) in &plan.rs_annotations {
            if let Some(r) = self.rss.iter_mut().find(|r| &r.name == name) {
                r.scale_down_deadline = a.clone();
            }
        }
        for sw in &plan.services {
            if let Some(s) = self.services.iter_mut().find(|s| s.name == sw.name) {
                s.selector_hash = Some(sw.pod_hash.clone());
                if sw.add_managed_by {
                    s.managed_by = Some("web".into());
                }
            }
        }
        for ing in &plan.ingresses {
            self.canary_ingresses
                .retain(|i| i["metadata"]["name"] != ing["metadata"]["name"]);
            self.canary_ingresses.push(ing.clone());
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

    /// The replicas of the ReplicaSet of `hash`.
    pub fn replicas(&self, hash: &str) -> i32 {
        self.rss
            .iter()
            .filter(|r| r.pod_hash == hash)
            .map(|r| r.replicas)
            .sum()
    }

    pub fn status(&self, key: &str) -> &str {
        self.rollout["status"][key].as_str().unwrap_or("")
    }

    pub fn settle(&mut self) {
        for _ in 0..20 {
            let before = self.rollout["status"].clone();
            let rss = self.rss.clone();
            let svcs = self.services.clone();
            self.step();
            if self.rollout["status"] == before && self.rss == rss && self.services == svcs {
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

    pub fn set_image(&mut self, image: &str) {
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

pub(crate) fn phase(c: &Cluster) -> &str {
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
    // validation.InvalidTrafficRoutingMessage (utils/conditions/conditions.go)
    assert_eq!(
        msg,
        "InvalidSpec: spec.strategy.canary.trafficRouting: Invalid value: Canary service and Stable service must to be set to use Traffic Routing"
    );
    let mut s = spec(json!([{"setWeight": 5}]));
    s["strategy"]["canary"]["trafficRouting"] = json!({"smi": {}});
    let mut c = Cluster::new(s);
    c.step();
    assert!(c.status("message").contains("trafficRouting.smi"));
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

pub(crate) fn merge(target: &mut Json, patch: &Json) {
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

// ---------------------------------------------------------------------------------------
// traffic routing (nginx)

fn stable_ingress() -> Json {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web-ingress", "annotations": {"kubernetes.io/ingress.class": "nginx"}},
        "spec": {"rules": [{"host": "web.example", "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web-stable", "port": {"number": 80}}}}]}}]}})
}

fn routed(steps: Json) -> Cluster {
    let mut s = spec(steps);
    let c = &mut s["strategy"]["canary"];
    c["stableService"] = json!("web-stable");
    c["canaryService"] = json!("web-canary");
    c["trafficRouting"] = json!({"nginx": {"stableIngress": "web-ingress",
        "additionalIngressAnnotations": {"canary-by-header": "X-Canary"}}});
    let mut c = Cluster::new(s);
    c.service("web-stable");
    c.service("web-canary");
    c.ingresses.push(stable_ingress());
    c
}

fn weight(c: &Cluster) -> i64 {
    assert_eq!(c.canary_ingresses.len(), 1);
    let ing = &c.canary_ingresses[0];
    assert_eq!(ing["metadata"]["name"], "web-web-ingress-canary");
    assert_eq!(
        ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary"],
        "true"
    );
    ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"]
        .as_str()
        .and_then(|w| w.parse().ok())
        .unwrap_or(-1)
}

/// rollout/trafficrouting.go `reconcileTrafficRouting` with nginx.go `SetWeight`: the canary
/// Ingress carries the current setWeight once the canary has available pods (0 before, the
/// previous weight while the ReplicaSets are not at the step's counts), 100 after the last
/// step and 0 once fully promoted; utils/replicaset/canary.go
/// `CalculateReplicaCountsForTrafficRoutedCanary`: the canary runs ceil(weight x replicas)
/// pods and the stable stays at 100%; service.go `reconcileStableAndCanaryService`: the
/// Services select the stable / canary ReplicaSets; canary.go
/// `scaleDownOldReplicaSetsForCanary`: with traffic routing the old stable is scaled down
/// after scaleDownDelaySeconds (30 s).
#[test]
fn nginx_weights_follow_the_steps_and_return_to_zero() {
    let mut c = routed(json!([{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]));
    c.settle();
    let v1 = c.status("stableRS").to_owned();
    assert_eq!(weight(&c), 0);
    assert_eq!(c.selector("web-stable").as_deref(), Some(v1.as_str()));
    assert_eq!(c.selector("web-canary").as_deref(), Some(v1.as_str()));
    assert_eq!(phase(&c), "Healthy");

    c.set_image("web:2");
    c.hold = true;
    c.step();
    let v2 = c.status("currentPodHash").to_owned();
    assert_eq!(
        weight(&c),
        0,
        "no weight before the canary has available pods"
    );
    assert_eq!(c.replicas(&v2), 2);
    assert_eq!(c.replicas(&v1), 10, "the stable stays at 100%");
    assert_eq!(c.selector("web-canary").as_deref(), Some(v1.as_str()));
    c.hold = false;
    c.settle();
    assert_eq!(c.rollout["status"]["currentStepIndex"], 1);
    assert_eq!(weight(&c), 20);
    assert_eq!(c.selector("web-canary").as_deref(), Some(v2.as_str()));
    assert_eq!(c.selector("web-stable").as_deref(), Some(v1.as_str()));
    assert_eq!(
        c.rollout["status"]["canary"]["weights"]["canary"]["weight"],
        20
    );

    let p = promote_patch(&c.rollout, false);
    merge(&mut c.rollout, &p);
    c.hold = true;
    c.step();
    assert_eq!(c.rollout["status"]["currentStepIndex"], 2);
    assert_eq!(c.replicas(&v2), 5);
    assert_eq!(
        weight(&c),
        20,
        "previous weight until the canary is at its count"
    );
    c.hold = false;
    c.settle();
    assert_eq!(weight(&c), 50);

    let p = promote_patch(&c.rollout, false);
    merge(&mut c.rollout, &p);
    c.settle();
    assert_eq!(c.status("stableRS"), v2);
    assert_eq!(weight(&c), 0, "0 once fully promoted");
    assert_eq!(c.selector("web-stable").as_deref(), Some(v2.as_str()));
    assert_eq!(phase(&c), "Healthy");
    assert_eq!(
        c.replicas(&v1),
        10,
        "old stable kept for scaleDownDelaySeconds"
    );
    assert!(
        c.rss
            .iter()
            .any(|r| r.pod_hash == v1 && r.scale_down_deadline.is_some())
    );
    c.now += 31_000;
    c.settle();
    assert_eq!(c.replicas(&v1), 0);
    assert_eq!(c.replicas(&v2), 10);
}

/// utils/replicaset/canary.go `UseSetCanaryScale`: with traffic routing setCanaryScale sets
/// the canary's pods apart from the weight (replicas, weight, matchTrafficWeight).
#[test]
fn set_canary_scale_with_traffic_routing() {
    for (scale, want) in [
        (json!({"replicas": 3}), 3),
        (json!({"weight": 50}), 5),
        (json!({"matchTrafficWeight": true}), 1),
    ] {
        let mut c = routed(json!([{"setCanaryScale": scale}, {"setWeight": 10}, {"pause": {}}]));
        c.settle();
        c.set_image("web:2");
        c.settle();
        let v2 = c.status("currentPodHash").to_owned();
        assert_eq!(c.rollout["status"]["currentStepIndex"], 2);
        assert_eq!(c.replicas(&v2), want, "{scale}");
        assert_eq!(weight(&c), 10);
    }
}

/// An abort with traffic routing: weight 0 at once, the canary scaled down after
/// abortScaleDownDelaySeconds (replicaset.go `shouldDelayScaleDownOnAbort`, default 30 s).
#[test]
fn nginx_abort_sets_weight_zero_then_scales_the_canary_down() {
    let mut c = routed(json!([{"setWeight": 20}, {"pause": {}}]));
    c.settle();
    c.set_image("web:2");
    c.settle();
    let v2 = c.status("currentPodHash").to_owned();
    assert_eq!(weight(&c), 20);
    merge(&mut c.rollout, &abort_patch());
    c.settle();
    assert_eq!(weight(&c), 0);
    assert_eq!(phase(&c), "Degraded");
    assert_eq!(c.replicas(&v2), 2, "kept for abortScaleDownDelaySeconds");
    c.now += 31_000;
    c.settle();
    assert_eq!(c.replicas(&v2), 0);
}

/// rollout/controller.go `getRolloutReferencedResources`: a missing stable Ingress or
/// Service is an InvalidSpec condition with upstream's field error; nothing is applied.
#[test]
fn missing_ingress_or_service_is_invalid_spec() {
    let mut c = routed(json!([{"setWeight": 20}]));
    c.ingresses.clear();
    let plan = c.step();
    assert_eq!(
        c.status("message"),
        "InvalidSpec: spec.strategy.canary.trafficRouting.nginx.stableIngress: Invalid value: \"web-ingress\": ingress.networking.k8s.io \"web-ingress\" not found"
    );
    assert!(plan.create_rs.is_none() && plan.scale.is_empty() && plan.ingresses.is_empty());
    let mut c = routed(json!([{"setWeight": 20}]));
    c.services.retain(|s| s.name != "web-canary");
    let plan = c.step();
    assert_eq!(
        c.status("message"),
        "InvalidSpec: spec.strategy.canary.canaryService: Invalid value: \"web-canary\": service \"web-canary\" not found"
    );
    assert!(plan.create_rs.is_none() && plan.services.is_empty());
}

/// utils/replicaset/canary.go `CalculateReplicaCountsForTrafficRoutedCanary` with
/// `dynamicStableScale` (docs/features/canary.md "Dynamic Stable Scale"): the stable runs
/// the higher of the desired and the current stable weight's pods, so it scales down only
/// once the traffic has left it; on abort the stable scales back up first, the canary
/// keeps the traffic the stable cannot take yet (trafficrouting.go
/// `calculateDesiredWeightOnAbortOrStableRollback`: 100 - 100 x stable available / replicas,
/// never more than it had), and the canary follows the traffic down with no abort delay
/// unless abortScaleDownDelaySeconds is set (replicaset.go `shouldDelayScaleDownOnAbort`).
#[test]
fn dynamic_stable_scale_follows_the_traffic_both_ways() {
    let steps = json!([{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}, {"pause": {}}]);
    let mut c = routed(steps.clone());
    c.rollout["spec"]["strategy"]["canary"]["dynamicStableScale"] = json!(true);
    c.settle();
    let v1 = c.status("stableRS").to_owned();
    assert_eq!(c.replicas(&v1), 10);

    c.set_image("web:2");
    c.step();
    let v2 = c.status("currentPodHash").to_owned();
    assert_eq!(c.replicas(&v2), 2);
    assert_eq!(
        c.replicas(&v1),
        10,
        "the stable keeps its pods until traffic moves"
    );
    c.settle();
    assert_eq!(weight(&c), 20);
    assert_eq!((c.replicas(&v2), c.replicas(&v1)), (2, 8));

    let p = promote_patch(&c.rollout, false);
    merge(&mut c.rollout, &p);
    c.settle();
    assert_eq!(weight(&c), 60);
    assert_eq!((c.replicas(&v2), c.replicas(&v1)), (6, 4));

    merge(&mut c.rollout, &abort_patch());
    c.step();
    assert_eq!(c.replicas(&v1), 10, "the stable scales up first");
    assert_eq!(weight(&c), 60, "traffic waits for the stable's pods");
    assert_eq!(c.replicas(&v2), 6);
    c.step();
    assert_eq!(weight(&c), 0);
    c.settle();
    assert_eq!(
        (c.replicas(&v2), c.replicas(&v1)),
        (0, 10),
        "no abort delay"
    );
    assert_eq!(phase(&c), "Degraded");

    // an explicit abortScaleDownDelaySeconds keeps the canary up for that long
    let mut c = routed(steps);
    c.rollout["spec"]["strategy"]["canary"]["dynamicStableScale"] = json!(true);
    c.rollout["spec"]["strategy"]["canary"]["abortScaleDownDelaySeconds"] = json!(10);
    c.settle();
    c.set_image("web:2");
    c.settle();
    let v2 = c.status("currentPodHash").to_owned();
    merge(&mut c.rollout, &abort_patch());
    c.settle();
    assert_eq!(weight(&c), 0);
    assert_eq!(c.replicas(&v2), 2, "kept for abortScaleDownDelaySeconds");
    c.now += 11_000;
    c.settle();
    assert_eq!(c.replicas(&v2), 0);
}

/// `CheckMinPodsPerReplicaSet`: with traffic routing a ReplicaSet that runs pods runs at
/// least minPodsPerReplicaSet of them.
#[test]
fn min_pods_per_replica_set_with_traffic_routing() {
    let mut c = routed(json!([{"setWeight": 5}, {"pause": {}}]));
    c.rollout["spec"]["strategy"]["canary"]["minPodsPerReplicaSet"] = json!(2);
    c.settle();
    c.set_image("web:2");
    c.settle();
    let v2 = c.status("currentPodHash").to_owned();
    assert_eq!(c.replicas(&v2), 2, "ceil(10 x 5%) = 1, raised to 2");
    assert_eq!(weight(&c), 5);
}
