//! `git_bench REPO CACHE_DIR REVISION`: one cold mirror fetch of REPO into CACHE_DIR, the
//! revision resolved, the whole tree walked and every file read; prints
//! `resolve_ms walk_read_ms files bytes sha` on one line. bench/git.sh runs it beside the
//! `git` CLI doing the same work.

use std::time::Instant;

use sluice_git::{CacheOptions, Credentials, RepoCache};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, repo, dir, rev] = args.as_slice() else {
        return Err("usage: git_bench REPO CACHE_DIR REVISION".into());
    };
    let cache = RepoCache::new(CacheOptions::new(dir))?;
    let t = Instant::now();
    let sha = cache.resolve(repo, rev, &Credentials::default())?;
    let resolve = t.elapsed();
    let t = Instant::now();
    let tree = cache.tree(repo, &sha)?;
    let (mut files, mut bytes) = (0usize, 0usize);
    for e in tree.walk("")? {
        if e.kind.is_file() {
            bytes += tree.read(&e.path)?.map_or(0, |b| b.len());
            files += 1;
        }
    }
    let walk = t.elapsed();
    println!(
        "{:.1} {:.1} {files} {bytes} {sha}",
        resolve.as_secs_f64() * 1e3,
        walk.as_secs_f64() * 1e3
    );
    Ok(())
}
