//! Kyverno's wildcard matching (`pkg/utils/wildcard/match.go`): `*` matches any sequence of
//! characters (the empty one too), `?` exactly one character; no escapes, no classes.

/// Reports whether `name` matches the wildcard `pattern`. Linear-time glob: earlier `*`s are
/// never reconsidered, so patterns like `a*a*a*b` cannot backtrack exponentially.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut px, mut nx) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while nx < n.len() {
        if px < p.len() {
            if p[px] == '*' {
                px += 1;
                if px == p.len() {
                    return true;
                }
                star = Some((px, nx));
                continue;
            }
            if p[px] == '?' || p[px] == n[nx] {
                px += 1;
                nx += 1;
                continue;
            }
        }
        match star {
            None => return false,
            Some((sp, sn)) => {
                star = Some((sp, sn + 1));
                px = sp;
                nx = sn + 1;
            }
        }
    }
    p[px..].iter().all(|c| *c == '*')
}

/// Whether `s` holds a wildcard character.
pub fn has_wildcard(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

#[cfg(test)]
mod tests {
    use super::*;

    // kyverno/kyverno pkg/utils/wildcard/match_test.go: `*` may be empty, `?` is one rune.
    #[test]
    fn glob() {
        assert!(matches("*", ""));
        assert!(matches("?*", "a"));
        assert!(!matches("?*", ""));
        assert!(matches(
            "harbor.internal.company.com/*",
            "harbor.internal.company.com/app:1"
        ));
        assert!(!matches("harbor.internal.company.com/*", "docker.io/nginx"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("*:latest", "nginx:latest"));
        assert!(matches("ké?", "kéz"));
        assert!(matches("a*a*a*a*b", &format!("{}b", "a".repeat(100))));
        assert!(!matches("a*a*a*a*b", &"a".repeat(100)));
    }
}
