//! tkn's lists and descriptions of Tekton objects (tektoncd/cli `pkg/cmd/*/list.go` and
//! `describe.go` templates), from the objects as JSON. Pure: the caller gives the objects
//! and the time.

use serde_json::{Value, json};

use crate::format::{Style, condition, duration, human_duration, time, tkn_age};
use crate::table::{render, row};

/// How a list is printed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListOpts {
    pub style: Style,
    /// A NAMESPACE column first (`-A`).
    pub all_namespaces: bool,
    pub no_headers: bool,
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// Newest first by start time (then creation), as tkn sorts runs (`pipelinerun.SortByStartTime`).
pub fn sort_runs(runs: &mut [Value]) {
    let key = |v: &Value| {
        (
            time(&v["status"]["startTime"]).unwrap_or(i64::MAX),
            time(&v["metadata"]["creationTimestamp"]).unwrap_or(0),
        )
    };
    runs.sort_by_key(|v| std::cmp::Reverse(key(v)));
}

/// `tkn pipelinerun list` / `tkn taskrun list`: NAME STARTED DURATION STATUS, or
/// `No PipelineRuns found` (`kind_plural` names the kind).
pub fn run_list(runs: &[Value], kind_plural: &str, now: i64, o: ListOpts) -> String {
    if runs.is_empty() {
        return format!("No {kind_plural} found\n");
    }
    // Sluice's concurrency groups: a CONCURRENCY column (the group each run was placed in)
    // when any listed run is in one, so tkn's columns stay as they are otherwise
    let group = |r: &Value| {
        r["metadata"]["annotations"][sluice_kube::concurrency::KEY]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let groups = runs.iter().any(|r| !group(r).is_empty());
    let mut rows = Vec::new();
    if !o.no_headers {
        let mut h = row(["NAME", "STARTED", "DURATION", "STATUS"]);
        if o.all_namespaces {
            h.insert(0, "NAMESPACE".into());
        }
        if groups {
            h.push("CONCURRENCY".into());
        }
        rows.push(h);
    }
    for r in runs {
        let st = &r["status"];
        let mut cells = vec![
            s(r, "/metadata/name").to_owned(),
            tkn_age(&st["startTime"], now),
            duration(&st["startTime"], &st["completionTime"]),
            condition(&st["conditions"], o.style),
        ];
        if o.all_namespaces {
            cells.insert(0, s(r, "/metadata/namespace").to_owned());
        }
        if groups {
            let g = group(r);
            cells.push(if g.is_empty() { "---".into() } else { g });
        }
        rows.push(cells);
    }
    render(&rows, "")
}

/// The runs of a Pipeline (`tekton.dev/pipeline` label, else the pipelineRef).
pub fn runs_of<'a>(runs: &'a [Value], pipeline: &str, namespace: &str) -> Vec<&'a Value> {
    runs.iter()
        .filter(|r| {
            s(r, "/metadata/namespace") == namespace
                && sluice_kube::retention::pipeline_of(r) == pipeline
        })
        .collect()
}

/// `tkn pipeline list`: NAME AGE LAST RUN STARTED DURATION STATUS (`runs` sorted newest
/// first).
pub fn pipeline_list(pipelines: &[Value], runs: &[Value], now: i64, o: ListOpts) -> String {
    if pipelines.is_empty() {
        return "No Pipelines found\n".into();
    }
    let mut rows = Vec::new();
    if !o.no_headers {
        let mut h = row(["NAME", "AGE", "LAST RUN", "STARTED", "DURATION", "STATUS"]);
        if o.all_namespaces {
            h.insert(0, "NAMESPACE".into());
        }
        rows.push(h);
    }
    for p in pipelines {
        let (name, ns) = (s(p, "/metadata/name"), s(p, "/metadata/namespace"));
        let age = tkn_age(&p["metadata"]["creationTimestamp"], now);
        let mut cells = match runs_of(runs, name, ns).first() {
            Some(r) => vec![
                name.to_owned(),
                age,
                s(r, "/metadata/name").to_owned(),
                tkn_age(&r["status"]["startTime"], now),
                duration(&r["status"]["startTime"], &r["status"]["completionTime"]),
                condition(&r["status"]["conditions"], o.style),
            ],
            None => vec![
                name.to_owned(),
                age,
                "---".into(),
                "---".into(),
                "---".into(),
                "---".into(),
            ],
        };
        if o.all_namespaces {
            cells.insert(0, ns.to_owned());
        }
        rows.push(cells);
    }
    render(&rows, "")
}

/// `tkn task list`: NAME DESCRIPTION AGE.
pub fn task_list(tasks: &[Value], now: i64, o: ListOpts) -> String {
    if tasks.is_empty() {
        return "No Tasks found\n".into();
    }
    let mut rows = Vec::new();
    if !o.no_headers {
        let mut h = row(["NAME", "DESCRIPTION", "AGE"]);
        if o.all_namespaces {
            h.insert(0, "NAMESPACE".into());
        }
        rows.push(h);
    }
    for t in tasks {
        let desc = s(t, "/spec/description");
        let first = desc.lines().next().unwrap_or("");
        // tkn truncates the description to 20 characters with "..."
        let d = if first.chars().count() > 20 {
            format!("{}...", first.chars().take(17).collect::<String>())
        } else {
            first.to_owned()
        };
        let mut cells = vec![
            s(t, "/metadata/name").to_owned(),
            d,
            tkn_age(&t["metadata"]["creationTimestamp"], now),
        ];
        if o.all_namespaces {
            cells.insert(0, s(t, "/metadata/namespace").to_owned());
        }
        rows.push(cells);
    }
    render(&rows, "")
}

/// `tkn eventlistener list`: NAME AGE URL AVAILABLE (tektoncd/cli pkg/cmd/eventlistener/
/// list.go: AVAILABLE is the first condition's status, `---` without one; the URL is
/// `status.address.url`, `---` when empty). `None` for an empty list: tkn prints
/// "No EventListeners found" on stderr.
pub fn eventlistener_list(els: &[Value], now: i64, o: ListOpts) -> Option<String> {
    if els.is_empty() {
        return None;
    }
    let mut rows = Vec::new();
    if !o.no_headers {
        let mut h = row(["NAME", "AGE", "URL", "AVAILABLE"]);
        if o.all_namespaces {
            h.insert(0, "NAMESPACE".into());
        }
        rows.push(h);
    }
    for el in els {
        let or_dashes = |x: &str| {
            if x.is_empty() {
                "---".to_owned()
            } else {
                x.to_owned()
            }
        };
        let mut cells = vec![
            s(el, "/metadata/name").to_owned(),
            tkn_age(&el["metadata"]["creationTimestamp"], now),
            or_dashes(s(el, "/status/address/url")),
            or_dashes(s(el, "/status/conditions/0/status")),
        ];
        if o.all_namespaces {
            cells.insert(0, s(el, "/metadata/namespace").to_owned());
        }
        rows.push(cells);
    }
    Some(render(&rows, ""))
}

/// The event records of deliveries (`sluice.dev/event-record` ConfigMaps written by `sluice
/// serve`), newest first: EVENT ID AGE STATUS OUTCOME MESSAGE.
pub fn event_records(records: &[Value], now: i64, o: ListOpts) -> String {
    if records.is_empty() {
        return "No events found\n".into();
    }
    let mut sorted: Vec<&Value> = records.iter().collect();
    sorted.sort_by_key(|r| std::cmp::Reverse(s(r, "/data/time").to_owned()));
    let mut rows = Vec::new();
    if !o.no_headers {
        rows.push(row(["EVENT ID", "AGE", "STATUS", "OUTCOME", "MESSAGE"]));
    }
    for r in sorted {
        rows.push(vec![
            s(r, "/data/eventID").to_owned(),
            tkn_age(&r["data"]["time"], now),
            s(r, "/data/status").to_owned(),
            s(r, "/data/outcome").to_owned(),
            s(r, "/data/message").to_owned(),
        ]);
    }
    render(&rows, "")
}

/// `tkn eventlistener describe`: name, namespace, URL, service account, the triggers with
/// their bindings, template and interceptors, then the latest deliveries.
pub fn eventlistener_describe(el: &Value, records: &[Value], now: i64, style: Style) -> String {
    let mut out = String::new();
    header(
        style,
        &mut out,
        &[
            ("Name", s(el, "/metadata/name").to_owned()),
            ("Namespace", s(el, "/metadata/namespace").to_owned()),
            ("URL", s(el, "/status/address/url").to_owned()),
            (
                "Service Account",
                s(el, "/spec/serviceAccountName").to_owned(),
            ),
            ("Available", s(el, "/status/conditions/0/status").to_owned()),
        ],
    );
    out.push('\n');
    out.push_str(&style.heading("EventListenerTriggers"));
    out.push_str("\n\n");
    let triggers = el["spec"]["triggers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if triggers.is_empty() {
        out.push_str(" No triggers\n");
    }
    for t in &triggers {
        let name = t["name"]
            .as_str()
            .or_else(|| t["triggerRef"].as_str())
            .unwrap_or("---");
        out.push_str(&format!(" NAME: {name}\n"));
        for b in t["bindings"].as_array().into_iter().flatten() {
            let what = b["ref"]
                .as_str()
                .or_else(|| b["name"].as_str())
                .unwrap_or("---");
            let kind = b["kind"].as_str().unwrap_or("TriggerBinding");
            out.push_str(&format!("  BINDING: {what} ({kind})\n"));
        }
        if let Some(tt) = t["template"]["ref"]
            .as_str()
            .or_else(|| t["template"]["name"].as_str())
        {
            out.push_str(&format!("  TEMPLATE: {tt}\n"));
        }
        for i in t["interceptors"].as_array().into_iter().flatten() {
            let what = i["ref"]["name"]
                .as_str()
                .or_else(|| i["name"].as_str())
                .unwrap_or("webhook");
            out.push_str(&format!("  INTERCEPTOR: {what}\n"));
        }
        out.push('\n');
    }
    out.push_str(&style.heading("Latest deliveries"));
    out.push_str("\n\n");
    let latest: Vec<Value> = {
        let mut r = records.to_vec();
        r.sort_by_key(|r| std::cmp::Reverse(s(r, "/data/time").to_owned()));
        r.truncate(5);
        r
    };
    out.push_str(&event_records(&latest, now, ListOpts::default()));
    out
}

fn param_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        other => other.to_string(),
    }
}

fn header(style: Style, out: &mut String, pairs: &[(&str, String)]) {
    let rows: Vec<Vec<String>> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| vec![format!("{}:", style.bold(k)), v.clone()])
        .collect();
    out.push_str(&render(&rows, ""));
}

fn section(style: Style, out: &mut String, title: &str, empty: &str, rows: Vec<Vec<String>>) {
    out.push('\n');
    out.push_str(&style.heading(title));
    out.push('\n');
    out.push('\n');
    if rows.len() <= 1 {
        out.push_str(&format!(" {empty}\n"));
    } else {
        out.push_str(&render(&rows, " "));
    }
}

fn bullet(style: Style, name: &str) -> String {
    if style.colour {
        format!("∙ {name}")
    } else {
        name.to_owned()
    }
}

fn labels_block(meta: &Value, out: &mut String, style: Style) {
    if let Some(l) = meta["labels"].as_object().filter(|l| !l.is_empty()) {
        out.push_str(&format!("{}:\n", style.bold("Labels")));
        for (k, v) in l {
            out.push_str(&format!(" {k}={}\n", v.as_str().unwrap_or("")));
        }
    }
}

/// `tkn pipelinerun describe`: header, Status, Message (when failed), Params, Results,
/// Workspaces, Taskruns (the run's TaskRuns, newest first), Skipped Tasks.
pub fn pipelinerun_describe(pr: &Value, taskruns: &[Value], now: i64, style: Style) -> String {
    let mut out = String::new();
    let spec = &pr["spec"];
    let st = &pr["status"];
    header(
        style,
        &mut out,
        &[
            ("Name", s(pr, "/metadata/name").to_owned()),
            ("Namespace", s(pr, "/metadata/namespace").to_owned()),
            ("Pipeline Ref", s(pr, "/spec/pipelineRef/name").to_owned()),
            (
                "Service Account",
                s(pr, "/spec/taskRunTemplate/serviceAccountName").to_owned(),
            ),
            ("Timeout", s(pr, "/spec/timeouts/pipeline").to_owned()),
        ],
    );
    labels_block(&pr["metadata"], &mut out, style);
    let status_rows = vec![
        row(["STARTED", "DURATION", "STATUS"]),
        vec![
            tkn_age(&st["startTime"], now),
            duration(&st["startTime"], &st["completionTime"]),
            condition(&st["conditions"], style),
        ],
    ];
    out.push('\n');
    out.push_str(&style.heading("Status"));
    out.push_str("\n\n");
    out.push_str(&render(&status_rows, ""));
    if let Some(c) = st["conditions"].as_array().and_then(|a| a.first())
        && c["status"] == "False"
    {
        let mut msg = c["message"].as_str().unwrap_or("").to_owned();
        // tkn adds the first failed TaskRun's message
        if let Some(tm) = taskruns.iter().find_map(|t| {
            let c = t["status"]["conditions"].as_array()?.first()?;
            (c["status"] == "False").then(|| c["message"].as_str().unwrap_or("").to_owned())
        }) {
            msg = format!("{msg} ({tm})");
        }
        out.push('\n');
        out.push_str(&style.heading("Message"));
        out.push_str(&format!("\n\n{msg}\n"));
    }
    let mut params = vec![row(["NAME", "VALUE"])];
    for p in spec["params"].as_array().into_iter().flatten() {
        params.push(vec![
            bullet(style, p["name"].as_str().unwrap_or("")),
            param_value(&p["value"]),
        ]);
    }
    section(style, &mut out, "Params", "No params", params);
    let mut results = vec![row(["NAME", "VALUE"])];
    for r in st["results"].as_array().into_iter().flatten() {
        results.push(vec![
            bullet(style, r["name"].as_str().unwrap_or("")),
            param_value(&r["value"]),
        ]);
    }
    section(style, &mut out, "Results", "No results", results);
    let mut ws = vec![row(["NAME", "SUB PATH", "WORKSPACE BINDING"])];
    for w in spec["workspaces"].as_array().into_iter().flatten() {
        let binding = if w.get("emptyDir").is_some() {
            "EmptyDir (emptyDir=)".to_owned()
        } else if let Some(c) = w["persistentVolumeClaim"]["claimName"].as_str() {
            format!("PersistentVolumeClaim (claimName={c})")
        } else if let Some(c) = w["configMap"]["name"].as_str() {
            format!("ConfigMap (config={c})")
        } else if let Some(c) = w["secret"]["secretName"].as_str() {
            format!("Secret (secret={c})")
        } else if w.get("volumeClaimTemplate").is_some() {
            "VolumeClaimTemplate".to_owned()
        } else {
            "---".to_owned()
        };
        ws.push(vec![
            bullet(style, w["name"].as_str().unwrap_or("")),
            w["subPath"].as_str().unwrap_or("---").to_owned(),
            binding,
        ]);
    }
    section(style, &mut out, "Workspaces", "No workspaces", ws);
    let mut trs = taskruns.to_vec();
    sort_runs(&mut trs);
    let mut rows = vec![row(["NAME", "TASK NAME", "STARTED", "DURATION", "STATUS"])];
    for t in &trs {
        let ts = &t["status"];
        rows.push(vec![
            bullet(style, s(t, "/metadata/name")),
            t["metadata"]["labels"]["tekton.dev/pipelineTask"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            tkn_age(&ts["startTime"], now),
            duration(&ts["startTime"], &ts["completionTime"]),
            condition(&ts["conditions"], style),
        ]);
    }
    section(style, &mut out, "Taskruns", "No taskruns", rows);
    let mut skipped = vec![row(["NAME"])];
    for t in st["skippedTasks"].as_array().into_iter().flatten() {
        skipped.push(vec![bullet(style, t["name"].as_str().unwrap_or(""))]);
    }
    if skipped.len() > 1 {
        section(style, &mut out, "Skipped Tasks", "", skipped);
    }
    out
}

/// `tkn taskrun describe`: header, Status, Message, Params, Results, Steps.
pub fn taskrun_describe(tr: &Value, now: i64, style: Style) -> String {
    let mut out = String::new();
    let st = &tr["status"];
    header(
        style,
        &mut out,
        &[
            ("Name", s(tr, "/metadata/name").to_owned()),
            ("Namespace", s(tr, "/metadata/namespace").to_owned()),
            ("Task Ref", s(tr, "/spec/taskRef/name").to_owned()),
            (
                "Service Account",
                s(tr, "/spec/serviceAccountName").to_owned(),
            ),
            ("Timeout", s(tr, "/spec/timeout").to_owned()),
            ("Pod", s(tr, "/status/podName").to_owned()),
        ],
    );
    labels_block(&tr["metadata"], &mut out, style);
    out.push('\n');
    out.push_str(&style.heading("Status"));
    out.push_str("\n\n");
    out.push_str(&render(
        &[
            row(["STARTED", "DURATION", "STATUS"]),
            vec![
                tkn_age(&st["startTime"], now),
                duration(&st["startTime"], &st["completionTime"]),
                condition(&st["conditions"], style),
            ],
        ],
        "",
    ));
    if let Some(c) = st["conditions"].as_array().and_then(|a| a.first())
        && c["status"] == "False"
    {
        out.push('\n');
        out.push_str(&style.heading("Message"));
        out.push_str(&format!("\n\n{}\n", c["message"].as_str().unwrap_or("")));
    }
    let mut params = vec![row(["NAME", "VALUE"])];
    for p in tr["spec"]["params"].as_array().into_iter().flatten() {
        params.push(vec![
            bullet(style, p["name"].as_str().unwrap_or("")),
            param_value(&p["value"]),
        ]);
    }
    section(style, &mut out, "Params", "No params", params);
    let mut results = vec![row(["NAME", "VALUE"])];
    for r in st["results"].as_array().into_iter().flatten() {
        results.push(vec![
            bullet(style, r["name"].as_str().unwrap_or("")),
            param_value(&r["value"]),
        ]);
    }
    section(style, &mut out, "Results", "No results", results);
    let mut steps = vec![row(["NAME", "STATUS"])];
    for step in st["steps"].as_array().into_iter().flatten() {
        let state = if let Some(t) = step.get("terminated") {
            t["reason"].as_str().unwrap_or("Completed").to_owned()
        } else if step.get("running").is_some() {
            "Running".to_owned()
        } else {
            "---".to_owned()
        };
        steps.push(vec![
            bullet(style, step["name"].as_str().unwrap_or("")),
            state,
        ]);
    }
    section(style, &mut out, "Steps", "No steps", steps);
    out
}

/// `tkn pipeline describe`: header, Params, Tasks, Finally, PipelineRuns.
pub fn pipeline_describe(p: &Value, runs: &[&Value], now: i64, style: Style) -> String {
    let mut out = String::new();
    header(
        style,
        &mut out,
        &[
            ("Name", s(p, "/metadata/name").to_owned()),
            ("Namespace", s(p, "/metadata/namespace").to_owned()),
            ("Description", s(p, "/spec/description").to_owned()),
        ],
    );
    let mut params = vec![row(["NAME", "TYPE", "DESCRIPTION", "DEFAULT VALUE"])];
    for q in p["spec"]["params"].as_array().into_iter().flatten() {
        params.push(vec![
            bullet(style, q["name"].as_str().unwrap_or("")),
            q["type"].as_str().unwrap_or("string").to_owned(),
            q["description"].as_str().unwrap_or("").to_owned(),
            q.get("default").map_or_else(|| "---".into(), param_value),
        ]);
    }
    section(style, &mut out, "Params", "No params", params);
    for (title, key) in [("Tasks", "tasks"), ("Finally", "finally")] {
        let mut rows = vec![row(["NAME", "TASKREF", "RUNAFTER"])];
        for t in p["spec"][key].as_array().into_iter().flatten() {
            let after = t["runAfter"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            rows.push(vec![
                bullet(style, t["name"].as_str().unwrap_or("")),
                t["taskRef"]["name"].as_str().unwrap_or("").to_owned(),
                after,
            ]);
        }
        if key == "tasks" || rows.len() > 1 {
            section(style, &mut out, title, &format!("No {}", key), rows);
        }
    }
    let mut rows = vec![row(["NAME", "STARTED", "DURATION", "STATUS"])];
    for r in runs {
        rows.push(vec![
            bullet(style, s(r, "/metadata/name")),
            tkn_age(&r["status"]["startTime"], now),
            duration(&r["status"]["startTime"], &r["status"]["completionTime"]),
            condition(&r["status"]["conditions"], style),
        ]);
    }
    section(style, &mut out, "PipelineRuns", "No pipelineruns", rows);
    out
}

/// A `-w` flag of `tkn pipeline start`: `name=NAME,emptyDir=`, `name=NAME,claimName=PVC
/// [,subPath=P]`, `name=NAME,config=CM`, `name=NAME,secret=S` as a workspace binding.
pub fn workspace_flag(flag: &str) -> Result<Value, String> {
    let mut name = None;
    let mut w = serde_json::Map::new();
    for part in flag.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("invalid workspace {flag:?}: {part:?} is not key=value"))?;
        match k {
            "name" => name = Some(v.to_owned()),
            "emptyDir" => {
                w.insert("emptyDir".into(), json!({}));
            }
            "claimName" => {
                w.insert("persistentVolumeClaim".into(), json!({"claimName": v}));
            }
            "subPath" => {
                w.insert("subPath".into(), json!(v));
            }
            "config" => {
                w.insert("configMap".into(), json!({"name": v}));
            }
            "secret" => {
                w.insert("secret".into(), json!({"secretName": v}));
            }
            other => {
                return Err(format!(
                    "invalid workspace {flag:?}: unknown key {other:?} (name, emptyDir, claimName, subPath, config, secret)"
                ));
            }
        }
    }
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("invalid workspace {flag:?}: name= is missing"))?;
    if !w.keys().any(|k| k != "subPath") {
        return Err(format!(
            "invalid workspace {flag:?}: give emptyDir=, claimName=, config= or secret="
        ));
    }
    w.insert("name".into(), json!(name));
    Ok(Value::Object(w))
}

/// The PipelineRun `tkn pipeline start` creates: `generateName: <pipeline>-run-`, the
/// `-p k=v` params (a comma-separated value for an array-typed param becomes an array),
/// the `-w` workspaces, labelled `tekton.dev/pipeline`.
pub fn start_pipelinerun(
    pipeline: &Value,
    params: &[String],
    workspaces: &[String],
) -> Result<Value, String> {
    let name = s(pipeline, "/metadata/name");
    let declared = pipeline["spec"]["params"].as_array();
    let mut ps = Vec::new();
    for p in params {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("invalid input format for param parameter: {p}"))?;
        let ty = declared
            .and_then(|d| d.iter().find(|q| q["name"] == k))
            .and_then(|q| q["type"].as_str())
            .unwrap_or("string");
        let value = if ty == "array" {
            json!(v.split(',').collect::<Vec<_>>())
        } else {
            json!(v)
        };
        ps.push(json!({"name": k, "value": value}));
    }
    let ws = workspaces
        .iter()
        .map(|w| workspace_flag(w))
        .collect::<Result<Vec<_>, _>>()?;
    let mut spec = json!({"pipelineRef": {"name": name}});
    if !ps.is_empty() {
        spec["params"] = json!(ps);
    }
    if !ws.is_empty() {
        spec["workspaces"] = json!(ws);
    }
    Ok(json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {
            "generateName": format!("{name}-run-"),
            "namespace": s(pipeline, "/metadata/namespace"),
            "labels": {"tekton.dev/pipeline": name},
        },
        "spec": spec,
    }))
}

/// Human age of a time for columns computed here (kubectl's AGE).
pub fn age_of(t: &Value, now: i64) -> String {
    time(t).map_or_else(|| "<unknown>".into(), |t| human_duration(now - t))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600 + 600; // 2026-01-01T00:10:00Z

    fn pr(name: &str, start: &str, end: Option<&str>, st: &str, reason: &str) -> Value {
        json!({
            "metadata": {"name": name, "namespace": "ci", "creationTimestamp": start},
            "spec": {"pipelineRef": {"name": "build"}, "params": [{"name": "app", "value": "shop"}]},
            "status": {
                "startTime": start,
                "completionTime": end,
                "conditions": [{"type": "Succeeded", "status": st, "reason": reason, "message": "Tasks Completed: 1 (Failed: 1, Cancelled 0), Skipped: 0"}],
            }
        })
    }

    #[test]
    fn pipelinerun_list_is_tkns() {
        let mut runs = vec![
            pr(
                "a",
                "2026-01-01T00:00:00Z",
                Some("2026-01-01T00:01:03Z"),
                "True",
                "Succeeded",
            ),
            pr("b", "2026-01-01T00:08:00Z", None, "Unknown", "Running"),
            pr(
                "c",
                "2026-01-01T00:05:00Z",
                Some("2026-01-01T00:05:09Z"),
                "False",
                "Failed",
            ),
        ];
        sort_runs(&mut runs);
        assert_eq!(
            run_list(&runs, "PipelineRuns", NOW, ListOpts::default()),
            "NAME   STARTED          DURATION   STATUS\n\
             b      2 minutes ago    ---        Running\n\
             c      5 minutes ago    9s         Failed\n\
             a      10 minutes ago   1m3s       Succeeded\n"
        );
        let all = ListOpts {
            all_namespaces: true,
            no_headers: true,
            ..ListOpts::default()
        };
        assert_eq!(
            run_list(&runs[..1], "PipelineRuns", NOW, all),
            "ci   b   2 minutes ago   ---   Running\n"
        );
        assert_eq!(
            run_list(&[], "PipelineRuns", NOW, ListOpts::default()),
            "No PipelineRuns found\n"
        );
    }

    #[test]
    fn pipelinerun_list_shows_concurrency_groups_when_there_are_any() {
        let mut queued = pr("q", "2026-01-01T00:08:00Z", None, "Unknown", "Queued");
        queued["status"]["startTime"] = Value::Null;
        queued["metadata"]["annotations"] = json!({sluice_kube::concurrency::KEY: "deploy-main"});
        let mut running = pr("r", "2026-01-01T00:07:00Z", None, "Unknown", "Running");
        running["metadata"]["annotations"] = json!({sluice_kube::concurrency::KEY: "deploy-main"});
        let plain = pr(
            "p",
            "2026-01-01T00:05:00Z",
            Some("2026-01-01T00:05:09Z"),
            "True",
            "Succeeded",
        );
        let mut runs = vec![queued, running, plain];
        sort_runs(&mut runs);
        assert_eq!(
            run_list(&runs, "PipelineRuns", NOW, ListOpts::default()),
            "NAME   STARTED         DURATION   STATUS            CONCURRENCY\n\
             q      ---             ---        Running(Queued)   deploy-main\n\
             r      3 minutes ago   ---        Running           deploy-main\n\
             p      5 minutes ago   9s         Succeeded         ---\n"
        );
    }

    #[test]
    fn pipeline_list_shows_the_last_run() {
        let p = json!({"metadata": {"name": "build", "namespace": "ci", "creationTimestamp": "2026-01-01T00:00:00Z"}});
        let q = json!({"metadata": {"name": "idle", "namespace": "ci", "creationTimestamp": "2026-01-01T00:09:00Z"}});
        let runs = vec![pr(
            "c",
            "2026-01-01T00:05:00Z",
            Some("2026-01-01T00:05:09Z"),
            "False",
            "Failed",
        )];
        assert_eq!(
            pipeline_list(&[p, q], &runs, NOW, ListOpts::default()),
            "NAME    AGE              LAST RUN   STARTED         DURATION   STATUS\n\
             build   10 minutes ago   c          5 minutes ago   9s         Failed\n\
             idle    1 minute ago     ---        ---             ---        ---\n"
        );
    }

    #[test]
    fn pipelinerun_describe_has_tkns_sections() {
        let run = pr(
            "c",
            "2026-01-01T00:05:00Z",
            Some("2026-01-01T00:05:09Z"),
            "False",
            "Failed",
        );
        let tr = json!({
            "metadata": {"name": "c-compile", "labels": {"tekton.dev/pipelineTask": "compile"}},
            "status": {"startTime": "2026-01-01T00:05:01Z", "completionTime": "2026-01-01T00:05:08Z",
                       "conditions": [{"type": "Succeeded", "status": "False", "reason": "Failed", "message": "\"step-make\" exited with code 2"}]}
        });
        let d = pipelinerun_describe(&run, &[tr], NOW, Style::default());
        assert_eq!(
            d,
            "Name:           c\n\
             Namespace:      ci\n\
             Pipeline Ref:   build\n\
             \n\
             Status\n\
             \n\
             STARTED         DURATION   STATUS\n\
             5 minutes ago   9s         Failed\n\
             \n\
             Message\n\
             \n\
             Tasks Completed: 1 (Failed: 1, Cancelled 0), Skipped: 0 (\"step-make\" exited with code 2)\n\
             \n\
             Params\n\
             \n \
             NAME   VALUE\n \
             app    shop\n\
             \n\
             Results\n\
             \n \
             No results\n\
             \n\
             Workspaces\n\
             \n \
             No workspaces\n\
             \n\
             Taskruns\n\
             \n \
             NAME        TASK NAME   STARTED         DURATION   STATUS\n \
             c-compile   compile     4 minutes ago   7s         Failed\n"
        );
    }

    #[test]
    fn start_builds_a_pipelinerun_from_flags() {
        let p = json!({"metadata": {"name": "build", "namespace": "ci"},
                       "spec": {"params": [{"name": "tags", "type": "array"}]}});
        let pr = start_pipelinerun(
            &p,
            &["app=shop".into(), "tags=a,b".into(), "x=y=z".into()],
            &[
                "name=src,emptyDir=".into(),
                "name=cache,claimName=c,subPath=s".into(),
            ],
        )
        .unwrap();
        assert_eq!(pr["metadata"]["generateName"], "build-run-");
        assert_eq!(
            pr["spec"]["params"],
            json!([{"name": "app", "value": "shop"}, {"name": "tags", "value": ["a", "b"]},
                   {"name": "x", "value": "y=z"}])
        );
        assert_eq!(
            pr["spec"]["workspaces"],
            json!([{"emptyDir": {}, "name": "src"},
                   {"persistentVolumeClaim": {"claimName": "c"}, "subPath": "s", "name": "cache"}])
        );
        assert!(start_pipelinerun(&p, &["novalue".into()], &[]).is_err());
        assert!(workspace_flag("emptyDir=").unwrap_err().contains("name="));
        assert!(workspace_flag("name=x").unwrap_err().contains("emptyDir="));
        assert!(
            workspace_flag("name=x,bogus=1")
                .unwrap_err()
                .contains("bogus")
        );
    }

    /// tektoncd/cli pkg/cmd/eventlistener/list.go: NAME AGE URL AVAILABLE, `---` for a
    /// missing URL or condition.
    #[test]
    fn eventlistener_list_as_tkn() {
        let now = 1_767_229_200; // 2026-01-01T01:00:00Z
        let els = vec![
            json!({"metadata": {"name": "gitlab", "namespace": "ci",
                "creationTimestamp": "2026-01-01T00:00:00Z"},
                "status": {"address": {"url": "https://127.0.0.1:6443/listeners/ci/gitlab"},
                    "conditions": [{"type": "Available", "status": "True"}]}}),
            json!({"metadata": {"name": "new", "namespace": "ci",
                "creationTimestamp": "2026-01-01T00:59:00Z"}}),
        ];
        let text = eventlistener_list(&els, now, ListOpts::default()).expect("a table");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NAME"), "{text}");
        assert!(
            lines[0].contains("URL") && lines[0].ends_with("AVAILABLE"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("gitlab") && lines[1].contains("1 hour ago"),
            "{text}"
        );
        assert!(lines[1].ends_with("True"), "{text}");
        assert!(lines[2].contains("---"), "{text}");
        assert_eq!(eventlistener_list(&[], now, ListOpts::default()), None);
    }

    #[test]
    fn event_records_newest_first() {
        let now = 1_767_229_200;
        let rec = |id: &str, t: &str, outcome: &str| {
            json!({"data": {"eventID": id, "time": t, "status": "202", "outcome": outcome,
                "message": format!("{outcome} message")}})
        };
        let text = event_records(
            &[
                rec("a1", "2026-01-01T00:10:00Z", "created"),
                rec("b2", "2026-01-01T00:50:00Z", "filtered"),
            ],
            now,
            ListOpts::default(),
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("EVENT ID"), "{text}");
        assert!(
            lines[1].starts_with("b2") && lines[1].contains("filtered"),
            "{text}"
        );
        assert!(lines[2].starts_with("a1"), "{text}");
        assert_eq!(
            event_records(&[], now, ListOpts::default()),
            "No events found\n"
        );
        let el = json!({"metadata": {"name": "gitlab", "namespace": "ci"},
            "spec": {"serviceAccountName": "sa", "triggers": [{"name": "push",
                "bindings": [{"ref": "b"}], "template": {"ref": "tt"},
                "interceptors": [{"ref": {"name": "gitlab"}}]}]}});
        let d = eventlistener_describe(
            &el,
            &[rec("a1", "2026-01-01T00:10:00Z", "created")],
            now,
            Style::default(),
        );
        for want in [
            "Name:",
            "gitlab",
            "NAME: push",
            "BINDING: b (TriggerBinding)",
            "TEMPLATE: tt",
            "INTERCEPTOR: gitlab",
            "a1",
        ] {
            assert!(d.contains(want), "{want}: {d}");
        }
    }
}
