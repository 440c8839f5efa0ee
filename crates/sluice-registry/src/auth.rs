//! Who may do what: Basic auth with any user name and the server's token as password
//! (`docker login`/`skopeo --creds`/`helm registry login`), or `Authorization: Bearer`
//! with the server's token (also what `/v2/token`, the token flow's endpoint, hands out).
//! Pulls may be allowed anonymously.

use base64::Engine as _;
use subtle::ConstantTimeEq as _;

/// The challenge sent with a 401.
pub const CHALLENGE: &str = "Basic realm=\"sluice-registry\"";

/// The registry's credentials.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// The token; `None` turns authentication off (tests, a loopback-only registry).
    pub token: Option<String>,
    /// GET/HEAD without credentials.
    pub anonymous_pull: bool,
}

impl Auth {
    /// Whether the `Authorization` header carries the token.
    pub fn authenticated(&self, authorization: Option<&str>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let Some(h) = authorization else {
            return false;
        };
        let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h, ""));
        let presented = if scheme.eq_ignore_ascii_case("basic") {
            let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) else {
                return false;
            };
            let Ok(s) = String::from_utf8(raw) else {
                return false;
            };
            match s.split_once(':') {
                Some((_, p)) => p.to_string(),
                None => return false,
            }
        } else if scheme.eq_ignore_ascii_case("bearer") {
            rest.trim().to_string()
        } else {
            return false;
        };
        bool::from(presented.as_bytes().ct_eq(token.as_bytes()))
    }

    /// Whether a request may proceed: writes always need the token, reads unless
    /// anonymous pull is on.
    pub fn allows(&self, authorization: Option<&str>, write: bool) -> bool {
        (!write && self.anonymous_pull) || self.authenticated(authorization)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(u: &str, p: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    }

    #[test]
    fn basic_and_bearer() {
        let a = Auth {
            token: Some("tok".into()),
            anonymous_pull: false,
        };
        assert!(a.allows(Some(&basic("anyone", "tok")), true));
        assert!(a.allows(Some("Bearer tok"), true));
        assert!(a.allows(Some("bearer  tok "), false));
        assert!(!a.allows(Some(&basic("u", "nope")), false));
        assert!(!a.allows(Some("Basic !!!"), false));
        assert!(!a.allows(Some("Digest tok"), false));
        assert!(!a.allows(None, false));
        let anon = Auth {
            anonymous_pull: true,
            ..a
        };
        assert!(anon.allows(None, false));
        assert!(!anon.allows(None, true));
    }
}
