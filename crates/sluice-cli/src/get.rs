//! `sluice get`: resolving what the user typed to a resource of the server's discovery, and
//! printing the server's `meta.k8s.io/v1 Table` as kubectl does. Pure.

use serde_json::Value;

use crate::format::age;
use crate::table::render;

/// A resource the server serves (one entry of discovery's APIResourceList).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub namespaced: bool,
}

impl Resource {
    /// `pipelineruns.tekton.dev`, `pods` (kubectl's resource names in messages).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `pipelinerun.tekton.dev` (kubectl's `-o name` and action lines).
    pub fn kind_name(&self) -> String {
        let k = self.kind.to_lowercase();
        if self.group.is_empty() {
            k
        } else {
            format!("{k}.{}", self.group)
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The REST path of the collection (in `namespace` when namespaced).
    pub fn path(&self, namespace: Option<&str>) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match namespace.filter(|_| self.namespaced) {
            Some(ns) => format!("{base}/namespaces/{ns}/{}", self.plural),
            None => format!("{base}/{}", self.plural),
        }
    }
}

/// The resource `word` names, as kubectl resolves it: plural, singular, short name or kind,
/// case-insensitively, optionally qualified by group (`pipelineruns.tekton.dev`) or
/// version and group (`pipelineruns.v1.tekton.dev`). Core resources win over others, then
/// discovery's order (preferred versions first).
pub fn resolve<'a>(resources: &'a [Resource], word: &str) -> Option<&'a Resource> {
    let w = word.to_lowercase();
    let (name, qual) = match w.split_once('.') {
        Some((n, q)) => (n.to_owned(), Some(q.to_owned())),
        None => (w.clone(), None),
    };
    let matches = |r: &Resource| {
        r.plural == name
            || r.singular == name
            || r.kind.to_lowercase() == name
            || r.short_names.contains(&name)
    };
    let qualifies = |r: &Resource| match &qual {
        None => true,
        Some(q) => *q == r.group || *q == format!("{}.{}", r.version, r.group),
    };
    resources
        .iter()
        .filter(|r| matches(r) && qualifies(r))
        .min_by_key(|r| !r.group.is_empty())
}

/// How `sluice get` prints a Table.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableOpts {
    pub wide: bool,
    pub all_namespaces: bool,
    pub no_headers: bool,
}

/// kubectl's human printing of a `meta.k8s.io/v1 Table`: the columns of priority 0 (all
/// with `-o wide`), names upper-cased, a NAMESPACE column first with `-A`, `date` cells as
/// ages; `No resources found` (in `namespace`) when empty.
pub fn render_table(table: &Value, now: i64, o: TableOpts, namespace: Option<&str>) -> String {
    let cols: Vec<&Value> = table["columnDefinitions"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let shown: Vec<usize> = cols
        .iter()
        .enumerate()
        .filter(|(_, c)| o.wide || c["priority"].as_i64().unwrap_or(0) == 0)
        .map(|(i, _)| i)
        .collect();
    let rows = table["rows"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if rows.is_empty() {
        return match namespace {
            Some(ns) if !o.all_namespaces => format!("No resources found in {ns} namespace.\n"),
            _ => "No resources found\n".into(),
        };
    }
    let mut out = Vec::new();
    if !o.no_headers {
        let mut h: Vec<String> = shown
            .iter()
            .map(|&i| cols[i]["name"].as_str().unwrap_or("").to_uppercase())
            .collect();
        if o.all_namespaces {
            h.insert(0, "NAMESPACE".into());
        }
        out.push(h);
    }
    for r in rows {
        let cells = r["cells"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let mut line: Vec<String> = shown
            .iter()
            .map(|&i| {
                let c = cells.get(i).unwrap_or(&Value::Null);
                match (c, cols[i]["type"].as_str()) {
                    (Value::Null, _) => "<none>".into(),
                    (Value::String(s), Some("date")) if s.is_empty() => "<none>".into(),
                    // an RFC 3339 time becomes an age; a server that sends ages keeps them
                    (Value::String(s), Some("date")) if crate::format::time(c).is_none() => {
                        s.clone()
                    }
                    (Value::String(_), Some("date")) => age(c, now),
                    (Value::String(s), _) if s.is_empty() => String::new(),
                    (Value::String(s), _) => s.clone(),
                    (Value::Array(a), _) => a
                        .iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(","),
                    (other, _) => other.to_string(),
                }
            })
            .collect();
        if o.all_namespaces {
            let ns = r["object"]["metadata"]["namespace"].as_str().unwrap_or("");
            line.insert(0, ns.to_owned());
        }
        out.push(line);
    }
    render(&out, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(group: &str, kind: &str, plural: &str, short: &[&str]) -> Resource {
        Resource {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            short_names: short.iter().map(|s| (*s).to_owned()).collect(),
            namespaced: true,
        }
    }

    #[test]
    fn resolves_as_kubectl() {
        let rs = vec![
            res("tekton.dev", "PipelineRun", "pipelineruns", &["pr", "prs"]),
            res("", "Pod", "pods", &["po"]),
            res("example.com", "Pod", "pods", &[]),
        ];
        for w in [
            "pr",
            "PipelineRun",
            "pipelinerun",
            "pipelineruns",
            "pipelineruns.tekton.dev",
            "pipelineruns.v1.tekton.dev",
        ] {
            assert_eq!(
                resolve(&rs, w).map(|r| r.plural.as_str()),
                Some("pipelineruns"),
                "{w}"
            );
        }
        assert_eq!(resolve(&rs, "pods").unwrap().group, "");
        assert_eq!(
            resolve(&rs, "pods.example.com").unwrap().group,
            "example.com"
        );
        assert!(resolve(&rs, "nothing").is_none());
        assert!(resolve(&rs, "pr.argoproj.io").is_none());
        let r = resolve(&rs, "pr").unwrap();
        assert_eq!(
            r.path(Some("ci")),
            "/apis/tekton.dev/v1/namespaces/ci/pipelineruns"
        );
        assert_eq!(r.kind_name(), "pipelinerun.tekton.dev");
        assert_eq!(resolve(&rs, "po").unwrap().path(None), "/api/v1/pods");
    }

    #[test]
    fn tables_print_as_kubectl() {
        let t = json!({
            "columnDefinitions": [
                {"name": "Name", "type": "string", "priority": 0},
                {"name": "Succeeded", "type": "string", "priority": 0},
                {"name": "Reason", "type": "string", "priority": 1},
                {"name": "StartTime", "type": "date", "priority": 0},
            ],
            "rows": [
                {"cells": ["ok", "True", "Succeeded", "2026-01-01T00:00:00Z"], "object": {"metadata": {"namespace": "ci"}}},
                {"cells": ["broken", null, "", ""], "object": {"metadata": {"namespace": "ci"}}},
                {"cells": ["aged", "False", "Failed", "9s"], "object": {"metadata": {"namespace": "ci"}}},
            ]
        });
        let now = 1_767_225_600 + 125;
        assert_eq!(
            render_table(&t, now, TableOpts::default(), Some("ci")),
            "NAME     SUCCEEDED   STARTTIME\n\
             ok       True        2m5s\n\
             broken   <none>      <none>\n\
             aged     False       9s\n"
        );
        let wide = TableOpts {
            wide: true,
            all_namespaces: true,
            no_headers: false,
        };
        assert_eq!(
            render_table(&t, now, wide, None),
            "NAMESPACE   NAME     SUCCEEDED   REASON      STARTTIME\n\
             ci          ok       True        Succeeded   2m5s\n\
             ci          broken   <none>                  <none>\n\
             ci          aged     False       Failed      9s\n"
        );
        let empty = json!({"columnDefinitions": [], "rows": []});
        assert_eq!(
            render_table(&empty, now, TableOpts::default(), Some("ci")),
            "No resources found in ci namespace.\n"
        );
    }
}
