//! Times, durations, statuses and colour as kubectl and tkn print them. Pure.

use serde_json::Value;

/// Seconds since the Unix epoch of an RFC 3339 UTC time, `None` when absent or malformed.
pub fn time(v: &Value) -> Option<i64> {
    v.as_str().and_then(sluice_kube::shape::unix_seconds)
}

/// Go's `time.Duration.String()` for whole seconds (`0s`, `42s`, `1m3s`, `2h0m5s`), what
/// tkn's DURATION column prints (tektoncd/cli pkg/formatted/time.go `Duration`).
pub fn go_duration(secs: i64) -> String {
    let neg = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{neg}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{neg}{m}m{s}s")
    } else {
        format!("{neg}{s}s")
    }
}

/// tkn's DURATION: `---` unless both times are set.
pub fn duration(start: &Value, end: &Value) -> String {
    match (time(start), time(end)) {
        (Some(a), Some(b)) => go_duration(b - a),
        _ => "---".into(),
    }
}

/// kubectl's AGE (k8s.io/apimachinery/pkg/util/duration `HumanDuration`).
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// kubectl's AGE of a timestamp at `now`, `<unknown>` when absent.
pub fn age(t: &Value, now: i64) -> String {
    time(t).map_or_else(|| "<unknown>".into(), |t| human_duration(now - t))
}

/// tkn's STARTED: the largest unit of the time since (durafmt `ParseShort`) and ` ago`, or
/// `---` (tektoncd/cli pkg/formatted/time.go `Age`).
pub fn tkn_age(t: &Value, now: i64) -> String {
    let Some(t) = time(t) else {
        return "---".into();
    };
    let secs = (now - t).max(0);
    const UNITS: [(i64, &str); 6] = [
        (365 * 86_400, "year"),
        (7 * 86_400, "week"),
        (86_400, "day"),
        (3600, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    for (size, unit) in UNITS {
        let n = secs / size;
        if n > 0 {
            let s = if n == 1 { "" } else { "s" };
            return format!("{n} {unit}{s} ago");
        }
    }
    "0 seconds ago".into()
}

/// Whether to print colour: standard output is a terminal and `NO_COLOR` is unset.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub colour: bool,
}

impl Style {
    /// `text` in an ANSI colour (SGR code) when colour is on.
    pub fn paint(&self, code: u8, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Bold (tkn's section names, under colour also underlined).
    pub fn heading(&self, text: &str) -> String {
        if self.colour {
            format!("\x1b[4;1m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(1, text)
    }
}

/// tkn's colours of a status word (tektoncd/cli pkg/formatted/k8s.go `ConditionColor`:
/// FgHiRed, FgHiGreen, FgHiBlue, FgHiYellow, FgHiMagenta, FgHiWhite).
fn status_colour(word: &str) -> u8 {
    match word {
        "Failed" => 91,
        "Succeeded" => 92,
        "Running" => 94,
        "Cancelled" => 93,
        "Completed" => 95,
        _ => 97,
    }
}

/// tkn's STATUS of a run's conditions (tektoncd/cli pkg/formatted/k8s.go `Condition`):
/// `Succeeded`, `Failed`, `Running`, with the reason in parentheses when it differs,
/// `Cancelled(<reason>)` for a cancellation, `---` with no condition.
pub fn condition(conditions: &Value, style: Style) -> String {
    let Some(c) = conditions.as_array().and_then(|a| a.first()) else {
        return "---".into();
    };
    let word = match c["status"].as_str() {
        Some("False") => "Failed",
        Some("True") => "Succeeded",
        _ => "Running",
    };
    let reason = c["reason"].as_str().unwrap_or("");
    let cancelled = matches!(
        reason,
        "PipelineRunCancelled" | "TaskRunCancelled" | "Cancelled" | "StoppedRunFinally"
    ) && word == "Failed";
    if cancelled {
        return format!(
            "{}({reason})",
            style.paint(status_colour("Cancelled"), "Cancelled")
        );
    }
    let w = style.paint(status_colour(word), word);
    if reason.is_empty() || reason == word {
        w
    } else {
        format!("{w}({reason})")
    }
}

/// The width of `s` on screen: characters outside ANSI escape sequences.
pub fn visible_width(s: &str) -> usize {
    let mut n = 0;
    let mut esc = false;
    for c in s.chars() {
        if esc {
            if c.is_ascii_alphabetic() {
                esc = false;
            }
        } else if c == '\x1b' {
            esc = true;
        } else {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    // Go: (63 * time.Second).String() == "1m3s", (7205 * time.Second).String() == "2h0m5s"
    #[test]
    fn go_durations() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(42), "42s");
        assert_eq!(go_duration(63), "1m3s");
        assert_eq!(go_duration(120), "2m0s");
        assert_eq!(go_duration(7205), "2h0m5s");
        assert_eq!(go_duration(-5), "-5s");
    }

    // apimachinery pkg/util/duration/duration_test.go TestHumanDuration
    #[test]
    fn kubectl_ages() {
        for (secs, want) in [
            (0, "0s"),
            (1, "1s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (599, "9m59s"),
            (600, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60, "3h1m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (49 * 3600, "2d1h"),
            (8 * 86_400, "8d"),
            (2 * 365 * 86_400, "2y"),
            (2 * 365 * 86_400 + 86_400, "2y1d"),
            (8 * 365 * 86_400, "8y"),
            (-1, "0s"),
            (-2, "<invalid>"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn tkn_started_and_duration() {
        let now = 1_767_225_600 + 3600; // 2026-01-01T01:00:00Z
        assert_eq!(tkn_age(&json!("2026-01-01T00:59:59Z"), now), "1 second ago");
        assert_eq!(
            tkn_age(&json!("2026-01-01T00:58:00Z"), now),
            "2 minutes ago"
        );
        assert_eq!(tkn_age(&json!("2026-01-01T00:00:00Z"), now), "1 hour ago");
        assert_eq!(
            tkn_age(&json!("2026-01-01T01:00:00Z"), now),
            "0 seconds ago"
        );
        assert_eq!(tkn_age(&Value::Null, now), "---");
        assert_eq!(
            duration(
                &json!("2026-01-01T00:00:00Z"),
                &json!("2026-01-01T00:01:03Z")
            ),
            "1m3s"
        );
        assert_eq!(
            duration(&json!("2026-01-01T00:00:00Z"), &Value::Null),
            "---"
        );
        assert_eq!(age(&json!("2026-01-01T00:00:00Z"), now), "60m");
    }

    // tektoncd/cli pkg/formatted/k8s_test.go TestCondition
    #[test]
    fn tkn_conditions() {
        let s = Style::default();
        let c = |st: &str, r: &str| json!([{"type": "Succeeded", "status": st, "reason": r}]);
        assert_eq!(condition(&c("True", "Succeeded"), s), "Succeeded");
        assert_eq!(
            condition(&c("True", "Completed"), s),
            "Succeeded(Completed)"
        );
        assert_eq!(condition(&c("False", "Failed"), s), "Failed");
        assert_eq!(condition(&c("Unknown", "Running"), s), "Running");
        assert_eq!(condition(&c("Unknown", "Pending"), s), "Running(Pending)");
        assert_eq!(
            condition(&c("False", "PipelineRunCancelled"), s),
            "Cancelled(PipelineRunCancelled)"
        );
        assert_eq!(
            condition(&c("False", "Cancelled"), s),
            "Cancelled(Cancelled)"
        );
        assert_eq!(condition(&Value::Null, s), "---");
        let coloured = condition(&c("False", "Failed"), Style { colour: true });
        assert_eq!(coloured, "\x1b[91mFailed\x1b[0m");
        assert_eq!(visible_width(&coloured), 6);
    }

    proptest! {
        #[test]
        fn durations_never_panic_and_round_trip_seconds(secs in -1_000_000_000i64..1_000_000_000) {
            let g = go_duration(secs);
            prop_assert!(g.ends_with('s'));
            let _ = human_duration(secs);
            let _ = tkn_age(&json!(format!("{secs}")), secs);
        }
    }
}
