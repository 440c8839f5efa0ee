//! `vars`: `$(NAME)` references replaced by a field of a named object
//! (api/internal/accumulator/resaccumulator.go, api/filters/refvar/refvar.go,
//! api/internal/accumulator/expansion/expand.go).

use serde_json::Value;

use crate::error::Error;
use crate::fieldspec::{FieldSpec, visit};
use crate::path::{lookup, split_smart};
use crate::resource::{Resource, effective_ns, split_api_version};

/// One entry of `vars:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Var {
    pub name: String,
    pub kind: String,
    pub group: String,
    pub version: String,
    pub obj_name: String,
    pub namespace: String,
    /// `fieldref.fieldpath`, `metadata.name` when not given.
    pub field_path: String,
    /// `objref.group`, `objref.version` and `fieldref.fieldpath` as written (for messages
    /// about the vars before kustomize defaults them).
    pub written: [String; 3],
}

impl Var {
    pub fn from_value(v: &Value) -> Var {
        let s = |m: Option<&Value>, k: &str| {
            m.and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let objref = v.get("objref");
        let av = s(objref, "apiVersion");
        let (mut group, mut version) = {
            let (g, v) = split_api_version(&av);
            (g.to_owned(), v.to_owned())
        };
        if av.is_empty() {
            group = s(objref, "group");
            version = s(objref, "version");
        }
        let fp = s(v.get("fieldref"), "fieldpath");
        let written = [s(objref, "group"), s(objref, "version"), fp.clone()];
        Var {
            name: s(Some(v), "name"),
            kind: s(objref, "kind"),
            group,
            version,
            obj_name: s(objref, "name"),
            namespace: s(objref, "namespace"),
            field_path: if fp.is_empty() {
                "metadata.name".into()
            } else {
                fp
            },
            written,
        }
    }

    /// kustomize's `%v` of the var once defaulted: `{NAME Kind.version.group {fieldpath}}`.
    fn debug(&self) -> String {
        format!(
            "{{{} {} {{{}}}}}",
            self.name,
            gvk_string(&self.kind, &self.version, &self.group),
            self.field_path
        )
    }

    /// kustomize's `%v` of the var as written (before defaulting).
    fn debug_written(&self) -> String {
        let [g, v, fp] = &self.written;
        format!(
            "{{{} {} {{{fp}}}}}",
            self.name,
            gvk_string(&self.kind, v, g)
        )
    }

    /// Whether any id `r` had (current or earlier) is the var's object.
    fn matches(&self, r: &Resource) -> bool {
        let (g, v) = r.group_version();
        if r.kind() != self.kind || g != self.group || v != self.version {
            return false;
        }
        if !r.had_name(&self.obj_name) {
            return false;
        }
        let cluster = !r.is_namespaceable();
        if self.namespace.is_empty() && !cluster {
            return true;
        }
        let want = effective_ns((g, v), &self.kind, &self.namespace);
        effective_ns((g, v), r.kind(), r.namespace()) == want
            || r.previous_namespaces
                .iter()
                .any(|n| effective_ns((g, v), r.kind(), n) == want)
    }
}

/// Binds `vars` to the resources they name (at most one each) and adds them to `set`
/// (names must be unique).
pub fn merge_vars(ra: &mut [Resource], vars: &[Var], set: &mut Vec<Var>) -> Result<(), Error> {
    for v in vars {
        let matched: Vec<usize> = (0..ra.len()).filter(|i| v.matches(&ra[*i])).collect();
        if matched.len() > 1 {
            return Err(Error::other(format!(
                "found {} resId matches for var {} (unable to disambiguate)",
                matched.len(),
                v.debug()
            )));
        }
        if let Some(i) = matched.first() {
            ra[*i].ref_vars.push(v.name.clone());
        }
    }
    merge_set(set, vars).map_err(|e| {
        let list: Vec<String> = vars.iter().map(Var::debug_written).collect();
        Error::other(format!("merging vars [{}]: {e}", list.join(" ")))
    })
}

fn gvk_string(kind: &str, version: &str, group: &str) -> String {
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_owned()
        } else {
            s.to_owned()
        }
    };
    format!(
        "{}.{}.{}",
        or(kind, "[noKind]"),
        or(version, "[noVer]"),
        or(group, "[noGrp]")
    )
}

/// Adds `vars` to `set`; a name seen twice fails.
pub fn merge_set(set: &mut Vec<Var>, vars: &[Var]) -> Result<(), Error> {
    for v in vars {
        if set.iter().any(|x| x.name == v.name) {
            return Err(Error::other(format!(
                "var '{}' already encountered",
                v.name
            )));
        }
        set.push(v.clone());
    }
    Ok(())
}

/// Replaces `$(VAR)` at the var reference fields of every resource.
pub fn resolve_vars(ra: &mut [Resource], set: &[Var], specs: &[FieldSpec]) -> Result<(), Error> {
    let mut values: Vec<(String, Value)> = Vec::new();
    let mut sorted: Vec<&Var> = set.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for v in sorted {
        let Some(r) = ra.iter().find(|r| r.ref_vars.contains(&v.name)) else {
            return Err(Error::other(format!(
                "var '{}' cannot be mapped to a field in the set of known resources",
                v.debug()
            )));
        };
        let root = Value::Object(r.obj.clone());
        let path = split_smart(&v.field_path, '.');
        let found = lookup(&root, &path).filter(|x| !x.is_null());
        let Some(found) = found else {
            return Err(Error::other(format!(
                "field specified in var '{}' not found in corresponding resource",
                v.debug()
            )));
        };
        values.push((v.name.clone(), found.clone()));
    }
    if values.is_empty() {
        return Ok(());
    }
    let mut failure: Option<Error> = None;
    for r in ra.iter_mut() {
        let selected: Vec<&FieldSpec> = specs.iter().filter(|s| s.selects(r)).collect();
        if selected.is_empty() {
            continue;
        }
        let mut root = Value::Object(std::mem::take(&mut r.obj));
        for s in selected {
            visit(&mut root, &s.path, false, &mut |v: &mut Value| match v {
                Value::String(s) => *v = expand(s, &values),
                Value::Object(m) => {
                    for x in m.values_mut() {
                        if let Value::String(s) = x {
                            *x = expand(s, &values);
                        }
                    }
                }
                Value::Array(items) => {
                    for x in items.iter_mut() {
                        match x {
                            Value::String(s) => *x = expand(s, &values),
                            _ => {
                                failure.get_or_insert_with(|| {
                                    Error::other("invalid value type expect a string")
                                });
                            }
                        }
                    }
                }
                _ => {}
            });
        }
        if let Value::Object(m) = root {
            r.obj = m;
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => crate::emit::format_number(n),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// Expands `$(NAME)` in `input`; `$$` is a literal `$`; an unknown name stays as written.
/// A string that is exactly one reference takes the value's own type.
pub fn expand(input: &str, values: &[(String, Value)]) -> Value {
    let get = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let b = input.as_bytes();
    let mut out = String::new();
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < b.len() {
        if b[cursor] == b'$' && cursor + 1 < b.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest[1..].find(')') {
                    Some(j) => {
                        let name = &rest[1..1 + j];
                        match get(name) {
                            Some(val) => {
                                if input.len() == name.len() + 3 {
                                    return val.clone();
                                }
                                out.push_str(&text(val));
                            }
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        j + 2
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    out.push('$');
                    let c = rest.chars().next().unwrap_or_default();
                    out.push(c);
                    c.len_utf8()
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if checkpoint < input.len() {
        out.push_str(&input[checkpoint..]);
    }
    Value::String(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// api/internal/accumulator/expansion/expand_test.go cases.
    #[test]
    fn expansion() {
        let vals = vec![
            ("VAR_A".to_owned(), Value::String("A".into())),
            ("N".to_owned(), Value::from(3)),
        ];
        let e = |s: &str| expand(s, &vals);
        assert_eq!(e("$(VAR_A)"), Value::String("A".into()));
        assert_eq!(e("___$(VAR_A)___"), Value::String("___A___".into()));
        assert_eq!(e("$(N)"), Value::from(3));
        assert_eq!(e("n=$(N)"), Value::String("n=3".into()));
        assert_eq!(e("$$(VAR_A)"), Value::String("$(VAR_A)".into()));
        assert_eq!(e("$(VAR_B)"), Value::String("$(VAR_B)".into()));
        assert_eq!(e("$(VAR_A"), Value::String("$(VAR_A".into()));
        assert_eq!(e("$VAR_A"), Value::String("$VAR_A".into()));
        assert_eq!(e("x$"), Value::String("x$".into()));
    }
}
