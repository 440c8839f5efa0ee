//! Sync retry with backoff, as Argo CD (pure): `RetryStrategy.NextRetryAt`
//! (pkg/apis/application/v1alpha1/types.go) and the retry decision of
//! `processRequestedAppOperation` (controller/appcontroller.go): a Failed or Error
//! operation whose `retry.limit` allows (`retryCount < limit`, or a negative limit) goes
//! back to Running with `retryCount + 1`, `finishedAt` now and the message
//! "`<message>. Retrying attempt #<n> at <3:04PM>.`"; it is run again once
//! `NextRetryAt(finishedAt, retryCount)` has passed; when the limit is reached after
//! retries the message gets "` (retried <n> times).`".

use serde_json::Value;

/// `common.DefaultSyncRetryDuration`, `DefaultSyncRetryMaxDuration`,
/// `DefaultSyncRetryFactor`.
pub const DEFAULT_DURATION_MS: i64 = 5_000;
pub const DEFAULT_MAX_DURATION_MS: i64 = 180_000;
pub const DEFAULT_FACTOR: i64 = 2;

/// `parseStringToDuration`: whole seconds, or a Go duration ("30s", "1m30s").
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.trim().parse::<i64>() {
        return Ok(secs.saturating_mul(1000));
    }
    sluice_expr::gotmpl::gotime::parse_duration(s.trim())
        .map(|ns| ns / 1_000_000)
        .map_err(|e| format!("error parsing retry backoff duration: {e}"))
}

/// The retry limit of an operation's `retry` (0: no retry).
pub fn limit(retry: Option<&Value>) -> i64 {
    retry
        .and_then(|r| r.get("limit"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// `NextRetryAt`: `last_attempt + duration * factor^retry_count`, at most
/// `last_attempt + maxDuration` (milliseconds since the epoch).
pub fn next_retry_at(
    retry: Option<&Value>,
    last_attempt: i64,
    retry_count: i64,
) -> Result<i64, String> {
    let backoff = retry.and_then(|r| r.get("backoff"));
    let text = |k: &str| {
        backoff
            .and_then(|b| b.get(k))
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .filter(|s| !s.is_empty())
    };
    let duration = match text("duration") {
        Some(d) => parse_duration_ms(&d)?,
        None => DEFAULT_DURATION_MS,
    };
    let max = match text("maxDuration") {
        Some(d) => parse_duration_ms(&d)?,
        None => DEFAULT_MAX_DURATION_MS,
    };
    let factor = backoff
        .and_then(|b| b.get("factor"))
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_FACTOR);
    let mut wait = duration as f64 * (factor as f64).powf(retry_count as f64);
    if max > 0 {
        wait = wait.min(max as f64);
    }
    let wait = if wait.is_finite() {
        wait.max(0.0)
    } else {
        max.max(0) as f64
    };
    Ok(last_attempt.saturating_add(wait as i64))
}

/// Go's `time.Kitchen` ("3:04PM") of a UTC time in milliseconds.
pub fn kitchen(ms: i64) -> String {
    let secs_of_day = ms.div_euclid(1000).rem_euclid(86_400);
    let (h, m) = (secs_of_day / 3600, secs_of_day / 60 % 60);
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    format!("{h12}:{m:02}{}", if h < 12 { "AM" } else { "PM" })
}

/// What to do with an operation that ended in `phase` after `retry_count` retries at
/// `now`: `Retry { at, count }` puts it back to Running, `Done(message suffix)` ends it.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Run again; the message gets `. Retrying attempt #count at <kitchen(at)>.`
    Retry { count: i64, message: String },
    /// Ends with this message.
    Done { phase: String, message: String },
}

/// The retry decision for an operation that ended in `phase` with `message`.
pub fn decide(
    retry: Option<&Value>,
    phase: &str,
    message: &str,
    retry_count: i64,
    now: i64,
) -> Decision {
    if phase != "Failed" && phase != "Error" {
        return Decision::Done {
            phase: phase.to_owned(),
            message: message.to_owned(),
        };
    }
    let limit = limit(retry);
    if retry_count < limit || limit < 0 {
        match next_retry_at(retry, now, retry_count) {
            Ok(at) => Decision::Retry {
                count: retry_count + 1,
                message: format!(
                    "{message}. Retrying attempt #{} at {}.",
                    retry_count + 1,
                    kitchen(at)
                ),
            },
            Err(e) => Decision::Done {
                phase: "Failed".into(),
                message: format!("{message} (failed to retry: {e})"),
            },
        }
    } else if retry_count > 0 {
        Decision::Done {
            phase: phase.to_owned(),
            message: format!("{message} (retried {retry_count} times)."),
        }
    } else {
        Decision::Done {
            phase: phase.to_owned(),
            message: message.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// types.go NextRetryAt: "timeToWait = duration * factor^retry_number", capped by
    /// maxDuration; defaults 5 s, x2, 3 min; durations as seconds or Go durations.
    #[test]
    fn backoff_as_argo_cd_computes_it() {
        assert_eq!(next_retry_at(None, 0, 0), Ok(5_000));
        assert_eq!(next_retry_at(None, 0, 1), Ok(10_000));
        assert_eq!(next_retry_at(None, 0, 10), Ok(180_000));
        let r =
            json!({"limit": 3, "backoff": {"duration": "30s", "factor": 3, "maxDuration": "2m"}});
        assert_eq!(next_retry_at(Some(&r), 1_000, 0), Ok(31_000));
        assert_eq!(next_retry_at(Some(&r), 0, 1), Ok(90_000));
        assert_eq!(next_retry_at(Some(&r), 0, 2), Ok(120_000));
        let r = json!({"backoff": {"duration": "7"}});
        assert_eq!(next_retry_at(Some(&r), 0, 0), Ok(7_000));
        let r = json!({"backoff": {"duration": "soon"}});
        assert!(next_retry_at(Some(&r), 0, 0).is_err_and(|e| e.contains("invalid duration")));
        // huge counts stay bounded by maxDuration
        assert_eq!(next_retry_at(None, 0, i64::MAX), Ok(180_000));
    }

    /// appcontroller.go: retry while retryCount < limit (or limit < 0), then "(retried n
    /// times)."; Succeeded is never retried.
    #[test]
    fn decisions() {
        let r = json!({"limit": 2});
        // 13:05:00 UTC
        let now = (13 * 3600 + 5 * 60) * 1000;
        assert_eq!(
            decide(Some(&r), "Failed", "boom", 0, now),
            Decision::Retry {
                count: 1,
                message: "boom. Retrying attempt #1 at 1:05PM.".into()
            }
        );
        assert!(matches!(
            decide(Some(&r), "Error", "x", 1, now),
            Decision::Retry { count: 2, .. }
        ));
        assert_eq!(
            decide(Some(&r), "Failed", "boom", 2, now),
            Decision::Done {
                phase: "Failed".into(),
                message: "boom (retried 2 times).".into()
            }
        );
        assert!(matches!(
            decide(Some(&json!({"limit": -1})), "Failed", "x", 50, now),
            Decision::Retry { count: 51, .. }
        ));
        assert_eq!(
            decide(None, "Failed", "boom", 0, now),
            Decision::Done {
                phase: "Failed".into(),
                message: "boom".into()
            }
        );
        assert_eq!(
            decide(Some(&r), "Succeeded", "ok", 1, now),
            Decision::Done {
                phase: "Succeeded".into(),
                message: "ok".into()
            }
        );
        assert_eq!(kitchen(0), "12:00AM");
        assert_eq!(kitchen(12 * 3_600_000 + 59_000 * 60), "12:59PM");
    }
}
