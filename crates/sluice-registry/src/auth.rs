//! Who may do what: Basic auth with any user name and the server's token as password
//! (`docker login`/`skopeo --creds`/`helm registry login`), `Authorization: Bearer` with
//! the server's token, and the token flow registries use (the Docker Registry token
//! authentication spec, distribution docs/spec/auth/token.md): a request without
//! credentials gets `401` with `WWW-Authenticate: Bearer realm=".../v2/token",
//! service="sluice-registry",scope="repository:NAME:pull,push"`; the client asks the realm
//! for a token with its Basic credentials and the scopes, and sends it back as
//! `Authorization: Bearer`. The token is this module's: the granted scopes and an expiry,
//! signed with HMAC-SHA256 under a key derived from the server's token (so it dies with
//! it), checked against what each request needs. Pulls may be allowed anonymously.

use base64::Engine as _;
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

/// The challenge the token endpoint sends with a 401 (it takes Basic credentials).
pub const CHALLENGE: &str = "Basic realm=\"sluice-registry\"";

/// The `service` of the bearer challenge and of token requests.
pub const SERVICE: &str = "sluice-registry";

/// How long a token from `/v2/token` lives.
pub const TOKEN_SECONDS: u64 = 1800;

const TOKEN_PREFIX: &str = "sr1.";

/// The users of the server (its token file, ServiceAccount tokens, OIDC) and what their
/// roles let them do to repositories; the binary implements it over the API server's
/// authentication and RBAC.
pub trait Users: Send + Sync + std::fmt::Debug {
    /// Whether `credential` (a Basic password or a Bearer token) is a user's.
    fn known(&self, credential: &str) -> bool;
    /// Whether the user of `credential` may do what `need` asks.
    fn allowed(&self, credential: &str, need: &Need) -> bool;
}

/// The registry's credentials.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// The token; `None` turns authentication off (tests, a loopback-only registry).
    pub token: Option<String>,
    /// GET/HEAD without credentials.
    pub anonymous_pull: bool,
    /// The server speaks plain HTTP: the bearer challenge's realm is `http://`.
    pub plain_http: bool,
    /// The server's users and their roles, beside the server's token (which may do
    /// anything).
    pub users: Option<std::sync::Arc<dyn Users>>,
}

/// What a request needs (the access a token must grant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// `/v2/`: any valid credentials.
    Any,
    /// `/v2/_catalog`: `registry:catalog:*`.
    Catalog,
    /// `repository:NAME:ACTION` (`pull`, `push` or `delete`).
    Repo { name: String, action: &'static str },
}

impl Need {
    /// The scope a challenge names for this need (`None` for `/v2/`).
    pub fn scope(&self) -> Option<String> {
        match self {
            Need::Any => None,
            Need::Catalog => Some("registry:catalog:*".into()),
            Need::Repo { name, action } => Some(format!(
                "repository:{name}:{}",
                if *action == "push" {
                    "pull,push"
                } else {
                    action
                }
            )),
        }
    }
}

/// The answer for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// 401: no or wrong credentials, or (`insufficient_scope`) a token without the access.
    Deny {
        insufficient_scope: bool,
    },
}

/// One granted access of a token (the spec's `access` claim).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Claims {
    exp: u64,
    access: Vec<Access>,
}

/// `resourcetype[(class)]:resourcename:action[,action]`; the name may hold `:` (a host
/// with a port), so the type ends at the first `:` and the actions start after the last.
pub fn parse_scope(s: &str) -> Option<Access> {
    let (kind, rest) = s.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    let kind = kind.split('(').next().unwrap_or(kind);
    if kind.is_empty() || name.is_empty() {
        return None;
    }
    Some(Access {
        kind: kind.to_string(),
        name: name.to_string(),
        actions: actions
            .split(',')
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect(),
    })
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // RFC 2104 with a 64-byte block
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&sha2::Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = sha2::Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = sha2::Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl Auth {
    fn key(&self) -> Option<[u8; 32]> {
        let t = self.token.as_ref()?;
        Some(hmac_sha256(b"sluice-registry bearer tokens", t.as_bytes()))
    }

    /// The credentials an `Authorization` header presents: the password of Basic, or
    /// the Bearer value.
    fn presented(authorization: &str) -> Option<(bool, String)> {
        let h = authorization.trim();
        let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()?;
            let s = String::from_utf8(raw).ok()?;
            s.split_once(':').map(|(_, p)| (false, p.to_string()))
        } else if scheme.eq_ignore_ascii_case("bearer") {
            Some((true, rest.trim().to_string()))
        } else {
            None
        }
    }

    fn is_server_token(&self, presented: &str) -> bool {
        self.token
            .as_ref()
            .is_some_and(|t| bool::from(presented.as_bytes().ct_eq(t.as_bytes())))
    }

    /// Whether the `Authorization` header carries the server's token (Basic password or
    /// Bearer): full access.
    pub fn authenticated(&self, authorization: Option<&str>) -> bool {
        if self.token.is_none() {
            return true;
        }
        authorization
            .and_then(Self::presented)
            .is_some_and(|(_, p)| self.is_server_token(&p))
    }

    /// Whether a request may proceed without scopes: writes always need the token,
    /// reads unless anonymous pull is on.
    pub fn allows(&self, authorization: Option<&str>, write: bool) -> bool {
        (!write && self.anonymous_pull) || self.authenticated(authorization)
    }

    /// A signed token granting `access` until `now + TOKEN_SECONDS`.
    pub fn issue(&self, access: Vec<Access>, now: u64) -> String {
        let claims = Claims {
            exp: now.saturating_add(TOKEN_SECONDS),
            access,
        };
        let body = b64(serde_json::to_string(&claims)
            .unwrap_or_default()
            .as_bytes());
        let mac = self
            .key()
            .map(|k| hmac_sha256(&k, body.as_bytes()))
            .unwrap_or_default();
        format!("{TOKEN_PREFIX}{body}.{}", b64(&mac))
    }

    /// The access a token of ours grants, if its signature holds and it has not expired.
    pub fn verify(&self, token: &str, now: u64) -> Option<Vec<Access>> {
        let key = self.key()?;
        let rest = token.strip_prefix(TOKEN_PREFIX)?;
        let (body, mac) = rest.split_once('.')?;
        let want = hmac_sha256(&key, body.as_bytes());
        let got = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(mac)
            .ok()?;
        if !bool::from(got.as_slice().ct_eq(&want)) {
            return None;
        }
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .ok()?;
        let c: Claims = serde_json::from_slice(&raw).ok()?;
        (c.exp > now).then_some(c.access)
    }

    /// What the token endpoint grants for the requested scopes: everything asked for to
    /// the server's credentials; `pull` only to an anonymous client when anonymous pull
    /// is on. `None`: the credentials are wrong or missing (401).
    pub fn grant(&self, authorization: Option<&str>, scopes: &[String]) -> Option<Vec<Access>> {
        // a user's credential: each action as the user's roles allow it
        let user = authorization
            .filter(|h| !self.authenticated(Some(h)))
            .and_then(Self::presented)
            .map(|(_, p)| p)
            .filter(|p| self.users.as_ref().is_some_and(|u| u.known(p)));
        let full = match authorization {
            Some(_) if user.is_some() => false,
            Some(h) => {
                if !self.authenticated(Some(h)) {
                    return None;
                }
                true
            }
            None if self.token.is_none() => true,
            None if self.anonymous_pull => false,
            None => return None,
        };
        let user_may = |kind: &str, name: &str, action: &str| -> bool {
            let (Some(p), Some(users)) = (&user, &self.users) else {
                return false;
            };
            let need = match (kind, action) {
                ("registry", _) => Need::Catalog,
                (_, "pull") => Need::Repo {
                    name: name.to_string(),
                    action: "pull",
                },
                (_, "push") => Need::Repo {
                    name: name.to_string(),
                    action: "push",
                },
                (_, "delete") => Need::Repo {
                    name: name.to_string(),
                    action: "delete",
                },
                _ => return false,
            };
            users.allowed(p, &need)
        };
        Some(
            scopes
                .iter()
                .filter_map(|s| parse_scope(s))
                .filter_map(|mut a| {
                    let known: &[&str] = match a.kind.as_str() {
                        "repository" => &["pull", "push", "delete", "*"],
                        "registry" if a.name == "catalog" => &["*"],
                        _ => &[],
                    };
                    let (kind, name) = (a.kind.clone(), a.name.clone());
                    a.actions.retain(|x| {
                        known.contains(&x.as_str())
                            && (full
                                || user_may(&kind, &name, x)
                                || (user.is_none() && kind == "repository" && x == "pull"))
                    });
                    a.actions.dedup();
                    (!a.actions.is_empty()).then_some(a)
                })
                .collect(),
        )
    }

    /// Whether a request with this `Authorization` may do what `needs` asks (`write`: a
    /// method other than GET/HEAD, for anonymous pull).
    pub fn decide(
        &self,
        authorization: Option<&str>,
        needs: &[Need],
        write: bool,
        now: u64,
    ) -> Decision {
        if self.token.is_none() {
            return Decision::Allow;
        }
        let Some(h) = authorization else {
            return if !write && self.anonymous_pull {
                Decision::Allow
            } else {
                Decision::Deny {
                    insufficient_scope: false,
                }
            };
        };
        let Some((bearer, p)) = Self::presented(h) else {
            return Decision::Deny {
                insufficient_scope: false,
            };
        };
        if self.is_server_token(&p) {
            return Decision::Allow;
        }
        if let Some(users) = &self.users
            && !p.starts_with(TOKEN_PREFIX)
            && users.known(&p)
        {
            return if needs.iter().all(|n| users.allowed(&p, n)) {
                Decision::Allow
            } else {
                Decision::Deny {
                    insufficient_scope: true,
                }
            };
        }
        if !bearer {
            return Decision::Deny {
                insufficient_scope: false,
            };
        }
        let Some(granted) = self.verify(&p, now) else {
            return Decision::Deny {
                insufficient_scope: false,
            };
        };
        let has = |kind: &str, name: &str, action: &str| {
            granted.iter().any(|a| {
                a.kind == kind
                    && a.name == name
                    && a.actions.iter().any(|x| x == action || x == "*")
            })
        };
        let ok = needs.iter().all(|n| match n {
            Need::Any => true,
            Need::Catalog => has("registry", "catalog", "*"),
            Need::Repo { name, action } => {
                has("repository", name, action)
                    || (!write && *action == "pull" && self.anonymous_pull)
            }
        });
        if ok {
            Decision::Allow
        } else {
            Decision::Deny {
                insufficient_scope: true,
            }
        }
    }

    /// The `WWW-Authenticate` value of a 401 for `needs`, with the token endpoint at
    /// `host` as realm.
    pub fn challenge(&self, host: &str, needs: &[Need], insufficient_scope: bool) -> String {
        let scheme = if self.plain_http { "http" } else { "https" };
        let mut c = format!("Bearer realm=\"{scheme}://{host}/v2/token\",service=\"{SERVICE}\"");
        let scopes: Vec<String> = needs.iter().filter_map(Need::scope).collect();
        if !scopes.is_empty() {
            c.push_str(&format!(",scope=\"{}\"", scopes.join(" ")));
        }
        if insufficient_scope {
            c.push_str(",error=\"insufficient_scope\"");
        }
        c
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
            ..Auth::default()
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

    // RFC 4231 test case 2
    #[test]
    fn hmac_matches_rfc4231() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    // distribution docs/spec/auth/scope.md: `repository:samalba/my-app:pull,push`, a
    // resource class in parentheses, a name with a port
    #[test]
    fn scopes_and_tokens() {
        let s = parse_scope("repository:samalba/my-app:pull,push").expect("scope");
        assert_eq!(
            (s.kind.as_str(), s.name.as_str()),
            ("repository", "samalba/my-app")
        );
        assert_eq!(s.actions, ["pull", "push"]);
        let s = parse_scope("repository(plugin):localhost:5000/x:pull").expect("scope");
        assert_eq!(
            (s.kind.as_str(), s.name.as_str()),
            ("repository", "localhost:5000/x")
        );
        assert!(parse_scope("nonsense").is_none());

        let a = Auth {
            token: Some("tok".into()),
            ..Auth::default()
        };
        let creds = basic("any", "tok");
        let g = a
            .grant(
                Some(&creds),
                &[
                    "repository:app:pull,push,bogus".into(),
                    "registry:catalog:*".into(),
                ],
            )
            .expect("granted");
        assert_eq!(g[0].actions, ["pull", "push"]);
        let t = a.issue(g, 1000);
        let bearer = format!("Bearer {t}");
        let pull = Need::Repo {
            name: "app".into(),
            action: "pull",
        };
        let del = Need::Repo {
            name: "app".into(),
            action: "delete",
        };
        let other = Need::Repo {
            name: "other".into(),
            action: "pull",
        };
        assert_eq!(
            a.decide(Some(&bearer), std::slice::from_ref(&pull), false, 1001),
            Decision::Allow
        );
        assert_eq!(
            a.decide(Some(&bearer), &[Need::Catalog], false, 1001),
            Decision::Allow
        );
        let scope = Decision::Deny {
            insufficient_scope: true,
        };
        assert_eq!(a.decide(Some(&bearer), &[del], true, 1001), scope);
        assert_eq!(a.decide(Some(&bearer), &[other], false, 1001), scope);
        // expired, tampered, or signed under another server token
        let no = Decision::Deny {
            insufficient_scope: false,
        };
        assert_eq!(
            a.decide(
                Some(&bearer),
                std::slice::from_ref(&pull),
                false,
                1000 + TOKEN_SECONDS
            ),
            no
        );
        let tampered = format!("Bearer {}x", t);
        assert_eq!(
            a.decide(Some(&tampered), std::slice::from_ref(&pull), false, 1001),
            no
        );
        let b = Auth {
            token: Some("other".into()),
            ..Auth::default()
        };
        assert_eq!(
            b.decide(Some(&bearer), std::slice::from_ref(&pull), false, 1001),
            no
        );
        // wrong credentials get no token; anonymous gets pull only when allowed
        assert!(
            a.grant(Some(&basic("u", "nope")), &["repository:app:pull".into()])
                .is_none()
        );
        assert!(a.grant(None, &["repository:app:pull".into()]).is_none());
        let anon = Auth {
            anonymous_pull: true,
            ..a.clone()
        };
        let g = anon
            .grant(None, &["repository:app:pull,push".into()])
            .expect("anonymous");
        assert_eq!(g[0].actions, ["pull"]);
        assert_eq!(
            a.challenge(
                "h:1",
                &[Need::Repo {
                    name: "app".into(),
                    action: "push"
                }],
                false
            ),
            "Bearer realm=\"https://h:1/v2/token\",service=\"sluice-registry\",scope=\"repository:app:pull,push\""
        );
    }

    #[derive(Debug)]
    struct OneUser;

    // "u-token" may pull and push `team/...`, nothing else
    impl Users for OneUser {
        fn known(&self, c: &str) -> bool {
            c == "u-token"
        }
        fn allowed(&self, c: &str, need: &Need) -> bool {
            c == "u-token"
                && matches!(need, Need::Repo { name, action } if name.starts_with("team/") && *action != "delete")
        }
    }

    #[test]
    fn users_and_their_roles() {
        let a = Auth {
            token: Some("tok".into()),
            users: Some(std::sync::Arc::new(OneUser)),
            ..Auth::default()
        };
        let u = basic("u", "u-token");
        let push = |n: &str| Need::Repo {
            name: n.into(),
            action: "push",
        };
        assert_eq!(
            a.decide(Some(&u), &[push("team/x")], true, 0),
            Decision::Allow
        );
        assert_eq!(
            a.decide(Some("Bearer u-token"), &[push("other/x")], true, 0),
            Decision::Deny {
                insufficient_scope: true
            }
        );
        let g = a
            .grant(
                Some(&u),
                &[
                    "repository:team/x:pull,push,delete".into(),
                    "repository:other/x:pull".into(),
                    "registry:catalog:*".into(),
                ],
            )
            .expect("a user");
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].actions, ["pull", "push"]);
        assert!(a.grant(Some(&basic("u", "other")), &[]).is_none());
    }
}
