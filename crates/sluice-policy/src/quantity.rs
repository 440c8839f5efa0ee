//! Kubernetes resource quantities (`k8s.io/apimachinery/pkg/api/resource.ParseQuantity`) and
//! Go durations (`time.ParseDuration`), as Kyverno compares them in patterns and conditions.

/// Parses a quantity (`100m`, `1Gi`, `2.5`, `1e3`, `-4k`) to its value. `None` when `s` is not
/// a quantity (quantities have no spaces, and at most one suffix).
pub fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let mut i = 0;
    if b[0] == b'+' || b[0] == b'-' {
        i = 1;
    }
    let num_start = i;
    let mut digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    let number: f64 = s[..i].parse().ok()?;
    let _ = num_start;
    let suffix = &s[i..];
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => {
            // decimal exponent: e3, E-2
            let rest = suffix.strip_prefix(['e', 'E'])?;
            let exp: i32 = rest.parse().ok()?;
            return Some(number * 10f64.powi(exp));
        }
    };
    Some(number * mult)
}

/// Parses a Go duration (`1h30m`, `-1.5s`, `300ms`, `0`) to seconds; surrounding spaces are
/// ignored.
pub fn parse_duration(s: &str) -> Option<f64> {
    sluice_core::duration::parse_go_duration(s.trim())
}

/// Compares two floats, treating tiny relative differences (from unit scaling) as equal.
pub fn cmp_f64(a: f64, b: f64) -> std::cmp::Ordering {
    let tol = 1e-9 * a.abs().max(b.abs()).max(1e-9);
    if (a - b).abs() <= tol {
        std::cmp::Ordering::Equal
    } else if a < b {
        std::cmp::Ordering::Less
    } else {
        std::cmp::Ordering::Greater
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // k8s.io/apimachinery/pkg/api/resource/quantity.go suffixes; Go time.ParseDuration units.
    #[test]
    fn quantities_and_durations() {
        assert_eq!(parse_quantity("1Ki"), Some(1024.0));
        assert_eq!(parse_quantity("100m"), Some(0.1));
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("1h"), None);
        assert_eq!(parse_quantity("abc"), None);
        assert_eq!(parse_quantity(""), None);
        assert_eq!(
            cmp_f64(
                parse_quantity("1Gi").unwrap_or(0.0),
                parse_quantity("1024Mi").unwrap_or(1.0)
            ),
            std::cmp::Ordering::Equal
        );
        assert_eq!(parse_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_duration("300ms"), Some(0.3));
        assert_eq!(parse_duration("0"), Some(0.0));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("1x"), None);
    }
}
