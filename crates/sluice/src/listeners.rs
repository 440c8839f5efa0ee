//! EventListeners in `sluice serve`: the API server's [`ListenerHook`] implemented with the
//! sink of `sluice_kube::triggers` (lookups, creation, records over a `kube::Client`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sluice_apiserver::listeners::{ListenerHook, ListenerReply, ListenerRequest};
use sluice_kube::triggers::Sink;

/// The hook: deliveries go to the sink; refusals of the HTTP edge are recorded by it.
pub(crate) struct SinkHook {
    pub sink: Arc<Sink>,
}

impl ListenerHook for SinkHook {
    fn max_body(&self) -> usize {
        self.sink.opts.max_body
    }

    fn timeout(&self) -> Duration {
        self.sink.opts.timeout
    }

    fn deliver(&self, req: ListenerRequest) -> Pin<Box<dyn Future<Output = ListenerReply> + Send>> {
        let sink = self.sink.clone();
        Box::pin(async move {
            let d = sink
                .deliver(&req.namespace, &req.name, &req.headers, req.body, &req.url)
                .await;
            ListenerReply {
                status: d.status,
                body: d.body,
            }
        })
    }

    fn rejected(&self, namespace: &str, name: &str, status: u16, message: &str) {
        let sink = self.sink.clone();
        let (ns, name, message) = (namespace.to_owned(), name.to_owned(), message.to_owned());
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            h.spawn(async move { sink.refused(&ns, &name, status, &message).await });
        }
    }
}
