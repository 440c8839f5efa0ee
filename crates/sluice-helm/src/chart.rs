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

/// Loads the chart directory `dir`.
pub fn load_chart(fs: &dyn FileSystem, dir: &Path) -> Result<Chart, Error> {
    let mut count = 0;
    load_at(fs, dir, 0, &mut count)
}

fn load_at(
    fs: &dyn FileSystem,
    dir: &Path,
    depth: usize,
    count: &mut usize,
) -> Result<Chart, Error> {
    if depth > MAX_CHART_DEPTH {
        return Err(Error::Load(format!(
            "{}: dependencies nest deeper than {MAX_CHART_DEPTH} levels",
            dir.display()
        )));
    }
    if !fs.is_dir(dir) {
        return Err(Error::Load(format!(
            "{}: not a chart directory",
            dir.display()
        )));
    }
    let ignore = match fs.read(&dir.join(".helmignore")) {
        Ok(b) => Ignore::parse(&String::from_utf8_lossy(&b)),
        Err(_) => Ignore::parse(""),
    };
    let mut all: Vec<(String, Vec<u8>)> = Vec::new();
    let mut dep_dirs: Vec<String> = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let abs = if rel.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(&rel)
        };
        let entries = fs
            .list(&abs)
            .map_err(|e| Error::Load(format!("{}: {e}", abs.display())))?;
        for (name, is_dir) in entries {
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if ignore.ignored(&path, is_dir) {
                continue;
            }
            if is_dir {
                if rel == "charts" {
                    dep_dirs.push(path);
                } else {
                    stack.push(path);
                }
                continue;
            }
            *count += 1;
            if *count > MAX_CHART_FILES {
                return Err(Error::Load(format!(
                    "chart has more than {MAX_CHART_FILES} files"
                )));
            }
            if rel == "charts" && name.ends_with(".tgz") {
                return Err(Error::Load(format!(
                    "{path}: packaged dependencies (.tgz) are not supported by sluice yet; unpack it under charts/"
                )));
            }
            let data = fs
                .read(&dir.join(&path))
                .map_err(|e| Error::Load(format!("{path}: {e}")))?;
            all.push((path, data));
        }
    }
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
    for (path, data) in all {
        match path.as_str() {
            "Chart.yaml" => {
                has_chart_yaml = true;
                chart.metadata = parse_yaml_map(&String::from_utf8_lossy(&data), "Chart.yaml")?;
            }
            "values.yaml" => {
                chart.values = parse_yaml_map(&String::from_utf8_lossy(&data), "values.yaml")?;
            }
            "values.schema.json" => chart.schema = Some(data),
            p if p.starts_with("templates/") => {
                chart
                    .templates
                    .push((path.clone(), String::from_utf8_lossy(&data).into_owned()));
            }
            p if p.starts_with("charts/") => {}
            _ => chart.files.push((path, data)),
        }
    }
    if !has_chart_yaml {
        return Err(Error::Load(format!(
            "{}: Chart.yaml file is missing",
            dir.display()
        )));
    }
    if chart.name().is_empty() {
        return Err(Error::Load(
            "validation: chart.metadata.name is required".into(),
        ));
    }
    dep_dirs.sort();
    for d in dep_dirs {
        chart
            .dependencies
            .push(load_at(fs, &dir.join(&d), depth + 1, count)?);
    }
    Ok(chart)
}
