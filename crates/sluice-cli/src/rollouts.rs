//! `sluice rollouts`, printed as kubectl-argo-rollouts prints them (`list rollouts`,
//! `get rollout`: the summary and the tree of revisions, ReplicaSets and AnalysisRuns).
//! Pure: objects in, text out.

use serde_json::Value;

use crate::format::age;
use crate::table::render;

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn i(v: &Value, p: &str) -> i64 {
    v.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

/// The plugin's status icons (`pkg/kubectl-argo-rollouts/info`).
pub fn icon(status: &str) -> &'static str {
    match status {
        "Healthy" | "Successful" | "Running" => "✔",
        "Progressing" | "Pending" | "" => "◌",
        "Paused" | "Inconclusive" => "॥",
        "Degraded" | "Failed" | "Error" => "✖",
        "ScaledDown" => "•",
        _ => "?",
    }
}

/// The steps, the current one and its weight: (`1/8`, `20`); `-` for blue-green.
pub fn step_and_weight(ro: &Value) -> (String, String) {
    if strategy(ro) == "BlueGreen" {
        return ("-".into(), "-".into());
    }
    let steps = ro
        .pointer("/spec/strategy/canary/steps")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let idx = ro
        .pointer("/status/currentStepIndex")
        .and_then(Value::as_u64)
        .map(|x| x as usize);
    let step = match idx {
        Some(i) if !steps.is_empty() => format!("{i}/{}", steps.len()),
        _ => "-".into(),
    };
    let weight = if ro.pointer("/status/abort").and_then(Value::as_bool) == Some(true) {
        0
    } else {
        match idx {
            Some(i) if i < steps.len() => steps[..=i]
                .iter()
                .rev()
                .find_map(|s| s.get("setWeight").and_then(Value::as_i64))
                .unwrap_or(0),
            _ => 100,
        }
    };
    (step, weight.to_string())
}

fn strategy(ro: &Value) -> &'static str {
    if ro.pointer("/spec/strategy/blueGreen").is_some() {
        "BlueGreen"
    } else {
        "Canary"
    }
}

/// `list rollouts`: NAME STRATEGY STATUS STEP SET-WEIGHT READY DESIRED UP-TO-DATE
/// AVAILABLE (NAMESPACE first with `-A`).
pub fn list(items: &[Value], all_namespaces: bool, no_headers: bool) -> String {
    let mut rows = Vec::new();
    if !no_headers {
        let mut h = vec![
            "NAME",
            "STRATEGY",
            "STATUS",
            "STEP",
            "SET-WEIGHT",
            "READY",
            "DESIRED",
            "UP-TO-DATE",
            "AVAILABLE",
        ];
        if all_namespaces {
            h.insert(0, "NAMESPACE");
        }
        rows.push(h.into_iter().map(str::to_owned).collect());
    }
    for ro in items {
        let (step, weight) = step_and_weight(ro);
        let desired = ro
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let mut r = vec![
            s(ro, "/metadata/name").to_owned(),
            strategy(ro).to_owned(),
            s(ro, "/status/phase").to_owned(),
            step,
            weight,
            format!(
                "{}/{}",
                i(ro, "/status/readyReplicas"),
                i(ro, "/status/replicas")
            ),
            desired.to_string(),
            i(ro, "/status/updatedReplicas").to_string(),
            i(ro, "/status/availableReplicas").to_string(),
        ];
        if all_namespaces {
            r.insert(0, s(ro, "/metadata/namespace").to_owned());
        }
        rows.push(r);
    }
    render(&rows, "")
}

fn images(rs: &Value) -> Vec<String> {
    rs.pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("image").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// `get rollout NAME`: the summary and the tree of the Rollout's revisions.
pub fn get(ro: &Value, rss: &[Value], runs: &[Value], now: i64) -> String {
    let phase = s(ro, "/status/phase");
    let message = s(ro, "/status/message");
    let (step, weight) = step_and_weight(ro);
    let stable = s(ro, "/status/stableRS");
    let current = s(ro, "/status/currentPodHash");
    let hash = |r: &Value| {
        r.pointer("/metadata/labels/rollouts-pod-template-hash")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let blue_green = strategy(ro) == "BlueGreen";
    let active = s(ro, "/status/blueGreen/activeSelector");
    let preview = s(ro, "/status/blueGreen/previewSelector");
    // the plugin's ReplicaSet tags (`info/replicaset_info.go`): stable, canary, active, preview
    let tags = |h: &str| -> Vec<&'static str> {
        let mut t = Vec::new();
        if h.is_empty() {
            return t;
        }
        if h == stable {
            t.push("stable");
        }
        if blue_green {
            if h == active {
                t.push("active");
            } else if h == preview {
                t.push("preview");
            }
        } else if h == current && h != stable {
            t.push("canary");
        }
        t
    };
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: &str| {
        out.push_str(&format!("{:<17}{v}\n", format!("{k}:")));
    };
    line(&mut out, "Name", s(ro, "/metadata/name"));
    line(&mut out, "Namespace", s(ro, "/metadata/namespace"));
    line(&mut out, "Status", &format!("{} {phase}", icon(phase)));
    if !message.is_empty() {
        line(&mut out, "Message", message);
    }
    line(&mut out, "Strategy", strategy(ro));
    if !blue_green {
        line(&mut out, "  Step", &step);
        line(&mut out, "  SetWeight", &weight);
        // with traffic routing, the weight the router carries (the plugin's ActualWeight)
        if let Some(w) = ro
            .pointer("/status/canary/weights/canary/weight")
            .and_then(Value::as_i64)
        {
            line(&mut out, "  ActualWeight", &w.to_string());
        }
    }
    let mut by_rev: Vec<(i64, &Value)> = rss
        .iter()
        .map(|r| {
            (
                r.pointer("/metadata/annotations/rollout.argoproj.io~1revision")
                    .and_then(Value::as_str)
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(0),
                r,
            )
        })
        .collect();
    by_rev.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut first = true;
    for (_, r) in &by_rev {
        let h = hash(r);
        let role = tags(&h).join(", ");
        if role.is_empty() {
            continue;
        }
        for img in images(r) {
            let k = if first { "Images" } else { "" };
            first = false;
            out.push_str(&format!(
                "{:<17}{img} ({role})\n",
                if k.is_empty() {
                    String::new()
                } else {
                    format!("{k}:")
                }
            ));
        }
    }
    out.push_str("Replicas:\n");
    line(
        &mut out,
        "  Desired",
        &ro.pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .to_string(),
    );
    line(
        &mut out,
        "  Current",
        &i(ro, "/status/replicas").to_string(),
    );
    line(
        &mut out,
        "  Updated",
        &i(ro, "/status/updatedReplicas").to_string(),
    );
    line(
        &mut out,
        "  Ready",
        &i(ro, "/status/readyReplicas").to_string(),
    );
    line(
        &mut out,
        "  Available",
        &i(ro, "/status/availableReplicas").to_string(),
    );
    out.push('\n');
    let mut rows = vec![
        ["NAME", "KIND", "STATUS", "AGE", "INFO"]
            .iter()
            .map(|x| (*x).to_owned())
            .collect::<Vec<_>>(),
    ];
    rows.push(vec![
        format!("⟳ {}", s(ro, "/metadata/name")),
        "Rollout".into(),
        format!("{} {phase}", icon(phase)),
        age(&ro["metadata"]["creationTimestamp"], now),
        String::new(),
    ]);
    let n = by_rev.len();
    for (k, (rev, r)) in by_rev.iter().enumerate() {
        let last = k + 1 == n;
        let (branch, cont) = if last {
            ("└──", "   ")
        } else {
            ("├──", "│  ")
        };
        rows.push(vec![
            format!("{branch}# revision:{rev}"),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
        let h = hash(r);
        let my_runs: Vec<&Value> = runs
            .iter()
            .filter(|a| {
                a.pointer("/metadata/labels/rollouts-pod-template-hash")
                    .and_then(Value::as_str)
                    == Some(h.as_str())
            })
            .collect();
        let want = i(r, "/spec/replicas");
        let avail = i(r, "/status/availableReplicas");
        let rs_status = if want == 0 {
            "ScaledDown"
        } else if avail >= want {
            "Healthy"
        } else {
            "Progressing"
        };
        let items = 1 + my_runs.len();
        let sub = |j: usize| {
            if j + 1 == items {
                "└──"
            } else {
                "├──"
            }
        };
        rows.push(vec![
            format!("{cont}{}⧉ {}", sub(0), s(r, "/metadata/name")),
            "ReplicaSet".into(),
            format!("{} {rs_status}", icon(rs_status)),
            age(&r["metadata"]["creationTimestamp"], now),
            tags(&h).join(","),
        ]);
        for (j, a) in my_runs.iter().enumerate() {
            let p = s(a, "/status/phase");
            let results = a
                .pointer("/status/metricResults")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let ok: i64 = results.iter().map(|m| i(m, "/successful")).sum();
            let bad: i64 = results.iter().map(|m| i(m, "/failed")).sum();
            let mut info = Vec::new();
            if ok > 0 {
                info.push(format!("✔ {ok}"));
            }
            if bad > 0 {
                info.push(format!("✖ {bad}"));
            }
            rows.push(vec![
                format!("{cont}{}α {}", sub(j + 1), s(a, "/metadata/name")),
                "AnalysisRun".into(),
                format!("{} {}", icon(p), if p.is_empty() { "Pending" } else { p }),
                age(&a["metadata"]["creationTimestamp"], now),
                info.join(","),
            ]);
        }
    }
    out.push_str(&render(&rows, ""));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ro() -> Value {
        json!({"metadata": {"name": "web", "namespace": "apps", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"replicas": 5, "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]}}},
            "status": {"phase": "Paused", "message": "CanaryPauseStep", "currentStepIndex": 1,
                "stableRS": "aaa", "currentPodHash": "bbb", "replicas": 6, "readyReplicas": 6,
                "updatedReplicas": 1, "availableReplicas": 6}})
    }

    #[test]
    fn list_columns() {
        let t = list(&[ro()], false, false);
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[0].starts_with("NAME   STRATEGY   STATUS   STEP   SET-WEIGHT"),
            "{t}"
        );
        assert!(
            lines[1].starts_with("web    Canary     Paused   1/3    20 "),
            "{t}"
        );
        let t = list(&[ro()], true, true);
        assert!(t.starts_with("apps   web"), "{t}");
    }

    /// The plugin's blue-green view (argo-rollouts docs/features/bluegreen.md,
    /// `kubectl argo rollouts get rollout`): no step or weight, the active and preview
    /// ReplicaSets tagged.
    #[test]
    fn blue_green_tags_active_and_preview() {
        let ro = json!({"metadata": {"name": "bg", "namespace": "apps", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"replicas": 2, "strategy": {"blueGreen": {"activeService": "a", "previewService": "p"}}},
            "status": {"phase": "Paused", "message": "BlueGreenPause", "stableRS": "aaa", "currentPodHash": "bbb",
                "blueGreen": {"activeSelector": "aaa", "previewSelector": "bbb"}}});
        let rs = |h: &str, rev: &str, img: &str| {
            json!({"metadata": {"name": format!("bg-{h}"), "labels": {"rollouts-pod-template-hash": h},
                "annotations": {"rollout.argoproj.io/revision": rev}, "creationTimestamp": "2024-01-01T00:00:00Z"},
                "spec": {"replicas": 2, "template": {"spec": {"containers": [{"image": img}]}}},
                "status": {"availableReplicas": 2}})
        };
        let t = get(
            &ro,
            &[rs("aaa", "1", "web:blue"), rs("bbb", "2", "web:green")],
            &[],
            1_704_067_260,
        );
        assert!(t.contains("Strategy:        BlueGreen\nImages:"), "{t}");
        assert!(
            t.contains(
                "Images:          web:green (preview)\n                 web:blue (stable, active)\n"
            ),
            "{t}"
        );
        assert!(t.contains("stable,active"), "{t}");
        assert!(!t.contains("ActualWeight"), "{t}");
        let l = list(&[ro], false, true);
        assert!(l.starts_with("bg   BlueGreen   Paused   -   -   "), "{l}");
    }

    #[test]
    fn tree_shows_revisions_replicasets_and_runs() {
        let rs = |h: &str, rev: &str, n: i64, img: &str| {
            json!({"metadata": {"name": format!("web-{h}"), "labels": {"rollouts-pod-template-hash": h},
                "annotations": {"rollout.argoproj.io/revision": rev}, "creationTimestamp": "2024-01-01T00:00:00Z"},
                "spec": {"replicas": n, "template": {"spec": {"containers": [{"image": img}]}}},
                "status": {"availableReplicas": n}})
        };
        let run = json!({"metadata": {"name": "web-bbb-2", "labels": {"rollouts-pod-template-hash": "bbb"}, "creationTimestamp": "2024-01-01T00:00:00Z"},
            "status": {"phase": "Running", "metricResults": [{"successful": 2}]}});
        let t = get(
            &ro(),
            &[rs("aaa", "1", 5, "web:1"), rs("bbb", "2", 1, "web:2")],
            &[run],
            1_704_067_260,
        );
        assert!(t.contains("Status:          ॥ Paused\n"), "{t}");
        assert!(!t.contains("ActualWeight"), "{t}");
        let mut routed = ro();
        routed["status"]["canary"] = json!({"weights": {"canary": {"weight": 20}}});
        let r = get(&routed, &[], &[], 1_704_067_260);
        assert!(
            r.contains("  SetWeight:     20\n  ActualWeight:  20\n"),
            "{r}"
        );
        assert!(
            t.contains("Images:          web:2 (canary)\n                 web:1 (stable)\n"),
            "{t}"
        );
        assert!(t.contains("├──# revision:2"), "{t}");
        assert!(t.contains("│  ├──⧉ web-bbb"), "{t}");
        assert!(t.contains("│  └──α web-bbb-2"), "{t}");
        assert!(t.contains("└──# revision:1"), "{t}");
        assert!(t.contains("   └──⧉ web-aaa"), "{t}");
        assert!(t.contains("✔ 2"), "{t}");
    }
}
