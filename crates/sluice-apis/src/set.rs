//! The set of objects validated together, and what validators see of it.

use std::collections::HashMap;
use std::sync::OnceLock;

use sluice_core::{FieldError, Object};

/// Objects validated together. References between them resolve by group, kind, namespace
/// and name; an object without a namespace matches any namespace (a manifest without one
/// lands in whatever namespace it is applied to).
#[derive(Debug, Default)]
pub struct ObjectSet<'a> {
    objects: Vec<&'a Object>,
    by_kind_name: HashMap<(String, String), Vec<usize>>,
}

impl<'a> ObjectSet<'a> {
    pub fn new(objects: impl IntoIterator<Item = &'a Object>) -> Self {
        let objects: Vec<&Object> = objects.into_iter().collect();
        let mut by_kind_name: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, o) in objects.iter().enumerate() {
            by_kind_name
                .entry((o.kind().to_owned(), o.name().to_owned()))
                .or_default()
                .push(i);
        }
        ObjectSet {
            objects,
            by_kind_name,
        }
    }

    pub fn objects(&self) -> &[&'a Object] {
        &self.objects
    }

    /// Finds `kind/name` (in `group`, any version) visible from `namespace`.
    pub fn find(
        &self,
        group: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<&'a Object> {
        let candidates = self.by_kind_name.get(&(kind.to_owned(), name.to_owned()))?;
        let mut fallback = None;
        for &i in candidates {
            let o = self.objects[i];
            if o.gvk().group != group {
                continue;
            }
            match (namespace, o.namespace()) {
                (Some(a), Some(b)) if a == b => return Some(o),
                (Some(_), Some(_)) => {}
                _ => fallback = fallback.or(Some(o)),
            }
        }
        fallback
    }

    /// Every object of `group`/`kind`.
    pub fn of_kind<'s>(
        &'s self,
        group: &'s str,
        kind: &'s str,
    ) -> impl Iterator<Item = &'a Object> + 's {
        self.objects
            .iter()
            .copied()
            .filter(move |o| o.kind() == kind && o.gvk().group == group)
    }
}

/// What a validator sees: the whole set, plus derived facts computed once.
pub struct Context<'a> {
    pub set: &'a ObjectSet<'a>,
    tekton_flags: OnceLock<crate::tekton::FeatureFlags>,
}

impl<'a> Context<'a> {
    pub fn new(set: &'a ObjectSet<'a>) -> Self {
        Context {
            set,
            tekton_flags: OnceLock::new(),
        }
    }

    /// Tekton's feature flags: the `feature-flags` ConfigMap among the inputs, upstream
    /// defaults otherwise.
    pub fn tekton_flags(&self) -> &crate::tekton::FeatureFlags {
        self.tekton_flags
            .get_or_init(|| crate::tekton::FeatureFlags::from_set(self.set))
    }

    /// Overrides the feature flags (e.g. `--feature-flags` on the command line).
    pub fn with_tekton_flags(self, flags: crate::tekton::FeatureFlags) -> Self {
        let _ = self.tekton_flags.set(flags);
        self
    }
}

/// A finding about object `object` (an index into the set).
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub object: usize,
    pub error: FieldError,
}
