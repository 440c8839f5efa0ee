//! Loading a chart directory as Helm's `loader.LoadDir` does: `.helmignore` (helm/helm
//! `internal/ignore`: `filepath.Match` patterns, `!` negation, `/`-suffixed directory
//! patterns, and the built-in `templates/.?*`), `Chart.yaml`, `values.yaml`,
//! `values.schema.json`, `templates/`, `crds/`, `charts/` (unpacked dependencies) and every
//! other file as `.Files`.

use std::path::Path;

use serde_json::Value;

use crate::Error;
use crate::fs::FileSystem;

/// Nesting of dependencies (`charts/x/charts/y/...`).
pub const MAX_CHART_DEPTH: usize = 16;
/// Files in one chart, dependencies included.
pub const MAX_CHART_FILES: usize = 20_000;

#[derive(Debug, Clone)]
pub struct Chart {
    /// `Chart.yaml` as loaded.
    pub metadata: serde_json::Map<String, Value>,
    /// `values.yaml` (an empty map when absent).
    pub values: serde_json::Map<String, Value>,
    pub schema: Option<Vec<u8>>,
    /// `templates/...` files: path relative to the chart, text.
    pub templates: Vec<(String, String)>,
    /// Every other file (not Chart.yaml, values.yaml, templates/, charts/).
    pub files: Vec<(String, Vec<u8>)>,
    pub dependencies: Vec<Chart>,
}

impl Chart {
    pub fn name(&self) -> String {
        self.metadata
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }
    pub fn is_library(&self) -> bool {
        self.metadata.get("type").and_then(Value::as_str) == Some("library")
    }
    /// `crds/` files of this chart.
    pub fn crds(&self) -> impl Iterator<Item = &(String, Vec<u8>)> {
        self.files.iter().filter(|(p, _)| p.starts_with("crds/"))
    }
}

/// Go's `filepath.Match` for one path element pattern.
pub fn glob_match(pat: &str, name: &str) -> bool {
    fn rec(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| !n[..i].contains(&'/') && rec(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && n[0] != '/' && rec(&p[1..], &n[1..]),
            Some('[') => {
                let Some(end) = p.iter().position(|c| *c == ']') else {
                    return false;
                };
                if n.is_empty() {
                    return false;
                }
                let class = &p[1..end];
                let (neg, class) = match class.first() {
                    Some('^') | Some('!') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        if class[i] <= n[0] && n[0] <= class[i + 2] {
                            hit = true;
                        }
                        i += 3;
                    } else {
                        if class[i] == n[0] {
                            hit = true;
                        }
                        i += 1;
                    }
                }
                hit != neg && rec(&p[end + 1..], &n[1..])
            }
            Some('\\') if p.len() > 1 => !n.is_empty() && n[0] == p[1] && rec(&p[2..], &n[1..]),
            Some(c) => !n.is_empty() && n[0] == *c && rec(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    if p.len() > 256 {
        return false;
    }
    rec(&p, &n)
}

struct Rule {
    pat: String,
    negate: bool,
    dir_only: bool,
}

/// `.helmignore` rules.
pub struct Ignore {
    rules: Vec<Rule>,
}

impl Ignore {
    pub fn parse(text: &str) -> Ignore {
        let mut rules = vec![Rule {
            pat: "templates/.?*".into(),
            negate: false,
            dir_only: false,
        }];
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let (negate, l) = match l.strip_prefix('!') {
                Some(r) => (true, r),
                None => (false, l),
            };
            let (dir_only, l) = match l.strip_suffix('/') {
                Some(r) => (true, r),
                None => (false, l),
            };
            rules.push(Rule {
                pat: l.trim_start_matches('/').to_owned(),
                negate,
                dir_only,
            });
        }
        Ignore { rules }
    }

    /// Whether the chart-relative `path` is ignored.
    pub fn ignored(&self, path: &str, is_dir: bool) -> bool {
        if path == "." || path.is_empty() {
            return false;
        }
        let base = path.rsplit('/').next().unwrap_or(path);
        for r in &self.rules {
            if r.dir_only && !is_dir {
                continue;
            }
            let hit = if r.pat.contains('/') {
                glob_match(&r.pat, path)
            } else {
                glob_match(&r.pat, base)
            };
            // Helm: the first matching rule decides; a negated rule that matches keeps it
            if r.negate {
                if hit {
                    return false;
                }
                continue;
            }
            if hit {
                return true;
            }
        }
        false
    }
}

fn parse_yaml_map(text: &str, file: &str) -> Result<serde_json::Map<String, Value>, Error> {
    let opts = sluice_core::yaml::Options {
        last_key_wins: true,
        ..Default::default()
    };
    let docs = sluice_core::yaml::load_documents_with(text, &opts)
        .map_err(|e| Error::Load(format!("{file}: {e}")))?;
    match docs.into_iter().next().map(|d| d.value) {
        None | Some(Value::Null) => Ok(serde_json::Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(Error::Load(format!("{file}: not a YAML mapping"))),
    }
}

/// Bytes a packaged chart may decompress to (a gzip bomb stops here).
pub const MAX_ARCHIVE_BYTES: u64 = 64 * 1024 * 1024;

/// Loads the chart at `path`: a directory, or a packaged chart (`.tgz`).
pub fn load_chart(fs: &dyn FileSystem, path: &Path) -> Result<Chart, Error> {
    if !fs.is_dir(path) {
        let data = fs
            .read(path)
            .map_err(|e| Error::Load(format!("{}: {e}", path.display())))?;
        return load_archive(&data, 0);
    }
    let ignore = match fs.read(&path.join(".helmignore")) {
        Ok(b) => Ignore::parse(&String::from_utf8_lossy(&b)),
        Err(_) => Ignore::parse(""),
    };
    let mut all: Vec<(String, Vec<u8>)> = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let abs = if rel.is_empty() {
            path.to_path_buf()
        } else {
            path.join(&rel)
        };
        let entries = fs
            .list(&abs)
            .map_err(|e| Error::Load(format!("{}: {e}", abs.display())))?;
        for (name, is_dir) in entries {
            let p = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if ignore.ignored(&p, is_dir) {
                continue;
            }
            if is_dir {
                if p.matches('/').count() > 4 * MAX_CHART_DEPTH {
                    return Err(Error::Load(format!("{p}: directories nest too deep")));
                }
                stack.push(p);
                continue;
            }
            if all.len() >= MAX_CHART_FILES {
                return Err(Error::Load(format!(
                    "chart has more than {MAX_CHART_FILES} files"
                )));
            }
            let data = fs
                .read(&path.join(&p))
                .map_err(|e| Error::Load(format!("{p}: {e}")))?;
            all.push((p, data));
        }
    }
    build(all, &path.display().to_string(), 0)
}

/// A packaged chart: gzip of a tar whose entries sit under one top directory (Helm's
/// `loader.LoadArchiveFiles`). Entries that are absolute, climb out with `..`, or are links
/// are refused; other non-regular entries are skipped, as Helm does.
pub fn load_archive(data: &[u8], depth: usize) -> Result<Chart, Error> {
    use std::io::Read as _;
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(data)
        .take(MAX_ARCHIVE_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(|e| Error::Load(format!("chart archive: not a gzip file: {e}")))?;
    if raw.len() as u64 > MAX_ARCHIVE_BYTES {
        return Err(Error::Load(format!(
            "chart archive decompresses to more than {MAX_ARCHIVE_BYTES} bytes"
        )));
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut long_name: Option<String> = None;
    let mut off = 0usize;
    while off + 512 <= raw.len() {
        let h = &raw[off..off + 512];
        if h.iter().all(|b| *b == 0) {
            break;
        }
        let field = |a: usize, b: usize| -> String {
            let f = &h[a..b];
            let end = f.iter().position(|c| *c == 0).unwrap_or(f.len());
            String::from_utf8_lossy(&f[..end]).into_owned()
        };
        let size_text = field(124, 136);
        let size = u64::from_str_radix(size_text.trim(), 8)
            .map_err(|_| Error::Load(format!("chart archive: bad entry size {size_text:?}")))?;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let typeflag = h[156];
        let prefix = field(345, 500);
        let mut name = field(0, 100);
        if !prefix.is_empty() && &h[257..262] == b"ustar" {
            name = format!("{prefix}/{name}");
        }
        let body_start = off + 512;
        let body_end = body_start
            .checked_add(size)
            .filter(|e| *e <= raw.len())
            .ok_or_else(|| Error::Load("chart archive: truncated entry".into()))?;
        let body = &raw[body_start..body_end];
        off = body_start + size.div_ceil(512) * 512;
        match typeflag {
            b'L' => {
                let end = body.iter().position(|c| *c == 0).unwrap_or(body.len());
                long_name = Some(String::from_utf8_lossy(&body[..end]).into_owned());
                continue;
            }
            b'x' => {
                // pax: `N path=...\n` records
                let text = String::from_utf8_lossy(body);
                for rec in text.split('\n') {
                    if let Some((_, kv)) = rec.split_once(' ')
                        && let Some(p) = kv.strip_prefix("path=")
                    {
                        long_name = Some(p.to_owned());
                    }
                }
                continue;
            }
            b'g' => continue,
            _ => {}
        }
        if let Some(l) = long_name.take() {
            name = l;
        }
        if typeflag == b'1' || typeflag == b'2' {
            return Err(Error::Load(format!(
                "chart archive: {name}: links are not allowed in a chart"
            )));
        }
        if typeflag != b'0' && typeflag != 0 && typeflag != b'7' {
            continue;
        }
        if name.starts_with('/') {
            return Err(Error::Load(format!(
                "chart archive: {name}: absolute paths are not allowed"
            )));
        }
        // strip the top directory, then refuse any way out of the chart
        let parts: Vec<&str> = name
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        if parts.contains(&"..") {
            return Err(Error::Load(format!(
                "chart archive: {name}: chart illegally references parent directory"
            )));
        }
        if parts.len() < 2 {
            continue;
        }
        if files.len() >= MAX_CHART_FILES {
            return Err(Error::Load(format!(
                "chart has more than {MAX_CHART_FILES} files"
            )));
        }
        files.push((parts[1..].join("/"), body.to_vec()));
    }
    // the archive's .helmignore was applied when it was packaged; apply it again as Helm does
    let ignore = files
        .iter()
        .find(|(p, _)| p == ".helmignore")
        .map(|(_, d)| Ignore::parse(&String::from_utf8_lossy(d)))
        .unwrap_or_else(|| Ignore::parse(""));
    files.retain(|(p, _)| !ignore.ignored(p, false));
    build(files, "chart archive", depth)
}

/// A `null` in a chart's own values.yaml is no default at all: real Helm (v4.3, through
/// helm-sdkpy) renders `.Values` without those keys, at any depth of maps (not inside
/// lists), in the chart and in its dependencies, and a parent's `sub: {x: null}` does not
/// delete the dependency's default `x` (a user's `null` still does). Found by the
/// differential tests (sluice-helm tests/fuzz_classes.rs "null-defaults").
fn drop_null_defaults(m: &mut serde_json::Map<String, Value>, depth: usize) {
    if depth > 256 {
        return;
    }
    m.retain(|_, v| !v.is_null());
    for v in m.values_mut() {
        if let Value::Object(o) = v {
            drop_null_defaults(o, depth + 1);
        }
    }
}

/// A chart from its files (paths relative to the chart): Chart.yaml, values, templates,
/// `charts/<name>/...` and `charts/*.tgz` dependencies, the rest as `.Files`.
fn build(all: Vec<(String, Vec<u8>)>, what: &str, depth: usize) -> Result<Chart, Error> {
    if depth > MAX_CHART_DEPTH {
        return Err(Error::Load(format!(
            "{what}: dependencies nest deeper than {MAX_CHART_DEPTH} levels"
        )));
    }
    let mut all = all;
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut chart = Chart {
        metadata: serde_json::Map::new(),
        values: serde_json::Map::new(),
        schema: None,
        templates: Vec::new(),
        files: Vec::new(),
        dependencies: Vec::new(),
    };
    let mut has_chart_yaml = false;
    let mut sub_dirs: std::collections::BTreeMap<String, Vec<(String, Vec<u8>)>> =
        Default::default();
    let mut archives: Vec<(String, Vec<u8>)> = Vec::new();
    for (path, data) in all {
        if let Some(rest) = path.strip_prefix("charts/") {
            match rest.split_once('/') {
                Some((name, inner)) => sub_dirs
                    .entry(name.to_owned())
                    .or_default()
                    .push((inner.to_owned(), data)),
                None if rest.ends_with(".tgz") || rest.ends_with(".tar.gz") => {
                    archives.push((path, data));
                }
                None => chart.files.push((path, data)),
            }
            continue;
        }
        match path.as_str() {
            "Chart.yaml" => {
                has_chart_yaml = true;
                chart.metadata = parse_yaml_map(&String::from_utf8_lossy(&data), "Chart.yaml")?;
            }
            "values.yaml" => {
                chart.values = parse_yaml_map(&String::from_utf8_lossy(&data), "values.yaml")?;
                drop_null_defaults(&mut chart.values, 0);
            }
            "values.schema.json" => chart.schema = Some(data),
            p if p.starts_with("templates/") => {
                chart
                    .templates
                    .push((path.clone(), String::from_utf8_lossy(&data).into_owned()));
            }
            _ => chart.files.push((path, data)),
        }
    }
    if !has_chart_yaml {
        return Err(Error::Load(format!("{what}: Chart.yaml file is missing")));
    }
    if chart.name().is_empty() {
        return Err(Error::Load(
            "validation: chart.metadata.name is required".into(),
        ));
    }
    for (name, files) in sub_dirs {
        chart
            .dependencies
            .push(build(files, &format!("{what}/charts/{name}"), depth + 1)?);
    }
    for (path, data) in archives {
        chart
            .dependencies
            .push(load_archive(&data, depth + 1).map_err(|e| Error::Load(format!("{path}: {e}")))?);
    }
    Ok(chart)
}
