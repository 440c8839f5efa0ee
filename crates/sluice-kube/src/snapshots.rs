//! A running PipelineRun's catalog lent to its TaskRuns while none of the objects a TaskRun
//! reads from its namespace (ConfigMaps, Secrets, ServiceAccounts) changed.
//!
//! A TaskRun reads its namespace's ConfigMaps, Secrets and ServiceAccounts (workspaces,
//! env, credentials, feature flags): three lists per TaskRun, a quarter of the requests a
//! TaskRun made (bench/serve.py (d)). Its PipelineRun listed the same when it started. The
//! PipelineRun's catalog is lent to its TaskRuns ([`Snapshots::lend`], [`Snapshots::borrow`])
//! as long as watches of the three kinds ([`watch`]) have seen no change in that namespace
//! since before the PipelineRun's lists were read: what a TaskRun borrows is what it would
//! list, up to the watch's delay (the staleness a kubelet's watch-based Secret and ConfigMap
//! cache has). Nothing is lent while a watch is not listed and running (not yet started,
//! restarting after an error, not permitted): TaskRuns then list for themselves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher;
use sluice_pipeline::plan::Catalog;

/// The kinds a TaskRun reads from its namespace, watched for changes.
const KINDS: [(&str, &str); 3] = [
    ("ConfigMap", "configmaps"),
    ("Secret", "secrets"),
    ("ServiceAccount", "serviceaccounts"),
];

/// Lent catalogs and the changes that withdraw them. Invariant: a catalog is lent only
/// when every watch is live and no change was seen in its namespace since the generation
/// taken before its objects were read; a change withdraws every catalog of its namespace.
#[derive(Debug, Default)]
pub struct Snapshots {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Which of [`KINDS`]' watches have listed and run.
    live: [bool; KINDS.len()],
    /// Changes seen, by namespace; `epoch` counts the times a watch stopped being live.
    changes: HashMap<String, u64>,
    epoch: u64,
    /// PipelineRun uid -> (namespace, catalog).
    lent: HashMap<String, (String, Arc<Catalog>)>,
}

impl Inner {
    fn generation(&self, namespace: &str) -> Option<Generation> {
        self.live.iter().all(|l| *l).then(|| Generation {
            epoch: self.epoch,
            changes: self.changes.get(namespace).copied().unwrap_or(0),
        })
    }
}

/// Where a namespace stood before its objects were read (see [`Snapshots::generation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    epoch: u64,
    changes: u64,
}

/// Withdraws the lent catalog of a PipelineRun when dropped.
#[derive(Debug)]
pub struct Lent {
    snapshots: Arc<Snapshots>,
    uid: String,
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.snapshots.lock().lent.remove(&self.uid);
    }
}

impl Snapshots {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The namespace's generation, to be taken *before* its objects are read; `None` while
    /// a watch is not live (nothing could be lent).
    pub fn generation(&self, namespace: &str) -> Option<Generation> {
        self.lock().generation(namespace)
    }

    /// Lends the catalog of the PipelineRun `uid`, read after `generation` was taken, to
    /// its TaskRuns until the returned guard drops; `None` (nothing lent) when something
    /// changed since.
    pub fn lend(
        self: &Arc<Self>,
        uid: &str,
        namespace: &str,
        generation: Option<Generation>,
        catalog: Arc<Catalog>,
    ) -> Option<Lent> {
        let mut inner = self.lock();
        if generation.is_none() || inner.generation(namespace) != generation {
            return None;
        }
        inner
            .lent
            .insert(uid.to_owned(), (namespace.to_owned(), catalog));
        Some(Lent {
            snapshots: self.clone(),
            uid: uid.to_owned(),
        })
    }

    /// The catalog lent by the PipelineRun `owner` (a TaskRun's owner) in `namespace`.
    pub fn borrow(&self, owner: &str, namespace: &str) -> Option<Arc<Catalog>> {
        let inner = self.lock();
        match inner.lent.get(owner) {
            Some((ns, c)) if ns == namespace => Some(c.clone()),
            _ => None,
        }
    }

    /// A watch saw an object of `namespace` change: its catalogs are withdrawn.
    pub fn changed(&self, namespace: &str) {
        let mut inner = self.lock();
        *inner.changes.entry(namespace.to_owned()).or_default() += 1;
        inner.lent.retain(|_, (ns, _)| ns != namespace);
    }

    /// Watch `kind` (an index into [`KINDS`]) is live (listed, running) or not; when it
    /// stops being live every catalog is withdrawn (changes may go unseen).
    fn set_live(&self, kind: usize, live: bool) {
        let mut inner = self.lock();
        if !live {
            inner.epoch += 1;
            inner.lent.clear();
        }
        inner.live[kind] = live;
    }

    /// Takes one event of watch `kind`.
    fn see<K: kube::Resource>(&self, kind: usize, ev: &watcher::Event<K>) {
        match ev {
            watcher::Event::Init => self.set_live(kind, false),
            watcher::Event::InitApply(_) => {}
            watcher::Event::InitDone => self.set_live(kind, true),
            watcher::Event::Apply(o) | watcher::Event::Delete(o) => {
                self.changed(o.meta().namespace.as_deref().unwrap_or_default())
            }
        }
    }
}

/// Watches ConfigMaps, Secrets and ServiceAccounts in all namespaces (metadata only) for
/// `snapshots`, for as long as the future runs. A watch that fails is not live until it
/// has listed again, one second later.
pub async fn watch(client: Client, snapshots: Arc<Snapshots>) {
    let watches = KINDS.iter().enumerate().map(|(i, (kind, plural))| {
        let (client, snapshots) = (client.clone(), snapshots.clone());
        async move {
            let api: Api<DynamicObject> =
                Api::all_with(client, &crate::gvk("", "v1", kind, plural));
            loop {
                let mut events = std::pin::pin!(watcher::metadata_watcher(
                    api.clone(),
                    watcher::Config::default()
                ));
                while let Some(ev) = events.next().await {
                    match ev {
                        Ok(ev) => snapshots.see(i, &ev),
                        Err(_) => break,
                    }
                }
                snapshots.set_live(i, false);
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    });
    futures::future::join_all(watches).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Arc<Snapshots> {
        let s = Arc::new(Snapshots::default());
        for k in 0..KINDS.len() {
            s.set_live(k, true);
        }
        s
    }

    #[test]
    fn lent_while_nothing_changed_and_withdrawn_when_something_did() {
        let s = live();
        let cat = Arc::new(Catalog::default());
        let g = s.generation("ci");
        let lent = s.lend("pr-1", "ci", g, cat.clone()).expect("lent");
        assert!(s.borrow("pr-1", "ci").is_some());
        // another namespace's TaskRun, another owner: nothing
        assert!(s.borrow("pr-1", "other").is_none());
        assert!(s.borrow("pr-2", "ci").is_none());
        // a change elsewhere keeps it; in its namespace withdraws it
        s.changed("other");
        assert!(s.borrow("pr-1", "ci").is_some());
        s.changed("ci");
        assert!(s.borrow("pr-1", "ci").is_none());
        drop(lent);

        // lent again; the guard's drop withdraws it
        let g = s.generation("ci");
        let lent = s.lend("pr-1", "ci", g, cat.clone()).expect("lent");
        drop(lent);
        assert!(s.borrow("pr-1", "ci").is_none());
    }

    #[test]
    fn a_change_between_the_generation_and_the_lending_lends_nothing() {
        let s = live();
        let cat = Arc::new(Catalog::default());
        let g = s.generation("ci");
        s.changed("ci"); // while the PipelineRun read its lists
        assert!(s.lend("pr-1", "ci", g, cat.clone()).is_none());
        assert!(s.borrow("pr-1", "ci").is_none());
        // a watch that restarted in between: the same
        let g = s.generation("ci");
        s.set_live(1, false);
        s.set_live(1, true);
        assert!(s.lend("pr-1", "ci", g, cat).is_none());
    }

    #[test]
    fn nothing_is_lent_unless_every_watch_is_live() {
        let s = Arc::new(Snapshots::default());
        let cat = Arc::new(Catalog::default());
        assert_eq!(s.generation("ci"), None);
        assert!(s.lend("pr-1", "ci", None, cat.clone()).is_none());
        s.set_live(0, true);
        s.set_live(1, true);
        assert_eq!(s.generation("ci"), None);
        s.set_live(2, true);
        let lent = s.lend("pr-1", "ci", s.generation("ci"), cat).expect("lent");
        // a watch restarting (relisting) withdraws everything
        s.see::<DynamicObject>(0, &watcher::Event::Init);
        assert!(s.borrow("pr-1", "ci").is_none());
        assert_eq!(s.generation("ci"), None);
        drop(lent);
    }
}
