//! The blue-green pass against the simulated cluster of the canary tests. Each test names
//! the argo-rollouts source (v1.6+) whose rule it pins.

use serde_json::{Value as Json, json};

use crate::canary::tests::{Cluster, merge, phase};
use crate::canary::{Run, abort_patch};
use crate::services::{MANAGED_BY_ANNOTATION, SCALE_DOWN_DEADLINE_ANNOTATION, service_patch};

fn bg(strategy: Json) -> Cluster {
    let mut strategy = strategy;
    strategy["activeService"] = json!("web-active");
    if strategy.get("previewService").is_none() {
        strategy["previewService"] = json!("web-preview");
    }
    let mut c = Cluster::new(json!({
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "web:1"}]}},
        "strategy": {"blueGreen": strategy},
    }));
    c.service("web-active");
    c.service("web-preview");
    c
}

fn active(c: &Cluster) -> String {
    c.selector("web-active").unwrap_or_default()
}
fn preview(c: &Cluster) -> String {
    c.selector("web-preview").unwrap_or_default()
}

/// First deploy, then v2 ready in preview: returns (v1, v2).
fn to_preview(c: &mut Cluster) -> (String, String) {
    c.settle();
    let v1 = c.status("stableRS").to_owned();
    c.set_image("web:2");
    c.settle();
    let v2 = c.status("currentPodHash").to_owned();
    (v1, v2)
}

fn deadline_of(c: &Cluster, hash: &str) -> Option<String> {
    c.rss
        .iter()
        .find(|r| r.pod_hash == hash)
        .and_then(|r| r.scale_down_deadline.clone())
}

/// service.go `generatePatch`: the selector's pod-template-hash, and the managed-by
/// annotation (the Rollout's name) the first time.
#[test]
fn service_patch_as_upstream() {
    let sw = crate::canary::ServiceSwitch {
        name: "web-active".into(),
        pod_hash: "abc".into(),
        add_managed_by: true,
    };
    assert_eq!(
        service_patch("web", &sw),
        json!({"metadata": {"annotations": {MANAGED_BY_ANNOTATION: "web"}},
            "spec": {"selector": {"rollouts-pod-template-hash": "abc"}}})
    );
    let sw = crate::canary::ServiceSwitch {
        add_managed_by: false,
        ..sw
    };
    assert_eq!(
        service_patch("web", &sw),
        json!({"spec": {"selector": {"rollouts-pod-template-hash": "abc"}}})
    );
    assert_eq!(
        SCALE_DOWN_DEADLINE_ANNOTATION,
        "argo-rollouts.argoproj.io/scale-down-deadline"
    );
}

/// sync.go `shouldFullPromote` ("Initial deploy": no stable ReplicaSet, no active selector)
/// and bluegreen.go `isBlueGreenFastTracked` (active without a selector): the first
/// template is stable at once and both Services select it, managed-by annotated.
#[test]
fn first_deploy_switches_both_services_and_is_healthy() {
    let mut c = bg(json!({"autoPromotionEnabled": false}));
    let plan = c.step();
    let h = c.status("currentPodHash").to_owned();
    assert_eq!(c.status("stableRS"), h);
    assert_eq!(
        plan.create_rs.as_ref().map(|r| r.1.as_str()),
        Some(h.as_str())
    );
    assert_eq!(preview(&c), h, "preview switched at once");
    c.settle();
    assert_eq!(active(&c), h);
    assert!(
        c.services
            .iter()
            .all(|s| s.managed_by.as_deref() == Some("web"))
    );
    assert_eq!(phase(&c), "Healthy");
    let st = &c.rollout["status"];
    assert_eq!(st["blueGreen"]["activeSelector"], h.as_str());
    assert_eq!(st["blueGreen"]["previewSelector"], h.as_str());
    assert_eq!(st["availableReplicas"], 3);
    assert_eq!(
        st["selector"],
        format!("app=web,rollouts-pod-template-hash={h}")
    );
    assert!(st.get("currentStepIndex").is_none());
}

/// bluegreen.go `reconcileBlueGreenPause` with autoPromotionEnabled: false: the preview
/// Service selects the new ReplicaSet at once (`reconcilePreviewService`), the rollout
/// pauses with `BlueGreenPause` once the new ReplicaSet is ready, the active Service stays on
/// the old one until `promote` removes the pause condition; then the new ReplicaSet is the
/// stable and the old one gets a scale-down deadline 30 s out (`DefaultScaleDownDelaySeconds`,
/// replicaset.go `scaleDownDelayHelper`) and is scaled down once it passes.
#[test]
fn manual_promotion_switches_active_then_scales_old_down_after_the_delay() {
    let mut c = bg(json!({"autoPromotionEnabled": false}));
    c.settle();
    let v1 = c.status("stableRS").to_owned();
    c.set_image("web:2");
    c.hold = true;
    c.step();
    let v2 = c.status("currentPodHash").to_owned();
    assert_ne!(v1, v2);
    assert_eq!(
        preview(&c),
        v2,
        "preview selects the new ReplicaSet at once"
    );
    assert_eq!(active(&c), v1);
    assert_eq!(c.replicas(&v2), 3, "new ReplicaSet at full size");
    assert_eq!(phase(&c), "Progressing");
    assert_eq!(c.status("message"), "more replicas need to be updated");
    c.hold = false;
    c.settle();
    assert_eq!(phase(&c), "Paused");
    assert_eq!(c.status("message"), "BlueGreenPause");
    assert_eq!(
        c.rollout["status"]["pauseConditions"][0]["reason"],
        "BlueGreenPause"
    );
    assert_eq!(c.rollout["status"]["controllerPause"], true);
    assert_eq!(
        active(&c),
        v1,
        "active stays on the old ReplicaSet while paused"
    );
    assert_eq!(c.replicas(&v1), 3);
    // promote: the plugin's patch removes the pause conditions
    let p = super::promote_patch(&c.rollout, false);
    assert_eq!(p, json!({"status": {"pauseConditions": null}}));
    merge(&mut c.rollout, &p);
    c.settle();
    assert_eq!(active(&c), v2);
    assert_eq!(c.status("stableRS"), v2);
    assert_eq!(phase(&c), "Healthy");
    let deadline = deadline_of(&c, &v1).expect("old ReplicaSet annotated");
    assert_eq!(
        crate::analysis::parse_rfc3339(&deadline),
        Some(c.now + 30_000)
    );
    assert_eq!(c.replicas(&v1), 3, "kept up during scaleDownDelaySeconds");
    c.now += 31_000;
    c.settle();
    assert_eq!(c.replicas(&v1), 0, "scaled down after the deadline");
    assert_eq!(c.replicas(&v2), 3);
}

/// pause.go `CompletedBlueGreenPause` / `needsBlueGreenControllerPause`: autoPromotionEnabled
/// defaults to true, so the active Service switches as soon as the new ReplicaSet is
/// saturated, without a pause.
#[test]
fn auto_promotion_by_default() {
    let mut c = bg(json!({"scaleDownDelaySeconds": 5}));
    let (v1, v2) = to_preview(&mut c);
    assert_eq!(active(&c), v2);
    assert_eq!(c.status("stableRS"), v2);
    assert!(c.rollout["status"].get("pauseConditions").is_none());
    assert_eq!(phase(&c), "Healthy");
    assert_eq!(
        deadline_of(&c, &v1)
            .as_deref()
            .and_then(crate::analysis::parse_rfc3339),
        Some(c.now + 5_000)
    );
}

/// bluegreen.go `reconcileBlueGreenPause` + pause.go: with autoPromotionSeconds the rollout
/// pauses and promotes itself once the pause is older than the delay.
#[test]
fn auto_promotion_seconds() {
    let mut c = bg(json!({"autoPromotionSeconds": 10}));
    let (v1, v2) = to_preview(&mut c);
    assert_eq!(phase(&c), "Paused");
    assert_eq!(active(&c), v1);
    let plan = c.step();
    assert_eq!(plan.requeue_at, Some(c.now + 10_001));
    c.now += 10_001;
    c.settle();
    assert_eq!(active(&c), v2);
    assert_eq!(phase(&c), "Healthy");
}

/// utils/replicaset `NewRSNewReplicas` (blue-green with previewReplicaCount) and
/// bluegreen.go `calculateScaleUpPreviewCheckPoint`: the new ReplicaSet runs
/// previewReplicaCount pods until promoted, then scales to spec.replicas, then takes the
/// active Service.
#[test]
fn preview_replica_count() {
    let mut c = bg(json!({"autoPromotionEnabled": false, "previewReplicaCount": 1}));
    let (v1, v2) = to_preview(&mut c);
    assert_eq!(c.replicas(&v2), 1);
    assert_eq!(phase(&c), "Paused");
    let p = super::promote_patch(&c.rollout, false);
    merge(&mut c.rollout, &p);
    c.step();
    assert_eq!(
        c.rollout["status"]["blueGreen"]["scaleUpPreviewCheckPoint"],
        true
    );
    c.settle();
    assert_eq!(c.replicas(&v2), 3);
    assert_eq!(active(&c), v2);
    assert_eq!(c.status("stableRS"), v2);
    assert!(
        c.rollout["status"]["blueGreen"]
            .get("scaleUpPreviewCheckPoint")
            .is_none()
    );
    assert_eq!(c.replicas(&v1), 3, "old one within its scale-down delay");
}

fn set_run(c: &mut Cluster, suffix: &str, phase: &str, message: &str) -> String {
    let r: &mut Run = c
        .runs
        .iter_mut()
        .rev()
        .find(|r| r.name.ends_with(suffix))
        .expect("the run exists");
    r.phase = phase.into();
    r.message = message.into();
    r.name.clone()
}

/// analysis.go `reconcilePrePromotionAnalysisRun` / `skipPrePromotionAnalysisRun`: the run
/// `<rollout>-<hash>-<revision>-pre` (rollout-type PrePromotion) starts once the new
/// ReplicaSet is saturated; the active Service waits for it (reconcileActiveService,
/// `completedPrePromotionAnalysis`); a Failed run aborts (`setPauseOrAbort`): Degraded,
/// active kept on the stable, the preview ReplicaSet scaled down after
/// abortScaleDownDelaySeconds (replicaset.go `shouldDelayScaleDownOnAbort`); retry starts a
/// new run.
#[test]
fn pre_promotion_analysis_gates_the_switch_and_a_failure_aborts() {
    let analysis = json!({"templates": [{"templateName": "smoke"}]});
    let mut c = bg(json!({"prePromotionAnalysis": analysis, "abortScaleDownDelaySeconds": 10}));
    let (v1, v2) = to_preview(&mut c);
    assert_eq!(c.runs.len(), 1);
    assert_eq!(c.runs[0].name, format!("web-{v2}-2-pre"));
    assert_eq!(active(&c), v1, "waits for the pre-promotion analysis");
    assert_eq!(phase(&c), "Progressing");
    assert_eq!(c.status("message"), "active service cutover pending");
    assert_eq!(
        c.rollout["status"]["blueGreen"]["prePromotionAnalysisRunStatus"]["name"],
        c.runs[0].name.as_str()
    );
    set_run(&mut c, "-pre", "Failed", "Metric \"smoke\" assessed Failed");
    c.settle();
    assert_eq!(phase(&c), "Degraded");
    assert_eq!(
        c.status("message"),
        "RolloutAborted: Rollout aborted update to revision 2: Metric \"smoke\" assessed Failed"
    );
    assert_eq!(active(&c), v1);
    assert_eq!(c.rollout["status"]["abort"], true);
    assert!(deadline_of(&c, &v2).is_some());
    assert_eq!(
        c.replicas(&v2),
        3,
        "preview kept for abortScaleDownDelaySeconds"
    );
    c.now += 11_000;
    c.settle();
    assert_eq!(c.replicas(&v2), 0);
    assert_eq!(c.replicas(&v1), 3);
    // retry: the plugin clears the abort; a new run
    merge(&mut c.rollout, &super::retry_patch());
    c.step();
    assert!(c.rollout["status"].get("abortedAt").is_none());
    c.settle();
    assert_eq!(c.replicas(&v2), 3, "preview scaled up again");
    assert_eq!(c.runs.len(), 2);
    assert_eq!(c.runs[1].name, format!("web-{v2}-2-pre.1"));
    set_run(&mut c, "-pre.1", "Successful", "");
    c.settle();
    assert_eq!(active(&c), v2);
    assert_eq!(phase(&c), "Healthy");
}

/// analysis.go `reconcilePostPromotionAnalysisRun` and sync.go `shouldFullPromote`: after
/// the switch the `-post` run starts; the new ReplicaSet becomes stable only when it
/// succeeds ("waiting for analysis to complete"), and without scaleDownDelaySeconds the old
/// ReplicaSet is not scaled down while it runs (bluegreen.go
/// `scaleDownOldReplicaSetsForBlueGreen`); an abort switches the active Service back.
#[test]
fn post_promotion_analysis_then_abort_switches_back() {
    let analysis = json!({"templates": [{"templateName": "smoke"}]});
    let mut c = bg(json!({"postPromotionAnalysis": analysis}));
    let (v1, v2) = to_preview(&mut c);
    assert_eq!(active(&c), v2);
    assert_eq!(c.status("stableRS"), v1);
    assert_eq!(c.runs.len(), 1);
    assert_eq!(c.runs[0].name, format!("web-{v2}-2-post"));
    assert_eq!(c.status("message"), "waiting for analysis to complete");
    assert_eq!(c.replicas(&v1), 3);
    assert!(deadline_of(&c, &v1).is_none());
    set_run(&mut c, "-post", "Successful", "");
    c.settle();
    assert_eq!(c.status("stableRS"), v2);
    assert_eq!(phase(&c), "Healthy");
    assert!(deadline_of(&c, &v1).is_some());

    // a new update, aborted by the user during post-promotion analysis
    c.set_image("web:3");
    c.settle();
    let v3 = c.status("currentPodHash").to_owned();
    assert_eq!(active(&c), v3);
    merge(&mut c.rollout, &abort_patch());
    c.settle();
    assert_eq!(active(&c), v2, "active back on the stable");
    assert_eq!(phase(&c), "Degraded");
    assert!(c.runs.iter().all(|r| r.terminating || r.phase != "Running"));
}

/// bluegreen.go `reconcileBlueGreenTemplateChange` / sync.go `resetRolloutStatus`: a new
/// template while paused starts over (pause cleared, preview on the newest ReplicaSet); the
/// superseded one is an "other" ReplicaSet with a scale-down deadline.
#[test]
fn new_template_during_rollout_starts_over() {
    let mut c = bg(json!({"autoPromotionEnabled": false}));
    let (v1, v2) = to_preview(&mut c);
    assert_eq!(phase(&c), "Paused");
    c.set_image("web:3");
    c.step();
    assert!(c.rollout["status"].get("pauseConditions").is_none());
    c.settle();
    let v3 = c.status("currentPodHash").to_owned();
    assert_eq!(preview(&c), v3);
    assert_eq!(active(&c), v1);
    assert_eq!(phase(&c), "Paused");
    assert!(deadline_of(&c, &v2).is_some());
    c.now += 31_000;
    c.settle();
    assert_eq!(c.replicas(&v2), 0);
    assert_eq!(c.replicas(&v1), 3);
}

/// replicaset.go `scaleDownDelayHelper` with scaleDownDelayRevisionLimit: past the limit,
/// older ReplicaSets are scaled down at once.
#[test]
fn scale_down_delay_revision_limit() {
    let mut c = bg(json!({"scaleDownDelayRevisionLimit": 1}));
    c.settle();
    let v1 = c.status("stableRS").to_owned();
    c.set_image("web:2");
    c.settle();
    let v2 = c.status("stableRS").to_owned();
    c.set_image("web:3");
    c.settle();
    assert_eq!(c.replicas(&v2), 3, "the newest older ReplicaSet waits");
    assert_eq!(c.replicas(&v1), 0, "beyond the limit");
}

/// `promote --full` (`promoteFull`): skips the pause and the analysis
/// (analysis.go `reconcileAnalysisRuns` skips runs while promoteFull).
#[test]
fn promote_full_skips_pause_and_analysis() {
    let analysis = json!({"templates": [{"templateName": "smoke"}]});
    let mut c = bg(json!({"autoPromotionEnabled": false, "prePromotionAnalysis": analysis}));
    let (_, v2) = to_preview(&mut c);
    let p = super::promote_patch(&c.rollout, true);
    assert_eq!(p, json!({"status": {"promoteFull": true}}));
    merge(&mut c.rollout, &p);
    c.settle();
    assert_eq!(active(&c), v2);
    assert_eq!(c.status("stableRS"), v2);
    assert!(c.rollout["status"].get("promoteFull").is_none());
    assert!(c.runs.iter().all(|r| r.terminating));
    assert_eq!(phase(&c), "Healthy");
}

/// rollout/controller.go `getReferencedServices`: a missing Service is an InvalidSpec
/// condition with upstream's field error, nothing created or switched.
#[test]
fn missing_service_is_invalid_spec() {
    let mut c = bg(json!({}));
    c.services.retain(|s| s.name != "web-preview");
    let plan = c.step();
    assert_eq!(phase(&c), "Degraded");
    assert_eq!(
        c.status("message"),
        "InvalidSpec: spec.strategy.blueGreen.previewService: Invalid value: \"web-preview\": service \"web-preview\" not found"
    );
    assert!(plan.create_rs.is_none() && plan.scale.is_empty() && plan.services.is_empty());
    assert_eq!(c.rollout["status"]["conditions"][0]["type"], "InvalidSpec");
    let mut c = bg(json!({"previewService": "web-active"}));
    c.step();
    assert!(
        c.status("message")
            .contains("two different services are required")
    );
}

/// A retry within abortScaleDownDelaySeconds pauses again (autoPromotionEnabled: false)
/// instead of taking the abort's scale-down deadline for a rollback (see the module doc).
#[test]
fn retry_within_the_abort_delay_pauses_again() {
    let mut c = bg(json!({"autoPromotionEnabled": false}));
    let (v1, v2) = to_preview(&mut c);
    merge(&mut c.rollout, &abort_patch());
    c.settle();
    assert_eq!(phase(&c), "Degraded");
    assert!(deadline_of(&c, &v2).is_some());
    merge(&mut c.rollout, &super::retry_patch());
    c.settle();
    assert_eq!(phase(&c), "Paused");
    assert_eq!(active(&c), v1);
    assert!(deadline_of(&c, &v2).is_none(), "deadline removed");
}

mod prop {
    use proptest::prelude::*;
    use serde_json::{Value as Json, json};

    use crate::canary::{Input, ReplicaSet, Run, Service, reconcile};

    fn value() -> impl Strategy<Value = Json> {
        prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::from),
            any::<i64>().prop_map(Json::from),
            (-5i64..50).prop_map(Json::from),
            "[a-z0-9%-]{0,6}".prop_map(Json::from),
            Just(json!({})),
            Just(json!([])),
        ]
    }

    fn rs() -> impl Strategy<Value = ReplicaSet> {
        (
            "[abn]",
            0i32..6,
            -3i32..6,
            0i64..4,
            proptest::option::of("2023-11-1[0-9]T00:00:00Z|garbage"),
        )
            .prop_map(|(h, replicas, available, revision, deadline)| ReplicaSet {
                name: format!("web-{h}"),
                pod_hash: h,
                replicas,
                status_replicas: replicas,
                ready: available,
                available,
                revision,
                scale_down_deadline: deadline,
            })
    }

    proptest! {
        /// Odd specs, statuses and cluster states never panic: the pass always returns an
        /// object status with a phase (blue-green, and a canary with nginx routing).
        #[test]
        fn any_input_gives_a_status(
            fields in proptest::collection::vec((0usize..12, value()), 0..8),
            status in proptest::collection::vec((0usize..8, value()), 0..6),
            rss in proptest::collection::vec(rs(), 0..4),
            run_phase in "(|Running|Successful|Failed|Inconclusive|Error)",
            blue_green in any::<bool>(),
        ) {
            let keys = ["activeService", "previewService", "autoPromotionEnabled",
                "autoPromotionSeconds", "previewReplicaCount", "scaleDownDelaySeconds",
                "scaleDownDelayRevisionLimit", "abortScaleDownDelaySeconds",
                "prePromotionAnalysis", "postPromotionAnalysis", "stableService", "canaryService"];
            let mut strategy = json!({"activeService": "a", "previewService": "p",
                "stableService": "a", "canaryService": "p",
                "trafficRouting": {"nginx": {"stableIngress": "i"}},
                "steps": [{"setWeight": 50}, {"setCanaryScale": {"replicas": 2}}, {"pause": {}}]});
            for (k, v) in fields {
                strategy[keys[k]] = v;
            }
            let skeys = ["stableRS", "currentPodHash", "abort", "abortedAt", "pauseConditions",
                "controllerPause", "promoteFull", "blueGreen"];
            let mut st = json!({});
            for (k, v) in status {
                st[skeys[k]] = v;
            }
            let strategy = if blue_green {
                json!({"blueGreen": strategy})
            } else {
                json!({"canary": strategy})
            };
            let ro = json!({"metadata": {"name": "web"}, "spec": {"replicas": 3,
                "template": {"spec": {"containers": [{"image": "x"}]}}, "strategy": strategy},
                "status": st});
            let new_hash = crate::canary::pod_template_hash(&ro["spec"]["template"], None);
            let mut rss = rss;
            for r in &mut rss {
                if r.pod_hash == "n" {
                    r.pod_hash = new_hash.clone();
                    r.name = format!("web-{new_hash}");
                }
            }
            let services = [Service { name: "a".into(), ..Service::default() },
                Service { name: "p".into(), selector_hash: Some("b".into()), managed_by: None }];
            let ingress = json!({"metadata": {"name": "i"}, "spec": {"rules": [{"http": {"paths": [
                {"backend": {"service": {"name": "a"}}}]}}]}});
            let runs = [Run { name: format!("web-{new_hash}-1-pre"), phase: run_phase, message: String::new(), terminating: false }];
            let plan = reconcile(&Input {
                rollout: &ro,
                replica_sets: &rss,
                runs: &runs,
                services: &services,
                ingresses: std::slice::from_ref(&ingress),
                now: 1_700_000_000_000,
            });
            prop_assert!(plan.status.is_object());
            prop_assert!(plan.status["phase"].is_string());
            for (_, n) in &plan.scale {
                prop_assert!(*n >= 0, "{:?}", plan.scale);
            }
        }
    }
}

/// bluegreen.go `isBlueGreenFastTracked` and sync.go `shouldFullPromote` ("Rollback to ...
/// within scaleDownDelay"): going back to the previous template while its ReplicaSet is
/// still up within its scale-down delay switches the active Service at once, without the
/// pause or the analysis, and removes its deadline (replicaset.go `removeScaleDownDeadlines`).
#[test]
fn rollback_within_the_scale_down_delay_is_fast_tracked() {
    let analysis = json!({"templates": [{"templateName": "smoke"}]});
    let mut c = bg(json!({"autoPromotionEnabled": false, "prePromotionAnalysis": analysis}));
    c.settle();
    let v1 = c.status("stableRS").to_owned();
    c.set_image("web:2");
    c.settle();
    let name = set_run(&mut c, "-pre", "Successful", "");
    assert!(name.ends_with("-2-pre"));
    c.settle();
    merge(
        &mut c.rollout,
        &json!({"status": {"pauseConditions": null}}),
    );
    c.settle();
    let v2 = c.status("stableRS").to_owned();
    assert_ne!(v1, v2);
    assert!(deadline_of(&c, &v1).is_some());
    let runs = c.runs.len();
    c.set_image("web:1");
    c.settle();
    assert_eq!(active(&c), v1, "switched back at once");
    assert_eq!(c.status("stableRS"), v1);
    assert_eq!(phase(&c), "Healthy");
    assert_eq!(c.runs.len(), runs, "no analysis");
    assert!(deadline_of(&c, &v1).is_none());
    assert!(deadline_of(&c, &v2).is_some());
    // utils/replicaset `SetNewReplicaSetAnnotations`: the reused ReplicaSet gets revision 3
    let r1 = c.rss.iter().find(|r| r.pod_hash == v1).map(|r| r.revision);
    assert_eq!(r1, Some(3));
}
