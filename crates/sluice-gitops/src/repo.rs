//! Reading a Git tree: the one door through which the generators see repositories.

/// Why a repository could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RepoError(pub String);

/// The repositories the git generator reads, at a revision. Paths are relative to the
/// repository root and `/`-separated. Implementations return only what is inside the
/// repository (no symlink leading out) and bound what they read.
pub trait Repos {
    /// Every directory of the tree (not the root), in lexical walk order
    /// (`filepath.WalkDir`). Hidden directories may be listed: the engine drops them, as
    /// the repo-server does by default.
    fn directories(&self, repo_url: &str, revision: &str) -> Result<Vec<String>, RepoError>;
    /// Every regular file of the tree.
    fn files(&self, repo_url: &str, revision: &str) -> Result<Vec<String>, RepoError>;
    /// The content of one file listed by [`Repos::files`].
    fn read(&self, repo_url: &str, revision: &str, path: &str) -> Result<Vec<u8>, RepoError>;
}

/// No repository at all: every call fails (for ApplicationSets without git generators).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRepos;

impl Repos for NoRepos {
    fn directories(&self, repo_url: &str, _: &str) -> Result<Vec<String>, RepoError> {
        Err(RepoError(format!("repository {repo_url} is not available")))
    }
    fn files(&self, repo_url: &str, _: &str) -> Result<Vec<String>, RepoError> {
        Err(RepoError(format!("repository {repo_url} is not available")))
    }
    fn read(&self, repo_url: &str, _: &str, _: &str) -> Result<Vec<u8>, RepoError> {
        Err(RepoError(format!("repository {repo_url} is not available")))
    }
}

/// Git pathspec matching as `git ls-files -- PATTERN` applies it (fnmatch without
/// FNM_PATHNAME: `*` and `**` also match `/`; `?` one character; `[...]` classes), which is
/// what the repo-server's `GetFiles` lists for the files generator.
pub fn pathspec_match(pattern: &str, path: &str) -> bool {
    // Without wildcards a pathspec names a file or a leading directory.
    if !pattern.contains(['*', '?', '[', '\\']) {
        let dir = pattern.trim_end_matches('/');
        return path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'));
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    glob(&p, &s, true)
}

/// Go's `path.Match` (`*` does not match `/`), used by the directories generator.
/// A malformed pattern matches nothing (upstream logs the error and skips it).
pub fn path_match(pattern: &str, path: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    glob(&p, &s, false)
}

/// Iterative glob with one backtrack point per star (linear in practice, never recursive).
fn glob(p: &[char], s: &[char], star_crosses_slash: bool) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let mut back: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    while pi < p.len() && p[pi] == '*' {
                        pi += 1;
                    }
                    back = Some((pi, si));
                    continue;
                }
                '?' if star_crosses_slash || s[si] != '/' => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(p, pi, s[si]) {
                        if matched && (star_crosses_slash || s[si] != '/') {
                            pi = next;
                            si += 1;
                            continue;
                        }
                    } else {
                        return false;
                    }
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == s[si] => {
                    pi += 2;
                    si += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() => {}
                c if c == s[si] => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                _ => {}
            }
        }
        match back {
            Some((bp, bs)) if star_crosses_slash || s[bs] != '/' => {
                back = Some((bp, bs + 1));
                pi = bp;
                si = bs + 1;
            }
            _ => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A `[...]` class at `p[start]`: whether `c` is in it and the index after it; `None`
/// when the class is not closed.
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = i < p.len() && (p[i] == '^' || p[i] == '!');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = if p[i] == '\\' && i + 1 < p.len() {
            i += 1;
            p[i]
        } else {
            p[i]
        };
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            let hi = p[i + 2];
            if lo <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_match() {
        assert!(path_match("apps/*", "apps/a"));
        assert!(!path_match("apps/*", "apps/a/b"));
        assert!(!path_match("apps/*", "apps"));
        assert!(path_match("apps/*/overlays", "apps/x/overlays"));
        assert!(path_match("a?c", "abc"));
        assert!(path_match("[a-c]x", "bx"));
        assert!(!path_match("[^a-c]x", "bx"));
        assert!(!path_match("[abc", "a"));
    }

    #[test]
    fn pathspec_star_crosses_slashes() {
        assert!(pathspec_match(
            "cluster-config/**/config.json",
            "cluster-config/a/b/config.json"
        ));
        assert!(pathspec_match("*.json", "a/b.json"));
        assert!(!pathspec_match("*.yaml", "a/b.json"));
        assert!(pathspec_match("cfg", "cfg/a/b.json"));
        assert!(pathspec_match("cfg/a.json", "cfg/a.json"));
        assert!(!pathspec_match("cfg", "cfgx/a.json"));
    }
}
