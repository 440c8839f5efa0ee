//! The unstructured object: any Kubernetes-shaped document, unknown fields kept as they are.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::field::FieldPath;
use crate::yaml::{self, Limits, LoadError, Node, Pos};

/// Group, version and kind. The core group is the empty string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Gvk {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        }
    }

    /// Splits `apiVersion` (`group/version` or just `version` for the core group).
    pub fn from_api_version(api_version: &str, kind: &str) -> Self {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        Gvk::new(group, version, kind)
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

impl fmt::Display for Gvk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, Kind={}", self.api_version(), self.kind)
    }
}

/// Identity of an object within one API: group, kind, namespace and name (version aside:
/// the same object is served under every version of its group).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    pub group: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// An unstructured Kubernetes object. Every field round-trips, known or not.
#[derive(Debug, Clone, PartialEq)]
pub struct Object(pub Value);

impl Object {
    pub fn new(value: Value) -> Self {
        Object(value)
    }

    pub fn value(&self) -> &Value {
        &self.0
    }

    pub fn into_value(self) -> Value {
        self.0
    }

    fn str_at(&self, path: &[&str]) -> Option<&str> {
        let mut v = &self.0;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str()
    }

    pub fn api_version(&self) -> &str {
        self.str_at(&["apiVersion"]).unwrap_or("")
    }

    pub fn kind(&self) -> &str {
        self.str_at(&["kind"]).unwrap_or("")
    }

    pub fn gvk(&self) -> Gvk {
        Gvk::from_api_version(self.api_version(), self.kind())
    }

    pub fn name(&self) -> &str {
        self.str_at(&["metadata", "name"]).unwrap_or("")
    }

    pub fn generate_name(&self) -> &str {
        self.str_at(&["metadata", "generateName"]).unwrap_or("")
    }

    pub fn namespace(&self) -> Option<&str> {
        self.str_at(&["metadata", "namespace"])
            .filter(|s| !s.is_empty())
    }

    pub fn metadata(&self) -> Option<&Map<String, Value>> {
        self.0.get("metadata")?.as_object()
    }

    fn string_map(&self, field: &str) -> Vec<(&str, &str)> {
        self.metadata()
            .and_then(|m| m.get(field))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn labels(&self) -> Vec<(&str, &str)> {
        self.string_map("labels")
    }

    pub fn annotations(&self) -> Vec<(&str, &str)> {
        self.string_map("annotations")
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.str_at(&["metadata", "labels", key])
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.str_at(&["metadata", "annotations", key])
    }

    pub fn key(&self) -> ResourceKey {
        ResourceKey {
            group: self.gvk().group,
            kind: self.kind().to_owned(),
            namespace: self.namespace().map(str::to_owned),
            name: self.name().to_owned(),
        }
    }

    /// `Kind/name` as validators print it (`generateName` prefix when there is no name).
    pub fn display_name(&self) -> String {
        let name = match self.name() {
            "" => self.generate_name(),
            n => n,
        };
        format!("{}/{}", self.kind(), name)
    }
}

/// Where a loaded object came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// The file name as given by the user (`-` for stdin).
    pub file: Arc<str>,
    /// 0-based document index in the file.
    pub document: usize,
    /// Positions of the object's nodes (parallel to its value).
    pub node: Arc<Node>,
    /// Path from the document root to the object (non-empty for `List` items).
    pub base: FieldPath,
}

/// An object and its source.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedObject {
    pub object: Object,
    pub source: Source,
}

impl LoadedObject {
    /// The position of `path` (relative to the object) in its file: the field itself when it
    /// is written there, otherwise its nearest written ancestor.
    pub fn locate(&self, path: &FieldPath) -> Pos {
        path.locate(&self.source.node, self.object.value())
    }
}

/// A document that is not an object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct NotAnObject {
    pub pos: Pos,
    pub document: usize,
    pub message: String,
    /// The document (or `List` item) as loaded.
    pub value: Option<Value>,
}

/// The outcome of loading a text as Kubernetes objects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadedFile {
    pub objects: Vec<LoadedObject>,
    /// Documents that are not objects (missing apiVersion/kind, not a mapping...).
    pub problems: Vec<NotAnObject>,
}

/// Loads a YAML or JSON text as objects. Empty documents are skipped, as kubectl does;
/// `kind: List` (and `*List` kinds with `items`) are expanded into their items.
pub fn load_objects(file: &str, text: &str, limits: &Limits) -> Result<LoadedFile, LoadError> {
    let docs = yaml::load_documents(text, limits)?;
    let file: Arc<str> = Arc::from(file);
    let mut out = LoadedFile::default();
    for doc in docs {
        let yaml::Document { index, value, root } = doc;
        match &value {
            Value::Null => continue,
            Value::Object(_) => {}
            _ => {
                out.problems.push(NotAnObject {
                    pos: root.pos,
                    document: index,
                    message: if value.is_array() {
                        "a top-level list is not an object: write `kind: List` with `items`, or one document per object".to_owned()
                    } else {
                        "expected a mapping with apiVersion and kind".to_owned()
                    },
                    value: Some(value),
                });
                continue;
            }
        }
        let obj = Object::new(value);
        let items_at = match obj.value() {
            Value::Object(m) if obj.kind().ends_with("List") => {
                m.iter().position(|(k, v)| k == "items" && v.is_array())
            }
            _ => None,
        };
        let items: Vec<(Value, Node, FieldPath)> = match items_at {
            Some(at) => {
                let mut root = root;
                let item_nodes = if at < root.children.len() {
                    std::mem::take(&mut root.children[at].node.children)
                } else {
                    Vec::new()
                };
                let values = match obj.into_value() {
                    Value::Object(mut m) => match m.remove("items") {
                        Some(Value::Array(items)) => items,
                        _ => Vec::new(),
                    },
                    _ => Vec::new(),
                };
                values
                    .into_iter()
                    .zip(item_nodes)
                    .enumerate()
                    .map(|(i, (v, c))| (v, c.node, FieldPath::root().field("items").index(i)))
                    .collect()
            }
            None => vec![(obj.into_value(), root, FieldPath::root())],
        };
        for (value, node, base) in items {
            let obj = Object::new(value);
            let missing: Vec<&str> = [("apiVersion", obj.api_version()), ("kind", obj.kind())]
                .into_iter()
                .filter(|(_, v)| v.is_empty())
                .map(|(k, _)| k)
                .collect();
            if !missing.is_empty() {
                // kubectl: `error validating data: [apiVersion not set, kind not set]`
                let message = missing
                    .iter()
                    .map(|m| format!("{m} not set"))
                    .collect::<Vec<_>>()
                    .join(", ");
                out.problems.push(NotAnObject {
                    pos: node.pos,
                    document: index,
                    message,
                    value: Some(obj.into_value()),
                });
                continue;
            }
            out.objects.push(LoadedObject {
                object: obj,
                source: Source {
                    file: file.clone(),
                    document: index,
                    node: Arc::new(node),
                    base,
                },
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_objects_and_lists() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n---\n---\napiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\n  namespace: ns\n  unknown: kept\n";
        let f = load_objects("x.yaml", text, &Limits::default()).expect("loads");
        assert_eq!(f.objects.len(), 2);
        assert_eq!(f.objects[0].object.display_name(), "ConfigMap/a");
        assert_eq!(
            f.objects[0].locate(&"metadata.name".into()),
            Pos { line: 6, col: 14 }
        );
        let t = &f.objects[1];
        assert_eq!(t.object.gvk(), Gvk::new("tekton.dev", "v1", "Task"));
        assert_eq!(t.object.key().to_string(), "Task/ns/t");
        assert_eq!(t.object.value()["metadata"]["unknown"], "kept");
        assert_eq!(t.locate(&"spec.steps[0]".into()).line, 9);
    }

    #[test]
    fn documents_without_kind_are_reported() {
        let f = load_objects("x.yaml", "foo: bar\n---\n- 1\n", &Limits::default()).expect("loads");
        assert_eq!(f.objects.len(), 0);
        assert_eq!(f.problems.len(), 2);
    }
}
