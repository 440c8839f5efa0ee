//! Go's duration syntax (`time.ParseDuration`), which Tekton timeouts, Argo Rollouts pauses
//! and analysis intervals, Argo CD backoffs and Kyverno duration operators all use.

/// Parses a Go `time.ParseDuration` string (`300ms`, `1.5h`, `2h45m`, `-1s`, `0`) into
/// seconds. `None` when Go would reject it.
pub fn parse_go_duration(s: &str) -> Option<f64> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." {
            return None;
        }
        let v: f64 = num.parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        let mult = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += v * mult;
        rest = &rest[unit_end..];
    }
    Some(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Go: time.ParseDuration (src/time/format.go): a unit is required except for "0".

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("5m"), Some(300.0));
        assert_eq!(parse_go_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_go_duration("0"), Some(0.0));
        assert_eq!(parse_go_duration("1.5s"), Some(1.5));
        assert_eq!(parse_go_duration("30"), None);
        assert_eq!(parse_go_duration("1d"), None);
        assert_eq!(parse_go_duration(""), None);
    }
}

#[cfg(test)]
mod props {
    use super::parse_go_duration;

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,16}") {
            let _ = parse_go_duration(&s);
        }

        #[test]
        fn whole_units_add_up(h in 0u32..100, m in 0u32..60, sec in 0u32..60) {
            let v = parse_go_duration(&format!("{h}h{m}m{sec}s"));
            proptest::prop_assert_eq!(v, Some(f64::from(h * 3600 + m * 60 + sec)));
        }
    }
}
