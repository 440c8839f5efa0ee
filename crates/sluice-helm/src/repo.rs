//! Helm chart repositories (pure): an `index.yaml` read, the version of a chart chosen as
//! Helm's `repo.IndexFile.Get` and Argo CD's `helm.Index.GetEntries`/`MaxVersion` do, and
//! the chart's download URL resolved against the repository URL as Helm's
//! `repo.ResolveReferenceURL` does. The HTTP itself is the caller's.
//!
//! - `targetRevision` is an exact version (an entry whose `version` string is equal wins
//!   first) or a Masterminds semver constraint (`1.2.*`, `>=1.0 <2`, `^1.2`, `~1.2.3`); the
//!   highest version satisfying it is chosen; empty means `*`.
//! - Entries whose version is not semver are skipped when matching a constraint.

use serde_json::Value;

/// One chart version of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub name: String,
    pub version: String,
    pub urls: Vec<String>,
    /// `digest`: the hex SHA-256 of the archive, when the index gives it.
    pub digest: Option<String>,
}

/// The largest `index.yaml` read.
pub const MAX_INDEX_BYTES: usize = 32 << 20;

/// `<repoURL>/index.yaml`.
pub fn index_url(repo_url: &str) -> String {
    format!("{}/index.yaml", repo_url.trim_end_matches('/'))
}

/// The entries of `chart` in an `index.yaml`.
pub fn chart_entries(index: &str, chart: &str) -> Result<Vec<IndexEntry>, String> {
    if index.len() > MAX_INDEX_BYTES {
        return Err(format!("index.yaml is larger than {MAX_INDEX_BYTES} bytes"));
    }
    let docs = sluice_core::yaml::load_documents(index, &Default::default())
        .map_err(|e| format!("index.yaml:{e}"))?;
    let v = docs.into_iter().next().map(|d| d.value).unwrap_or_default();
    if !v.is_object() {
        return Err("index.yaml: not a mapping".into());
    }
    let Some(list) = v.get("entries").and_then(|e| e.get(chart)) else {
        return Err(format!("chart {chart:?} not found in the repository index"));
    };
    let Some(list) = list.as_array() else {
        return Err(format!("index.yaml: entries.{chart}: not a list"));
    };
    let s = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(list
        .iter()
        .map(|e| IndexEntry {
            name: s(e, "name").unwrap_or_else(|| chart.to_owned()),
            version: s(e, "version").unwrap_or_default(),
            urls: e
                .get("urls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            digest: s(e, "digest").filter(|d| !d.is_empty()),
        })
        .collect())
}

/// Whether `s` is one semver version (not a constraint).
pub fn is_version(s: &str) -> bool {
    !s.is_empty()
        && !s.contains(['*', 'x', 'X', ' ', '<', '>', '=', '^', '~', '|', ','])
        && sluice_expr::gotmpl::semver::parse(s).is_ok()
}

/// The entry `target_revision` selects: an exact version string first, else the highest
/// version that satisfies it as a constraint.
pub fn select<'a>(
    entries: &'a [IndexEntry],
    chart: &str,
    target_revision: &str,
) -> Result<&'a IndexEntry, String> {
    let rev = target_revision.trim();
    if !rev.is_empty()
        && let Some(e) = entries.iter().find(|e| e.version == rev)
    {
        return Ok(e);
    }
    let constraint = if rev.is_empty() { "*" } else { rev };
    use sluice_expr::gotmpl::semver;
    let mut best: Option<(semver::Version, &IndexEntry)> = None;
    for e in entries {
        let Ok(v) = semver::parse(&e.version) else {
            continue;
        };
        match semver::compare(constraint, &e.version) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(m) => return Err(format!("targetRevision {rev:?}: {m}")),
        }
        if best
            .as_ref()
            .is_none_or(|(b, _)| semver::cmp(&v, b) == std::cmp::Ordering::Greater)
        {
            best = Some((v, e));
        }
    }
    best.map(|(_, e)| e).ok_or_else(|| {
        format!("no version of chart {chart:?} in the repository index matches {constraint:?}")
    })
}

/// A chart URL of the index resolved against the repository URL (Helm's
/// `ResolveReferenceURL`: the base gets a trailing `/`, then RFC 3986 reference resolution).
pub fn resolve_url(repo_url: &str, chart_url: &str) -> String {
    if chart_url.contains("://") {
        return chart_url.to_owned();
    }
    let base = format!("{}/", repo_url.trim_end_matches('/'));
    if chart_url.starts_with("//") {
        let scheme = base.split_once("://").map_or("https", |(s, _)| s);
        return format!("{scheme}:{chart_url}");
    }
    if let Some(abs) = chart_url.strip_prefix('/') {
        let origin = match base.split_once("://") {
            Some((s, rest)) => format!("{s}://{}", rest.split('/').next().unwrap_or("")),
            None => String::new(),
        };
        return format!("{origin}/{abs}");
    }
    let mut out = base;
    let mut rest = chart_url;
    loop {
        if let Some(r) = rest.strip_prefix("./") {
            rest = r;
        } else if let Some(r) = rest.strip_prefix("../") {
            rest = r;
            let trimmed = out.trim_end_matches('/');
            if let Some(i) = trimmed.rfind('/')
                && !trimmed[..i].ends_with('/')
            {
                out.truncate(i + 1);
            }
        } else {
            break;
        }
    }
    out.push_str(rest);
    out
}

/// The host (and port) of an `http(s)://` URL, for `passCredentials`.
pub fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(vs: &[&str]) -> Vec<IndexEntry> {
        vs.iter()
            .map(|v| IndexEntry {
                name: "c".into(),
                version: (*v).into(),
                urls: vec![],
                digest: None,
            })
            .collect()
    }

    // Helm pkg/repo/index.go `IndexFile.Get`: the exact version first, then the first of
    // the sorted (descending) entries that satisfies the constraint: the highest.
    #[test]
    fn versions_as_helm_selects_them() {
        let e = entries(&["1.0.0", "1.2.3", "1.2.10", "2.0.0", "2.1.0-rc.1", "latest"]);
        let pick = |c: &str| select(&e, "c", c).map(|e| e.version.clone());
        assert_eq!(pick("1.2.3").as_deref(), Ok("1.2.3"));
        assert_eq!(pick("1.2.*").as_deref(), Ok("1.2.10"));
        assert_eq!(pick(">=1.0 <2").as_deref(), Ok("1.2.10"));
        assert_eq!(pick("^1.0.0").as_deref(), Ok("1.2.10"));
        assert_eq!(pick("~1.2.0").as_deref(), Ok("1.2.10"));
        assert_eq!(pick("").as_deref(), Ok("2.0.0"));
        assert_eq!(pick("*").as_deref(), Ok("2.0.0"));
        assert_eq!(pick("latest").as_deref(), Ok("latest"));
        assert!(pick("3.x").is_err_and(|m| m.contains("no version")));
    }

    #[test]
    fn index_entries() {
        let idx = "apiVersion: v1\nentries:\n  web:\n  - name: web\n    version: 0.1.0\n    urls: [charts/web-0.1.0.tgz]\n    digest: abc\n";
        let e = chart_entries(idx, "web").expect("parses");
        assert_eq!(e[0].urls, vec!["charts/web-0.1.0.tgz".to_string()]);
        assert_eq!(e[0].digest.as_deref(), Some("abc"));
        assert!(chart_entries(idx, "db").is_err_and(|m| m.contains("not found")));
        assert!(chart_entries("- a", "web").is_err());
        assert!(chart_entries("a: [", "web").is_err());
    }

    // Helm pkg/repo/chartrepo.go ResolveReferenceURL
    #[test]
    fn urls_resolve_against_the_repository() {
        let r = "http://127.0.0.1:8080/charts";
        assert_eq!(
            resolve_url(r, "web-0.1.0.tgz"),
            "http://127.0.0.1:8080/charts/web-0.1.0.tgz"
        );
        assert_eq!(
            resolve_url(&format!("{r}/"), "./a/web.tgz"),
            "http://127.0.0.1:8080/charts/a/web.tgz"
        );
        assert_eq!(
            resolve_url(r, "/x/web.tgz"),
            "http://127.0.0.1:8080/x/web.tgz"
        );
        assert_eq!(resolve_url(r, "https://o/w.tgz"), "https://o/w.tgz");
        assert_eq!(url_host("http://127.0.0.1:8080/charts"), "127.0.0.1:8080");
    }

    proptest::proptest! {
        // any text: an index parses or is an error, never a panic
        #[test]
        fn any_index_is_parsed_or_refused(t in "\\PC{0,200}", c in "[a-z]{1,5}") {
            let _ = chart_entries(&t, &c);
        }

        // any reference: resolution stays a string on the repository's or its own origin
        #[test]
        fn any_reference_resolves(r in "[a-z./:]{0,30}") {
            let u = resolve_url("http://h:1/a/b", &r);
            proptest::prop_assert!(u.starts_with("http://h:1/") || r.contains("://") || r.starts_with("//"));
        }

        #[test]
        fn any_constraint_selects_or_refuses(c in "[0-9.*<>=~^| x-]{0,20}") {
            let e = vec![IndexEntry { name: "c".into(), version: "1.2.3".into(), urls: vec![], digest: None }];
            let _ = select(&e, "c", &c);
        }
    }
}
