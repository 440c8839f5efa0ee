//! The providers' request and response handling, without the I/O: the caller sends the
//! request and passes the answer in.
//!
//! Prometheus: argo-rollouts `metricproviders/prometheus/prometheus.go` runs an instant
//! query (`GET <address>/api/v1/query?query=...`) and `processResponse` turns the answer
//! into `result`: a scalar is its float, a vector the list of its sample values (the
//! measurement's value `[v1,v2]`); any other result type is an Error measurement
//! ("Prometheus metric type not supported"), as is an API error. An empty vector is `[]`,
//! so a condition on `result[0]` does not evaluate and the measurement is an Error.

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Value;

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
