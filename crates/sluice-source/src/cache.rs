//! Rendered objects per (repo, revision, source, options): an app whose revision and spec
//! did not change is not rendered again. Bounded: at most `capacity` entries, the oldest
//! dropped first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::Resolved;
use crate::render::RenderOptions;

/// A cache key: repository, revision, the source spec and the options, plus the revisions
/// of every source (a `$ref` value file changes the output).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key(String);

impl Key {
    pub fn new(
        repo: &str,
        revision: &str,
        source: &Value,
        opts: &RenderOptions,
        all: &[Resolved],
    ) -> Key {
        let revs: Vec<&str> = all.iter().map(|r| r.revision.as_str()).collect();
        Key(format!(
            "{repo}\u{0}{revision}\u{0}{source}\u{0}{opts:?}\u{0}{}",
            revs.join(",")
        ))
    }
}

/// The entries and their insertion order.
type Entries = (HashMap<Key, Arc<Vec<Value>>>, VecDeque<Key>);

/// The cache (shared by the controller's reconciles).
pub struct RenderCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

impl RenderCache {
    pub fn new(capacity: usize) -> RenderCache {
        RenderCache {
            capacity: capacity.max(1),
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    pub fn get(&self, k: &Key) -> Option<Arc<Vec<Value>>> {
        let g = self.inner.lock().ok()?;
        g.0.get(k).cloned()
    }

    pub fn put(&self, k: Key, v: Arc<Vec<Value>>) {
        let Ok(mut g) = self.inner.lock() else {
            return;
        };
        if g.0.insert(k.clone(), v).is_none() {
            g.1.push_back(k);
        }
        while g.1.len() > self.capacity {
            if let Some(old) = g.1.pop_front() {
                g.0.remove(&old);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map(|g| g.0.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded() {
        let c = RenderCache::new(2);
        let o = RenderOptions::default();
        let k = |r: &str| Key::new("repo", r, &Value::Null, &o, &[]);
        c.put(k("1"), Arc::new(vec![]));
        c.put(k("2"), Arc::new(vec![]));
        c.put(k("3"), Arc::new(vec![]));
        assert_eq!(c.len(), 2);
        assert!(c.get(&k("1")).is_none());
        assert!(c.get(&k("3")).is_some());
    }
}
