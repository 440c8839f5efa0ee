//! HTTP headers as Go's `http.Header` holds them: canonical keys (`X-Gitlab-Token`), each with
//! the list of its values in arrival order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sluice_apis::triggers::trigger::canonical_header_key;

/// Request headers keyed by their canonical form (`textproto.CanonicalMIMEHeaderKey`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Headers(pub BTreeMap<String, Vec<String>>);

impl Headers {
    pub fn new() -> Self {
        Headers::default()
    }

    /// Headers from `(name, value)` pairs; repeated names keep every value in order.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut h = Headers::new();
        for (k, v) in pairs {
            h.append(k, v);
        }
        h
    }

    /// Adds one value under the canonical form of `name`.
    pub fn append(&mut self, name: &str, value: impl Into<String>) {
        self.0
            .entry(canonical_header_key(name))
            .or_default()
            .push(value.into());
    }

    /// The first value of `name` (any case), as `http.Header.Get`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(&canonical_header_key(name))
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// [`Headers::get`], with the empty string for a missing header (Go's `Get`).
    pub fn get_or_empty(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Re-keys a map whose keys may not be canonical (an interceptor's response), as
    /// `interceptors.Canonical` does.
    pub fn canonicalize(raw: BTreeMap<String, Vec<String>>) -> Self {
        let mut h = Headers::new();
        for (k, vs) in raw {
            h.0.entry(canonical_header_key(&k)).or_default().extend(vs);
        }
        h
    }

    /// Header values joined with `,`, as the binding event exposes them.
    pub fn joined(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), v.join(",")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_lookup() {
        let h = Headers::from_pairs([
            ("x-gitlab-token", "a"),
            ("X-GITLAB-EVENT", "Push Hook"),
            ("x-multi", "1"),
            ("X-Multi", "2"),
        ]);
        assert_eq!(h.get("X-GitLab-Token"), Some("a"));
        assert_eq!(h.get("x-gitlab-event"), Some("Push Hook"));
        assert_eq!(h.0["X-Multi"], ["1", "2"]);
        assert_eq!(h.joined()["X-Multi"], "1,2");
        assert_eq!(h.get_or_empty("missing"), "");
    }
}
