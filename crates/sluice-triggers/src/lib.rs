//! Tekton Triggers' EventListener sink as a pure function.
//!
//! [`process`] takes one delivery ([`Event`]: listener, headers, body, an event id), reads the
//! objects it needs through [`Lookup`] ([`ObjectCatalog`] holds them in memory), performs
//! HTTP calls to user interceptors only through [`InterceptorCaller`], and returns an
//! [`EventOutcome`]: the HTTP answer (status and [`SinkResponse`]) and, per trigger, the
//! resources to create or why there are none. It creates nothing, has no clock, no
//! randomness and no I/O of its own.
//!
//! [`cel_syntax`] checks a cel interceptor expression; [`validate_cel`] checks every one of an
//! EventListener or Trigger, with field paths, for `sluice validate`.
//!
//! Upstream: tektoncd/triggers `pkg/sink`, `pkg/interceptors`, `pkg/template`,
//! `pkg/resources`.

mod catalog;
mod cel;
mod gojson;
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
