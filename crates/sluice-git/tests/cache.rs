//! The cache against repositories the tests build with the `git` CLI; expected SHAs come
//! from `git rev-parse` on the same repository.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use sluice_git::{CacheOptions, Credentials, EntryKind, GitError, GitRepos, RepoCache};
use sluice_gitops::Repos as _;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "sluice-git-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn write(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// A repository with `main` (2 commits), `dev`, a lightweight and an annotated tag.
fn sample_repo() -> PathBuf {
    let d = tmp("origin");
    git(&d, &["init", "-q", "-b", "main"]);
    write(&d, "apps/a/config.json", r#"{"name":"a"}"#);
    write(&d, "apps/b/config.json", r#"{"name":"b"}"#);
    write(&d, "README.md", "v1\n");
    git(&d, &["add", "-A"]);
    git(&d, &["commit", "-q", "-m", "one"]);
    git(&d, &["tag", "light"]);
    git(&d, &["tag", "-a", "v1.0.0", "-m", "annotated"]);
    write(&d, "README.md", "v2\n");
    std::os::unix::fs::symlink("apps/a/config.json", d.join("link.json")).expect("symlink");
    std::os::unix::fs::symlink("../../outside", d.join("apps/escape")).expect("symlink");
    git(&d, &["add", "-A"]);
    git(&d, &["commit", "-q", "-m", "two"]);
    git(&d, &["branch", "dev", "HEAD~1"]);
    d
}

fn cache(name: &str) -> RepoCache {
    RepoCache::new(CacheOptions::new(tmp(name))).expect("cache")
}

#[test]
fn resolves_revisions_as_git_does() {
    let origin = sample_repo();
    let url = origin.to_str().expect("utf8").to_owned();
    let c = cache("resolve");
    let none = Credentials::default();
    for (rev, spec) in [
        ("HEAD", "HEAD"),
        ("", "HEAD"),
        ("main", "main"),
        ("refs/heads/main", "main"),
        ("dev", "dev"),
        ("light", "light^{commit}"),
        ("v1.0.0", "v1.0.0^{commit}"),
        ("refs/tags/v1.0.0", "v1.0.0^{commit}"),
    ] {
        let want = git(&origin, &["rev-parse", spec]);
        assert_eq!(c.resolve(&url, rev, &none).expect(rev), want, "{rev}");
    }
    // full and abbreviated SHAs
    let dev = git(&origin, &["rev-parse", "dev"]);
    assert_eq!(c.resolve(&url, &dev, &none).expect("sha"), dev);
    assert_eq!(c.resolve(&url, &dev[..8], &none).expect("short"), dev);
    // file:// URLs are the same repository
    let file_url = format!("file://{url}");
    assert_eq!(c.resolve(&file_url, "dev", &none).expect("file://"), dev);
    assert_eq!(
        std::fs::read_dir(&c.options().dir).expect("dir").count(),
        1,
        "a path and its file:// URL share one mirror"
    );
    // unknown revisions name the repository and the revision
    let e = c
        .resolve(&url, "no-such-branch", &none)
        .expect_err("unknown");
    assert!(matches!(e, GitError::UnknownRevision { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains(&url) && msg.contains("no-such-branch"),
        "{msg}"
    );
}

#[test]
fn new_commits_are_fetched_and_old_trees_stay() {
    let origin = sample_repo();
    let url = origin.to_str().expect("utf8").to_owned();
    let mut opts = CacheOptions::new(tmp("refetch"));
    opts.fetch_interval = std::time::Duration::from_secs(3600);
    let c = RepoCache::new(opts).expect("cache");
    let none = Credentials::default();
    let first = c.resolve(&url, "main", &none).expect("main");
    let old = c.tree(&url, &first).expect("tree");
    write(&origin, "README.md", "v3\n");
    git(&origin, &["commit", "-qam", "three"]);
    // within the fetch interval the old refs answer; invalidate (a webhook) fetches
    assert_eq!(c.resolve(&url, "main", &none).expect("main"), first);
    c.invalidate(&url);
    let second = c.resolve(&url, "main", &none).expect("main");
    assert_eq!(second, git(&origin, &["rev-parse", "main"]));
    assert_ne!(first, second);
    // the tree of the first commit still reads its own content, not the work tree's
    assert_eq!(old.read("README.md").expect("read"), Some(b"v2\n".to_vec()));
    let new = c.tree(&url, &second).expect("tree");
    assert_eq!(new.read("README.md").expect("read"), Some(b"v3\n".to_vec()));
    // a SHA the mirror lacks triggers a fetch even within the interval
    write(&origin, "README.md", "v4\n");
    git(&origin, &["commit", "-qam", "four"]);
    let four = git(&origin, &["rev-parse", "HEAD"]);
    assert_eq!(c.resolve(&url, &four, &none).expect("sha"), four);
}

#[test]
fn tree_reads_lists_and_walks_from_the_object_database() {
    let origin = sample_repo();
    let url = origin.to_str().expect("utf8").to_owned();
    let c = cache("tree");
    let sha = c
        .resolve(&url, "main", &Credentials::default())
        .expect("main");
    // the work tree changes after the commit; the tree does not see it
    write(&origin, "apps/a/config.json", "dirty");
    let t = c.tree(&url, &sha).expect("tree");
    assert_eq!(t.commit(), sha);
    assert_eq!(
        t.read("apps/a/config.json").expect("read"),
        Some(br#"{"name":"a"}"#.to_vec())
    );
    assert_eq!(
        t.read("./apps//a/config.json")
            .expect("read")
            .map(|v| v.len()),
        Some(12)
    );
    assert_eq!(t.read("missing").expect("read"), None);
    assert_eq!(t.read("apps").expect("a directory"), None);
    // a symlink inside the repository is followed; one leading out is an error
    assert_eq!(
        t.read("link.json").expect("read"),
        Some(br#"{"name":"a"}"#.to_vec())
    );
    let e = t.read("apps/escape").expect_err("escape");
    assert!(e.to_string().contains("outside the repository"), "{e}");
    assert!(t.read("../x").is_err());
    let root = t.list_dir("").expect("list").expect("root");
    let names: Vec<_> = root.iter().map(|e| (e.path.as_str(), e.kind)).collect();
    assert_eq!(
        names,
        [
            ("README.md", EntryKind::File),
            ("apps", EntryKind::Dir),
            ("link.json", EntryKind::Symlink)
        ]
    );
    let walk: Vec<_> = t
        .walk("")
        .expect("walk")
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(
        walk,
        [
            "README.md",
            "apps",
            "apps/a",
            "apps/a/config.json",
            "apps/b",
            "apps/b/config.json",
            "apps/escape",
            "link.json"
        ]
    );
    let sub: Vec<_> = t
        .walk("apps/b")
        .expect("walk")
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(sub, ["apps/b/config.json"]);
    // git ls-tree agrees on the files
    let mut ls: Vec<String> = git(&origin, &["ls-tree", "-r", "--name-only", &sha])
        .lines()
        .map(str::to_owned)
        .collect();
    ls.sort();
    let mut files: Vec<String> = t
        .walk("")
        .expect("walk")
        .into_iter()
        .filter(|e| e.kind != EntryKind::Dir)
        .map(|e| e.path)
        .collect();
    files.sort();
    assert_eq!(files, ls);
}

#[test]
fn unsupported_transports_are_refused_by_name() {
    let c = cache("transport");
    // https, http, ssh, scp-style and git:// are fetched (tests/network.rs); others are not
    for url in ["ftp://example.com/repo.git", "svn://example.com/repo"] {
        let e = c
            .resolve(url, "main", &Credentials::default())
            .expect_err(url);
        assert!(
            matches!(e, GitError::UnsupportedTransport { .. }),
            "{url}: {e}"
        );
        assert!(e.to_string().contains(url), "{e}");
        assert!(e.to_string().contains("URLs are not supported"), "{e}");
    }
    let e = c
        .resolve("/no/such/dir", "main", &Credentials::default())
        .expect_err("missing");
    assert!(e.to_string().contains("/no/such/dir"), "{e}");
}

#[test]
fn cache_is_bounded_least_recently_used_first() {
    let a = sample_repo();
    let b = sample_repo();
    let mut opts = CacheOptions::new(tmp("evict"));
    opts.max_bytes = 1; // any second repository evicts the first
    let c = RepoCache::new(opts).expect("cache");
    let none = Credentials::default();
    let ua = a.to_str().expect("utf8");
    let ub = b.to_str().expect("utf8");
    c.resolve(ua, "main", &none).expect("a");
    let one = c.disk_usage();
    assert!(one > 0);
    c.resolve(ub, "main", &none).expect("b");
    // a was evicted, b (in use) kept
    assert!(c.disk_usage() <= one * 2);
    let dirs = std::fs::read_dir(&c.options().dir).expect("dir").count();
    assert_eq!(dirs, 1);
    // a comes back on demand
    assert_eq!(
        c.resolve(ua, "main", &none).expect("a again"),
        git(&a, &["rev-parse", "main"])
    );
}

#[test]
fn concurrent_readers_share_one_cache() {
    let origin = sample_repo();
    let url = origin.to_str().expect("utf8").to_owned();
    let c = Arc::new(cache("threads"));
    let want = git(&origin, &["rev-parse", "main"]);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            let url = url.clone();
            std::thread::spawn(move || {
                let sha = c
                    .resolve(&url, "main", &Credentials::default())
                    .expect("resolve");
                let t = c.tree(&url, &sha).expect("tree");
                (sha, t.read("README.md").expect("read"))
            })
        })
        .collect();
    for h in handles {
        let (sha, readme) = h.join().expect("thread");
        assert_eq!(sha, want);
        assert_eq!(readme, Some(b"v2\n".to_vec()));
    }
}

#[test]
fn git_repos_serves_the_generators() {
    let origin = sample_repo();
    let url = format!("file://{}", origin.to_str().expect("utf8"));
    let c = Arc::new(cache("repos"));
    let r = GitRepos::new(c);
    assert_eq!(
        r.directories(&url, "HEAD").expect("dirs"),
        ["apps", "apps/a", "apps/b"]
    );
    // dev is the first commit: no symlinks there
    assert_eq!(
        r.files(&url, "dev").expect("files"),
        ["README.md", "apps/a/config.json", "apps/b/config.json"]
    );
    assert_eq!(r.read(&url, "dev", "README.md").expect("read"), b"v1\n");
    let e = r.read(&url, "dev", "nope").expect_err("missing");
    assert!(e.to_string().contains("nope"), "{e}");
}

/// The Application controller's view: a revision resolves to its commit SHA (what
/// `status.sync.revision` reports) and the tree of that commit, listed sorted, symlinked
/// directories inside the repository read as directories, links leading out unreadable.
#[test]
fn git_sources_resolve_to_commit_trees() {
    use sluice_source::Sources as _;
    let origin = sample_repo();
    let url = format!("file://{}", origin.display());
    let s = sluice_git::GitSources::new(Arc::new(cache("sources")));
    let r = s.resolve(&url, "HEAD").expect("HEAD");
    assert_eq!(r.revision, git(&origin, &["rev-parse", "HEAD"]));
    assert_eq!(r.tree.read("README.md").as_deref(), Some(&b"v2\n"[..]));
    assert_eq!(
        r.tree.read("link.json").as_deref(),
        Some(&br#"{"name":"a"}"#[..])
    );
    assert_eq!(r.tree.read("apps/escape"), None);
    let names: Vec<(String, bool)> = r
        .tree
        .list_dir("")
        .expect("root")
        .into_iter()
        .map(|e| (e.name, e.is_dir))
        .collect();
    assert_eq!(
        names,
        [
            ("README.md".to_owned(), false),
            ("apps".to_owned(), true),
            ("link.json".to_owned(), false)
        ]
    );
    // an older revision reads its own tree, whatever the branch says now
    let dev = s.resolve(&url, "dev").expect("dev");
    assert_eq!(dev.revision, git(&origin, &["rev-parse", "dev"]));
    assert_eq!(dev.tree.read("README.md").as_deref(), Some(&b"v1\n"[..]));
    // a revision that does not exist is a clear error naming the repository
    let e = s.resolve(&url, "no-such-branch").expect_err("unknown");
    assert!(
        e.contains("unable to resolve 'no-such-branch' to a commit SHA") && e.contains(&url),
        "{e}"
    );
}
