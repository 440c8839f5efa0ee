//! Concurrency groups of PipelineRuns (beyond Tekton; tektoncd/pipeline#1305, #5868), as
//! GitHub Actions' `concurrency`: runs whose `sluice.dev/concurrency-group` annotation (on
//! the PipelineRun, else on its Pipeline; `$(params.x)` substituted from the run's params
//! and the Pipeline's defaults) has the same value in a namespace form a group, and
//! `sluice.dev/concurrency-policy` says what happens when one is already running:
//!
//! - `queue` (the default): one run at a time, first created first; the others wait with
//!   reason `Queued` (`Succeeded` Unknown) until every older run of the group is done.
//! - `cancel-in-progress`: the newest run starts at once and every older run of the group
//!   that is not done is cancelled (`spec.status: Cancelled`; it ends `Cancelled` with a
//!   message naming the newer run).
//!
//! [`decide`] is the decision as a pure function; the controller gathers the members
//! (every PipelineRun of the namespace that is not done, grouped by the same resolution)
//! under one lock per process, so two runs never both decide they are first.

use std::collections::{BTreeMap, HashMap};

use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use sluice_pipeline::status::{Condition, now};

use crate::{Ctx, Error};

/// The annotation naming a run's group.
pub const GROUP: &str = "sluice.dev/concurrency-group";
/// The annotation choosing the policy: `queue` or `cancel-in-progress`.
pub const POLICY: &str = "sluice.dev/concurrency-policy";
/// Set on a run the controller admitted to start (its group's "running" marker until the
/// run's startTime is written).
pub const ADMITTED: &str = "sluice.dev/concurrency-admitted";
/// The group a run was placed in, `$(params...)` substituted: written with the first
/// decision about the run (admitted, queued or superseded), shown by `sluice pipelinerun
/// list`.
pub const KEY: &str = "sluice.dev/concurrency-key";
/// Set on a run cancelled by a newer run of its group: the newer run's name.
pub const CANCELLED_BY: &str = "sluice.dev/cancelled-by";
/// The reason of a run waiting in its group.
pub const QUEUED: &str = "Queued";
/// The reason of a run whose group annotations do not resolve.
pub const INVALID: &str = "InvalidConcurrencyGroup";

/// What happens when a group already has a run going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Queue,
    CancelInProgress,
}

impl Policy {
    /// `queue` (also when absent or empty) or `cancel-in-progress`.
    pub fn parse(s: Option<&str>) -> Result<Policy, String> {
        match s.map(str::trim) {
            None | Some("") | Some("queue") => Ok(Policy::Queue),
            Some("cancel-in-progress") => Ok(Policy::CancelInProgress),
            Some(other) => Err(format!(
                "annotation {POLICY}: unknown policy {other:?} (expected \"queue\" or \"cancel-in-progress\")"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Queue => "queue",
            Policy::CancelInProgress => "cancel-in-progress",
        }
    }
}

/// Substitutes `$(params.NAME)` and `$(params['NAME'])`/`$(params["NAME"])` in a group
/// annotation; a param that has no value is an error (a group must never silently be the
/// literal text).
pub fn substitute(value: &str, params: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find("$(") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find(')') else {
            return Err(format!("annotation {GROUP}: unclosed \"$(\" in {value:?}"));
        };
        let expr = after[..end].trim();
        let name = expr
            .strip_prefix("params.")
            .or_else(|| {
                expr.strip_prefix("params[")
                    .and_then(|r| r.strip_suffix(']'))
                    .map(|r| r.trim_matches(|c| c == '\'' || c == '"'))
            })
            .ok_or_else(|| {
                format!("annotation {GROUP}: only $(params.<name>) may be used, not $({expr})")
            })?;
        let v = params
            .get(name)
            .ok_or_else(|| format!("annotation {GROUP}: param {name:?} has no value"))?;
        out.push_str(v);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One run of a group as the decision sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// `metadata.creationTimestamp` (RFC 3339, so text order is time order).
    pub created: String,
    /// Admitted or started, and not done.
    pub running: bool,
}

impl Member {
    /// Creation order: the creation time, then (creation times have whole seconds) a run
    /// already going before one that is not, then the name.
    fn key(&self) -> (&str, bool, &str) {
        (&self.created, !self.running, &self.name)
    }
}

/// What to do with a run of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start it; under cancel-in-progress first cancel `cancel` (older runs, oldest first).
    Start { cancel: Vec<String> },
    /// Keep it waiting behind `behind` (queue).
    Wait { behind: String },
    /// A newer run of the group supersedes it (cancel-in-progress): cancel it.
    Superseded { by: String },
}

/// Decides for `me`, given the other runs of its group that are not done (`me` itself may
/// appear among `others`; it is skipped). Order is creation time, then running before
/// waiting, then name.
pub fn decide(me: &Member, policy: Policy, others: &[Member]) -> Decision {
    let others: Vec<&Member> = others.iter().filter(|o| o.name != me.name).collect();
    match policy {
        Policy::Queue => {
            if let Some(r) = others
                .iter()
                .filter(|o| o.running)
                .min_by(|a, b| a.key().cmp(&b.key()))
            {
                return Decision::Wait {
                    behind: r.name.clone(),
                };
            }
            match others
                .iter()
                .filter(|o| o.key() < me.key())
                .min_by(|a, b| a.key().cmp(&b.key()))
            {
                Some(first) => Decision::Wait {
                    behind: first.name.clone(),
                },
                None => Decision::Start { cancel: Vec::new() },
            }
        }
        Policy::CancelInProgress => {
            if let Some(newest) = others
                .iter()
                .filter(|o| o.key() > me.key())
                .max_by(|a, b| a.key().cmp(&b.key()))
            {
                return Decision::Superseded {
                    by: newest.name.clone(),
                };
            }
            let mut older: Vec<&Member> =
                others.into_iter().filter(|o| o.key() < me.key()).collect();
            older.sort_by(|a, b| a.key().cmp(&b.key()));
            Decision::Start {
                cancel: older.into_iter().map(|o| o.name.clone()).collect(),
            }
        }
    }
}

/// The message of a run waiting in its group.
pub fn queued_message(group: &str, behind: &str) -> String {
    format!(
        "waiting in concurrency group {group:?} (policy queue) for PipelineRun {behind:?} to finish"
    )
}

/// The message of a run cancelled by a newer run of its group.
pub fn superseded_message(name: &str, by: &str) -> String {
    format!(
        "PipelineRun {name:?} was cancelled: newer PipelineRun {by:?} of its concurrency group started (policy cancel-in-progress)"
    )
}

/// What the controller does with a run that has not started.
pub(crate) enum Gate {
    /// Start it (it is admitted).
    Go,
    /// It waits (queued): look again shortly.
    Hold,
    /// It was cancelled or failed here: the next reconcile ends it.
    Done,
}

/// A run's group and policy: its own annotations, else its Pipeline's; `$(params.x)` from
/// the run's params over the Pipeline's defaults. `Ok(None)`: not in a group.
async fn group_of(
    api: &Api<DynamicObject>,
    pipelines: &mut HashMap<String, Option<Value>>,
    pr: &Value,
) -> Result<Option<(String, Policy)>, String> {
    let ann = |v: &Value, k: &str| v["metadata"]["annotations"][k].as_str().map(str::to_owned);
    let pname = pr["spec"]["pipelineRef"]["name"].as_str().unwrap_or("");
    let pipeline = if pname.is_empty() {
        None
    } else {
        if !pipelines.contains_key(pname) {
            let p = api
                .get_opt(pname)
                .await
                .ok()
                .flatten()
                .and_then(|o| serde_json::to_value(o).ok());
            pipelines.insert(pname.to_owned(), p);
        }
        pipelines.get(pname).cloned().flatten()
    };
    let (group, policy) = match ann(pr, GROUP) {
        Some(g) => (g, ann(pr, POLICY)),
        None => match pipeline.as_ref().and_then(|p| ann(p, GROUP)) {
            Some(g) => (
                g,
                ann(pr, POLICY).or_else(|| pipeline.as_ref().and_then(|p| ann(p, POLICY))),
            ),
            None => return Ok(None),
        },
    };
    let policy = Policy::parse(policy.as_deref())?;
    let mut params = BTreeMap::new();
    let spec = pipeline
        .as_ref()
        .map(|p| &p["spec"])
        .unwrap_or(&pr["spec"]["pipelineSpec"]);
    for p in spec["params"].as_array().into_iter().flatten() {
        if let (Some(n), Some(d)) = (p["name"].as_str(), p["default"].as_str()) {
            params.insert(n.to_owned(), d.to_owned());
        }
    }
    for p in pr["spec"]["params"].as_array().into_iter().flatten() {
        if let (Some(n), Some(v)) = (p["name"].as_str(), p["value"].as_str()) {
            params.insert(n.to_owned(), v.to_owned());
        }
    }
    let g = substitute(&group, &params)?;
    if g.is_empty() {
        return Ok(None);
    }
    Ok(Some((g, policy)))
}

/// Decides, under the process's group lock, whether the not yet started run `pr` may
/// start: admits it (annotation [`ADMITTED`]), queues it (condition `Queued`), or cancels
/// it or the older runs its start supersedes.
pub(crate) async fn gate(ctx: &Ctx, pr: &Value) -> Result<Gate, Error> {
    let ns = pr["metadata"]["namespace"].as_str().unwrap_or("default");
    let name = pr["metadata"]["name"].as_str().unwrap_or("");
    let pipelines_api: Api<DynamicObject> = Api::namespaced_with(
        ctx.client.clone(),
        ns,
        &crate::gvk("tekton.dev", "v1", "Pipeline", "pipelines"),
    );
    let prs: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), ns, &crate::pipelinerun_ar());
    let mut pipelines = HashMap::new();
    let (group, policy) = match group_of(&pipelines_api, &mut pipelines, pr).await {
        Ok(Some(g)) => g,
        Ok(None) => return Ok(Gate::Go),
        Err(message) => {
            let c = Condition::succeeded(Some(false), INVALID, message);
            prs.patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"conditions": [c], "completionTime": now()}})),
            )
            .await?;
            return Ok(Gate::Done);
        }
    };
    let _guard = ctx.concurrency.lock().await;
    let mut members = Vec::new();
    for o in prs.list(&ListParams::default()).await?.items {
        let v = serde_json::to_value(&o)?;
        if v["metadata"].get("deletionTimestamp").is_some()
            || crate::shape::done(v.get("status")).is_some()
            || v["spec"]["status"]
                .as_str()
                .is_some_and(|s| s.starts_with("Cancelled") || s == "StoppedRunFinally")
        {
            continue;
        }
        if !matches!(group_of(&pipelines_api, &mut pipelines, &v).await, Ok(Some((g, _))) if g == group)
        {
            continue;
        }
        let started = v["status"]["startTime"]
            .as_str()
            .is_some_and(|s| !s.is_empty());
        members.push(Member {
            name: v["metadata"]["name"].as_str().unwrap_or("").to_owned(),
            created: v["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            running: started || v["metadata"]["annotations"].get(ADMITTED).is_some(),
        });
    }
    let me = Member {
        name: name.to_owned(),
        created: pr["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        running: false,
    };
    let cancel = |by: &str| json!({"metadata": {"annotations": {CANCELLED_BY: by}}, "spec": {"status": "Cancelled"}});
    let superseded = json!({"metadata": {"annotations": {CANCELLED_BY: name, KEY: group}}, "spec": {"status": "Cancelled"}});
    match decide(&me, policy, &members) {
        Decision::Start { cancel: older } => {
            for o in &older {
                let _ = prs
                    .patch(o, &PatchParams::default(), &Patch::Merge(&superseded))
                    .await;
            }
            prs.patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {ADMITTED: group, KEY: group}}})),
            )
            .await?;
            Ok(Gate::Go)
        }
        Decision::Superseded { by } => {
            let mut p = cancel(&by);
            p["metadata"]["annotations"][KEY] = json!(group);
            prs.patch(name, &PatchParams::default(), &Patch::Merge(p))
                .await?;
            Ok(Gate::Done)
        }
        Decision::Wait { behind } => {
            if pr["metadata"]["annotations"][KEY] != group.as_str() {
                prs.patch(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"annotations": {KEY: group}}})),
                )
                .await?;
            }
            let msg = queued_message(&group, &behind);
            let cur = &pr["status"]["conditions"][0];
            if cur["reason"] != QUEUED || cur["message"] != msg.as_str() {
                let c = Condition::succeeded(None, QUEUED, msg);
                prs.patch_status(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"conditions": [c]}})),
                )
                .await?;
            }
            Ok(Gate::Hold)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, created: &str, running: bool) -> Member {
        Member {
            name: name.into(),
            created: created.into(),
            running,
        }
    }

    #[test]
    fn queue_runs_one_at_a_time_first_in_first_out() {
        let a = m("a", "2026-01-01T00:00:01Z", false);
        let b = m("b", "2026-01-01T00:00:02Z", false);
        let c = m("c", "2026-01-01T00:00:03Z", false);
        let all = [a.clone(), b.clone(), c.clone()];
        assert_eq!(
            decide(&a, Policy::Queue, &all),
            Decision::Start { cancel: vec![] }
        );
        assert_eq!(
            decide(&b, Policy::Queue, &all),
            Decision::Wait { behind: "a".into() }
        );
        assert_eq!(
            decide(&c, Policy::Queue, &all),
            Decision::Wait { behind: "a".into() }
        );
        // a runs: nobody else starts, even an older one that shows up late
        let running = [m("a", "2026-01-01T00:00:01Z", true), b.clone(), c.clone()];
        assert_eq!(
            decide(&b, Policy::Queue, &running),
            Decision::Wait { behind: "a".into() }
        );
        // a done: b is first
        assert_eq!(
            decide(&b, Policy::Queue, &[b.clone(), c.clone()]),
            Decision::Start { cancel: vec![] }
        );
        assert_eq!(
            decide(&c, Policy::Queue, &[b.clone(), c.clone()]),
            Decision::Wait { behind: "b".into() }
        );
        // same second: the name orders
        let x = m("x", "2026-01-01T00:00:05Z", false);
        let y = m("y", "2026-01-01T00:00:05Z", false);
        assert_eq!(
            decide(&y, Policy::Queue, &[x.clone(), y.clone()]),
            Decision::Wait { behind: "x".into() }
        );
        // alone
        assert_eq!(
            decide(&a, Policy::Queue, &[]),
            Decision::Start { cancel: vec![] }
        );
    }

    #[test]
    fn cancel_in_progress_starts_the_newest_and_cancels_older_ones() {
        let a = m("a", "2026-01-01T00:00:01Z", true);
        let b = m("b", "2026-01-01T00:00:02Z", false);
        let c = m("c", "2026-01-01T00:00:03Z", false);
        let all = [a.clone(), b.clone(), c.clone()];
        assert_eq!(
            decide(&c, Policy::CancelInProgress, &all),
            Decision::Start {
                cancel: vec!["a".into(), "b".into()]
            }
        );
        assert_eq!(
            decide(&a, Policy::CancelInProgress, &all),
            Decision::Superseded { by: "c".into() }
        );
        assert_eq!(
            decide(&b, Policy::CancelInProgress, &all),
            Decision::Superseded { by: "c".into() }
        );
        assert_eq!(
            decide(&a, Policy::CancelInProgress, std::slice::from_ref(&a)),
            Decision::Start { cancel: vec![] }
        );
    }

    #[test]
    fn policies_and_substitution() {
        assert_eq!(Policy::parse(None), Ok(Policy::Queue));
        assert_eq!(
            Policy::parse(Some("cancel-in-progress")),
            Ok(Policy::CancelInProgress)
        );
        assert!(Policy::parse(Some("cancel")).is_err_and(|e| e.contains("unknown policy")));
        let p: BTreeMap<String, String> = [("branch".to_owned(), "main".to_owned())].into();
        assert_eq!(
            substitute("deploy-$(params.branch)", &p).as_deref(),
            Ok("deploy-main")
        );
        assert_eq!(
            substitute("$(params['branch'])/x", &p).as_deref(),
            Ok("main/x")
        );
        assert_eq!(substitute("fixed", &p).as_deref(), Ok("fixed"));
        assert!(
            substitute("$(params.nope)", &p).is_err_and(|e| e.contains("\"nope\" has no value"))
        );
        assert!(substitute("$(context.pipelineRun.name)", &p).is_err());
        assert!(substitute("$(params.branch", &p).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// At most one run of a queue group is ever told to start, whatever the members.
        #[test]
        fn queue_starts_at_most_one(runs in proptest::collection::vec((0u8..5, proptest::bool::ANY), 0..8)) {
            let members: Vec<Member> = runs
                .iter()
                .enumerate()
                .map(|(i, (t, r))| m(&format!("r{i}"), &format!("2026-01-01T00:00:0{t}Z"), *r))
                .collect();
            let starting = members
                .iter()
                .filter(|me| matches!(decide(me, Policy::Queue, &members), Decision::Start { .. }))
                .count();
            let running = members.iter().filter(|x| x.running).count();
            proptest::prop_assert!(starting <= 1);
            // with a run going, only that run itself may be told to start
            if running > 0 {
                let others_start = members
                    .iter()
                    .filter(|me| !me.running)
                    .any(|me| matches!(decide(me, Policy::Queue, &members), Decision::Start { .. }));
                proptest::prop_assert!(!others_start);
            }
            let surviving = members
                .iter()
                .filter(|me| matches!(decide(me, Policy::CancelInProgress, &members), Decision::Start { .. }))
                .count();
            proptest::prop_assert_eq!(surviving, usize::from(!members.is_empty()));
        }
    }
}
