//! AppProject sync windows (pure), as Argo CD: `SyncWindows.Matches` (the windows whose
//! `applications`, `namespaces` or `clusters` globs match the Application),
//! `SyncWindow.active` (the window's cron `schedule` — robfig/cron's five-field standard
//! syntax — has an occurrence in `(now - duration, now]`), and `CanSync(isManual)`: an
//! active deny window blocks (a manual sync passes when every active deny window has
//! `manualSync`); else an active allow window allows; else inactive allow windows block (a
//! manual sync passes when one has `manualSync`); no window allows
//! (pkg/apis/application/v1alpha1/types.go). `timeZone` names an IANA zone (Go's
//! `time.LoadLocation`; empty is UTC): the schedule runs on that zone's wall clock, as
//! robfig/cron does on a time in that location. An unknown zone is an error, which blocks
//! the sync as upstream's error does.

use serde_json::Value;

/// One cron field as a set of allowed values and whether it was `*`/`?`.
#[derive(Debug, Clone)]
struct Field {
    bits: u64,
    star: bool,
}

/// A parsed five-field schedule (minute hour day-of-month month day-of-week).
#[derive(Debug, Clone)]
pub struct Schedule {
    minute: Field,
    hour: Field,
    dom: Field,
    month: Field,
    dow: Field,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn value(s: &str, names: &[&str], offset: u32) -> Result<u32, String> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Ok(i as u32 + offset);
    }
    s.parse::<u32>()
        .map_err(|_| format!("failed to parse int from {s}"))
}

fn field(expr: &str, min: u32, max: u32, names: &[&str], offset: u32) -> Result<Field, String> {
    let mut bits = 0u64;
    let mut star = false;
    for part in expr.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                Some(
                    s.parse::<u32>()
                        .map_err(|_| format!("failed to parse int from {s}"))?,
                ),
            ),
            None => (part, None),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            if step.is_none() {
                star = true;
            }
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, names, offset)?, value(b, names, offset)?)
        } else {
            let v = value(range, names, offset)?;
            (v, if step.is_some() { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!(
                "beginning of range ({lo}) beyond end of range ({hi}) or out of [{min}, {max}]: {part}"
            ));
        }
        let step = step.unwrap_or(1);
        if step == 0 {
            return Err(format!("step of range should be a positive number: {part}"));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(Field { bits, star })
}

impl Schedule {
    /// robfig/cron's standard parser (minute hour dom month dow; lists, ranges, steps,
    /// month and day names; no descriptors, no seconds).
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        let f: Vec<&str> = spec.split_whitespace().collect();
        if f.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: [{}]",
                f.len(),
                f.join(" ")
            ));
        }
        Ok(Schedule {
            minute: field(f[0], 0, 59, &[], 0)?,
            hour: field(f[1], 0, 23, &[], 0)?,
            dom: field(f[2], 1, 31, &[], 0)?,
            month: field(f[3], 1, 12, &MONTHS, 1)?,
            dow: field(f[4], 0, 6, &DAYS, 0)?,
        })
    }

    fn day_matches(&self, dom: u32, dow: u32) -> bool {
        let d = self.dom.bits & (1 << dom) != 0;
        let w = self.dow.bits & (1 << dow) != 0;
        if self.dom.star || self.dow.star {
            d && w
        } else {
            d || w
        }
    }

    /// The first occurrence strictly after `t` (Unix seconds, UTC), within five years.
    pub fn next(&self, t: i64) -> Option<i64> {
        // whole minutes: the next minute boundary after t
        let mut m = t.div_euclid(60) + 1;
        let limit = m + 5 * 366 * 24 * 60;
        while m < limit {
            let secs = m * 60;
            let days = secs.div_euclid(86_400);
            let (_, month, dom) = sluice_core::civil::civil_from_days(days);
            // 1970-01-01 was a Thursday
            let dow = (days + 4).rem_euclid(7) as u32;
            if self.month.bits & (1 << month) == 0 {
                // skip to the next day start
                m = (days + 1) * 1440;
                continue;
            }
            if !self.day_matches(dom as u32, dow) {
                m = (days + 1) * 1440;
                continue;
            }
            let min_of_day = secs.rem_euclid(86_400) / 60;
            let (h, mi) = ((min_of_day / 60) as u32, (min_of_day % 60) as u32);
            if self.hour.bits & (1 << h) == 0 {
                m = days * 1440 + (i64::from(h) + 1) * 60;
                continue;
            }
            if self.minute.bits & (1 << mi) == 0 {
                m += 1;
                continue;
            }
            return Some(secs);
        }
        None
    }
}

fn glob(pattern: &str, s: &str) -> bool {
    fn rec(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => rec(&p[1..], s) || (!s.is_empty() && rec(p, &s[1..])),
            (Some(b'?'), Some(_)) => rec(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => rec(&p[1..], &s[1..]),
            _ => false,
        }
    }
    rec(pattern.as_bytes(), s.as_bytes())
}

fn strings(w: &Value, k: &str) -> Vec<String> {
    w.get(k)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// `SyncWindows.Matches`: the project's windows that apply to `app`.
pub fn matching<'a>(project: &'a Value, app: &Value) -> Vec<&'a Value> {
    let name = app
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let dest = |k: &str| {
        app.pointer(&format!("/spec/destination/{k}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (dname, dserver, dns) = (dest("name"), dest("server"), dest("namespace"));
    project
        .pointer("/spec/syncWindows")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|w| {
            strings(w, "applications").iter().any(|p| glob(p, name))
                || strings(w, "clusters").iter().any(|p| {
                    (!dname.is_empty() && glob(p, &dname))
                        || (!dserver.is_empty() && glob(p, &dserver))
                })
                || strings(w, "namespaces").iter().any(|p| glob(p, &dns))
        })
        .collect()
}

impl Schedule {
    /// The first occurrence strictly after `t` of the schedule read on `tz`'s wall clock.
    /// A wall time a spring-forward gap skips is shifted forward by the gap, one a fall-back
    /// repeats is its first instant (as Go's time.Date resolves them).
    pub fn next_in(&self, t: i64, tz: &jiff::tz::TimeZone) -> Option<i64> {
        let wall = |secs: i64| -> Option<i64> {
            let ts = jiff::Timestamp::from_second(secs).ok()?;
            Some(secs + i64::from(tz.to_offset(ts).seconds()))
        };
        let mut local = wall(t)?;
        // a repeated hour can give wall times at or before `t`: look further
        for _ in 0..4 {
            let l = self.next(local)?;
            let dt = jiff::tz::TimeZone::UTC.to_datetime(jiff::Timestamp::from_second(l).ok()?);
            let instant = tz.to_ambiguous_timestamp(dt).compatible().ok()?.as_second();
            if instant > t {
                return Some(instant);
            }
            local = l;
        }
        None
    }
}

/// A window's `timeZone` (empty: UTC).
fn zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    if name.is_empty() || name == "UTC" {
        return Ok(jiff::tz::TimeZone::UTC);
    }
    jiff::tz::TimeZone::get(name)
        .map_err(|_| format!("cannot parse timezone {name:?}: unknown time zone {name}"))
}

/// `SyncWindow.active`: an occurrence of the schedule in `(now - duration, now]`.
pub fn active(w: &Value, now: i64) -> Result<bool, String> {
    let tz = zone(w.get("timeZone").and_then(Value::as_str).unwrap_or(""))?;
    let sched = Schedule::parse(w.get("schedule").and_then(Value::as_str).unwrap_or(""))
        .map_err(|e| format!("cannot parse schedule: {e}"))?;
    let d = w.get("duration").and_then(Value::as_str).unwrap_or("");
    let dur = sluice_expr::gotmpl::gotime::parse_duration(d)
        .map_err(|e| format!("cannot parse duration: {e}"))?
        / 1_000_000_000;
    Ok(sched.next_in(now - dur, &tz).is_some_and(|n| n < now + 1))
}

/// `CanSync(isManual)` over the windows that match the app: `Err` blocks as upstream's
/// error does (the message says why).
pub fn can_sync(windows: &[&Value], manual: bool, now: i64) -> Result<bool, String> {
    if windows.is_empty() {
        return Ok(true);
    }
    let kind = |w: &Value| {
        w.get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let manual_ok = |w: &Value| {
        w.get("manualSync")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let mut active_w = Vec::new();
    let mut inactive_allows = Vec::new();
    for w in windows {
        if active(w, now)? {
            active_w.push(*w);
        } else if kind(w) == "allow" {
            inactive_allows.push(*w);
        }
    }
    let denies: Vec<&Value> = active_w
        .iter()
        .copied()
        .filter(|w| kind(w) == "deny")
        .collect();
    if !denies.is_empty() {
        return Ok(manual && denies.iter().all(|w| manual_ok(w)));
    }
    if active_w.iter().any(|w| kind(w) == "allow") {
        return Ok(true);
    }
    if !inactive_allows.is_empty() {
        return Ok(manual && inactive_allows.iter().any(|w| manual_ok(w)));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(y: i64, mo: i64, d: i64, h: i64, mi: i64) -> i64 {
        sluice_core::civil::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60
    }

    /// robfig/cron: lists, ranges, steps, names; dom OR dow when both are restricted.
    #[test]
    fn cron_next() {
        let s = Schedule::parse("30 2 * * *").expect("valid");
        assert_eq!(s.next(at(2026, 12, 4, 10, 0)), Some(at(2026, 12, 5, 2, 30)));
        let s = Schedule::parse("*/15 9-17 * * mon-fri").expect("valid");
        // Friday 2026-12-04 17:50 -> Monday 09:00
        assert_eq!(s.next(at(2026, 12, 4, 17, 50)), Some(at(2026, 12, 7, 9, 0)));
        let s = Schedule::parse("0 0 1 jan *").expect("valid");
        assert_eq!(s.next(at(2026, 12, 4, 0, 0)), Some(at(2027, 1, 1, 0, 0)));
        // dom 13 or Friday
        let s = Schedule::parse("0 0 13 * 5").expect("valid");
        assert_eq!(s.next(at(2026, 12, 4, 12, 0)), Some(at(2026, 12, 11, 0, 0)));
        let s = Schedule::parse("* * * * *").expect("valid");
        assert_eq!(
            s.next(at(2026, 12, 4, 12, 0) + 5),
            Some(at(2026, 12, 4, 12, 1))
        );
        assert!(Schedule::parse("* * * *").is_err_and(|e| e.contains("expected exactly 5 fields")));
        assert!(Schedule::parse("61 * * * *").is_err());
        assert!(
            Schedule::parse("x * * * *").is_err_and(|e| e.contains("failed to parse int from x"))
        );
    }

    /// types.go CanSync: deny wins (manualSync lets a manual sync pass), an active allow
    /// allows, inactive allows block, no window allows.
    #[test]
    fn can_sync_rules() {
        let now = at(2026, 12, 4, 12, 30);
        let deny = json!({"kind": "deny", "schedule": "0 12 * * *", "duration": "1h", "applications": ["*"]});
        let deny_manual = json!({"kind": "deny", "schedule": "0 12 * * *", "duration": "1h", "manualSync": true, "applications": ["*"]});
        let allow_now = json!({"kind": "allow", "schedule": "0 12 * * *", "duration": "1h", "applications": ["*"]});
        let allow_later = json!({"kind": "allow", "schedule": "0 20 * * *", "duration": "1h", "applications": ["*"], "manualSync": true});
        assert_eq!(can_sync(&[], false, now), Ok(true));
        assert_eq!(can_sync(&[&deny], false, now), Ok(false));
        assert_eq!(can_sync(&[&deny], true, now), Ok(false));
        assert_eq!(can_sync(&[&deny_manual], true, now), Ok(true));
        assert_eq!(can_sync(&[&deny, &allow_now], false, now), Ok(false));
        assert_eq!(can_sync(&[&allow_now], false, now), Ok(true));
        assert_eq!(can_sync(&[&allow_later], false, now), Ok(false));
        assert_eq!(can_sync(&[&allow_later], true, now), Ok(true));
        assert_eq!(can_sync(&[&allow_later, &allow_now], false, now), Ok(true));
        // a window ends after its duration
        assert_eq!(can_sync(&[&deny], false, at(2026, 12, 4, 13, 0)), Ok(true));
        let tz = json!({"kind": "deny", "schedule": "* * * * *", "duration": "1h", "timeZone": "Mars/Olympus"});
        assert!(can_sync(&[&tz], false, now).is_err());
    }

    /// The schedule is read on the zone's wall clock (argo-cd docs user-guide
    /// sync_windows.md: `timeZone` of the window; Go time.LoadLocation names).
    #[test]
    fn time_zones_move_the_window() {
        // 12:30 UTC on 2026-12-04 is 13:30 in Paris (CET, +1) and 07:30 in New York (EST)
        let now = at(2026, 12, 4, 12, 30);
        let w = |tz: &str, hour: u32| json!({"kind": "deny", "schedule": format!("0 {hour} * * *"), "duration": "1h", "timeZone": tz});
        assert_eq!(active(&w("Europe/Paris", 13), now), Ok(true));
        assert_eq!(active(&w("Europe/Paris", 12), now), Ok(false));
        assert_eq!(active(&w("America/New_York", 7), now), Ok(true));
        assert_eq!(active(&w("UTC", 12), now), Ok(true));
        assert_eq!(active(&w("", 12), now), Ok(true));
        // summer time: 2026-07-01 12:30 UTC is 14:30 in Paris (CEST, +2)
        let summer = at(2026, 7, 1, 12, 30);
        assert_eq!(active(&w("Europe/Paris", 14), summer), Ok(true));
        assert_eq!(active(&w("Europe/Paris", 13), summer), Ok(false));
        // the spring-forward gap: 02:30 does not exist in Paris on 2026-03-29; the
        // occurrence is shifted by the gap (03:30 CEST = 01:30 UTC)
        let s = Schedule::parse("30 2 29 3 *").expect("schedule");
        let paris = zone("Europe/Paris").expect("zone");
        assert_eq!(
            s.next_in(at(2026, 3, 29, 0, 0), &paris),
            Some(at(2026, 3, 29, 1, 30))
        );
        assert!(
            active(&w("Mars/Olympus", 12), now).is_err_and(|e| e.contains("unknown time zone"))
        );
    }

    #[test]
    fn windows_match_by_app_namespace_and_cluster() {
        let proj = json!({"spec": {"syncWindows": [
            {"kind": "deny", "applications": ["shop-*"]},
            {"kind": "deny", "namespaces": ["prod"]},
            {"kind": "deny", "clusters": ["https://prod.*"]},
            {"kind": "deny", "clusters": ["in-cluster"]}]}});
        let app = |name: &str, ns: &str, server: &str, dname: &str| json!({"metadata": {"name": name}, "spec": {"destination": {"namespace": ns, "server": server, "name": dname}}});
        assert_eq!(
            matching(&proj, &app("shop-api", "dev", "https://k", "")).len(),
            1
        );
        assert_eq!(
            matching(&proj, &app("x", "prod", "https://prod.example", "")).len(),
            2
        );
        assert_eq!(matching(&proj, &app("x", "dev", "", "in-cluster")).len(), 1);
        assert!(matching(&proj, &app("x", "dev", "https://k", "")).is_empty());
    }
}
