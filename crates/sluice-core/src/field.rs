//! Field paths and collected validation errors, in the style of knative's `apis.FieldError`
//! as Tekton uses it: validators build errors relative to the value they look at and the
//! caller prefixes them with `via_field` / `via_index` / `via_key`, so every error of a whole
//! object is collected at once with its full path (`spec.tasks[2].params[0].value`).

use std::fmt;

use crate::yaml::{Node, Pos, Step};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSeg {
    /// A struct field: `.name`.
    Field(String),
    /// A list element: `[3]`.
    Index(usize),
    /// A map key: `[key]` (knative's `ViaKey`).
    Key(String),
}

/// A path to a field, e.g. `spec.tasks[0].taskRef.name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(pub Vec<PathSeg>);

impl FieldPath {
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// Parses the dotted form (`spec.tasks[0].name`); `[n]` is an index, `[x]` a key.
    pub fn parse(s: &str) -> Self {
        let mut segs = Vec::new();
        let mut cur = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '.' => {
                    if !cur.is_empty() {
                        segs.push(PathSeg::Field(std::mem::take(&mut cur)));
                    }
                }
                '[' => {
                    if !cur.is_empty() {
                        segs.push(PathSeg::Field(std::mem::take(&mut cur)));
                    }
                    let inner: String = chars.by_ref().take_while(|c| *c != ']').collect();
                    segs.push(match inner.parse::<usize>() {
                        Ok(i) => PathSeg::Index(i),
                        Err(_) => PathSeg::Key(inner),
                    });
                }
                c => cur.push(c),
            }
        }
        if !cur.is_empty() {
            segs.push(PathSeg::Field(cur));
        }
        FieldPath(segs)
    }

    pub fn field(mut self, name: impl Into<String>) -> Self {
        self.0.push(PathSeg::Field(name.into()));
        self
    }

    pub fn index(mut self, i: usize) -> Self {
        self.0.push(PathSeg::Index(i));
        self
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    fn prefix(&mut self, seg: PathSeg) {
        self.0.insert(0, seg);
    }

    /// Steps for looking the path up in a [`Node`] tree.
    pub fn steps(&self) -> impl Iterator<Item = Step<'_>> {
        self.0.iter().map(|s| match s {
            PathSeg::Field(f) | PathSeg::Key(f) => Step::Key(f),
            PathSeg::Index(i) => Step::Index(*i),
        })
    }

    /// Where this path points in the document `value` described by `root`: the node itself
    /// when present, else its nearest present ancestor.
    pub fn locate(&self, root: &Node, value: &serde_json::Value) -> Pos {
        root.locate(value, self.steps()).0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                PathSeg::Field(name) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(name)?;
                }
                PathSeg::Index(i) => write!(f, "[{i}]")?,
                PathSeg::Key(k) => write!(f, "[{k}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

impl From<&str> for FieldPath {
    fn from(s: &str) -> Self {
        FieldPath::parse(s)
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One finding about one field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldError {
    pub severity: Severity,
    pub path: FieldPath,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<FieldPath>, message: impl Into<String>) -> Self {
        FieldError {
            severity: Severity::Error,
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn warning(path: impl Into<FieldPath>, message: impl Into<String>) -> Self {
        FieldError {
            severity: Severity::Warning,
            path: path.into(),
            message: message.into(),
        }
    }

    /// knative `ErrMissingField`.
    pub fn missing(path: impl Into<FieldPath>) -> Self {
        FieldError::new(path, "missing field(s)")
    }

    /// knative `ErrInvalidValue`.
    pub fn invalid(path: impl Into<FieldPath>, value: impl fmt::Display) -> Self {
        FieldError::new(path, format!("invalid value: {value}"))
    }

    /// knative `ErrDisallowedFields`.
    pub fn disallowed(path: impl Into<FieldPath>) -> Self {
        FieldError::new(path, "must not set the field(s)")
    }

    /// knative `ErrMultipleOneOf`.
    pub fn multiple_one_of(path: impl Into<FieldPath>, fields: &[&str]) -> Self {
        FieldError::new(
            path,
            format!("expected exactly one, got both: {}", fields.join(", ")),
        )
    }

    /// knative `ErrMissingOneOf`.
    pub fn missing_one_of(path: impl Into<FieldPath>, fields: &[&str]) -> Self {
        FieldError::new(
            path,
            format!("expected exactly one, got neither: {}", fields.join(", ")),
        )
    }

    pub fn via_field(mut self, name: &str) -> Self {
        self.path.prefix(PathSeg::Field(name.to_owned()));
        self
    }

    pub fn via_index(mut self, i: usize) -> Self {
        self.path.prefix(PathSeg::Index(i));
        self
    }

    pub fn via_key(mut self, k: &str) -> Self {
        self.path.prefix(PathSeg::Key(k.to_owned()));
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_root() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// A collection of findings, built up with [`FieldErrors::also`] and prefixed with the
/// `via_*` methods as it travels up from nested validators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        FieldErrors(Vec::new())
    }

    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    /// Appends every finding of `other`.
    pub fn also(&mut self, other: impl Into<FieldErrors>) -> &mut Self {
        self.0.extend(other.into().0);
        self
    }

    pub fn via_field(mut self, name: &str) -> Self {
        for e in &mut self.0 {
            e.path.prefix(PathSeg::Field(name.to_owned()));
        }
        self
    }

    pub fn via_index(mut self, i: usize) -> Self {
        for e in &mut self.0 {
            e.path.prefix(PathSeg::Index(i));
        }
        self
    }

    pub fn via_key(mut self, k: &str) -> Self {
        for e in &mut self.0 {
            e.path.prefix(PathSeg::Key(k.to_owned()));
        }
        self
    }

    /// `via_field(name).via_index(i)` reads backwards; this is `name[i]`.
    pub fn via_field_index(self, name: &str, i: usize) -> Self {
        self.via_index(i).via_field(name)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|e| e.severity == Severity::Error)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

impl From<FieldError> for FieldErrors {
    fn from(e: FieldError) -> Self {
        FieldErrors(vec![e])
    }
}

impl From<Vec<FieldError>> for FieldErrors {
    fn from(v: Vec<FieldError>) -> Self {
        FieldErrors(v)
    }
}

impl From<Option<FieldError>> for FieldErrors {
    fn from(e: Option<FieldError>) -> Self {
        FieldErrors(e.into_iter().collect())
    }
}

impl IntoIterator for FieldErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Extend<FieldError> for FieldErrors {
    fn extend<T: IntoIterator<Item = FieldError>>(&mut self, iter: T) {
        self.0.extend(iter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_prefix_outwards() {
        let e = FieldErrors::from(FieldError::missing("name"))
            .via_field_index("tasks", 2)
            .via_field("spec");
        assert_eq!(e.0[0].path.to_string(), "spec.tasks[2].name");
        assert_eq!(e.0[0].to_string(), "spec.tasks[2].name: missing field(s)");
    }

    proptest::proptest! {
        #[test]
        fn path_parsing_never_panics(s in "([a-z]{1,4}|\\.|\\[|\\]|[0-9]){0,20}") {
            let _ = FieldPath::parse(&s).to_string();
        }
    }

    #[test]
    fn parse_round_trips() {
        for p in [
            "spec.tasks[2].name",
            "a[b].c",
            "x",
            "metadata.labels[app.kubernetes.io/name]",
        ] {
            assert_eq!(FieldPath::parse(p).to_string(), p);
        }
    }
}

/// A finding inside a string value (an embedded script or document): `value` is the path of
/// the string in its object, `at` the 1-based line and column inside the string, `error`
/// the finding with the path it is reported under (which may go on into the string's own
/// structure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InnerError {
    pub error: FieldError,
    pub value: FieldPath,
    pub at: crate::yaml::Pos,
}
