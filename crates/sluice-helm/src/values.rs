//! Values as Helm computes them (helm/helm `pkg/chart/common/util/coalesce.go` and
//! `dependencies.go`): user values over chart defaults (a user `null` deletes a default),
//! globals copied down into dependencies, dependencies enabled by `condition` and `tags`,
//! renamed by `alias`, and `import-values`.

use serde_json::{Map, Value};

use crate::chart::Chart;

pub type Values = Map<String, Value>;

/// Helm's `MergeValues` for `-f` files and `--set`: maps merge recursively, anything else in
/// `src` replaces `dst`.
pub fn merge_maps(dst: &mut Values, src: Values) {
    for (k, v) in src {
        match (dst.get_mut(&k), v) {
            (Some(Value::Object(d)), Value::Object(s)) => merge_maps(d, s),
            (_, v) => {
                dst.insert(k, v);
            }
        }
    }
}

/// `coalesceTablesFullKey`: `src` fills in what `dst` lacks; a `null` in `dst` deletes the
/// key (unless `merge`).
fn coalesce_tables(dst: &mut Values, src: &Values, merge: bool) {
    for (k, sv) in src {
        match dst.get_mut(k) {
            Some(Value::Null) => {
                if !merge {
                    dst.remove(k);
                }
            }
            Some(Value::Object(d)) => {
                if let Value::Object(s) = sv {
                    coalesce_tables(d, s, merge);
                }
            }
            Some(_) => {}
            None => {
                dst.insert(k.clone(), sv.clone());
            }
        }
    }
}

/// `coalesceValues`: the chart's defaults under the values `v`.
fn coalesce_values(c: &Chart, v: &mut Values) {
    for (k, cv) in &c.values {
        match v.get_mut(k) {
            Some(Value::Null) => {
                v.remove(k);
            }
            Some(Value::Object(d)) => {
                if let Value::Object(s) = cv {
                    coalesce_tables(d, s, false);
                }
            }
            Some(_) => {}
            None => {
                v.insert(k.clone(), cv.clone());
            }
        }
    }
}

fn coalesce_globals(dest: &mut Values, src: &Values) {
    let mut dg = match dest.get("global") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    if let Some(Value::Object(sg)) = src.get("global") {
        for (k, val) in sg {
            match val {
                Value::Object(vm) => {
                    let mut vv = vm.clone();
                    match dg.get(k) {
                        None => {
                            dg.insert(k.clone(), Value::Object(vv));
                        }
                        Some(Value::Object(destv)) => {
                            coalesce_tables(&mut vv, destv, true);
                            dg.insert(k.clone(), Value::Object(vv));
                        }
                        Some(_) => {}
                    }
                }
                other => {
                    if !matches!(dg.get(k), Some(Value::Object(_))) {
                        dg.insert(k.clone(), other.clone());
                    }
                }
            }
        }
    }
    dest.insert("global".into(), Value::Object(dg));
}

fn coalesce(c: &Chart, dest: &mut Values) {
    coalesce_values(c, dest);
    for sub in &c.dependencies {
        let name = sub.name();
        let mut dv = match dest.get(&name) {
            Some(Value::Object(m)) => m.clone(),
            Some(_) => continue,
            None => Map::new(),
        };
        coalesce_globals(&mut dv, dest);
        coalesce(sub, &mut dv);
        dest.insert(name, Value::Object(dv));
    }
}

/// `CoalesceValues(chart, vals)`.
pub fn coalesce_values_of(c: &Chart, user: &Values) -> Values {
    let mut v = user.clone();
    coalesce(c, &mut v);
    v
}

fn path_value<'a>(v: &'a Values, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut cur = v.get(first)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

fn dependency_list(c: &Chart) -> Vec<Map<String, Value>> {
    c.metadata
        .get("dependencies")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|d| d.as_object().cloned()).collect())
        .unwrap_or_default()
}

fn str_field(m: &Map<String, Value>, k: &str) -> String {
    m.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// `processDependencyEnabled` and `processImportValues`: renames aliased dependencies,
/// drops the disabled ones (recursively) and imports values.
pub fn process_dependencies(c: &mut Chart, user: &Values) {
    let top = user.clone();
    process_enabled(c, &top, "");
    process_imports(c);
}

fn process_enabled(c: &mut Chart, v: &Values, path: &str) {
    let reqs = dependency_list(c);
    if reqs.is_empty() && c.metadata.get("dependencies").is_none() {
        return;
    }
    let existing = std::mem::take(&mut c.dependencies);
    let mut deps: Vec<Chart> = Vec::new();
    for ex in &existing {
        if !reqs.iter().any(|r| str_field(r, "name") == ex.name()) {
            deps.push(ex.clone());
        }
    }
    let mut req_names: Vec<(String, Map<String, Value>)> = Vec::new();
    for r in &reqs {
        let name = str_field(r, "name");
        let alias = str_field(r, "alias");
        if let Some(ch) = existing.iter().find(|e| e.name() == name) {
            let mut ch = ch.clone();
            if !alias.is_empty() {
                ch.metadata
                    .insert("name".into(), Value::String(alias.clone()));
            }
            deps.push(ch);
        }
        req_names.push((if alias.is_empty() { name } else { alias }, r.clone()));
    }
    c.dependencies = deps;
    let cvals = coalesce_values_of(c, v);
    let mut disabled: Vec<String> = Vec::new();
    for (name, r) in &req_names {
        let mut enabled = true;
        // tags: enabled when any listed tag is true, disabled when all are false
        if let Some(tags) = r.get("tags").and_then(Value::as_array) {
            let tv = cvals.get("tags").and_then(Value::as_object);
            let (mut has_true, mut has_false) = (false, false);
            for t in tags.iter().filter_map(Value::as_str) {
                match tv.and_then(|m| m.get(t)) {
                    Some(Value::Bool(true)) => has_true = true,
                    Some(Value::Bool(false)) => has_false = true,
                    _ => {}
                }
            }
            if !has_true && has_false {
                enabled = false;
            }
        }
        if let Some(cond) = r.get("condition").and_then(Value::as_str) {
            for c in cond.split(',') {
                let c = c.trim();
                if let Some(Value::Bool(b)) = path_value(&cvals, &format!("{path}{c}")) {
                    enabled = *b;
                    break;
                }
            }
        }
        if !enabled {
            disabled.push(name.clone());
        }
    }
    c.dependencies.retain(|d| !disabled.contains(&d.name()));
    let kept: Vec<Value> = req_names
        .iter()
        .filter(|(n, _)| !disabled.contains(n))
        .map(|(n, r)| {
            let mut r = r.clone();
            r.insert("name".into(), Value::String(n.clone()));
            Value::Object(r)
        })
        .collect();
    c.metadata.insert("dependencies".into(), Value::Array(kept));
    for d in &mut c.dependencies {
        let sub = format!("{path}{}.", d.name());
        process_enabled(d, &cvals, &sub);
    }
}

/// `processImportValues`: `import-values` entries copy a child's values into the parent's
/// defaults (`exports.X` or `{child: a.b, parent: c}`).
fn process_imports(c: &mut Chart) {
    for d in &mut c.dependencies {
        process_imports(d);
    }
    let reqs = dependency_list(c);
    let mut add = Map::new();
    for r in &reqs {
        let Some(imports) = r.get("import-values").and_then(Value::as_array) else {
            continue;
        };
        let name = str_field(r, "name");
        let Some(dep) = c.dependencies.iter().find(|d| d.name() == name) else {
            continue;
        };
        let dv = coalesce_values_of(dep, &Map::new());
        for imp in imports {
            let (child, parent) = match imp {
                Value::String(s) => (format!("exports.{s}"), String::new()),
                Value::Object(m) => (str_field(m, "child"), str_field(m, "parent")),
                _ => continue,
            };
            let Some(val) = path_value(&dv, &child).cloned() else {
                continue;
            };
            let mut target = Map::new();
            if parent.is_empty() {
                if let Value::Object(m) = val {
                    target = m;
                }
            } else {
                let mut cur = val;
                for p in parent.rsplit('.') {
                    let mut m = Map::new();
                    m.insert(p.to_owned(), cur);
                    cur = Value::Object(m);
                }
                if let Value::Object(m) = cur {
                    target = m;
                }
            }
            merge_maps(&mut add, target);
        }
    }
    if !add.is_empty() {
        // the chart's own values win over imported ones
        let mut merged = add;
        merge_maps(&mut merged, c.values.clone());
        c.values = merged;
    }
}
