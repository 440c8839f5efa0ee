//! Tekton Triggers' EventListener sink as a pure function.
//!
//! [`process`] takes one delivery ([`Event`]: listener, headers, body, an event id), reads the
//! objects it needs through [`Lookup`] ([`ObjectCatalog`] holds them in memory), performs
//! HTTP calls to user interceptors only through [`InterceptorCaller`], and returns an
//! [`EventOutcome`]: the HTTP answer (status and [`SinkResponse`]) and, per trigger, the
//! resources to create or why there are none. It creates nothing, has no clock, no
//! randomness and no I/O of its own.
//!
//! For the server: call [`process`] off the async runtime (it may block in
//! [`InterceptorCaller`] and runs CEL on a thread of its own), answer with
//! [`EventOutcome::status`] and `serde_json` of [`EventOutcome::response`], create
//! [`EventOutcome::resources`] (names from `generateName` are the API server's to make), and
//! keep `serde_json` of each [`TriggerOutcome`] as the event's record.
//!
//! ```
//! use serde_json::json;
//! use sluice_triggers::{Event, Headers, NoCaller, ObjectCatalog, process};
//!
//! let catalog = ObjectCatalog::new(
//!     [json!({
//!         "apiVersion": "triggers.tekton.dev/v1beta1", "kind": "EventListener",
//!         "metadata": {"name": "el", "namespace": "ci"},
//!         "spec": {"triggers": [{
//!             "name": "t",
//!             "bindings": [{"name": "sha", "value": "$(body.sha)"}],
//!             "template": {"spec": {
//!                 "params": [{"name": "sha"}],
//!                 "resourcetemplates": [{"apiVersion": "v1", "kind": "ConfigMap",
//!                     "metadata": {"generateName": "run-"}, "data": {"sha": "$(tt.params.sha)"}}]}}}]}
//!     })],
//!     "ci",
//! );
//! let headers = Headers::from_pairs([("Content-Type", "application/json")]);
//! let out = process(
//!     &Event { namespace: "ci", listener: "el", headers: &headers, body: br#"{"sha": "abc"}"#,
//!              url: "http://sluice/listeners/ci/el", event_id: "e-1" },
//!     &catalog,
//!     &NoCaller,
//! );
//! assert_eq!(out.status, 202);
//! let cm = out.resources().next().expect("one ConfigMap");
//! assert_eq!(cm["data"]["sha"], "abc");
//! assert_eq!(cm["metadata"]["labels"]["triggers.tekton.dev/triggers-eventid"], "e-1");
//! ```
//!
//! [`cel_syntax`] checks a cel interceptor expression; [`validate_cel`] checks every one of an
//! EventListener or Trigger, with field paths, for `sluice validate`.
//!
//! Upstream: tektoncd/triggers `pkg/sink`, `pkg/interceptors`, `pkg/template`,
//! `pkg/resources`.

mod catalog;
mod cel;
mod headers;
mod interceptors;
mod jsonpath;
mod sink;
mod template;
mod url;
mod validate;

pub use catalog::{Lookup, ObjectCatalog};
pub use cel::{CelLimits, LIMITS as CEL_LIMITS, cel_syntax};
pub use headers::Headers;
pub use interceptors::{
    InterceptorCaller, InterceptorRequest, InterceptorResponse, InterceptorTarget, NoCaller,
    Status, TriggerContext,
};
pub use sink::{Event, EventOutcome, SinkResponse, TriggerOutcome, TriggerResult, process};
pub use template::{EVENT_ID_LABEL, EVENT_LISTENER_LABEL, TRIGGER_LABEL};
pub use validate::validate_cel;
