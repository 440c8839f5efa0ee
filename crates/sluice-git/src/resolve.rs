//! Revision resolution against the refs a remote advertises (an ls-remote), as Argo CD's
//! `nativeGitClient.LsRemote` (argo-cd `util/git/client.go`).

/// One ref a remote advertised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    /// Full name: `HEAD`, `refs/heads/main`, `refs/tags/v1`...
    pub name: String,
    /// The object the ref points to (for an annotated tag: the tag object).
    pub object: String,
    /// For a symbolic ref (`HEAD`): the ref it points to.
    pub target: Option<String>,
    /// For an annotated tag: the object it points to (normally a commit).
    pub peeled: Option<String>,
}

/// go-git's `ReferenceName.Short()`: `refs/heads/`, `refs/tags/`, `refs/remotes/` removed.
fn short(name: &str) -> &str {
    for p in ["refs/heads/", "refs/tags/", "refs/remotes/"] {
        if let Some(s) = name.strip_prefix(p) {
            return s;
        }
    }
    name
}

pub(crate) fn is_commit_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `IsTruncatedCommitSHA`: 7 to 40 hex digits.
pub(crate) fn is_truncated_sha(s: &str) -> bool {
    (7..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What a revision names, before looking at the object database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// An object id from the refs (for an annotated tag, the tag object), to be peeled.
    Object(String),
    /// A full or abbreviated SHA to be looked up in the object database.
    Sha(String),
}

/// `LsRemote`: an empty revision is `HEAD`; a full SHA is itself; otherwise the first ref
/// whose full or short name is the revision (a symbolic ref through its target); otherwise a
/// 7-40 digit hex string is an abbreviated SHA; otherwise `None` ("unable to resolve").
pub fn resolve_revision(refs: &[RemoteRef], revision: &str) -> Option<Resolved> {
    let revision = if revision.is_empty() {
        "HEAD"
    } else {
        revision
    };
    if is_commit_sha(revision) {
        return Some(Resolved::Sha(revision.to_ascii_lowercase()));
    }
    let mut to_resolve: Option<&str> = None;
    for r in refs {
        if r.name == revision || short(&r.name) == revision {
            match &r.target {
                None => return Some(Resolved::Object(r.object.clone())),
                Some(t) => {
                    to_resolve = Some(t);
                }
            }
        }
    }
    if let Some(t) = to_resolve {
        if let Some(r) = refs.iter().find(|r| r.name == t && r.target.is_none()) {
            return Some(Resolved::Object(r.object.clone()));
        }
        // the symbolic ref's own object as advertised
        if let Some(r) = refs
            .iter()
            .find(|r| r.name == revision || short(&r.name) == revision)
        {
            return Some(Resolved::Object(r.object.clone()));
        }
    }
    if is_truncated_sha(revision) {
        return Some(Resolved::Sha(revision.to_ascii_lowercase()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, object: &str, target: Option<&str>) -> RemoteRef {
        RemoteRef {
            name: name.into(),
            object: object.into(),
            target: target.map(Into::into),
            peeled: None,
        }
    }

    // argo-cd util/git/client.go LsRemote: HEAD through its target, branch before tag of
    // the same name (advertised order), refs/... names, full and truncated SHAs.
    #[test]
    fn resolves_like_ls_remote() {
        let refs = [
            r("HEAD", "aaa", Some("refs/heads/main")),
            r("refs/heads/main", "aaa", None),
            r("refs/heads/same", "bbb", None),
            r("refs/tags/same", "ccc", None),
            r("refs/tags/v1", "ddd", None),
            r("refs/pull/1/head", "eee", None),
        ];
        let obj = |s: &str| Some(Resolved::Object(s.into()));
        assert_eq!(resolve_revision(&refs, ""), obj("aaa"));
        assert_eq!(resolve_revision(&refs, "HEAD"), obj("aaa"));
        assert_eq!(resolve_revision(&refs, "main"), obj("aaa"));
        assert_eq!(resolve_revision(&refs, "same"), obj("bbb"));
        assert_eq!(resolve_revision(&refs, "refs/tags/same"), obj("ccc"));
        assert_eq!(resolve_revision(&refs, "v1"), obj("ddd"));
        assert_eq!(resolve_revision(&refs, "refs/pull/1/head"), obj("eee"));
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            resolve_revision(&refs, sha),
            Some(Resolved::Sha(sha.into()))
        );
        assert_eq!(
            resolve_revision(&refs, "abcdef1"),
            Some(Resolved::Sha("abcdef1".into()))
        );
        assert_eq!(resolve_revision(&refs, "nope"), None);
        assert_eq!(resolve_revision(&refs, "abc"), None);
    }
}
