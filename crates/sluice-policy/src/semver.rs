//! Semantic versions and ranges for `semver_compare` (blang/semver range syntax: `>=1.0.0
//! <2.0.0` is AND, `||` is OR; `v` prefixes and missing minor/patch are tolerated).

use crate::jmespath::JmesError;

fn parse(v: &str) -> Option<(u64, u64, u64, String)> {
    let v = v.trim().trim_start_matches('v');
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, p.split('+').next().unwrap_or("").to_owned()),
        None => (v.split('+').next().unwrap_or(v), String::new()),
    };
    let mut it = core.split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next().map_or(Some(0), |x| x.parse().ok())?;
    let patch = it.next().map_or(Some(0), |x| x.parse().ok())?;
    if it.next().is_some() {
        return None;
    }
    Some((major, minor, patch, pre))
}

fn cmp(a: &(u64, u64, u64, String), b: &(u64, u64, u64, String)) -> std::cmp::Ordering {
    (a.0, a.1, a.2)
        .cmp(&(b.0, b.1, b.2))
        .then_with(|| match (a.3.is_empty(), b.3.is_empty()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            (false, false) => a.3.cmp(&b.3),
        })
}

/// Whether `version` satisfies `range`.
pub fn satisfies(version: &str, range: &str) -> Result<bool, JmesError> {
    let v = parse(version)
        .ok_or_else(|| JmesError::Runtime(format!("invalid semantic version {version:?}")))?;
    for alt in range.split("||") {
        let mut all = true;
        for part in alt.split_whitespace() {
            let (op, rest) = [">=", "<=", "!=", "==", ">", "<", "="]
                .iter()
                .find_map(|op| part.strip_prefix(op).map(|r| (*op, r)))
                .unwrap_or(("=", part));
            let w = parse(rest).ok_or_else(|| {
                JmesError::Runtime(format!("invalid semantic version range {range:?}"))
            })?;
            let o = cmp(&v, &w);
            let ok = match op {
                ">=" => o.is_ge(),
                "<=" => o.is_le(),
                ">" => o.is_gt(),
                "<" => o.is_lt(),
                "!=" => o.is_ne(),
                _ => o.is_eq(),
            };
            all &= ok;
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(satisfies("1.2.3", ">=1.2.0"), Ok(true));
        assert_eq!(satisfies("1.2.3", ">1.0.0 <1.2.0"), Ok(false));
        assert_eq!(satisfies("1.2.3", "<1.0.0 || 1.2.3"), Ok(true));
        assert_eq!(satisfies("1.2.3-rc1", "<1.2.3"), Ok(true));
        assert!(satisfies("x", "1.0.0").is_err());
    }
}
