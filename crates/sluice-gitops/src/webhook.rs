//! Git push webhooks as Argo CD's `/api/webhook` reads them (argo-cd `util/webhook/webhook.go`,
//! `Handler` and `affectedRevisionInfo`, on go-playground/webhooks v6): which provider sent
//! the request (by header, in upstream's order), whether its secret from `argocd-secret`
//! checks out (compared in constant time), and what the push touched: the repository's URLs,
//! the revision (branch or tag name), whether the default branch moved, the SHAs before and
//! after, and the changed files.
//!
//! Pure: the caller hands in the headers, the body and the secrets; a body of any shape is
//! an error or an ignored event, never a panic (serde_json bounds nesting at 128 levels).

use hmac::{KeyInit, Mac};
use serde_json::Value;

/// Argo CD's default `webhook.maxPayloadSizeMB` (1 GiB) is far more than a push needs;
/// Sluice caps bodies at 50 MiB (the caller enforces it before reading the body).
pub const MAX_PAYLOAD_BYTES: usize = 50 * 1024 * 1024;

/// The webhook secrets of `argocd-secret` (keys `webhook.github.secret`,
/// `webhook.gitlab.secret`, `webhook.bitbucket.uuid`, `webhook.bitbucketserver.secret`).
/// An empty secret means the provider's requests are not authenticated, as upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookSecrets {
    pub github: Vec<u8>,
    pub gitlab: Vec<u8>,
    pub bitbucket_uuid: Vec<u8>,
    pub bitbucket_server: Vec<u8>,
}

impl WebhookSecrets {
    /// Reads the secrets from `argocd-secret`'s decoded data (key, value) pairs.
    pub fn from_argocd_secret<'a>(data: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        let mut s = Self::default();
        for (k, v) in data {
            match k {
                "webhook.github.secret" => s.github = v.to_vec(),
                "webhook.gitlab.secret" => s.gitlab = v.to_vec(),
                "webhook.bitbucket.uuid" => s.bitbucket_uuid = v.to_vec(),
                "webhook.bitbucketserver.secret" => s.bitbucket_server = v.to_vec(),
                _ => {}
            }
        }
        s
    }
}

/// The provider a request came from, chosen by header as upstream's `Handler` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    GitHub,
    GitLab,
    Bitbucket,
    BitbucketServer,
}

/// What a push touched (`affectedRevisionInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushEvent {
    /// The repository's URLs as the payload gives them (web URL; for Bitbucket Server the
    /// http and ssh clone links). Match Applications with [`same_repo`].
    pub web_urls: Vec<String>,
    /// The branch or tag name (`refs/heads/` and `refs/tags/` removed, as `ParseRevision`).
    pub revision: String,
    /// Whether the push moved the default branch (Bitbucket: always true, as upstream).
    pub touched_head: bool,
    pub sha_before: String,
    pub sha_after: String,
    /// Files added, modified or removed by the pushed commits (empty for Bitbucket, whose
    /// payloads do not list them).
    pub changed_files: Vec<String>,
}

/// The outcome of parsing one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A push to act on.
    Push(PushEvent),
    /// A ping or another event the handler accepts and ignores.
    Ignored(&'static str),
}

/// Why a request was refused (HTTP 400 with the message, as upstream).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("Unknown webhook event")]
    UnknownProvider,
    #[error("{provider:?} webhook verification failed: {reason}")]
    Verification {
        provider: Provider,
        reason: &'static str,
    },
    #[error("event {event:?} is not handled by the {provider:?} webhook")]
    UnsupportedEvent { provider: Provider, event: String },
    #[error("Webhook processing failed: the payload is either too large or corrupted ({reason})")]
    Payload { reason: String },
}

/// Header lookup by case-insensitive name.
fn header<'a>(headers: &'a [(&str, &str)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .unwrap_or("")
}

/// Parses and verifies one webhook request. `headers` are (name, value) pairs.
pub fn parse(
    headers: &[(&str, &str)],
    body: &[u8],
    secrets: &WebhookSecrets,
) -> Result<Parsed, WebhookError> {
    if body.len() > MAX_PAYLOAD_BYTES {
        return Err(WebhookError::Payload {
            reason: format!("{} bytes, at most {MAX_PAYLOAD_BYTES}", body.len()),
        });
    }
    // Upstream's order: GitHub, GitLab, Bitbucket Cloud (X-Hook-UUID), Bitbucket Server.
    if !header(headers, "X-GitHub-Event").is_empty() {
        github(headers, body, &secrets.github)
    } else if !header(headers, "X-Gitlab-Event").is_empty() {
        gitlab(headers, body, &secrets.gitlab)
    } else if !header(headers, "X-Hook-UUID").is_empty() {
        bitbucket(headers, body, &secrets.bitbucket_uuid)
    } else if !header(headers, "X-Event-Key").is_empty() {
        bitbucket_server(headers, body, &secrets.bitbucket_server)
    } else {
        Err(WebhookError::UnknownProvider)
    }
}

fn json(body: &[u8]) -> Result<Value, WebhookError> {
    serde_json::from_slice(body).map_err(|e| WebhookError::Payload {
        reason: e.to_string(),
    })
}

fn fail(provider: Provider, reason: &'static str) -> WebhookError {
    WebhookError::Verification { provider, reason }
}

/// go-playground/webhooks github: with a secret, `X-Hub-Signature-256` (`sha256=HEX`) or else
/// `X-Hub-Signature` (`sha1=HEX`) must be the HMAC of the body.
fn github(headers: &[(&str, &str)], body: &[u8], secret: &[u8]) -> Result<Parsed, WebhookError> {
    let p = Provider::GitHub;
    if !secret.is_empty() {
        let s256 = header(headers, "X-Hub-Signature-256");
        let ok = if !s256.is_empty() {
            let hex = s256
                .strip_prefix("sha256=")
                .ok_or(fail(p, "malformed X-Hub-Signature-256"))?;
            verify_hmac::<hmac::Hmac<sha2::Sha256>>(secret, body, hex)
        } else {
            let s1 = header(headers, "X-Hub-Signature");
            if s1.is_empty() {
                return Err(fail(p, "missing X-Hub-Signature-256 header"));
            }
            let hex = s1
                .strip_prefix("sha1=")
                .ok_or(fail(p, "malformed X-Hub-Signature"))?;
            verify_hmac::<hmac::Hmac<sha1::Sha1>>(secret, body, hex)
        };
        if !ok {
            return Err(fail(p, "HMAC verification failed"));
        }
    }
    match header(headers, "X-GitHub-Event") {
        "ping" => Ok(Parsed::Ignored("ping")),
        "push" => {
            let v = json(body)?;
            let revision = parse_revision(str_at(&v, &["ref"]));
            let default_branch = str_at(&v, &["repository", "default_branch"]);
            Ok(Parsed::Push(PushEvent {
                web_urls: non_empty(str_at(&v, &["repository", "html_url"])),
                touched_head: default_branch == revision,
                sha_before: parse_revision(str_at(&v, &["before"])),
                sha_after: parse_revision(str_at(&v, &["after"])),
                changed_files: commit_files(&v),
                revision,
            }))
        }
        other => Err(WebhookError::UnsupportedEvent {
            provider: p,
            event: other.to_owned(),
        }),
    }
}

/// go-playground/webhooks gitlab: with a secret, `X-Gitlab-Token` must equal it.
fn gitlab(headers: &[(&str, &str)], body: &[u8], secret: &[u8]) -> Result<Parsed, WebhookError> {
    let p = Provider::GitLab;
    if !secret.is_empty() && !ct_eq(header(headers, "X-Gitlab-Token").as_bytes(), secret) {
        return Err(fail(p, "X-Gitlab-Token does not match"));
    }
    match header(headers, "X-Gitlab-Event") {
        "Push Hook" | "Tag Push Hook" | "System Hook" => {
            let v = json(body)?;
            // A system hook carries its own event name; only pushes and tag pushes count.
            let kind = str_at(&v, &["object_kind"]);
            if !kind.is_empty() && kind != "push" && kind != "tag_push" {
                return Ok(Parsed::Ignored("gitlab event without a push"));
            }
            let revision = parse_revision(str_at(&v, &["ref"]));
            let default_branch = str_at(&v, &["project", "default_branch"]);
            Ok(Parsed::Push(PushEvent {
                web_urls: non_empty(str_at(&v, &["project", "web_url"])),
                touched_head: default_branch == revision,
                sha_before: parse_revision(str_at(&v, &["before"])),
                sha_after: parse_revision(str_at(&v, &["after"])),
                changed_files: commit_files(&v),
                revision,
            }))
        }
        other => Err(WebhookError::UnsupportedEvent {
            provider: p,
            event: other.to_owned(),
        }),
    }
}

/// go-playground/webhooks bitbucket (Cloud): with a UUID, `X-Hook-UUID` must equal it.
fn bitbucket(headers: &[(&str, &str)], body: &[u8], uuid: &[u8]) -> Result<Parsed, WebhookError> {
    let p = Provider::Bitbucket;
    if !uuid.is_empty() && !ct_eq(header(headers, "X-Hook-UUID").as_bytes(), uuid) {
        return Err(fail(p, "X-Hook-UUID does not match"));
    }
    match header(headers, "X-Event-Key") {
        "repo:push" => {
            let v = json(body)?;
            let mut ev = PushEvent {
                web_urls: non_empty(str_at(&v, &["repository", "links", "html", "href"])),
                // upstream cannot tell from the payload; it lets the controller check
                touched_head: true,
                ..PushEvent::default()
            };
            // the first change only, as upstream
            if let Some(c) = v
                .pointer("/push/changes")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
            {
                ev.revision = str_at(c, &["new", "name"]).to_owned();
                ev.sha_before = str_at(c, &["old", "target", "hash"]).to_owned();
                ev.sha_after = str_at(c, &["new", "target", "hash"]).to_owned();
            }
            Ok(Parsed::Push(ev))
        }
        other => Err(WebhookError::UnsupportedEvent {
            provider: p,
            event: other.to_owned(),
        }),
    }
}

/// go-playground/webhooks bitbucket-server: with a secret, `X-Hub-Signature` (`sha256=HEX`)
/// must be the HMAC-SHA256 of the body.
fn bitbucket_server(
    headers: &[(&str, &str)],
    body: &[u8],
    secret: &[u8],
) -> Result<Parsed, WebhookError> {
    let p = Provider::BitbucketServer;
    let event = header(headers, "X-Event-Key");
    if event == "diagnostics:ping" {
        return Ok(Parsed::Ignored("ping"));
    }
    if !secret.is_empty() {
        let sig = header(headers, "X-Hub-Signature");
        if sig.is_empty() {
            return Err(fail(p, "missing X-Hub-Signature header"));
        }
        let hex = sig
            .strip_prefix("sha256=")
            .ok_or(fail(p, "malformed X-Hub-Signature"))?;
        if !verify_hmac::<hmac::Hmac<sha2::Sha256>>(secret, body, hex) {
            return Err(fail(p, "HMAC verification failed"));
        }
    }
    match event {
        "repo:refs_changed" => {
            let v = json(body)?;
            let mut ev = PushEvent {
                touched_head: true,
                ..PushEvent::default()
            };
            if let Some(links) = v
                .pointer("/repository/links/clone")
                .and_then(Value::as_array)
            {
                for l in links {
                    let name = str_at(l, &["name"]);
                    let href = str_at(l, &["href"]);
                    if (name == "http" || name == "ssh") && !href.is_empty() {
                        ev.web_urls.push(href.to_owned());
                    }
                }
            }
            if let Some(c) = v
                .pointer("/changes")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
            {
                ev.revision = parse_revision(str_at(c, &["ref", "id"]));
                ev.sha_before = str_at(c, &["fromHash"]).to_owned();
                ev.sha_after = str_at(c, &["toHash"]).to_owned();
            }
            Ok(Parsed::Push(ev))
        }
        other => Err(WebhookError::UnsupportedEvent {
            provider: p,
            event: other.to_owned(),
        }),
    }
}

/// `ParseRevision`: the last of at most three `/`-separated parts (`refs/heads/a/b` → `a/b`).
pub fn parse_revision(r: &str) -> String {
    r.splitn(3, '/').last().unwrap_or("").to_owned()
}

/// `sourceRevisionHasChanged`: whether a source at `target_revision` follows the pushed
/// `revision` (HEAD or empty follows the default branch).
pub fn source_revision_has_changed(
    target_revision: &str,
    revision: &str,
    touched_head: bool,
) -> bool {
    let target = parse_revision(target_revision);
    if target == "HEAD" || target.is_empty() {
        return touched_head;
    }
    if target_revision.starts_with("refs/heads/") || target_revision.starts_with("refs/tags/") {
        return revision == target;
    }
    target_revision == revision
}

/// `GetWebURLRegex`: whether `repo_url` (an Application's `repoURL`) names the repository
/// whose web URL a payload gave: optional `http(s)://` or `ssh://`, optional user, optional
/// `ssh.`/`altssh.` host prefix, the same host (any case), optional port, `:` or `/`, the
/// same path (any case), optional `.git`.
pub fn same_repo(web_url: &str, repo_url: &str) -> bool {
    let Some((host, path)) = split_web_url(web_url) else {
        return false;
    };
    let mut rest = repo_url;
    for scheme in ["https://", "http://", "ssh://"] {
        if rest.len() >= scheme.len() && rest[..scheme.len()].eq_ignore_ascii_case(scheme) {
            rest = &rest[scheme.len()..];
            break;
        }
    }
    // optional user@ (upstream's username pattern: word characters, '.', '-', '$')
    if let Some((user, after)) = rest.split_once('@')
        && !user.is_empty()
        && user.len() <= 32
        && user
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-' || c == '$')
    {
        rest = after;
    }
    let lower = rest.to_ascii_lowercase();
    let mut rest_l = lower.as_str();
    let host_l = host.to_ascii_lowercase();
    if !rest_l.starts_with(&host_l) {
        let mut stripped = None;
        for prefix in ["ssh.", "altssh."] {
            if let Some(r) = rest_l.strip_prefix(prefix)
                && r.starts_with(&host_l)
            {
                stripped = Some(r);
            }
        }
        match stripped {
            Some(r) => rest_l = r,
            None => return false,
        }
    }
    rest_l = &rest_l[host_l.len()..];
    if let Some(r) = rest_l.strip_prefix(':') {
        let digits = r.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && r[digits..].starts_with([':', '/']) {
            rest_l = &r[digits..];
        } else {
            rest_l = &rest_l[0..];
        }
    }
    let Some(p) = rest_l.strip_prefix([':', '/']) else {
        return false;
    };
    let path_l = path.to_ascii_lowercase();
    p == path_l || p.strip_suffix(".git") == Some(path_l.as_str())
}

/// Host and path (without the leading `/`) of a web URL, as Go's `url.Parse` gives them.
fn split_web_url(u: &str) -> Option<(&str, &str)> {
    let (_, rest) = u.split_once("://")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    (!host.is_empty()).then_some((host, path))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for k in path {
        match cur.get(k) {
            Some(n) => cur = n,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

fn non_empty(s: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        vec![s.to_owned()]
    }
}

/// added, modified and removed of every commit, in that order per commit (upstream's order).
fn commit_files(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for c in v
        .get("commits")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        for key in ["added", "modified", "removed"] {
            for f in c
                .get(key)
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                if let Some(s) = f.as_str() {
                    out.push(s.to_owned());
                }
            }
        }
    }
    out
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
}

/// Constant-time check of a hex HMAC (`Mac::verify_slice` compares in constant time).
fn verify_hmac<M: Mac + KeyInit>(secret: &[u8], body: &[u8], hex: &str) -> bool {
    let Some(mac) = decode_hex(hex) else {
        return false;
    };
    match <M as KeyInit>::new_from_slice(secret) {
        Ok(mut m) => {
            m.update(body);
            m.verify_slice(&mac).is_ok()
        }
        Err(_) => false,
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn sign256(secret: &[u8], body: &[u8]) -> String {
        let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).expect("key");
        m.update(body);
        format!("sha256={}", hex(&m.finalize().into_bytes()))
    }

    fn sign1(secret: &[u8], body: &[u8]) -> String {
        let mut m = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(secret).expect("key");
        m.update(body);
        format!("sha1={}", hex(&m.finalize().into_bytes()))
    }

    const GITHUB_PUSH: &str = r#"{"ref":"refs/heads/main","before":"aaa","after":"bbb",
      "repository":{"html_url":"https://github.com/org/repo","default_branch":"main"},
      "commits":[{"added":["a.yaml"],"modified":["b/c.yaml"],"removed":["d.yaml"]},
                 {"added":[],"modified":["e.yaml"],"removed":[]}]}"#;

    // argo-cd util/webhook/webhook.go affectedRevisionInfo, case github.PushPayload:
    // html_url, ParseRevision(ref), default_branch == revision, added+modified+removed.
    #[test]
    fn github_push_signed_sha256() {
        let s = WebhookSecrets {
            github: b"shhh".to_vec(),
            ..Default::default()
        };
        let sig = sign256(b"shhh", GITHUB_PUSH.as_bytes());
        let h = [
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", sig.as_str()),
        ];
        let Parsed::Push(ev) = parse(&h, GITHUB_PUSH.as_bytes(), &s).expect("parses") else {
            panic!("not a push")
        };
        assert_eq!(ev.web_urls, ["https://github.com/org/repo"]);
        assert_eq!(ev.revision, "main");
        assert!(ev.touched_head);
        assert_eq!(
            (ev.sha_before.as_str(), ev.sha_after.as_str()),
            ("aaa", "bbb")
        );
        assert_eq!(ev.changed_files, ["a.yaml", "b/c.yaml", "d.yaml", "e.yaml"]);
    }

    #[test]
    fn github_signatures_checked() {
        let s = WebhookSecrets {
            github: b"shhh".to_vec(),
            ..Default::default()
        };
        let body = GITHUB_PUSH.as_bytes();
        let sig1 = sign1(b"shhh", body);
        assert!(
            parse(
                &[("x-github-event", "push"), ("x-hub-signature", &sig1)],
                body,
                &s
            )
            .is_ok()
        );
        let bad = sign256(b"other", body);
        assert!(matches!(
            parse(
                &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &bad)],
                body,
                &s
            ),
            Err(WebhookError::Verification { .. })
        ));
        assert!(matches!(
            parse(&[("X-GitHub-Event", "push")], body, &s),
            Err(WebhookError::Verification { .. })
        ));
        // without a secret, unsigned pushes are accepted (upstream: the secret is optional)
        assert!(
            parse(
                &[("X-GitHub-Event", "push")],
                body,
                &WebhookSecrets::default()
            )
            .is_ok()
        );
        assert_eq!(
            parse(
                &[("X-GitHub-Event", "ping")],
                b"{}",
                &WebhookSecrets::default()
            ),
            Ok(Parsed::Ignored("ping"))
        );
    }

    #[test]
    fn gitlab_token_and_push() {
        let s = WebhookSecrets {
            gitlab: b"tok".to_vec(),
            ..Default::default()
        };
        let body = br#"{"object_kind":"push","ref":"refs/tags/v1","before":"1","after":"2",
          "project":{"web_url":"https://gitlab.com/g/p","default_branch":"main"},
          "commits":[{"added":["x"],"modified":[],"removed":[]}]}"#;
        let h = [
            ("X-Gitlab-Event", "Tag Push Hook"),
            ("X-Gitlab-Token", "tok"),
        ];
        let Parsed::Push(ev) = parse(&h, body, &s).expect("parses") else {
            panic!("not a push")
        };
        assert_eq!(ev.revision, "v1");
        assert!(!ev.touched_head);
        assert_eq!(ev.web_urls, ["https://gitlab.com/g/p"]);
        assert_eq!(ev.changed_files, ["x"]);
        let h = [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "nope")];
        assert!(parse(&h, body, &s).is_err());
    }

    #[test]
    fn bitbucket_cloud_and_server() {
        let s = WebhookSecrets {
            bitbucket_uuid: b"{uuid}".to_vec(),
            bitbucket_server: b"srv".to_vec(),
            ..Default::default()
        };
        let body = br#"{"repository":{"links":{"html":{"href":"https://bitbucket.org/w/r"}}},
          "push":{"changes":[{"new":{"name":"dev","target":{"hash":"n"}},"old":{"target":{"hash":"o"}}}]}}"#;
        let h = [("X-Hook-UUID", "{uuid}"), ("X-Event-Key", "repo:push")];
        let Parsed::Push(ev) = parse(&h, body, &s).expect("parses") else {
            panic!("not a push")
        };
        assert_eq!(ev.revision, "dev");
        assert!(ev.touched_head);
        assert_eq!((ev.sha_before.as_str(), ev.sha_after.as_str()), ("o", "n"));
        let h = [("X-Hook-UUID", "{other}"), ("X-Event-Key", "repo:push")];
        assert!(parse(&h, body, &s).is_err());

        let body = br#"{"repository":{"links":{"clone":[
            {"name":"http","href":"https://bb.example.com/scm/p/r.git"},
            {"name":"ssh","href":"ssh://git@bb.example.com:7999/p/r.git"}]}},
          "changes":[{"ref":{"id":"refs/heads/main"},"fromHash":"a","toHash":"b"}]}"#;
        let sig = sign256(b"srv", body);
        let h = [
            ("X-Event-Key", "repo:refs_changed"),
            ("X-Hub-Signature", sig.as_str()),
        ];
        let Parsed::Push(ev) = parse(&h, body, &s).expect("parses") else {
            panic!("not a push")
        };
        assert_eq!(ev.web_urls.len(), 2);
        assert_eq!(ev.revision, "main");
        let h = [("X-Event-Key", "repo:refs_changed")];
        assert!(parse(&h, body, &s).is_err());
    }

    #[test]
    fn unknown_provider_and_bad_json() {
        assert_eq!(
            parse(&[], b"{}", &WebhookSecrets::default()),
            Err(WebhookError::UnknownProvider)
        );
        assert!(matches!(
            parse(
                &[("X-GitHub-Event", "push")],
                b"{",
                &WebhookSecrets::default()
            ),
            Err(WebhookError::Payload { .. })
        ));
    }

    // argo-cd util/webhook/webhook.go GetWebURLRegex and its tests (webhook_test.go
    // TestGetWebUrlRegex): scheme, user, ssh./altssh. prefix, port, ':' or '/', '.git'.
    #[test]
    fn web_url_matches_repo_url_forms() {
        let w = "https://example.com/org/repo";
        for ok in [
            "https://example.com/org/repo",
            "https://example.com/org/repo.git",
            "http://example.com/org/repo",
            "git@example.com:org/repo",
            "git@example.com:org/repo.git",
            "ssh://git@example.com/org/repo",
            "ssh://git@ssh.example.com:443/org/repo.git",
            "ssh://git@altssh.example.com:443/org/repo.git",
            "https://user@example.com/org/repo",
            "HTTPS://EXAMPLE.COM/ORG/REPO",
            "example.com/org/repo",
        ] {
            assert!(same_repo(w, ok), "{ok}");
        }
        for no in [
            "https://example.com/org/repo-2",
            "https://example.com/org/repo/sub",
            "https://other.com/org/repo",
            "https://example.com.evil/org/repo",
            "https://example.com/org",
        ] {
            assert!(!same_repo(w, no), "{no}");
        }
    }

    // argo-cd util/webhook/webhook.go sourceRevisionHasChanged.
    #[test]
    fn revision_follows() {
        assert!(source_revision_has_changed("HEAD", "main", true));
        assert!(!source_revision_has_changed("", "main", false));
        assert!(source_revision_has_changed("refs/heads/dev", "dev", false));
        assert!(source_revision_has_changed("refs/tags/v1", "v1", false));
        assert!(source_revision_has_changed("dev", "dev", false));
        assert!(!source_revision_has_changed("dev", "main", true));
        assert_eq!(parse_revision("refs/heads/feature/x"), "feature/x");
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..512),
            which in 0usize..5,
            sig in "[a-z0-9=]{0,80}",
        ) {
            let h: Vec<(&str, &str)> = match which {
                0 => vec![("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)],
                1 => vec![("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", &sig)],
                2 => vec![("X-Hook-UUID", &sig), ("X-Event-Key", "repo:push")],
                3 => vec![("X-Event-Key", "repo:refs_changed"), ("X-Hub-Signature", &sig)],
                _ => vec![("X-GitHub-Event", "push")],
            };
            let _ = parse(&h, &body, &WebhookSecrets::default());
            let s = WebhookSecrets { github: b"k".to_vec(), gitlab: b"k".to_vec(),
                bitbucket_uuid: b"k".to_vec(), bitbucket_server: b"k".to_vec() };
            let _ = parse(&h, &body, &s);
        }

        #[test]
        fn arbitrary_json_shapes_never_panic(s in r#"[\[\]{}":,a-z0-9 ]{0,200}"#) {
            let h = [("X-GitHub-Event", "push")];
            let _ = parse(&h, s.as_bytes(), &WebhookSecrets::default());
            let _ = same_repo(&s, &s);
        }
    }
}
