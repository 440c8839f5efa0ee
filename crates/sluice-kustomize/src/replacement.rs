//! `replacements`: copy a field of one object into fields of others
//! (api/filters/replacement/replacement.go).

use serde_json::Value;

use crate::build::Selector;
use crate::error::Error;
use crate::path::{lookup, lookup_create, split_smart, visit_matching};
use crate::resource::{Resource, effective_ns};

fn s(v: Option<&Value>, k: &str) -> String {
    v.and_then(|m| m.get(k))
        .map(|x| match x {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => text(other),
        })
        .unwrap_or_default()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => crate::emit::format_number(n),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// A resource id selector compared exactly (resid.ResId.IsSelectedBy): empty parts select
/// everything; namespaces compare as effective namespaces.
#[derive(Debug, Clone, Default)]
struct IdSelector {
    group: String,
    version: String,
    kind: String,
    name: String,
    namespace: String,
}

impl IdSelector {
    fn new(v: Option<&Value>) -> IdSelector {
        IdSelector {
            group: s(v, "group"),
            version: s(v, "version"),
            kind: s(v, "kind"),
            name: s(v, "name"),
            namespace: s(v, "namespace"),
        }
    }

    fn is_empty(&self) -> bool {
        self.group.is_empty()
            && self.version.is_empty()
            && self.kind.is_empty()
            && self.name.is_empty()
            && self.namespace.is_empty()
    }

    fn selects(&self, r: &Resource, name: &str, ns: &str) -> bool {
        let g_v = r.group_version();
        let (g, v) = g_v;
        (self.group.is_empty() || self.group == g)
            && (self.version.is_empty() || self.version == v)
            && (self.kind.is_empty() || self.kind == r.kind())
            && (self.name.is_empty() || self.name == name)
            && (self.namespace.is_empty()
                || effective_ns(g_v, r.kind(), &self.namespace) == effective_ns(g_v, r.kind(), ns))
    }

    fn display(&self) -> String {
        let or = |s: &str, d: &str| {
            if s.is_empty() {
                d.to_owned()
            } else {
                s.to_owned()
            }
        };
        format!(
            "{}.{}.{}/{}.{}",
            or(&self.kind, "[noKind]"),
            or(&self.version, "[noVer]"),
            or(&self.group, "[noGrp]"),
            or(&self.name, "[noName]"),
            or(&self.namespace, "[noNs]")
        )
    }
}

/// The ids a resource had: current first, then the earlier ones.
fn ids(r: &Resource) -> Vec<(String, String)> {
    let mut out = vec![(r.name().to_owned(), r.namespace().to_owned())];
    let orig = (
        r.original_name().to_owned(),
        r.original_namespace().to_owned(),
    );
    for n in &r.previous_names {
        let id = (n.clone(), r.namespace().to_owned());
        if !out.contains(&id) {
            out.push(id);
        }
    }
    if !out.contains(&orig) {
        out.push(orig);
    }
    out
}

#[derive(Debug, Clone, Default)]
struct Options {
    delimiter: String,
    index: i64,
    create: bool,
}

impl Options {
    fn new(v: Option<&Value>) -> Options {
        let o = v.and_then(|x| x.get("options"));
        Options {
            delimiter: s(o, "delimiter"),
            index: o
                .and_then(|o| o.get("index"))
                .and_then(Value::as_i64)
                .unwrap_or(0),
            create: o
                .and_then(|o| o.get("create"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }
}

/// Applies the replacements (already read from inline entries and `path:` files) in order.
pub fn apply(ra: &mut [Resource], replacements: &[Value]) -> Result<(), Error> {
    for r in replacements {
        let source = r.get("source").filter(|v| !v.is_null());
        let targets = r.get("targets").and_then(Value::as_array);
        let (Some(source), Some(targets)) = (source, targets) else {
            return Err(Error::other(
                "replacements must specify a source and at least one target",
            ));
        };
        let value = source_value(ra, source)?;
        for t in targets {
            apply_target(ra, &value, t)?;
        }
    }
    Ok(())
}

fn source_value(ra: &[Resource], source: &Value) -> Result<Value, Error> {
    let sel = IdSelector::new(Some(source));
    let mut found: Option<&Resource> = None;
    for r in ra {
        if ids(r).iter().any(|(n, ns)| sel.selects(r, n, ns)) {
            if found.is_some() {
                return Err(Error::other(format!(
                    "multiple matches for selector {}",
                    sel.display()
                )));
            }
            found = Some(r);
        }
    }
    let Some(r) = found else {
        return Err(Error::other(format!(
            "nothing selected by {}",
            sel.display()
        )));
    };
    let mut fp = s(Some(source), "fieldPath");
    if fp.is_empty() {
        fp = "metadata.name".into();
    }
    let root = Value::Object(r.obj.clone());
    let v = lookup(&root, &split_smart(&fp, '.'))
        .filter(|v| !is_nil_or_empty(v))
        .ok_or_else(|| {
            Error::other(format!(
                "fieldPath `{fp}` is missing for replacement source {}",
                sel.display()
            ))
        })?;
    let opts = Options::new(Some(source));
    if opts.delimiter.is_empty() {
        return Ok(v.clone());
    }
    if v.is_object() || v.is_array() {
        return Err(Error::other(
            "delimiter option can only be used with scalar nodes",
        ));
    }
    let full = text(v);
    let parts: Vec<&str> = full.split(opts.delimiter.as_str()).collect();
    if opts.index < 0 || opts.index as usize >= parts.len() {
        return Err(Error::other(format!(
            "options.index {} is out of bounds for value {full}",
            opts.index
        )));
    }
    Ok(retype(v, parts[opts.index as usize]))
}

fn is_nil_or_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// `text` with the scalar type of `like` when it reads as one, else a string.
fn retype(like: &Value, text: &str) -> Value {
    match like {
        Value::Number(_) => text
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or_else(|| Value::String(text.to_owned())),
        Value::Bool(_) => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.to_owned()),
        },
        _ => Value::String(text.to_owned()),
    }
}

fn apply_target(ra: &mut [Resource], value: &Value, t: &Value) -> Result<(), Error> {
    let Some(select) = t.get("select").filter(|v| !v.is_null()) else {
        return Err(Error::other("target must specify resources to select"));
    };
    let sel_id = IdSelector::new(Some(select));
    let sel_labels = Selector::new(select)?;
    let rejects: Vec<(IdSelector, Selector, bool)> = t
        .get("reject")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|r| {
                    let has_labels = !s(Some(r), "labelSelector").is_empty()
                        || !s(Some(r), "annotationSelector").is_empty();
                    Selector::new(r).map(|sel| (IdSelector::new(Some(r)), sel, has_labels))
                })
                .collect::<Result<Vec<_>, Error>>()
        })
        .transpose()?
        .unwrap_or_default();
    let mut paths: Vec<String> = t
        .get("fieldPaths")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default();
    if paths.is_empty() {
        paths.push("metadata.name".into());
    }
    let opts = Options::new(Some(t));
    for r in ra.iter_mut() {
        if !sel_labels.selects_labels(r) {
            continue;
        }
        if rejects
            .iter()
            .any(|(_, sel, has)| *has && sel.selects_labels(r))
        {
            continue;
        }
        // selected by any id it had, rejected by any id it had
        let all = ids(r);
        let selected = all.iter().any(|(n, ns)| sel_id.selects(r, n, ns))
            && !all.iter().any(|(n, ns)| {
                rejects
                    .iter()
                    .any(|(id, _, _)| !id.is_empty() && id.selects(r, n, ns))
            });
        if !selected {
            continue;
        }
        let mut root = Value::Object(std::mem::take(&mut r.obj));
        let res = apply_paths(&mut root, value, &paths, &opts);
        if let Value::Object(m) = root {
            r.obj = m;
        }
        res?;
    }
    Ok(())
}

fn apply_paths(
    root: &mut Value,
    value: &Value,
    paths: &[String],
    opts: &Options,
) -> Result<(), Error> {
    for fp in paths {
        let path = split_smart(fp, '.');
        if opts.create {
            if path.iter().any(|p| p == "*") {
                return Err(Error::other(
                    "cannot support create option in a multi-value target",
                ));
            }
            let existed = lookup(root, &path).is_some();
            let created = lookup_create(root, &path).map_err(|e| {
                Error::other(format!(
                    "unable to find or create field \"{fp}\" in replacement target: {e}"
                ))
            })?;
            if let Some(t) = created {
                if !existed {
                    // a created scalar node has no tag: its text resolves as written
                    *t = match &value {
                        Value::Object(_) | Value::Array(_) => value.clone(),
                        v => sluice_core::yaml::resolve_plain_core(&text(v)),
                    };
                    continue;
                }
                match t {
                    Value::Array(items) if !items.is_empty() => {
                        for it in items.iter_mut() {
                            set_value(it, value, opts)?;
                        }
                    }
                    _ => set_value(t, value, opts)?,
                }
            }
        } else {
            let mut failure = None;
            let mut hits = 0;
            visit_matching(root, &path, &mut |t: &mut Value| {
                hits += 1;
                if let Err(e) = set_value(t, value, opts) {
                    failure.get_or_insert(e);
                }
            });
            if let Some(e) = failure {
                return Err(e);
            }
            if hits == 0 {
                return Err(Error::other(format!(
                    "unable to find field \"{fp}\" in replacement target"
                )));
            }
        }
    }
    Ok(())
}

fn set_value(t: &mut Value, value: &Value, opts: &Options) -> Result<(), Error> {
    let mut value = value.clone();
    if !opts.delimiter.is_empty() {
        if t.is_object() || t.is_array() {
            return Err(Error::other(
                "delimiter option can only be used with scalar nodes",
            ));
        }
        let current = text(t);
        let mut tv: Vec<String> = current
            .split(opts.delimiter.as_str())
            .map(str::to_owned)
            .collect();
        let v = text(&value);
        if opts.index < 0 {
            tv.insert(0, v);
        } else if opts.index as usize >= tv.len() {
            tv.push(v);
        } else {
            tv[opts.index as usize] = v;
        }
        value = retype(&value, &tv.join(&opts.delimiter));
    }
    match t {
        Value::String(_) => *t = Value::String(text(&value)),
        // a scalar keeps its YAML tag; only the text is copied, and it must still read as
        // that type (go-yaml: "cannot decode !!str `x` as a !!int")
        Value::Number(_) | Value::Bool(_) | Value::Null => {
            let txt = text(&value);
            let resolved = sluice_core::yaml::resolve_plain_core(&txt);
            if tag(&resolved) != tag(t) {
                return Err(Error::other(format!(
                    "map[string]interface {{}}(nil): yaml: cannot decode {} `{txt}` as a {}",
                    tag(&resolved),
                    tag(t)
                )));
            }
            *t = resolved;
        }
        _ => *t = value,
    }
    Ok(())
}

fn tag(v: &Value) -> &'static str {
    match v {
        Value::Null => "!!null",
        Value::Bool(_) => "!!bool",
        Value::Number(n) if n.is_f64() => "!!float",
        Value::Number(_) => "!!int",
        Value::String(_) => "!!str",
        Value::Array(_) => "!!seq",
        Value::Object(_) => "!!map",
    }
}
