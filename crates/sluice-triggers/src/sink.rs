//! The EventListener sink: one event in, every trigger's outcome and the HTTP answer out
//! (tektoncd/triggers `pkg/sink/sink.go` `HandleEvent`, `selectTriggers`, `merge`,
//! `processTriggerGroups`, `processTrigger`; `validate_payload.go`).

use serde::Serialize;
use serde_json::{Map, Value};
use sluice_apis::triggers::event_listener::NamespaceSelector;
use sluice_apis::triggers::trigger::TriggerSpec;
use sluice_apis::triggers::{EventListener, Trigger};
use sluice_core::selector::Selector;

use crate::Lookup;
use crate::headers::Headers;
use crate::interceptors::{
    ChainCtx, ChainEnd, ChainState, InterceptorCaller, StopKind, code, run_chain,
};
use crate::template::{self, Stamp};

/// One delivery to `/listeners/<namespace>/<listener>`.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub namespace: &'a str,
    pub listener: &'a str,
    pub headers: &'a Headers,
    /// The body as received (the server bounds its size).
    pub body: &'a [u8],
    /// The request URL, as interceptors see it (`requestURL`, `event_url`).
    pub url: &'a str,
    /// A unique id for this delivery (a UUID), chosen by the caller.
    pub event_id: &'a str,
}

/// The body of the sink's answer (`sink.Response`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SinkResponse {
    pub event_listener: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(rename = "eventListenerUID")]
    pub event_listener_uid: String,
    #[serde(rename = "eventID", skip_serializing_if = "String::is_empty")]
    pub event_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error_message: String,
}

/// What happened to one trigger.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome")]
pub enum TriggerResult {
    /// Everything rendered: the resources to create, labelled, with namespaces set.
    Created { resources: Vec<Value> },
    /// An interceptor decided the event is not for this trigger.
    Filtered {
        interceptor: String,
        code: String,
        message: String,
    },
    /// An interceptor found the event not authentic (token, signature).
    Rejected {
        interceptor: String,
        code: String,
        message: String,
    },
    /// The trigger could not be processed (missing object, CEL error, missing param, a
    /// template that does not render). Nothing is created.
    Failed {
        #[serde(skip_serializing_if = "Option::is_none")]
        interceptor: Option<String>,
        message: String,
    },
}

impl TriggerResult {
    /// The reason to record: `Created`, `Filtered`, `Rejected` or `Failed`.
    pub fn reason(&self) -> &'static str {
        match self {
            TriggerResult::Created { .. } => "Created",
            TriggerResult::Filtered { .. } => "Filtered",
            TriggerResult::Rejected { .. } => "Rejected",
            TriggerResult::Failed { .. } => "Failed",
        }
    }

    /// A one-line message for the record.
    pub fn message(&self) -> String {
        match self {
            TriggerResult::Created { resources } => {
                let names: Vec<String> = resources
                    .iter()
                    .map(|r| {
                        let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
                        let name = r
                            .pointer("/metadata/name")
                            .or_else(|| r.pointer("/metadata/generateName"))
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        format!("{kind}/{name}")
                    })
                    .collect();
                format!("created {}", names.join(", "))
            }
            TriggerResult::Filtered {
                interceptor,
                message,
                ..
            }
            | TriggerResult::Rejected {
                interceptor,
                message,
                ..
            } => format!("interceptor {interceptor}: {message}"),
            TriggerResult::Failed {
                interceptor: Some(i),
                message,
            } => format!("interceptor {i}: {message}"),
            TriggerResult::Failed {
                interceptor: None,
                message,
            } => message.clone(),
        }
    }
}

/// One trigger (or a trigger group whose interceptors stopped the event).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerOutcome {
    /// The trigger's name (empty for a group's own outcome).
    pub trigger: String,
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The ServiceAccount the resources are to be created as (empty: the listener's).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_account: String,
    #[serde(flatten)]
    pub result: TriggerResult,
}

/// The sink's answer to one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventOutcome {
    /// HTTP status: 202 as upstream when the event was taken; 404 for an unknown listener,
    /// 400 for a body that is not a JSON object (payload validation), 403 when every trigger
    /// rejected the event as not authentic, 500 when nothing was created and a trigger
    /// failed (missing params, CEL errors, templates that do not render).
    pub status: u16,
    pub response: SinkResponse,
    pub triggers: Vec<TriggerOutcome>,
    /// The listener's `serviceAccountName` as read for this event (`None` when no listener
    /// was read): its resources are created with that ServiceAccount's permissions, so the
    /// caller need not read the listener again.
    #[serde(skip)]
    pub listener_service_account: Option<String>,
}

impl EventOutcome {
    /// Every resource to create, in trigger order.
    pub fn resources(&self) -> impl Iterator<Item = &Value> {
        self.triggers.iter().flat_map(|t| match &t.result {
            TriggerResult::Created { resources } => resources.as_slice(),
            _ => &[],
        })
    }
}

fn error_outcome(status: u16, mut response: SinkResponse, message: String) -> EventOutcome {
    response.error_message = message;
    EventOutcome {
        status,
        response,
        triggers: Vec::new(),
        listener_service_account: None,
    }
}

/// Handles one event: selects the listener's triggers, runs their interceptors, resolves
/// bindings and renders templates. Creates nothing itself: the caller creates
/// [`EventOutcome::resources`] and keeps the outcome as the event's record.
pub fn process(
    event: &Event<'_>,
    lookup: &dyn Lookup,
    caller: &dyn InterceptorCaller,
) -> EventOutcome {
    let mut response = SinkResponse {
        event_listener: event.listener.to_owned(),
        namespace: event.namespace.to_owned(),
        event_listener_uid: String::new(),
        event_id: event.event_id.to_owned(),
        error_message: String::new(),
    };
    let Some(mut el) = lookup.event_listener(event.namespace, event.listener) else {
        return error_outcome(
            404,
            response,
            format!(
                "EventListener {:?} not found in namespace {:?}",
                event.listener, event.namespace
            ),
        );
    };
    el.set_defaults();
    response.event_listener_uid = el.metadata.uid.clone().unwrap_or_default();
    let validate = el
        .metadata
        .annotations
        .get("tekton.dev/payload-validation")
        .is_none_or(|v| v != "false");
    if validate && let Err(e) = serde_json::from_slice::<Map<String, Value>>(event.body) {
        return error_outcome(400, response, format!("Invalid event body format : {e}"));
    }
    let ns = event.namespace;
    let mut outcomes = Vec::new();
    let mut triggers = match select_triggers(
        lookup,
        ns,
        el.spec.namespace_selector.as_ref(),
        el.spec.label_selector.as_ref(),
    ) {
        Ok(t) => t,
        Err(e) => return error_outcome(500, response, e),
    };
    match merge(&el, lookup, &mut outcomes) {
        Ok(inline) => triggers.extend(inline),
        Err(e) => return error_outcome(500, response, e),
    }
    let initial = ChainState {
        body: event.body.to_vec(),
        header: event.headers.clone(),
        extensions: Map::new(),
    };
    for (i, t) in triggers.iter().enumerate() {
        outcomes.push(process_trigger(
            t,
            &el,
            initial.clone(),
            None,
            i,
            event,
            lookup,
            caller,
        ));
    }
    let mut index = triggers.len();
    for g in &el.spec.trigger_groups {
        let ctx = ChainCtx {
            event_url: event.url,
            event_id: event.event_id,
            trigger_id: format!("namespaces/{ns}/triggerGroups/{}", g.name),
            namespace: ns,
            listener_namespace: ns,
            lookup,
            caller,
        };
        let state = match run_chain(&g.interceptors, initial.clone(), &ctx) {
            ChainEnd::Continue(s) => s,
            end => {
                outcomes.push(TriggerOutcome {
                    trigger: String::new(),
                    namespace: ns.to_owned(),
                    group: Some(g.name.clone()),
                    service_account: String::new(),
                    result: stopped(end),
                });
                continue;
            }
        };
        let sel = &g.trigger_selector;
        let selected = match select_triggers(
            lookup,
            ns,
            sel.namespace_selector.as_ref(),
            sel.label_selector.as_ref(),
        ) {
            Ok(t) => t,
            Err(e) => {
                outcomes.push(TriggerOutcome {
                    trigger: String::new(),
                    namespace: ns.to_owned(),
                    group: Some(g.name.clone()),
                    service_account: String::new(),
                    result: TriggerResult::Failed {
                        interceptor: None,
                        message: e,
                    },
                });
                continue;
            }
        };
        for t in &selected {
            outcomes.push(process_trigger(
                t,
                &el,
                state.clone(),
                Some(&g.name),
                index,
                event,
                lookup,
                caller,
            ));
            index += 1;
        }
    }
    let created = outcomes
        .iter()
        .any(|o| matches!(o.result, TriggerResult::Created { .. }));
    let failed = outcomes
        .iter()
        .find(|o| matches!(o.result, TriggerResult::Failed { .. }));
    let all_rejected = !outcomes.is_empty()
        && outcomes
            .iter()
            .all(|o| matches!(o.result, TriggerResult::Rejected { .. }));
    let (status, message) = if created {
        (202, String::new())
    } else if let Some(f) = failed {
        (500, f.result.message())
    } else if all_rejected {
        (403, outcomes[0].result.message())
    } else {
        (202, String::new())
    };
    response.error_message = message;
    EventOutcome {
        status,
        response,
        triggers: outcomes,
        listener_service_account: Some(el.spec.service_account_name.clone()),
    }
}

fn stopped(end: ChainEnd) -> TriggerResult {
    match end {
        ChainEnd::Continue(_) => TriggerResult::Failed {
            interceptor: None,
            message: "internal: a continuing chain reported as stopped".to_owned(),
        },
        ChainEnd::Stopped {
            interceptor,
            kind,
            status,
        } => match kind {
            StopKind::Filtered => TriggerResult::Filtered {
                interceptor,
                code: code::name(status.code),
                message: status.message,
            },
            StopKind::Rejected => TriggerResult::Rejected {
                interceptor,
                code: code::name(status.code),
                message: status.message,
            },
            StopKind::Error => TriggerResult::Failed {
                interceptor: Some(interceptor),
                message: status.message,
            },
        },
        ChainEnd::Failed(message) => TriggerResult::Failed {
            interceptor: None,
            message,
        },
    }
}

/// `selectTriggers`: Triggers by label in the listed namespaces (`*`: all), or in the
/// listener's namespace when only a label selector is given; none when neither is.
fn select_triggers(
    lookup: &dyn Lookup,
    listener_ns: &str,
    namespaces: Option<&NamespaceSelector>,
    labels: Option<&Value>,
) -> Result<Vec<Trigger>, String> {
    let names: &[String] = namespaces.map(|n| n.match_names.as_slice()).unwrap_or(&[]);
    let selector = match labels {
        Some(v) => Selector::from_label_selector(v).map_err(|e| {
            format!(
                "failed to create label selector: {}",
                e.iter()
                    .map(|x| x.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?,
        None => Selector::everything(),
    };
    let candidates: Vec<Trigger> = match names {
        [star] if star == "*" => lookup.triggers(None),
        [] if labels.is_some() => lookup.triggers(Some(listener_ns)),
        [] => return Ok(Vec::new()),
        list => list
            .iter()
            .flat_map(|ns| lookup.triggers(Some(ns)))
            .collect(),
    };
    Ok(candidates
        .into_iter()
        .filter(|t| {
            selector.matches_map(
                t.metadata
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
        })
        .map(|mut t| {
            t.set_defaults();
            t
        })
        .collect())
}

/// `merge`: the listener's own triggers, inline or by `triggerRef`.
fn merge(
    el: &EventListener,
    lookup: &dyn Lookup,
    outcomes: &mut Vec<TriggerOutcome>,
) -> Result<Vec<Trigger>, String> {
    let ns = el.metadata.namespace.as_deref().unwrap_or("default");
    let mut out = Vec::new();
    for t in &el.spec.triggers {
        match (&t.template, t.trigger_ref.is_empty()) {
            (None, false) => match lookup.trigger(ns, &t.trigger_ref) {
                Some(mut trig) => {
                    trig.set_defaults();
                    out.push(trig);
                }
                None => outcomes.push(TriggerOutcome {
                    trigger: t.trigger_ref.clone(),
                    namespace: ns.to_owned(),
                    group: None,
                    service_account: String::new(),
                    result: TriggerResult::Failed {
                        interceptor: None,
                        message: format!(
                            "Error getting Trigger {} in Namespace {ns}: trigger.triggers.tekton.dev {:?} not found",
                            t.trigger_ref, t.trigger_ref
                        ),
                    },
                }),
            },
            (Some(tmpl), _) => {
                let mut trig = Trigger::default();
                trig.metadata.name = Some(t.name.clone());
                trig.metadata.namespace = Some(ns.to_owned());
                trig.spec = TriggerSpec {
                    bindings: t.bindings.clone(),
                    template: tmpl.clone(),
                    name: String::new(),
                    interceptors: t.interceptors.clone(),
                    service_account_name: t.service_account_name.clone(),
                };
                trig.set_defaults();
                out.push(trig);
            }
            (None, true) => return Err("EventListenerTrigger not defined".to_owned()),
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn process_trigger(
    t: &Trigger,
    el: &EventListener,
    state: ChainState,
    group: Option<&String>,
    index: usize,
    event: &Event<'_>,
    lookup: &dyn Lookup,
    caller: &dyn InterceptorCaller,
) -> TriggerOutcome {
    let ns = t
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| event.namespace.to_owned());
    let name = t.metadata.name.clone().unwrap_or_default();
    let mut outcome = TriggerOutcome {
        trigger: name.clone(),
        namespace: ns.clone(),
        group: group.cloned(),
        service_account: t.spec.service_account_name.clone(),
        result: TriggerResult::Failed {
            interceptor: None,
            message: String::new(),
        },
    };
    let ctx = ChainCtx {
        event_url: event.url,
        event_id: event.event_id,
        trigger_id: format!("namespaces/{ns}/triggers/{name}"),
        namespace: &ns,
        listener_namespace: event.namespace,
        lookup,
        caller,
    };
    let state = match run_chain(&t.spec.interceptors, state, &ctx) {
        ChainEnd::Continue(s) => s,
        end => {
            outcome.result = stopped(end);
            return outcome;
        }
    };
    outcome.result = match render_trigger(t, el, &state, &ns, &name, index, event, lookup) {
        Ok(resources) => TriggerResult::Created { resources },
        Err(message) => TriggerResult::Failed {
            interceptor: None,
            message,
        },
    };
    outcome
}

#[allow(clippy::too_many_arguments)]
fn render_trigger(
    t: &Trigger,
    el: &EventListener,
    state: &ChainState,
    ns: &str,
    name: &str,
    index: usize,
    event: &Event<'_>,
    lookup: &dyn Lookup,
) -> Result<Vec<Value>, String> {
    let rt = template::resolve_trigger(t, lookup)?;
    let params = template::resolve_params(
        &rt,
        &state.body,
        &state.header,
        &state.extensions,
        event.event_id,
    )?;
    let uid = template::derived_uid(event.event_id, &format!("{index}/{ns}/{name}"));
    let listener = el.metadata.name.as_deref().unwrap_or(event.listener);
    template::render(
        &rt,
        &params,
        &Stamp {
            listener,
            trigger: name,
            event_id: event.event_id,
            namespace: ns,
            uid: &uid,
        },
    )
}
