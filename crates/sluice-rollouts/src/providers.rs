//! The providers' request and response handling, without the I/O: the caller sends the
//! request and passes the answer in.
//!
//! Prometheus: argo-rollouts `metricproviders/prometheus/prometheus.go` runs an instant
//! query (`GET <address>/api/v1/query?query=...`) and `processResponse` turns the answer
//! into `result`: a scalar is its float, a vector the list of its sample values (the
//! measurement's value `[v1,v2]`); any other result type is an Error measurement
//! ("Prometheus metric type not supported"), as is an API error. An empty vector is `[]`,
//! so a condition on `result[0]` does not evaluate and the measurement is an Error.
//!
//! Web: argo-rollouts `metricproviders/webmetric/webmetric.go` sends `method` (default
//! GET) to `url` with `headers` and `body` (or `jsonBody`, sent as JSON), answers outside
//! 2xx are "received non 2xx response code: N", the body must be JSON ("Could not parse
//! JSON body: ..."), and `jsonPath` (client-go JSONPath, `{$.data.ok}`) picks the value the
//! conditions see as `result`, typed as in the JSON (a map, a list, a number...).
//!
//! Job: argo-rollouts `metricproviders/job/job.go` creates a Job per measurement, named
//! `<run uid>.<metric>.<count + error + 1>`, owned by the AnalysisRun (a controller
//! reference), annotated `analysisrun.argoproj.io/name` and `.../metric-name`, labelled
//! `analysisrun.argoproj.io/uid`, with the metadata and spec the metric gives; the
//! measurement stays Running (metadata `job-name`) until the Job has a `Complete`
//! (Successful) or `Failed` (Failed) condition; no condition is evaluated.

use serde_json::Value as Json;

use crate::analysis::Outcome;

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters kept).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The instant-query URL of a `prometheus` provider (`address`, `query`).
pub fn prometheus_query_url(provider: &Json) -> Result<String, String> {
    let p = provider
        .get("prometheus")
        .ok_or("not a prometheus provider")?;
    let address = p
        .get("address")
        .and_then(Json::as_str)
        .filter(|a| !a.is_empty())
        .ok_or("prometheus.address: required")?;
    let query = p
        .get("query")
        .and_then(Json::as_str)
        .ok_or("prometheus.query: required")?;
    Ok(format!(
        "{}/api/v1/query?query={}",
        address.trim_end_matches('/'),
        url_encode(query)
    ))
}

fn sample(v: &Json) -> Result<f64, String> {
    let s = v
        .as_array()
        .and_then(|a| a.get(1))
        .and_then(Json::as_str)
        .ok_or("Prometheus sample is not [time, \"value\"]")?;
    match s {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => s
            .parse::<f64>()
            .map_err(|_| format!("Prometheus sample value {s:?} is not a number")),
    }
}

/// An instant query's answer (HTTP status and body) as a measurement outcome.
pub fn prometheus_outcome(http_status: u16, body: &[u8]) -> Outcome {
    let v: Json = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Outcome::Error(format!(
                "Prometheus answered HTTP {http_status} with a body that is not JSON: {e}"
            ));
        }
    };
    if v.get("status").and_then(Json::as_str) != Some("success") {
        let kind = v.get("errorType").and_then(Json::as_str).unwrap_or("error");
        let msg = v
            .get("error")
            .and_then(Json::as_str)
            .unwrap_or("no message");
        return Outcome::Error(format!("{kind}: {msg}"));
    }
    let data = v.get("data").cloned().unwrap_or(Json::Null);
    match data.get("resultType").and_then(Json::as_str) {
        Some("scalar") => match data.get("result").map(sample) {
            Some(Ok(x)) => Outcome::prometheus_scalar(x),
            Some(Err(e)) => Outcome::Error(e),
            None => Outcome::Error("Prometheus scalar without a result".into()),
        },
        Some("vector") => {
            let mut values = Vec::new();
            for s in data
                .get("result")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                match s.get("value").map(sample) {
                    Some(Ok(x)) => values.push(x),
                    Some(Err(e)) => return Outcome::Error(e),
                    None => {
                        return Outcome::Error("Prometheus vector sample without a value".into());
                    }
                }
            }
            Outcome::prometheus_vector(&values)
        }
        _ => Outcome::Error("Prometheus metric type not supported".into()),
    }
}

/// The request of a `web` provider.
#[derive(Debug, Clone, PartialEq)]
pub struct WebRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub insecure: bool,
    pub json_path: String,
}

/// The request a `web` provider describes (`provider` is the metric's `provider`).
pub fn web_request(provider: &Json) -> Result<WebRequest, String> {
    let w = provider
        .get("web")
        .ok_or_else(|| "web provider: no `web` field".to_owned())?;
    let text = |k: &str| w.get(k).and_then(Json::as_str).unwrap_or("").to_owned();
    let url = text("url");
    if url.is_empty() {
        return Err("web provider: url is required".into());
    }
    let mut headers: Vec<(String, String)> = w
        .get("headers")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|h| {
            (
                h.get("key").and_then(Json::as_str).unwrap_or("").to_owned(),
                h.get("value")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect();
    let mut body = text("body");
    if let Some(j) = w.get("jsonBody").filter(|j| !j.is_null()) {
        if !body.is_empty() {
            return Err("web provider: use only one of body and jsonBody".into());
        }
        body = j.to_string();
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
    }
    let mut method = text("method").to_uppercase();
    if method.is_empty() {
        method = "GET".into();
    }
    if !matches!(method.as_str(), "GET" | "POST" | "PUT") {
        return Err(format!(
            "web provider: unsupported method {method:?} (GET, POST, PUT)"
        ));
    }
    Ok(WebRequest {
        method,
        url,
        headers,
        body,
        insecure: w.get("insecure").and_then(Json::as_bool).unwrap_or(false),
        json_path: text("jsonPath"),
    })
}

/// `JobNameKey`: the measurement metadata key naming the measurement's Job.
pub const JOB_NAME_KEY: &str = "job-name";
/// `AnalysisRunNameAnnotationKey`.
pub const JOB_RUN_NAME_ANNOTATION: &str = "analysisrun.argoproj.io/name";
/// `AnalysisRunMetricAnnotationKey`.
pub const JOB_METRIC_ANNOTATION: &str = "analysisrun.argoproj.io/metric-name";
/// `AnalysisRunUIDLabelKey`: the label the controller's Job watch selects on.
pub const JOB_RUN_UID_LABEL: &str = "analysisrun.argoproj.io/uid";

/// The AnalysisRun a job measurement belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRef {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// `newMetricJob`: the Job of a `job` provider's measurement number `job_id`.
pub fn job_object(
    run: &RunRef,
    metric: &str,
    job_id: i64,
    provider: &Json,
) -> Result<Json, String> {
    let job = provider
        .get("job")
        .ok_or_else(|| "job provider: no `job` field".to_owned())?;
    let spec = job
        .get("spec")
        .filter(|s| s.is_object())
        .ok_or_else(|| "job provider: job.spec is required".to_owned())?;
    let strings = |k: &str| -> Result<serde_json::Map<String, Json>, String> {
        match job.pointer(&format!("/metadata/{k}")) {
            None | Some(Json::Null) => Ok(serde_json::Map::new()),
            Some(Json::Object(m)) if m.values().all(Json::is_string) => Ok(m.clone()),
            Some(_) => Err(format!(
                "job provider: job.metadata.{k} must map strings to strings"
            )),
        }
    };
    let mut annotations = strings("annotations")?;
    annotations.insert(
        JOB_RUN_NAME_ANNOTATION.into(),
        Json::from(run.name.as_str()),
    );
    annotations.insert(JOB_METRIC_ANNOTATION.into(), Json::from(metric));
    let mut labels = strings("labels")?;
    labels.insert(JOB_RUN_UID_LABEL.into(), Json::from(run.uid.as_str()));
    Ok(serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": format!("{}.{metric}.{job_id}", run.uid),
            "namespace": run.namespace,
            "annotations": annotations,
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "AnalysisRun",
                "name": run.name,
                "uid": run.uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    }))
}

/// The job name a measurement's metadata records (`getJobName`).
pub fn job_name(metadata: Option<&serde_json::Map<String, Json>>) -> Result<String, String> {
    metadata
        .and_then(|m| m.get(JOB_NAME_KEY))
        .and_then(Json::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "job metadata reference missing".to_owned())
}

/// `Resume`: a Job with a `Complete` condition is Successful, with `Failed` Failed (the
/// last such condition wins, as upstream's loop); otherwise the measurement is still
/// Running. Only conditions whose status is `True` count (Kubernetes adds Complete and
/// Failed only as True).
pub fn job_outcome(job: &Json) -> Outcome {
    let mut phase = None;
    for c in job
        .pointer("/status/conditions")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        if c.get("status").and_then(Json::as_str) != Some("True") {
            continue;
        }
        match c.get("type").and_then(Json::as_str) {
            Some("Complete") => phase = Some(crate::analysis::Phase::Successful),
            Some("Failed") => phase = Some(crate::analysis::Phase::Failed),
            _ => {}
        }
    }
    match phase {
        Some(phase) => Outcome::Finished {
            phase,
            message: String::new(),
        },
        None => Outcome::InProgress {
            metadata: serde_json::Map::new(),
        },
    }
}

/// `Terminate`'s measurement once the Job is deleted.
pub fn job_terminated() -> Outcome {
    Outcome::Finished {
        phase: crate::analysis::Phase::Successful,
        message: "Metric Terminated".into(),
    }
}

/// `GarbageCollect`: of a run's Jobs (name, creationTimestamp), the names to delete so
/// that at most `limit` remain, oldest first.
pub fn jobs_to_collect(mut jobs: Vec<(String, String)>, limit: usize) -> Vec<String> {
    jobs.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    let extra = jobs.len().saturating_sub(limit);
    jobs.into_iter().take(extra).map(|(n, _)| n).collect()
}

/// One step of a JSONPath.
enum Step {
    Key(String),
    Index(i64),
}

/// client-go JSONPath, the one-expression form metrics use: `{$.a.b[0]['c']}` (or
/// without `$`). Anything else is refused with a message, never a wrong value.
fn parse_json_path(path: &str) -> Result<Vec<Step>, String> {
    let p = path.trim();
    let inner = p
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(|| format!("jsonPath {path:?}: expected one {{...}} expression"))?
        .trim();
    let mut rest = inner.strip_prefix('$').unwrap_or(inner);
    let mut steps = Vec::new();
    let bad = |why: &str| format!("jsonPath {path:?}: {why}");
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            if key.is_empty() || key == "*" || key.starts_with('.') {
                return Err(bad(
                    "wildcards, recursive descent and empty names are not supported",
                ));
            }
            steps.push(Step::Key(key.to_owned()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| bad("unclosed ["))?;
            let inside = r[..end].trim();
            if let Some(q) = inside
                .strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .or_else(|| inside.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
            {
                steps.push(Step::Key(q.to_owned()));
            } else if let Ok(i) = inside.parse::<i64>() {
                steps.push(Step::Index(i));
            } else {
                return Err(bad("only [n] and ['name'] subscripts are supported"));
            }
            rest = &r[end + 1..];
        } else {
            return Err(bad("expected . or ["));
        }
    }
    Ok(steps)
}

/// The measurement of a `web` answer.
pub fn web_outcome(http_status: u16, body: &[u8], json_path: &str) -> Outcome {
    if !(200..300).contains(&http_status) {
        return Outcome::Error(format!("received non 2xx response code: {http_status}"));
    }
    let data: Json = match serde_json::from_slice(body) {
        Ok(d) => d,
        Err(e) => return Outcome::Error(format!("Could not parse JSON body: {e}")),
    };
    let steps = match parse_json_path(json_path) {
        Ok(s) => s,
        Err(e) => return Outcome::Error(e),
    };
    let mut cur = &data;
    for st in &steps {
        let next = match st {
            Step::Key(k) => cur.get(k.as_str()),
            Step::Index(i) => cur.as_array().and_then(|a| {
                let idx = if *i < 0 { a.len() as i64 + i } else { *i };
                usize::try_from(idx).ok().and_then(|u| a.get(u))
            }),
        };
        let Some(n) = next else {
            let what = match st {
                Step::Key(k) => format!("{k} is not found"),
                Step::Index(i) => format!("array index out of bounds: index {i}"),
            };
            return Outcome::Error(format!("Could not find JSONPath in body: {what}"));
        };
        cur = n;
    }
    let display = match cur {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    Outcome::Value {
        result: crate::analysis::Value::from_json(cur),
        display,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Value;

    /// webmetric.go: typed JSONPath results, non-2xx and non-JSON answers are errors.
    #[test]
    fn web_answers() {
        let body = br#"{"data": {"ok": true, "rate": 0.97, "items": [{"n": "a"}, {"n": "b"}]}}"#;
        assert_eq!(
            web_outcome(200, body, "{$.data.ok}"),
            Outcome::Value {
                result: Value::Bool(true),
                display: "true".into()
            }
        );
        assert_eq!(
            web_outcome(200, body, "{.data.items[-1]['n']}"),
            Outcome::Value {
                result: Value::Str("b".into()),
                display: "b".into()
            }
        );
        assert!(matches!(
            web_outcome(200, body, "{$.data}"),
            Outcome::Value {
                result: Value::Map(_),
                ..
            }
        ));
        assert_eq!(
            web_outcome(500, body, "{$.data}"),
            Outcome::Error("received non 2xx response code: 500".into())
        );
        assert!(
            matches!(web_outcome(200, b"<html>", "{$.a}"), Outcome::Error(e) if e.starts_with("Could not parse JSON body"))
        );
        assert_eq!(
            web_outcome(200, body, "{$.data.nope}"),
            Outcome::Error("Could not find JSONPath in body: nope is not found".into())
        );
        assert!(
            matches!(web_outcome(200, body, "{$..ok}"), Outcome::Error(e) if e.contains("not supported"))
        );
        assert!(
            matches!(web_outcome(200, body, "$.data"), Outcome::Error(e) if e.contains("expected one"))
        );
    }

    /// metricproviders/job/job.go `newMetricJob`, `Resume`, `GarbageCollect`.
    #[test]
    fn job_objects_outcomes_and_collection() {
        let run = RunRef {
            namespace: "shop".into(),
            name: "order-42".into(),
            uid: "0d1e".into(),
        };
        let p = serde_json::json!({"job": {
            "metadata": {"labels": {"foo": "bar"}, "annotations": {"a": "b"}},
            "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "t", "image": "busybox"}]}}}}});
        let j = job_object(&run, "smoke", 3, &p).expect("job");
        assert_eq!(j["metadata"]["name"], "0d1e.smoke.3");
        assert_eq!(j["metadata"]["namespace"], "shop");
        assert_eq!(j["metadata"]["labels"]["foo"], "bar");
        assert_eq!(j["metadata"]["labels"][JOB_RUN_UID_LABEL], "0d1e");
        assert_eq!(
            j["metadata"]["annotations"][JOB_RUN_NAME_ANNOTATION],
            "order-42"
        );
        assert_eq!(j["metadata"]["annotations"][JOB_METRIC_ANNOTATION], "smoke");
        assert_eq!(j["metadata"]["annotations"]["a"], "b");
        assert_eq!(j["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(j["spec"]["backoffLimit"], 1);
        assert!(job_object(&run, "m", 1, &serde_json::json!({"job": {}})).is_err());
        let bad = serde_json::json!({"job": {"metadata": {"labels": {"n": 1}}, "spec": {}}});
        assert!(job_object(&run, "m", 1, &bad).is_err());

        let with = |conds: serde_json::Value| {
            job_outcome(&serde_json::json!({"status": {"conditions": conds}}))
        };
        assert!(matches!(
            with(serde_json::json!([])),
            Outcome::InProgress { .. }
        ));
        assert!(matches!(
            with(serde_json::json!([{"type": "Complete", "status": "True"}])),
            Outcome::Finished {
                phase: crate::analysis::Phase::Successful,
                ..
            }
        ));
        assert!(matches!(
            with(
                serde_json::json!([{"type": "FailureTarget", "status": "True"},
                {"type": "Failed", "status": "True"}])
            ),
            Outcome::Finished {
                phase: crate::analysis::Phase::Failed,
                ..
            }
        ));
        assert!(matches!(
            with(serde_json::json!([{"type": "Complete", "status": "False"}])),
            Outcome::InProgress { .. }
        ));
        let mut md = serde_json::Map::new();
        assert!(job_name(Some(&md)).is_err());
        md.insert(JOB_NAME_KEY.into(), "x.m.1".into());
        assert_eq!(job_name(Some(&md)).as_deref(), Ok("x.m.1"));

        let jobs = vec![
            ("c".to_owned(), "2024-01-01T00:00:03Z".to_owned()),
            ("a".to_owned(), "2024-01-01T00:00:01Z".to_owned()),
            ("b".to_owned(), "2024-01-01T00:00:02Z".to_owned()),
        ];
        assert_eq!(jobs_to_collect(jobs.clone(), 1), ["a", "b"]);
        assert!(jobs_to_collect(jobs, 10).is_empty());
    }

    #[test]
    fn web_requests() {
        let p = serde_json::json!({"web": {"url": "http://h/x", "method": "post",
            "headers": [{"key": "Authorization", "value": "Bearer t"}],
            "jsonBody": {"q": 1}, "jsonPath": "{$.ok}"}});
        let r = web_request(&p).expect("valid");
        assert_eq!(r.method, "POST");
        assert_eq!(r.body, r#"{"q":1}"#);
        assert!(
            r.headers
                .contains(&("Content-Type".into(), "application/json".into()))
        );
        assert_eq!(
            web_request(&serde_json::json!({"web": {"url": "http://h"}})).map(|r| r.method),
            Ok("GET".into())
        );
        assert!(web_request(&serde_json::json!({"web": {}})).is_err());
        assert!(
            web_request(&serde_json::json!({"web": {"url": "u", "method": "DELETE"}})).is_err()
        );
    }

    #[test]
    fn vector_scalar_and_errors() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"0.97"]},{"metric":{"a":"b"},"value":[1.5,"NaN"]}]}}"#;
        match prometheus_outcome(200, body) {
            Outcome::Value { result, display } => {
                assert_eq!(display, "[0.97,NaN]");
                let Value::Array(a) = result else {
                    panic!("not an array")
                };
                assert_eq!(a.len(), 2);
            }
            o => panic!("{o:?}"),
        }
        let body = br#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"42"]}}"#;
        assert_eq!(
            prometheus_outcome(200, body),
            Outcome::prometheus_scalar(42.0)
        );
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(
            prometheus_outcome(200, body),
            Outcome::prometheus_vector(&[])
        );
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert_eq!(
            prometheus_outcome(200, body),
            Outcome::Error("Prometheus metric type not supported".into())
        );
        let body = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#;
        assert_eq!(
            prometheus_outcome(400, body),
            Outcome::Error("bad_data: parse error at char 3".into())
        );
        assert!(matches!(
            prometheus_outcome(502, b"<html>"),
            Outcome::Error(_)
        ));
    }

    #[test]
    fn query_url() {
        let p = serde_json::json!({"prometheus": {"address": "http://127.0.0.1:9090/", "query": "sum(rate(x{a=\"b\"}[5m]))"}});
        assert_eq!(
            prometheus_query_url(&p).as_deref(),
            Ok(
                "http://127.0.0.1:9090/api/v1/query?query=sum%28rate%28x%7Ba%3D%22b%22%7D%5B5m%5D%29%29"
            )
        );
    }
}
