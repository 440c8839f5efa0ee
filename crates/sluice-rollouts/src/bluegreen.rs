//! The blue-green strategy of argo-rollouts `rollout/bluegreen.go` as one pure reconcile
//! pass, sharing the canary pass's inputs and outputs ([`crate::canary::Input`],
//! [`crate::canary::Plan`]): the new ReplicaSet is brought up beside the active one, the
//! preview Service selects it at once, the active Service is switched to it once it is
//! saturated, the pause (`BlueGreenPause`) is over and prePromotionAnalysis succeeded; it
//! becomes the stable after postPromotionAnalysis; the previous one is annotated with a
//! scale-down deadline and scaled down after `scaleDownDelaySeconds`.
//!
//! Sources, in the order of one upstream reconcile: `rolloutBlueGreen`,
//! `reconcilePreviewService` / `reconcileActiveService` and `switchServiceSelector`
//! (`rollout/service.go`), `reconcileBlueGreenReplicaSets` and `scaleDownOldReplicaSetsForBlueGreen`
//! with `scaleDownDelayHelper` (`rollout/replicaset.go`), `reconcileBlueGreenPause` and
//! `CompletedBlueGreenPause` (`rollout/pause.go`), `reconcilePrePromotionAnalysisRun` /
//! `reconcilePostPromotionAnalysisRun` (`rollout/analysis.go`), `syncRolloutStatusBlueGreen`,
//! `shouldFullPromote` / `promoteStable` (`rollout/sync.go`), `NewRSNewReplicas` and
//! `ReadyForPause` (`utils/replicaset`), `CalculateRolloutPhase` (`utils/rollout`).
//!
//! Differences from upstream, on purpose: a ReplicaSet is saturated when its spec and
//! available replicas are `spec.replicas` (no desired-replicas annotation); with
//! `autoPromotionSeconds`, a `promote` that removed the pause condition completes the pause
//! (upstream would wait for a condition it never adds again); `promoteFull` also passes the
//! previewReplicaCount checkpoint (upstream would wait for the pre-promotion analysis it
//! cancels); a `retry` within abortScaleDownDelaySeconds pauses again (upstream sees the
//! abort's scale-down deadline on the preview ReplicaSet as a fast-tracked rollback and
//! switches at once) and starts new AnalysisRuns at once (upstream re-reads the failed run
//! while the ReplicaSet is not saturated and aborts again).

use serde_json::{Value as Json, json};

use crate::analysis::{Millis, format_rfc3339, parse_rfc3339};
use crate::canary::{
    Input, NewRun, Plan, ReplicaSet, Run, RunKind, completed, condition, pod_template_hash, s,
};
use crate::services::{
    Services, add_deadline, deadline, missing_service, remove_deadline, scale_down_delay, seconds,
};

/// `defaults.DefaultScaleDownDelaySeconds`.
pub const DEFAULT_SCALE_DOWN_DELAY_SECONDS: i64 = 30;
/// `defaults.DefaultAbortScaleDownDelaySeconds`.
pub const DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS: i64 = 30;

const BLUE_GREEN_PAUSE: &str = "BlueGreenPause";
const INCONCLUSIVE: &str = "InconclusiveAnalysisRun";

/// The spec errors of a blue-green strategy, with the field path.
fn invalid(bg: &Json, services: &[crate::canary::Service]) -> Option<String> {
    let active = bg.get("activeService").and_then(Json::as_str).unwrap_or("");
    let preview = bg
        .get("previewService")
        .and_then(Json::as_str)
        .unwrap_or("");
    if active.is_empty() {
        return Some("spec.strategy.blueGreen.activeService: Required value".into());
    }
    if active == preview {
        // validation.DuplicatedServicesBlueGreenMessage
        return Some(format!(
            "spec.strategy.blueGreen.activeService: Invalid value: \"{active}\": This rollout uses the same service for the active and preview services, but two different services are required."
        ));
    }
    for key in [
        "previewReplicaCount",
        "autoPromotionSeconds",
        "scaleDownDelaySeconds",
        "scaleDownDelayRevisionLimit",
        "abortScaleDownDelaySeconds",
    ] {
        if let Some(v) = bg.get(key)
            && !v.is_null()
            && v.as_i64().is_none_or(|n| n < 0)
        {
            return Some(format!(
                "spec.strategy.blueGreen.{key}: Invalid value: {v}: must be a non-negative integer"
            ));
        }
    }
    missing_service(
        services,
        &[
            ("spec.strategy.blueGreen.activeService", active),
            ("spec.strategy.blueGreen.previewService", preview),
        ],
    )
}

fn pause_conditions(obj: &serde_json::Map<String, Json>) -> Vec<Json> {
    obj.get("pauseConditions")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default()
}

fn has_pause(obj: &serde_json::Map<String, Json>, reason: &str) -> bool {
    pause_conditions(obj).iter().any(|c| c["reason"] == reason)
}

fn pause_start(obj: &serde_json::Map<String, Json>, reason: &str) -> Option<Millis> {
    pause_conditions(obj)
        .iter()
        .find(|c| c["reason"] == reason)
        .and_then(|c| c["startTime"].as_str())
        .and_then(parse_rfc3339)
}

fn add_pause(obj: &mut serde_json::Map<String, Json>, reason: &str, stamp: &str) {
    let mut conds = pause_conditions(obj);
    if !conds.iter().any(|c| c["reason"] == reason) {
        conds.push(json!({"reason": reason, "startTime": stamp}));
        obj.insert("pauseConditions".into(), Json::Array(conds));
        obj.insert("controllerPause".into(), json!(true));
    }
}

fn remove_pause(obj: &mut serde_json::Map<String, Json>, reason: &str) {
    let mut conds = pause_conditions(obj);
    conds.retain(|c| c["reason"] != reason);
    if conds.is_empty() {
        obj.remove("pauseConditions");
    } else {
        obj.insert("pauseConditions".into(), Json::Array(conds));
    }
}

/// `ClearPauseConditions` as `CalculatePauseStatus` applies it: no conditions, no
/// controllerPause.
fn clear_pauses(obj: &mut serde_json::Map<String, Json>) {
    obj.remove("pauseConditions");
    obj.remove("controllerPause");
}

/// One reconcile of a blue-green Rollout.
pub fn reconcile(input: &Input) -> Plan {
    let ro = input.rollout;
    let now = input.now;
    let stamp = format_rfc3339(now);
    let name = s(ro, "/metadata/name");
    let spec = ro.get("spec").cloned().unwrap_or(Json::Null);
    let prev = ro.get("status").cloned().unwrap_or_else(|| json!({}));
    let mut st = if prev.is_object() {
        prev.clone()
    } else {
        json!({})
    };
    let replicas = spec
        .get("replicas")
        .and_then(Json::as_i64)
        .map_or(1, |r| r.clamp(0, i64::from(i32::MAX)) as i32);
    let bg = spec
        .pointer("/strategy/blueGreen")
        .cloned()
        .unwrap_or(Json::Null);
    let template = spec.get("template").cloned().unwrap_or(Json::Null);
    let collision = prev
        .get("collisionCount")
        .and_then(Json::as_i64)
        .map(|c| c as i32);
    let hash = pod_template_hash(&template, collision);
    let generation = ro
        .pointer("/metadata/generation")
        .and_then(Json::as_i64)
        .unwrap_or(1);
    st["observedGeneration"] = json!(generation.to_string());
    let mut plan = Plan::empty();
    let obj = st.as_object_mut().expect("status is an object");

    if let Some(msg) = invalid(&bg, input.services) {
        let c = condition("InvalidSpec", true, "InvalidSpec", &msg, &stamp, &prev);
        obj.insert("conditions".into(), json!([c]));
        obj.insert("phase".into(), json!("Degraded"));
        obj.insert("message".into(), json!(format!("InvalidSpec: {msg}")));
        plan.status = st;
        return plan;
    }
    let active_name = bg["activeService"].as_str().unwrap_or("").to_owned();
    let preview_name = bg
        .get("previewService")
        .and_then(Json::as_str)
        .filter(|p| !p.is_empty())
        .map(str::to_owned);
    let auto_promotion = bg.get("autoPromotionEnabled").and_then(Json::as_bool) != Some(false);
    let auto_seconds = seconds(&bg, "autoPromotionSeconds", 0);
    let preview_count = bg
        .get("previewReplicaCount")
        .and_then(Json::as_i64)
        .map(|n| n.clamp(0, i64::from(i32::MAX)) as i32);
    let scale_down_delay_set = bg
        .get("scaleDownDelaySeconds")
        .is_some_and(|v| !v.is_null());
    let scale_down_secs = seconds(
        &bg,
        "scaleDownDelaySeconds",
        DEFAULT_SCALE_DOWN_DELAY_SECONDS,
    );
    let revision_limit = bg
        .get("scaleDownDelayRevisionLimit")
        .and_then(Json::as_i64)
        .unwrap_or(i64::from(i32::MAX));
    let abort_delay = seconds(
        &bg,
        "abortScaleDownDelaySeconds",
        DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS,
    );
    let pre_analysis = bg.get("prePromotionAnalysis").filter(|a| a.is_object());
    let post_analysis = bg.get("postPromotionAnalysis").filter(|a| a.is_object());
    let mut services = Services::new(input.services);
    // the selectors the status recorded at the end of the previous pass
    let status_active = s(&prev, "/blueGreen/activeSelector").to_owned();

    // a new pod template starts over (`resetRolloutStatus`); every run of another template ends
    let template_change = obj.get("currentPodHash").and_then(Json::as_str) != Some(hash.as_str());
    if template_change {
        obj.insert("currentPodHash".into(), json!(hash));
        for k in ["abort", "abortedAt", "abortMessage", "promoteFull"] {
            obj.remove(k);
        }
        clear_pauses(obj);
        if let Some(b) = obj.get_mut("blueGreen").and_then(Json::as_object_mut) {
            b.remove("prePromotionAnalysisRunStatus");
            b.remove("postPromotionAnalysisRunStatus");
            b.remove("scaleUpPreviewCheckPoint");
        }
        for r in input.runs {
            if !r.terminating && !completed(&r.phase) && !r.name.contains(&format!("-{hash}-")) {
                plan.terminate_runs.push(r.name.clone());
            }
        }
    }
    let stable_hash = obj
        .get("stableRS")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_owned();
    let new_rs = input.replica_sets.iter().find(|r| r.pod_hash == hash);
    let stable_rs = input
        .replica_sets
        .iter()
        .find(|r| !stable_hash.is_empty() && r.pod_hash == stable_hash);
    let revision = crate::canary::sync_revision(input.replica_sets, new_rs, &mut plan);
    let new_name = format!("{name}-{hash}");
    if new_rs.is_none() {
        plan.create_rs = Some((new_name.clone(), hash.clone(), revision));
    }
    let mut aborted = obj.get("abort").and_then(Json::as_bool) == Some(true);
    // `retry`: abort cleared by the user, abortedAt still set (`needsNewAnalysisRun`)
    let retrying = !aborted && obj.get("abortedAt").is_some_and(|a| !a.is_null());
    if retrying {
        // the runs of the aborted attempt are not current any more: new ones start
        obj.remove("abortedAt");
        obj.remove("abortMessage");
        if let Some(b) = obj.get_mut("blueGreen").and_then(Json::as_object_mut) {
            b.remove("prePromotionAnalysisRunStatus");
            b.remove("postPromotionAnalysisRunStatus");
        }
    }
    if aborted {
        // an aborted status carries no pause conditions (`CalculatePauseStatus`)
        clear_pauses(obj);
        if obj.get("abortedAt").is_none_or(Json::is_null) {
            obj.insert("abortedAt".into(), json!(stamp));
        }
    }
    let promote_full = obj.get("promoteFull").and_then(Json::as_bool) == Some(true);
    let paused_spec = spec.get("paused").and_then(Json::as_bool) == Some(true);
    // `haltProgress`
    let halt = paused_spec || has_pause(obj, INCONCLUSIVE);
    let checkpoint = obj
        .get("blueGreen")
        .and_then(|b| b.get("scaleUpPreviewCheckPoint"))
        .and_then(Json::as_bool)
        == Some(true);
    let controller_pause = obj.get("controllerPause").and_then(Json::as_bool) == Some(true);

    // `NewRSNewReplicas` for blue-green
    let active_rs_status = input
        .replica_sets
        .iter()
        .find(|r| !status_active.is_empty() && r.pod_hash == status_active);
    let new_desired = match preview_count {
        Some(pc) => {
            if active_rs_status.is_none_or(|a| a.pod_hash == hash)
                || (checkpoint && !template_change)
                || promote_full
            {
                replicas
            } else {
                pc
            }
        }
        None => replicas,
    };
    let new_replicas = new_rs.map_or(0, |r| r.replicas);
    let new_available = new_rs.map_or(0, |r| r.available);
    let saturated = |r: &ReplicaSet| r.replicas == replicas && r.available == replicas;
    let new_saturated = new_rs.is_some_and(saturated);
    // `ReadyForPause`
    let ready_for_pause =
        new_rs.is_some() && new_replicas == new_desired && new_available == new_desired;
    // a rollback to a ReplicaSet within its scale-down delay is fast-tracked; the deadline an
    // abort put on the preview ReplicaSet is not one (see the module doc)
    let new_has_deadline = !retrying && new_rs.is_some_and(|r| r.scale_down_deadline.is_some());

    // preview Service: the new ReplicaSet at once (`reconcilePreviewService`)
    if let Some(p) = &preview_name
        && !halt
    {
        services.switch(p, &hash, &mut plan);
    }

    // analysis runs (`reconcileAnalysisRuns`): the current ones are the ones the status names
    let recorded_of = |key: &str| {
        obj.get("blueGreen")
            .and_then(|b| b.get(key))
            .and_then(|c| c.get("name"))
            .and_then(Json::as_str)
            .map(str::to_owned)
    };
    let (rec_pre, rec_post) = (
        recorded_of("prePromotionAnalysisRunStatus"),
        recorded_of("postPromotionAnalysisRunStatus"),
    );
    let recorded = |key: &str| {
        if key == "prePromotionAnalysisRunStatus" {
            rec_pre.clone()
        } else {
            rec_post.clone()
        }
    };
    let run_of = |kind: RunKind, key: &str| -> (Option<Run>, String) {
        let base = crate::canary::run_name(name, &hash, revision, kind);
        let rec = recorded(key)
            .filter(|n| *n == base || n.strip_prefix(&base).is_some_and(|r| r.starts_with('.')));
        let current = rec
            .as_ref()
            .and_then(|n| input.runs.iter().find(|r| &r.name == n).cloned());
        let fresh = || {
            let taken = |n: &str| input.runs.iter().any(|r| r.name == n);
            if !taken(&base) {
                return base.clone();
            }
            (1..)
                .map(|i| format!("{base}.{i}"))
                .find(|n| !taken(n))
                .unwrap_or(base.clone())
        };
        match (rec, current) {
            (Some(n), c) => (c, n),
            _ => (None, fresh()),
        }
    };
    let mut pre_run: Option<Run> = None;
    let mut post_run: Option<Run> = None;
    let mut abort_now: Option<String> = None;
    let mut inconclusive_now = false;
    let skip_all = aborted || promote_full || new_has_deadline || stable_hash.is_empty();
    if skip_all {
        for r in input.runs {
            if !r.terminating && !completed(&r.phase) && !plan.terminate_runs.contains(&r.name) {
                plan.terminate_runs.push(r.name.clone());
            }
        }
        let current = |key: &str| {
            recorded(key).and_then(|n| input.runs.iter().find(|r| r.name == n).cloned())
        };
        pre_run = current("prePromotionAnalysisRunStatus");
        post_run = current("postPromotionAnalysisRunStatus");
    } else {
        let run_status =
            |key: &str, r: &Option<Run>, n: &str, obj: &mut serde_json::Map<String, Json>| {
                crate::canary::set_run_status(obj, "blueGreen", key, r.as_ref(), n)
            };
        for (kind, key, analysis) in [
            (
                RunKind::PrePromotion,
                "prePromotionAnalysisRunStatus",
                pre_analysis,
            ),
            (
                RunKind::PostPromotion,
                "postPromotionAnalysisRunStatus",
                post_analysis,
            ),
        ] {
            let Some(a) = analysis else {
                if let Some(b) = obj.get_mut("blueGreen").and_then(Json::as_object_mut) {
                    b.remove(key);
                }
                continue;
            };
            let (mut run, mut n) = run_of(kind, key);
            // `skipPrePromotionAnalysisRun` / `skipPostPromotionAnalysisRun`
            let skip = if kind == RunKind::PrePromotion {
                stable_hash == hash
                    || status_active.is_empty()
                    || status_active == hash
                    || match preview_count {
                        Some(pc) => new_replicas != pc || new_available != pc,
                        None => !new_saturated,
                    }
            } else {
                stable_hash == hash || status_active != hash || !new_saturated
            };
            if skip {
                if let Some(r) = &run
                    && !r.terminating
                    && !completed(&r.phase)
                {
                    plan.terminate_runs.push(r.name.clone());
                }
                if run.is_some() {
                    run_status(key, &run, &n, obj);
                }
            } else if has_pause(obj, INCONCLUSIVE) {
                if run.is_some() {
                    run_status(key, &run, &n, obj);
                }
            } else {
                // `needsNewAnalysisRun`: none yet, or an Inconclusive one the user resumed
                let resumed_inconclusive = controller_pause
                    && !has_pause(obj, BLUE_GREEN_PAUSE)
                    && run.as_ref().is_some_and(|r| r.phase == "Inconclusive");
                if resumed_inconclusive {
                    let base = crate::canary::run_name(name, &hash, revision, kind);
                    let taken = |n: &str| input.runs.iter().any(|r| r.name == n);
                    n = (1..)
                        .map(|i| format!("{base}.{i}"))
                        .find(|n| !taken(n))
                        .unwrap_or(base);
                    run = None;
                }
                if run.is_none() {
                    plan.create_runs.push(NewRun {
                        name: n.clone(),
                        kind,
                        pod_hash: hash.clone(),
                        revision,
                        analysis: a.clone(),
                    });
                }
                // `setPauseOrAbort`
                match &run {
                    Some(r) if r.phase == "Inconclusive" => inconclusive_now = true,
                    Some(r) if matches!(r.phase.as_str(), "Failed" | "Error") => {
                        abort_now = Some(if r.message.is_empty() {
                            format!("AnalysisRun {} {}", r.name, r.phase)
                        } else {
                            r.message.clone()
                        });
                    }
                    _ => {}
                }
                run_status(key, &run, &n, obj);
            }
            if kind == RunKind::PrePromotion {
                pre_run = run;
            } else {
                post_run = run;
            }
        }
    }
    let completed_pre =
        pre_analysis.is_none() || pre_run.as_ref().is_some_and(|r| r.phase == "Successful");

    // `CompletedBlueGreenPause`
    let needs_controller_pause = !auto_promotion || auto_seconds > 0;
    let completed_pause = |obj: &serde_json::Map<String, Json>| -> bool {
        if checkpoint || !needs_controller_pause {
            return true;
        }
        let cond = pause_start(obj, BLUE_GREEN_PAUSE);
        let has = has_pause(obj, BLUE_GREEN_PAUSE);
        let controller_pause = obj.get("controllerPause").and_then(Json::as_bool) == Some(true);
        if auto_promotion {
            if auto_seconds == 0 {
                return true;
            }
            match cond {
                Some(start) => now > start.saturating_add(auto_seconds.saturating_mul(1000)),
                None if has => false,
                // promoted by the user (see the module doc)
                None => controller_pause,
            }
        } else {
            controller_pause && !has
        }
    };

    // the ReplicaSets (`reconcileBlueGreenReplicaSets`)
    let delay_abort = aborted && stable_rs.is_some() && abort_delay > 0;
    if let Some(n) = new_rs
        && !delay_abort
    {
        remove_deadline(n, &mut plan);
    }
    if let Some(sr) = stable_rs
        && new_rs.is_none_or(|n| n.name != sr.name)
    {
        remove_deadline(sr, &mut plan);
    }
    let active_at_start = services
        .get(&active_name)
        .and_then(|s| s.selector_hash.clone());
    if let Some(a) = active_at_start
        .as_deref()
        .and_then(|h| input.replica_sets.iter().find(|r| r.pod_hash == h))
    {
        plan.scale.push((a.name.clone(), replicas));
    }
    let mut want_new = new_desired;
    if delay_abort && let Some(n) = new_rs {
        match deadline(n) {
            Some(at) if at <= now => want_new = 0,
            Some(at) => {
                want_new = n.replicas;
                plan.requeue(at);
            }
            None => {
                want_new = n.replicas;
                if stable_rs.is_some_and(|s| s.available == replicas) {
                    add_deadline(n, abort_delay, now, &mut plan);
                }
            }
        }
    }
    if !plan.scale.iter().any(|(n, _)| *n == new_name) {
        plan.scale.push((new_name.clone(), want_new));
    }

    // pause (`reconcileBlueGreenPause`)
    let active_now = services.selector(&active_name);
    let fast_tracked = new_has_deadline
        || promote_full
        || active_now.is_none()
        || active_now.as_deref() == Some(hash.as_str());
    if !aborted && ready_for_pause && !halt {
        if fast_tracked || checkpoint || !needs_controller_pause {
            remove_pause(obj, BLUE_GREEN_PAUSE);
        } else if completed_pre {
            if has_pause(obj, BLUE_GREEN_PAUSE) {
                if completed_pause(obj) {
                    remove_pause(obj, BLUE_GREEN_PAUSE);
                } else if auto_promotion && auto_seconds > 0 {
                    let start = pause_start(obj, BLUE_GREEN_PAUSE).unwrap_or(now);
                    plan.requeue(
                        start
                            .saturating_add(auto_seconds.saturating_mul(1000))
                            .saturating_add(1),
                    );
                }
            } else if !controller_pause {
                add_pause(obj, BLUE_GREEN_PAUSE, &stamp);
                if auto_promotion && auto_seconds > 0 {
                    plan.requeue(
                        now.saturating_add(auto_seconds.saturating_mul(1000))
                            .saturating_add(1),
                    );
                }
            }
        }
    }
    let just_paused = !has_pause(
        &prev.as_object().cloned().unwrap_or_default(),
        BLUE_GREEN_PAUSE,
    ) && has_pause(obj, BLUE_GREEN_PAUSE);

    // active Service (`reconcileActiveService`)
    if !halt && ready_for_pause && new_saturated {
        let mut target = active_now.clone();
        if fast_tracked {
            target = Some(hash.clone());
        }
        if !just_paused && completed_pause(obj) && completed_pre {
            target = Some(hash.clone());
        }
        if aborted && !stable_hash.is_empty() {
            target = Some(stable_hash.clone());
        }
        if let Some(t) = target
            && services.switch(&active_name, &t, &mut plan)
        {
            plan.requeue(now);
        }
    }

    // older ReplicaSets (`scaleDownOldReplicaSetsForBlueGreen`)
    let active_sel = services.selector(&active_name);
    let preview_sel = preview_name.as_deref().and_then(|p| services.selector(p));
    let referenced = |h: &str| {
        [
            Some(stable_hash.as_str()),
            Some(hash.as_str()),
            Some(status_active.as_str()),
            prev.pointer("/blueGreen/previewSelector")
                .and_then(Json::as_str),
        ]
        .into_iter()
        .flatten()
        .any(|r| r == h)
            || services.selects(h)
    };
    let hold_for_post = post_analysis.is_some()
        && !scale_down_delay_set
        && !(stable_hash == hash || status_active != hash || !new_saturated)
        && post_run.as_ref().is_none_or(|r| r.phase != "Successful");
    let mut olds: Vec<&ReplicaSet> = input
        .replica_sets
        .iter()
        .filter(|r| {
            r.pod_hash != hash
                && Some(r.pod_hash.as_str()) != stable_rs.map(|s| s.pod_hash.as_str())
        })
        .collect();
    olds.sort_by_key(|r| std::cmp::Reverse(r.revision));
    if !has_pause(obj, INCONCLUSIVE) && !hold_for_post {
        let mut annotated = 0;
        for o in olds {
            if referenced(&o.pod_hash) || o.replicas == 0 {
                continue;
            }
            let want = scale_down_delay(
                o,
                &mut annotated,
                revision_limit,
                replicas,
                scale_down_secs,
                now,
                &mut plan,
            );
            if want != o.replicas && !plan.scale.iter().any(|(n, _)| *n == o.name) {
                plan.scale.push((o.name.clone(), want));
            }
        }
    }

    // abort and pause from the analysis
    if let Some(why) = &abort_now {
        obj.insert("abort".into(), json!(true));
        obj.insert("abortedAt".into(), json!(stamp));
        obj.insert("abortMessage".into(), json!(why));
        clear_pauses(obj);
        aborted = true;
        plan.requeue(now);
    } else if inconclusive_now {
        add_pause(obj, INCONCLUSIVE, &stamp);
    }

    // status (`syncRolloutStatusBlueGreen`)
    let b = obj.entry("blueGreen").or_insert_with(|| json!({}));
    if !b.is_object() {
        *b = json!({});
    }
    if let Some(b) = b.as_object_mut() {
        for (key, sel) in [
            ("previewSelector", &preview_sel),
            ("activeSelector", &active_sel),
        ] {
            match sel {
                Some(h) => {
                    b.insert(key.into(), json!(h));
                }
                None => {
                    b.remove(key);
                }
            }
        }
    }
    // `shouldFullPromote`
    let full_promote = if stable_rs.is_none() || active_sel.is_none() {
        true // initial deploy
    } else if active_sel.as_deref() != Some(hash.as_str()) {
        false
    } else if promote_full {
        true
    } else if aborted {
        false
    } else if post_analysis.is_some() {
        new_has_deadline || post_run.as_ref().is_some_and(|r| r.phase == "Successful")
    } else {
        true
    };
    let checkpoint_now;
    if full_promote {
        // `promoteStable`
        clear_pauses(obj);
        for k in ["abort", "abortedAt", "abortMessage", "promoteFull"] {
            obj.remove(k);
        }
        aborted = false;
        checkpoint_now = false;
        if stable_hash != hash {
            obj.insert("stableRS".into(), json!(hash));
            plan.requeue(now);
        }
    } else {
        // `calculateScaleUpPreviewCheckPoint`
        checkpoint_now = match preview_count {
            None => false,
            Some(_) if checkpoint && !template_change => true,
            Some(pc) => {
                (promote_full || (completed_pre && !just_paused && completed_pause(obj)))
                    && new_available == pc
            }
        };
    }
    if let Some(b) = obj.get_mut("blueGreen").and_then(Json::as_object_mut) {
        if checkpoint_now {
            b.insert("scaleUpPreviewCheckPoint".into(), json!(true));
        } else {
            b.remove("scaleUpPreviewCheckPoint");
        }
    }
    if checkpoint_now && !checkpoint {
        plan.requeue(now);
    }
    let stable_now = obj
        .get("stableRS")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_owned();

    // counts: the active ReplicaSet's, as upstream
    let all = input.replica_sets;
    let sum = |f: fn(&ReplicaSet) -> i32| all.iter().map(f).sum::<i32>();
    let active_rs = active_sel
        .as_deref()
        .and_then(|h| all.iter().find(|r| r.pod_hash == h));
    obj.insert("replicas".into(), json!(sum(|r| r.status_replicas)));
    let updated = new_rs.map_or(0, |r| r.status_replicas);
    obj.insert("updatedReplicas".into(), json!(updated));
    let (ready, available) = match active_rs {
        Some(a) => (a.ready, a.available),
        None => (sum(|r| r.ready), sum(|r| r.available)),
    };
    obj.insert("readyReplicas".into(), json!(ready));
    obj.insert("availableReplicas".into(), json!(available));
    let mut labels: Vec<(String, String)> = spec
        .pointer("/selector/matchLabels")
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(a) = active_rs {
        labels.retain(|(k, _)| k != crate::canary::POD_TEMPLATE_HASH_LABEL);
        labels.push((
            crate::canary::POD_TEMPLATE_HASH_LABEL.into(),
            a.pod_hash.clone(),
        ));
    }
    labels.sort();
    obj.insert(
        "selector".into(),
        json!(
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        ),
    );
    for k in ["currentStepIndex", "currentStepHash"] {
        obj.remove(k);
    }

    // phase, message, conditions (`CalculateRolloutPhase`)
    let paused = paused_spec || !pause_conditions(obj).is_empty();
    let (phase, message) = if aborted {
        let why = obj
            .get("abortMessage")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_owned();
        (
            "Degraded",
            format!(
                "RolloutAborted: Rollout aborted update to revision {revision}{}",
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {why}")
                }
            ),
        )
    } else if paused_spec {
        ("Paused", "manually paused".to_owned())
    } else if let Some(c) = pause_conditions(obj).first() {
        ("Paused", c["reason"].as_str().unwrap_or("").to_owned())
    } else if updated < replicas {
        ("Progressing", "more replicas need to be updated".to_owned())
    } else if available < updated {
        (
            "Progressing",
            "updated replicas are still becoming available".to_owned(),
        )
    } else if active_sel.as_deref() != Some(hash.as_str()) {
        ("Progressing", "active service cutover pending".to_owned())
    } else if stable_now != hash {
        let waiting_post = post_analysis.is_some()
            && obj
                .get("blueGreen")
                .and_then(|b| b.pointer("/postPromotionAnalysisRunStatus/status"))
                .and_then(Json::as_str)
                .is_none_or(|p| !completed(p));
        (
            "Progressing",
            if waiting_post {
                "waiting for analysis to complete"
            } else {
                "waiting for post-promotion verification to complete"
            }
            .to_owned(),
        )
    } else {
        ("Healthy", String::new())
    };
    let healthy = phase == "Healthy";
    // blue-green: Available when the active ReplicaSet is saturated
    let avail = active_rs.is_some_and(saturated);
    crate::canary::write_summary(
        obj,
        &crate::canary::Summary {
            phase,
            message: &message,
            aborted,
            paused,
            available: avail,
            new_name: &new_name,
        },
        &stamp,
        &prev,
    );
    if !healthy && !paused && !aborted {
        // waiting on ReplicaSets or runs: their watch events wake the controller; poll too
        plan.requeue(now + 5_000);
    }
    if !plan.services.is_empty() {
        plan.requeue(now);
    }
    plan.status = st;
    plan
}

/// The status patch of kubectl-argo-rollouts `promote` for blue-green: the pause
/// conditions removed; with `full`, `promoteFull` (only while an update is in progress).
pub fn promote_patch(rollout: &Json, full: bool) -> Json {
    if full {
        if s(rollout, "/status/currentPodHash") != s(rollout, "/status/stableRS") {
            return json!({"status": {"promoteFull": true}});
        }
        return json!({"status": {}});
    }
    json!({"status": {"pauseConditions": null}})
}

/// `retry rollout` for blue-green: the abort cleared (the controller starts new
/// AnalysisRuns, `needsNewAnalysisRun` seeing abortedAt).
pub fn retry_patch() -> Json {
    json!({"status": {"abort": false}})
}

#[cfg(test)]
mod tests;
