//! Rendered objects per (repo, revision, source, options): an app whose revision and spec
//! did not change is not rendered again. Bounded by the memory its entries take (estimated),
//! not by their count: a count below the number of apps made every refresh of 10,000 apps
//! a miss (each app evicted before its turn came again). The oldest entries go first.

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

/// The entries (objects and estimated size), their insertion order and their total size.
type Entries = (HashMap<Key, (Arc<Vec<Value>>, usize)>, VecDeque<Key>, usize);

/// An estimate of the heap a parsed value holds (serde_json's `Value` with `preserve_order`:
/// strings, vectors and index maps with their headers).
pub fn approx_size(v: &Value) -> usize {
    let mut total = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total += 32;
        match v {
            Value::String(s) => total += s.len(),
            Value::Array(a) => stack.extend(a.iter()),
            Value::Object(m) => {
                for (k, v) in m {
                    total += 40 + k.len();
                    stack.push(v);
                }
            }
            _ => {}
        }
    }
    total
}

/// The cache (shared by the controller's reconciles).
pub struct RenderCache {
    max_bytes: usize,
    inner: Mutex<Entries>,
}

impl RenderCache {
    /// A cache holding at most about `max_bytes` of keys and rendered objects (one entry
    /// larger than that is not kept).
    pub fn new(max_bytes: usize) -> RenderCache {
        RenderCache {
            max_bytes,
            inner: Mutex::new((HashMap::new(), VecDeque::new(), 0)),
        }
    }

    pub fn get(&self, k: &Key) -> Option<Arc<Vec<Value>>> {
        let g = self.inner.lock().ok()?;
        g.0.get(k).map(|(v, _)| v.clone())
    }

    pub fn put(&self, k: Key, v: Arc<Vec<Value>>) {
        let size = 2 * k.0.len() + 64 + v.iter().map(approx_size).sum::<usize>();
        if size > self.max_bytes {
            return;
        }
        let Ok(mut g) = self.inner.lock() else {
            return;
        };
        match g.0.insert(k.clone(), (v, size)) {
            Some((_, old)) => g.2 -= old,
            None => g.1.push_back(k),
        }
        g.2 += size;
        while g.2 > self.max_bytes {
            let Some(old) = g.1.pop_front() else { break };
            if let Some((_, s)) = g.0.remove(&old) {
                g.2 -= s;
            }
        }
    }

    /// The estimated bytes held.
    pub fn bytes(&self) -> usize {
        self.inner.lock().map(|g| g.2).unwrap_or(0)
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
    fn bounded_by_size() {
        let o = RenderOptions::default();
        let k = |r: &str| Key::new("repo", r, &Value::Null, &o, &[]);
        let obj = || Arc::new(vec![Value::String("x".repeat(1000))]);
        let one = 2 * k("1").0.len() + 64 + approx_size(&obj()[0]);
        let c = RenderCache::new(2 * one + one / 2);
        c.put(k("1"), obj());
        c.put(k("2"), obj());
        c.put(k("3"), obj());
        assert_eq!(c.len(), 2);
        assert!(c.get(&k("1")).is_none());
        assert!(c.get(&k("3")).is_some());
        assert_eq!(c.bytes(), 2 * one);
        // replacing an entry does not count it twice
        c.put(k("3"), obj());
        assert_eq!(c.bytes(), 2 * one);
        // an entry larger than the whole cache is not kept
        c.put(
            k("big"),
            Arc::new(vec![Value::String("x".repeat(10 * one))]),
        );
        assert!(c.get(&k("big")).is_none());
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn many_small_entries_all_stay() {
        // 10,000 apps of one small object each fit: the refresh of each finds its render
        let c = RenderCache::new(64 << 20);
        let o = RenderOptions::default();
        for i in 0..10_000 {
            let k = Key::new("repo", "rev", &Value::String(format!("app-{i}")), &o, &[]);
            c.put(
                k,
                Arc::new(vec![
                    serde_json::json!({"kind": "ConfigMap", "data": {"p": "x".repeat(2000)}}),
                ]),
            );
        }
        assert_eq!(c.len(), 10_000);
    }
}
