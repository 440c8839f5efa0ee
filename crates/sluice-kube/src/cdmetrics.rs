//! Argo CD's and Argo Rollouts' metrics for `/metrics` of `sluice serve`, with upstream's
//! names, labels and buckets, so dashboards and alert rules written for them (the seed's
//! `monitoring/cicd-alerts.yaml`) work unchanged:
//!
//! - Argo CD (controller/metrics/metrics.go): `argocd_app_info` {namespace, name, project,
//!   autosync_enabled, repo, dest_server, dest_namespace, sync_status, health_status,
//!   operation} = 1 per Application, collected at scrape time from the controller's cache as
//!   upstream's `appCollector` does; `argocd_app_sync_total` {namespace, name, project,
//!   dest_server, phase} counted when a sync operation completes (`IncSync`);
//!   `argocd_app_reconcile` {namespace, dest_server}, the reconcile duration histogram with
//!   buckets 0.25 .. 16 s (`IncReconcile`).
//! - Argo Rollouts (controller/metrics/prommetrics.go, rollouts.go, analysis.go):
//!   `rollout_info` {namespace, name, strategy, traffic_router, phase} = 1 with the phase of
//!   `calculatePhase`, `rollout_info_replicas_available|unavailable|desired|updated`
//!   {namespace, name}; `analysis_run_info` {namespace, name, phase} = 1,
//!   `analysis_run_metric_type` {namespace, name, metric, type} = 1 and
//!   `analysis_run_metric_phase` {namespace, name, metric, type, dry_run, phase}, 1 for the
//!   metric's phase and 0 for the five others.
//!
//! The per-object families are cleared and refilled from the listers on each scrape, so an
//! object that is gone leaves no series behind.

use std::fmt;
use std::sync::{Arc, Mutex};

use kube::api::DynamicObject;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde_json::Value;

/// `argocd_app_reconcile`'s buckets ("chosen after observing a ~2100ms mean reconcile time").
pub const RECONCILE_BUCKETS: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];

/// The analysis phases `analysis_run_metric_phase` reports, in upstream's order.
const ANALYSIS_PHASES: [&str; 6] = [
    "Pending",
    "Error",
    "Failed",
    "Successful",
    "Running",
    "Inconclusive",
];

/// Objects read at scrape time: a controller's reflector cache.
pub type Lister = Box<dyn Fn() -> Vec<Arc<DynamicObject>> + Send + Sync>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppInfoLabels {
    pub namespace: String,
    pub name: String,
    pub project: String,
    pub autosync_enabled: String,
    pub repo: String,
    pub dest_server: String,
    pub dest_namespace: String,
    pub sync_status: String,
    pub health_status: String,
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppSyncLabels {
    namespace: String,
    name: String,
    project: String,
    dest_server: String,
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    namespace: String,
    dest_server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RolloutInfoLabels {
    pub namespace: String,
    pub name: String,
    pub strategy: String,
    pub traffic_router: String,
    pub phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NamespaceName {
    namespace: String,
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunPhaseLabels {
    namespace: String,
    name: String,
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MetricTypeLabels {
    namespace: String,
    name: String,
    metric: String,
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MetricPhaseLabels {
    namespace: String,
    name: String,
    metric: String,
    r#type: String,
    dry_run: String,
    phase: String,
}

#[derive(Default)]
struct Listers {
    apps: Option<Lister>,
    rollouts: Option<Lister>,
    analysis_runs: Option<Lister>,
}

impl fmt::Debug for Listers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listers")
            .field("apps", &self.apps.is_some())
            .field("rollouts", &self.rollouts.is_some())
            .field("analysis_runs", &self.analysis_runs.is_some())
            .finish()
    }
}

/// The CD metrics: families registered once, listers set by the controllers when they start.
#[derive(Debug)]
pub struct CdMetrics {
    app_info: Family<AppInfoLabels, Gauge>,
    app_sync: Family<AppSyncLabels, Counter>,
    app_reconcile: Family<ReconcileLabels, Histogram, fn() -> Histogram>,
    rollout_info: Family<RolloutInfoLabels, Gauge>,
    ro_available: Family<NamespaceName, Gauge>,
    ro_unavailable: Family<NamespaceName, Gauge>,
    ro_desired: Family<NamespaceName, Gauge>,
    ro_updated: Family<NamespaceName, Gauge>,
    run_info: Family<RunPhaseLabels, Gauge>,
    run_metric_type: Family<MetricTypeLabels, Gauge>,
    run_metric_phase: Family<MetricPhaseLabels, Gauge>,
    /// Held while the per-object families are refilled (one scrape at a time).
    listers: Mutex<Listers>,
}

fn reconcile_histogram() -> Histogram {
    Histogram::new(RECONCILE_BUCKETS)
}

impl CdMetrics {
    /// The families, registered in `registry`.
    pub fn register(registry: &mut Registry) -> CdMetrics {
        let m = CdMetrics {
            app_info: Family::default(),
            app_sync: Family::default(),
            app_reconcile: Family::new_with_constructor(reconcile_histogram),
            rollout_info: Family::default(),
            ro_available: Family::default(),
            ro_unavailable: Family::default(),
            ro_desired: Family::default(),
            ro_updated: Family::default(),
            run_info: Family::default(),
            run_metric_type: Family::default(),
            run_metric_phase: Family::default(),
            listers: Mutex::new(Listers::default()),
        };
        registry.register(
            "argocd_app_info",
            "Information about application.",
            m.app_info.clone(),
        );
        // `_total` is added by the OpenMetrics encoder
        registry.register(
            "argocd_app_sync",
            "Number of application syncs.",
            m.app_sync.clone(),
        );
        registry.register(
            "argocd_app_reconcile",
            "Application reconciliation performance in seconds.",
            m.app_reconcile.clone(),
        );
        registry.register(
            "rollout_info",
            "Information about rollout.",
            m.rollout_info.clone(),
        );
        registry.register(
            "rollout_info_replicas_available",
            "The number of available replicas per rollout.",
            m.ro_available.clone(),
        );
        registry.register(
            "rollout_info_replicas_unavailable",
            "The number of unavailable replicas per rollout.",
            m.ro_unavailable.clone(),
        );
        registry.register(
            "rollout_info_replicas_desired",
            "The number of desired replicas per rollout.",
            m.ro_desired.clone(),
        );
        registry.register(
            "rollout_info_replicas_updated",
            "The number of updated replicas per rollout.",
            m.ro_updated.clone(),
        );
        registry.register(
            "analysis_run_info",
            "Information about analysis run.",
            m.run_info.clone(),
        );
        registry.register(
            "analysis_run_metric_type",
            "Information on the type of a specific metric in the Analysis Runs",
            m.run_metric_type.clone(),
        );
        registry.register(
            "analysis_run_metric_phase",
            "Information on the duration of a specific metric in the Analysis Run",
            m.run_metric_phase.clone(),
        );
        m
    }

    /// The Application controller's cache, read at each scrape.
    pub fn set_apps(&self, lister: Lister) {
        if let Ok(mut l) = self.listers.lock() {
            l.apps = Some(lister);
        }
    }

    /// The Rollout controller's cache, read at each scrape.
    pub fn set_rollouts(&self, lister: Lister) {
        if let Ok(mut l) = self.listers.lock() {
            l.rollouts = Some(lister);
        }
    }

    /// The AnalysisRun controller's cache, read at each scrape.
    pub fn set_analysis_runs(&self, lister: Lister) {
        if let Ok(mut l) = self.listers.lock() {
            l.analysis_runs = Some(lister);
        }
    }

    /// A sync operation of `app` ended in `state` (`operationState`): counted when its phase
    /// is a completed one (Succeeded, Failed, Error), as `IncSync`.
    pub fn sync_completed(&self, app: &Value, state: &Value) {
        let phase = str_at(state, "/phase");
        if !matches!(phase, "Succeeded" | "Failed" | "Error") {
            return;
        }
        self.app_sync
            .get_or_create(&AppSyncLabels {
                namespace: str_at(app, "/metadata/namespace").to_owned(),
                name: str_at(app, "/metadata/name").to_owned(),
                project: project_of(app.get("spec")),
                dest_server: str_at(app, "/spec/destination/server").to_owned(),
                phase: phase.to_owned(),
            })
            .inc();
    }

    /// One reconcile of `app` took `seconds` (`IncReconcile`).
    pub fn reconciled(&self, app: &Value, seconds: f64) {
        self.app_reconcile
            .get_or_create(&ReconcileLabels {
                namespace: str_at(app, "/metadata/namespace").to_owned(),
                dest_server: str_at(app, "/spec/destination/server").to_owned(),
            })
            .observe(seconds);
    }

    /// Refills the per-object families from the listers (called before encoding).
    pub fn refresh(&self) {
        let Ok(l) = self.listers.lock() else {
            return;
        };
        if let Some(apps) = &l.apps {
            self.app_info.clear();
            for o in apps() {
                self.app_info.get_or_create(&app_info(&o)).set(1);
            }
        }
        if let Some(ros) = &l.rollouts {
            for f in [
                &self.ro_available,
                &self.ro_unavailable,
                &self.ro_desired,
                &self.ro_updated,
            ] {
                f.clear();
            }
            self.rollout_info.clear();
            for o in ros() {
                self.rollout_info.get_or_create(&rollout_info(&o)).set(1);
                let key = ns_name(&o);
                let n = |p: &str| o.data.pointer(p).and_then(Value::as_i64).unwrap_or(0);
                let desired = o
                    .data
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                self.ro_available
                    .get_or_create(&key)
                    .set(n("/status/availableReplicas"));
                self.ro_unavailable
                    .get_or_create(&key)
                    .set(n("/status/replicas") - n("/status/availableReplicas"));
                self.ro_desired.get_or_create(&key).set(desired);
                self.ro_updated
                    .get_or_create(&key)
                    .set(n("/status/updatedReplicas"));
            }
        }
        if let Some(runs) = &l.analysis_runs {
            self.run_info.clear();
            self.run_metric_type.clear();
            self.run_metric_phase.clear();
            for o in runs() {
                self.collect_run(&o);
            }
        }
    }

    fn collect_run(&self, o: &DynamicObject) {
        let key = ns_name(o);
        let phase = str_at(&o.data, "/status/phase");
        self.run_info
            .get_or_create(&RunPhaseLabels {
                namespace: key.namespace.clone(),
                name: key.name.clone(),
                phase: phase.to_owned(),
            })
            .set(1);
        let metrics = o.data.pointer("/spec/metrics").and_then(Value::as_array);
        for m in metrics.into_iter().flatten() {
            let metric = str_at(m, "/name");
            let kind = provider_type(m);
            self.run_metric_type
                .get_or_create(&MetricTypeLabels {
                    namespace: key.namespace.clone(),
                    name: key.name.clone(),
                    metric: metric.to_owned(),
                    r#type: kind.clone(),
                })
                .set(1);
            let result_phase = o
                .data
                .pointer("/status/metricResults")
                .and_then(Value::as_array)
                .and_then(|rs| rs.iter().find(|r| str_at(r, "/name") == metric))
                .map(|r| str_at(r, "/phase"))
                .unwrap_or("");
            let dry_run = dry_run_of(&o.data, metric);
            for p in ANALYSIS_PHASES {
                let on = if p == "Pending" {
                    result_phase == "Pending" || result_phase.is_empty()
                } else {
                    result_phase == p
                };
                self.run_metric_phase
                    .get_or_create(&MetricPhaseLabels {
                        namespace: key.namespace.clone(),
                        name: key.name.clone(),
                        metric: metric.to_owned(),
                        r#type: kind.clone(),
                        dry_run: dry_run.to_string(),
                        phase: p.to_owned(),
                    })
                    .set(i64::from(on));
            }
        }
    }
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn ns_name(o: &DynamicObject) -> NamespaceName {
    NamespaceName {
        namespace: o.metadata.namespace.clone().unwrap_or_default(),
        name: o.metadata.name.clone().unwrap_or_default(),
    }
}

/// `Spec.GetProject()`: "default" when unset.
fn project_of(spec: Option<&Value>) -> String {
    match spec.and_then(|s| s.get("project")).and_then(Value::as_str) {
        Some(p) if !p.is_empty() => p.to_owned(),
        _ => "default".to_owned(),
    }
}

/// The labels of `argocd_app_info` for one Application (`collectApps`).
pub fn app_info(o: &DynamicObject) -> AppInfoLabels {
    let d = &o.data;
    let operation = if o.metadata.deletion_timestamp.is_some() {
        "delete"
    } else if d.pointer("/operation/sync").is_some() {
        "sync"
    } else {
        ""
    };
    let or_unknown = |s: &str| {
        if s.is_empty() {
            "Unknown".to_owned()
        } else {
            s.to_owned()
        }
    };
    // `Spec.GetSource()`: the source, else the first of `sources`
    let repo = d
        .pointer("/spec/source/repoURL")
        .or_else(|| d.pointer("/spec/sources/0/repoURL"))
        .and_then(Value::as_str)
        .unwrap_or("");
    AppInfoLabels {
        namespace: o.metadata.namespace.clone().unwrap_or_default(),
        name: o.metadata.name.clone().unwrap_or_default(),
        project: project_of(d.get("spec")),
        autosync_enabled: d
            .pointer("/spec/syncPolicy/automated")
            .is_some_and(|a| !a.is_null())
            .to_string(),
        repo: sluice_gitops::repocreds::normalize_git_url(repo),
        dest_server: str_at(d, "/spec/destination/server").to_owned(),
        dest_namespace: str_at(d, "/spec/destination/namespace").to_owned(),
        sync_status: or_unknown(str_at(d, "/status/sync/status")),
        health_status: or_unknown(str_at(d, "/status/health/status")),
        operation: operation.to_owned(),
    }
}

/// The labels of `rollout_info` for one Rollout (`getStrategyAndTrafficRouter`,
/// `calculatePhase`).
pub fn rollout_info(o: &DynamicObject) -> RolloutInfoLabels {
    let d = &o.data;
    let (strategy, router) = if d.pointer("/spec/strategy/blueGreen").is_some() {
        ("blueGreen", "")
    } else if d.pointer("/spec/strategy/canary").is_some() {
        let tr = d.pointer("/spec/strategy/canary/trafficRouting");
        // upstream checks these in this order, the last present one wins
        let router = [
            ("alb", "ALB"),
            ("ambassador", "Ambassador"),
            ("istio", "Istio"),
            ("nginx", "Nginx"),
            ("smi", "SMI"),
            ("appMesh", "AppMesh"),
        ]
        .iter()
        .rev()
        .find(|(k, _)| tr.and_then(|t| t.get(*k)).is_some())
        .map_or("", |(_, v)| v);
        ("canary", router)
    } else {
        ("none", "")
    };
    RolloutInfoLabels {
        namespace: o.metadata.namespace.clone().unwrap_or_default(),
        name: o.metadata.name.clone().unwrap_or_default(),
        strategy: strategy.to_owned(),
        traffic_router: router.to_owned(),
        phase: rollout_phase(d.get("status")).to_owned(),
    }
}

/// `calculatePhase`: from the Progressing condition's reason, InvalidSpec over all.
pub fn rollout_phase(status: Option<&Value>) -> &'static str {
    let conds = status
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array);
    let find = |t: &str| {
        conds
            .into_iter()
            .flatten()
            .find(|c| c.get("type").and_then(Value::as_str) == Some(t))
    };
    if find("InvalidSpec").is_some() {
        return "InvalidSpec";
    }
    match find("Progressing").map(|c| str_at(c, "/reason")) {
        Some("NewReplicaSetAvailable") => "Completed",
        Some("RolloutPaused") => "Paused",
        Some("ReplicaSetCreateError") => "Error",
        Some("ProgressDeadlineExceeded") => "Timeout",
        Some("RolloutAborted") => "Abort",
        _ => "Progressing",
    }
}

/// `metricproviders.Type`: the provider's name as upstream spells it.
fn provider_type(metric: &Value) -> String {
    let Some(p) = metric.get("provider").and_then(Value::as_object) else {
        return "Unknown".to_owned();
    };
    for (key, name) in [
        ("prometheus", "Prometheus"),
        ("skywalking", "Skywalking"),
        ("job", "Job"),
        ("kayenta", "Kayenta"),
        ("web", "Web"),
        ("wavefront", "Wavefront"),
        ("newRelic", "NewRelic"),
        ("cloudWatch", "CloudWatch"),
        ("graphite", "Graphite"),
        ("influxdb", "Influxdb"),
        ("datadog", "Datadog"),
        ("plugin", "Plugin"),
    ] {
        if p.contains_key(key) {
            return name.to_owned();
        }
    }
    "Unknown".to_owned()
}

/// Whether `metric` is run in dry-run mode (`GetDryRunMetrics`: `metricName` is a name, or
/// `*` for all).
fn dry_run_of(run: &Value, metric: &str) -> bool {
    run.pointer("/spec/dryRun")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|d| {
            let n = str_at(d, "/metricName");
            n == "*" || n == metric
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Arc<DynamicObject> {
        Arc::new(serde_json::from_value(v).expect("a DynamicObject"))
    }

    fn text(m: &CdMetrics, registry: &Registry) -> String {
        m.refresh();
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, registry).expect("encodes");
        out
    }

    /// argo-cd controller/metrics/metrics.go `collectApps`: the labels, "Unknown" for an
    /// empty sync or health status, the normalized repo URL, operation "sync" while a sync
    /// operation is set.
    #[test]
    fn app_info_has_argo_cds_labels() {
        let mut reg = Registry::default();
        let m = CdMetrics::register(&mut reg);
        let apps = vec![
            object(json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                "metadata": {"name": "order-dev", "namespace": "argocd"},
                "spec": {"project": "microservices",
                    "source": {"repoURL": "https://GitLab.example.com/team/gitops.git", "path": "x"},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": "dev"},
                    "syncPolicy": {"automated": {"prune": true}}},
                "operation": {"sync": {}},
                "status": {"sync": {"status": "Synced"}, "health": {"status": "Degraded"}}
            })),
            object(json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                "metadata": {"name": "bare", "namespace": "argocd"},
                "spec": {"destination": {"name": "in-cluster"}}
            })),
        ];
        m.set_apps(Box::new(move || apps.clone()));
        let t = text(&m, &reg);
        assert!(
            t.contains(r#"argocd_app_info{namespace="argocd",name="order-dev",project="microservices",autosync_enabled="true",repo="https://gitlab.example.com/team/gitops",dest_server="https://kubernetes.default.svc",dest_namespace="dev",sync_status="Synced",health_status="Degraded",operation="sync"} 1"#),
            "{t}"
        );
        assert!(
            t.contains(r#"argocd_app_info{namespace="argocd",name="bare",project="default",autosync_enabled="false",repo="",dest_server="",dest_namespace="",sync_status="Unknown",health_status="Unknown",operation=""} 1"#),
            "{t}"
        );
        // an Application that is gone leaves no series
        m.set_apps(Box::new(Vec::new));
        assert!(!text(&m, &reg).contains("argocd_app_info{"));
    }

    /// `IncSync` counts only completed phases; `IncReconcile` observes into
    /// {namespace, dest_server} with buckets 0.25 .. 16.
    #[test]
    fn syncs_and_reconciles_are_counted() {
        let mut reg = Registry::default();
        let m = CdMetrics::register(&mut reg);
        let app = json!({"metadata": {"name": "a", "namespace": "argocd"},
            "spec": {"destination": {"server": "https://k"}}});
        m.sync_completed(&app, &json!({"phase": "Running"}));
        m.sync_completed(&app, &json!({"phase": "Failed"}));
        m.sync_completed(&app, &json!({"phase": "Failed"}));
        m.sync_completed(&app, &json!({"phase": "Succeeded"}));
        m.reconciled(&app, 0.3);
        let t = text(&m, &reg);
        assert!(t.contains(r#"argocd_app_sync_total{namespace="argocd",name="a",project="default",dest_server="https://k",phase="Failed"} 2"#), "{t}");
        assert!(t.contains(r#"phase="Succeeded"} 1"#), "{t}");
        assert!(!t.contains(r#"phase="Running""#), "{t}");
        assert!(
            t.contains(r#"argocd_app_reconcile_bucket{le="0.5",namespace="argocd",dest_server="https://k"} 1"#),
            "{t}"
        );
        assert!(
            t.contains(r#"argocd_app_reconcile_bucket{le="0.25",namespace="argocd",dest_server="https://k"} 0"#),
            "{t}"
        );
    }

    /// argo-rollouts controller/metrics/rollouts.go: strategy, traffic router and
    /// `calculatePhase` from the Progressing reason; the replica gauges.
    #[test]
    fn rollout_info_follows_calculate_phase() {
        let mut reg = Registry::default();
        let m = CdMetrics::register(&mut reg);
        let ros = vec![
            object(json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                "metadata": {"name": "order-service", "namespace": "prod"},
                "spec": {"replicas": 5, "strategy": {"canary": {"trafficRouting": {"nginx": {"stableIngress": "i"}}}}},
                "status": {"replicas": 6, "availableReplicas": 4, "updatedReplicas": 1,
                    "conditions": [{"type": "Progressing", "reason": "RolloutPaused"}]}
            })),
            object(json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                "metadata": {"name": "bg", "namespace": "prod"},
                "spec": {"strategy": {"blueGreen": {"activeService": "a"}}},
                "status": {"conditions": [{"type": "Progressing", "reason": "NewReplicaSetAvailable"},
                    {"type": "InvalidSpec", "reason": "x"}]}
            })),
        ];
        m.set_rollouts(Box::new(move || ros.clone()));
        let t = text(&m, &reg);
        assert!(t.contains(r#"rollout_info{namespace="prod",name="order-service",strategy="canary",traffic_router="Nginx",phase="Paused"} 1"#), "{t}");
        assert!(t.contains(r#"rollout_info{namespace="prod",name="bg",strategy="blueGreen",traffic_router="",phase="InvalidSpec"} 1"#), "{t}");
        assert!(
            t.contains(
                r#"rollout_info_replicas_unavailable{namespace="prod",name="order-service"} 2"#
            ),
            "{t}"
        );
        assert!(
            t.contains(r#"rollout_info_replicas_desired{namespace="prod",name="bg"} 1"#),
            "{t}"
        );
        assert!(
            t.contains(r#"rollout_info_replicas_updated{namespace="prod",name="order-service"} 1"#),
            "{t}"
        );
        assert_eq!(
            rollout_phase(Some(
                &json!({"conditions": [{"type": "Progressing", "reason": "RolloutAborted"}]})
            )),
            "Abort"
        );
        assert_eq!(rollout_phase(None), "Progressing");
    }

    /// argo-rollouts controller/metrics/analysis.go: one series per phase, 1 on the metric's
    /// phase (Pending when it has no result), the provider's type and dry_run.
    #[test]
    fn analysis_run_metric_phases() {
        let mut reg = Registry::default();
        let m = CdMetrics::register(&mut reg);
        let runs = vec![object(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
            "metadata": {"name": "r1", "namespace": "prod"},
            "spec": {"metrics": [
                {"name": "success-rate", "provider": {"prometheus": {"query": "q"}}},
                {"name": "latency", "provider": {"web": {"url": "u"}}}],
                "dryRun": [{"metricName": "latency"}]},
            "status": {"phase": "Failed", "metricResults": [{"name": "success-rate", "phase": "Failed"}]}
        }))];
        m.set_analysis_runs(Box::new(move || runs.clone()));
        let t = text(&m, &reg);
        assert!(
            t.contains(r#"analysis_run_info{namespace="prod",name="r1",phase="Failed"} 1"#),
            "{t}"
        );
        assert!(t.contains(r#"analysis_run_metric_type{namespace="prod",name="r1",metric="success-rate",type="Prometheus"} 1"#), "{t}");
        assert!(t.contains(r#"analysis_run_metric_phase{namespace="prod",name="r1",metric="success-rate",type="Prometheus",dry_run="false",phase="Failed"} 1"#), "{t}");
        assert!(t.contains(r#"analysis_run_metric_phase{namespace="prod",name="r1",metric="success-rate",type="Prometheus",dry_run="false",phase="Successful"} 0"#), "{t}");
        assert!(t.contains(r#"analysis_run_metric_phase{namespace="prod",name="r1",metric="latency",type="Web",dry_run="true",phase="Pending"} 1"#), "{t}");
    }
}
