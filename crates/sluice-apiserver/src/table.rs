//! `meta.k8s.io/v1 Table` responses for `kubectl get`: the built-in printers of
//! kubernetes `pkg/printers/internalversion/printers.go` (the common columns) and CRD
//! `additionalPrinterColumns` evaluated with a JSONPath subset.

use serde_json::{Value, json};

use crate::util::{human_age, parse_rfc3339};

/// How a cell is computed.
#[derive(Debug, Clone)]
pub enum Source {
    /// A CRD column's JSONPath (`.status.conditions[?(@.type=="Ready")].status`).
    Path(String),
    /// A built-in printer.
    Func(fn(&Value) -> Value),
}

/// A column definition (`metav1.TableColumnDefinition`) and its source.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub source: Source,
}

fn col(name: &str, ty: &str, priority: i64, f: fn(&Value) -> Value) -> Column {
    Column {
        name: name.into(),
        ty: ty.into(),
        format: String::new(),
        description: String::new(),
        priority,
        source: Source::Func(f),
    }
}

fn s(v: &Value, path: &str) -> String {
    match eval_first(v, path) {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn i(v: &Value, path: &str) -> i64 {
    eval_first(v, path).and_then(|v| v.as_i64()).unwrap_or(0)
}

fn len_of(v: &Value, path: &str) -> usize {
    match eval_first(v, path) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

fn age(v: &Value) -> Value {
    json!(
        parse_rfc3339(&s(v, ".metadata.creationTimestamp"))
            .map(human_age)
            .unwrap_or_else(|| "<unknown>".into())
    )
}

fn none_if_empty(x: String) -> Value {
    json!(if x.is_empty() { "<none>".to_owned() } else { x })
}

fn containers(v: &Value) -> (String, String) {
    let cs = eval_first(v, ".spec.template.spec.containers")
        .and_then(|c| c.as_array().cloned())
        .unwrap_or_default();
    let names: Vec<String> = cs.iter().map(|c| s(c, ".name")).collect();
    let images: Vec<String> = cs.iter().map(|c| s(c, ".image")).collect();
    (names.join(","), images.join(","))
}

fn selector(v: &Value) -> Value {
    let m = eval_first(v, ".spec.selector.matchLabels")
        .or_else(|| eval_first(v, ".spec.selector"))
        .and_then(|m| m.as_object().cloned())
        .unwrap_or_default();
    let parts: Vec<String> = m
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
        .collect();
    none_if_empty(parts.join(","))
}

/// `listWithMoreString`: at most three items, then " + N more...", `<unset>` when empty.
fn list_with_more(items: Vec<String>) -> String {
    const MAX: usize = 3;
    let n = items.len();
    let shown = items.into_iter().take(MAX).collect::<Vec<_>>().join(",");
    if n > MAX {
        format!("{shown} + {} more...", n - MAX)
    } else if shown.is_empty() {
        "<unset>".into()
    } else {
        shown
    }
}

/// An IntOrString field, or "N/A" when unset (printPodDisruptionBudget).
fn na_or(v: &Value, path: &str) -> Value {
    match eval_first(v, path) {
        Some(Value::String(x)) => json!(x),
        Some(Value::Number(n)) => json!(n.to_string()),
        _ => json!("N/A"),
    }
}

/// `metav1.FormatLabelSelector`: `labels.Selector.String()` of the selector (requirements
/// sorted by key: `k=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`), `<none>` when empty.
pub fn format_label_selector(sel: Option<&Value>) -> String {
    let Some(sel) = sel.filter(|s| s.is_object()) else {
        return "<none>".into();
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
        }
    }
    for r in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let k = s(r, ".key");
        let mut vals: Vec<String> = r
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect();
        vals.sort();
        let text = match s(r, ".operator").as_str() {
            "In" => format!("{k} in ({})", vals.join(",")),
            "NotIn" => format!("{k} notin ({})", vals.join(",")),
            "Exists" => k.clone(),
            "DoesNotExist" => format!("!{k}"),
            _ => return "<error>".into(),
        };
        reqs.push((k, text));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    let out: Vec<String> = reqs.into_iter().map(|(_, t)| t).collect();
    if out.is_empty() {
        "<none>".into()
    } else {
        out.join(",")
    }
}

/// The columns of a built-in resource's printer.
pub fn builtin_columns(plural: &str) -> Vec<Column> {
    let mut cols = vec![Column {
        name: "Name".into(),
        ty: "string".into(),
        format: "name".into(),
        description: "Name must be unique within a namespace.".into(),
        priority: 0,
        source: Source::Func(|v| json!(s(v, ".metadata.name"))),
    }];
    let more: Vec<Column> = match plural {
        "pods" => vec![
            col("Ready", "string", 0, |v| {
                let total = len_of(v, ".spec.containers");
                let ready = eval_first(v, ".status.containerStatuses")
                    .and_then(|c| c.as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
                    .count();
                json!(format!("{ready}/{total}"))
            }),
            col("Status", "string", 0, |v| {
                let reason = s(v, ".status.reason");
                if v.pointer("/metadata/deletionTimestamp").is_some() {
                    return json!("Terminating");
                }
                json!(if reason.is_empty() {
                    let p = s(v, ".status.phase");
                    if p.is_empty() {
                        "Pending".to_owned()
                    } else {
                        p
                    }
                } else {
                    reason
                })
            }),
            col("Restarts", "string", 0, |v| {
                let n: i64 = eval_first(v, ".status.containerStatuses")
                    .and_then(|c| c.as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .map(|c| i(c, ".restartCount"))
                    .sum();
                json!(n.to_string())
            }),
            col("Age", "string", 0, age),
            col("IP", "string", 1, |v| none_if_empty(s(v, ".status.podIP"))),
            col("Node", "string", 1, |v| {
                none_if_empty(s(v, ".spec.nodeName"))
            }),
            col("Nominated Node", "string", 1, |v| {
                none_if_empty(s(v, ".status.nominatedNodeName"))
            }),
            col("Readiness Gates", "string", 1, |_| json!("<none>")),
        ],
        "deployments" => vec![
            col("Ready", "string", 0, |v| {
                json!(format!(
                    "{}/{}",
                    i(v, ".status.readyReplicas"),
                    i(v, ".spec.replicas")
                ))
            }),
            col("Up-to-date", "integer", 0, |v| {
                json!(i(v, ".status.updatedReplicas"))
            }),
            col("Available", "integer", 0, |v| {
                json!(i(v, ".status.availableReplicas"))
            }),
            col("Age", "string", 0, age),
            col("Containers", "string", 1, |v| json!(containers(v).0)),
            col("Images", "string", 1, |v| json!(containers(v).1)),
            col("Selector", "string", 1, selector),
        ],
        "replicasets" => vec![
            col("Desired", "integer", 0, |v| json!(i(v, ".spec.replicas"))),
            col("Current", "integer", 0, |v| json!(i(v, ".status.replicas"))),
            col("Ready", "integer", 0, |v| {
                json!(i(v, ".status.readyReplicas"))
            }),
            col("Age", "string", 0, age),
            col("Containers", "string", 1, |v| json!(containers(v).0)),
            col("Images", "string", 1, |v| json!(containers(v).1)),
            col("Selector", "string", 1, selector),
        ],
        "statefulsets" => vec![
            col("Ready", "string", 0, |v| {
                json!(format!(
                    "{}/{}",
                    i(v, ".status.readyReplicas"),
                    i(v, ".spec.replicas")
                ))
            }),
            col("Age", "string", 0, age),
            col("Containers", "string", 1, |v| json!(containers(v).0)),
            col("Images", "string", 1, |v| json!(containers(v).1)),
        ],
        "daemonsets" => vec![
            col("Desired", "integer", 0, |v| {
                json!(i(v, ".status.desiredNumberScheduled"))
            }),
            col("Current", "integer", 0, |v| {
                json!(i(v, ".status.currentNumberScheduled"))
            }),
            col("Ready", "integer", 0, |v| {
                json!(i(v, ".status.numberReady"))
            }),
            col("Up-to-date", "integer", 0, |v| {
                json!(i(v, ".status.updatedNumberScheduled"))
            }),
            col("Available", "integer", 0, |v| {
                json!(i(v, ".status.numberAvailable"))
            }),
            col("Node Selector", "string", 0, |v| {
                let m = eval_first(v, ".spec.template.spec.nodeSelector")
                    .and_then(|m| m.as_object().cloned())
                    .unwrap_or_default();
                let p: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect();
                none_if_empty(p.join(","))
            }),
            col("Age", "string", 0, age),
        ],
        "jobs" => vec![
            col("Status", "string", 0, |v| {
                let conds = eval_first(v, ".status.conditions")
                    .and_then(|c| c.as_array().cloned())
                    .unwrap_or_default();
                let has = |t: &str| {
                    conds
                        .iter()
                        .any(|c| s(c, ".type") == t && s(c, ".status") == "True")
                };
                json!(if has("Complete") {
                    "Complete"
                } else if has("Failed") {
                    "Failed"
                } else if v.pointer("/metadata/deletionTimestamp").is_some() {
                    "Terminating"
                } else {
                    "Running"
                })
            }),
            col("Completions", "string", 0, |v| {
                let want = eval_first(v, ".spec.completions")
                    .and_then(|c| c.as_i64())
                    .unwrap_or(1);
                json!(format!("{}/{want}", i(v, ".status.succeeded")))
            }),
            col("Duration", "string", 0, |v| {
                let (a, b) = (
                    parse_rfc3339(&s(v, ".status.startTime")),
                    parse_rfc3339(&s(v, ".status.completionTime")),
                );
                json!(match (a, b) {
                    (Some(a), Some(b)) => format!("{}s", (b - a).max(0)),
                    (Some(a), None) => human_age(a),
                    _ => String::new(),
                })
            }),
            col("Age", "string", 0, age),
        ],
        "cronjobs" => vec![
            col("Schedule", "string", 0, |v| json!(s(v, ".spec.schedule"))),
            col("Timezone", "string", 0, |v| {
                none_if_empty(s(v, ".spec.timeZone"))
            }),
            col("Suspend", "boolean", 0, |v| {
                json!(
                    eval_first(v, ".spec.suspend")
                        .and_then(|b| b.as_bool())
                        .unwrap_or(false)
                )
            }),
            col("Active", "integer", 0, |v| {
                json!(len_of(v, ".status.active"))
            }),
            col("Last Schedule", "string", 0, |v| {
                json!(
                    parse_rfc3339(&s(v, ".status.lastScheduleTime"))
                        .map(human_age)
                        .unwrap_or_else(|| "<none>".into())
                )
            }),
            col("Age", "string", 0, age),
        ],
        "services" => vec![
            col("Type", "string", 0, |v| {
                let t = s(v, ".spec.type");
                json!(if t.is_empty() {
                    "ClusterIP".to_owned()
                } else {
                    t
                })
            }),
            col("Cluster-IP", "string", 0, |v| {
                none_if_empty(s(v, ".spec.clusterIP"))
            }),
            col("External-IP", "string", 0, |_| json!("<none>")),
            col("Port(s)", "string", 0, |v| {
                let ports = eval_first(v, ".spec.ports")
                    .and_then(|p| p.as_array().cloned())
                    .unwrap_or_default();
                let p: Vec<String> = ports
                    .iter()
                    .map(|p| {
                        let proto = s(p, ".protocol");
                        format!(
                            "{}/{}",
                            i(p, ".port"),
                            if proto.is_empty() {
                                "TCP".into()
                            } else {
                                proto
                            }
                        )
                    })
                    .collect();
                none_if_empty(p.join(","))
            }),
            col("Age", "string", 0, age),
            col("Selector", "string", 1, |v| {
                let m = eval_first(v, ".spec.selector")
                    .and_then(|m| m.as_object().cloned())
                    .unwrap_or_default();
                let p: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect();
                none_if_empty(p.join(","))
            }),
        ],
        "configmaps" => vec![
            col("Data", "integer", 0, |v| {
                json!(len_of(v, ".data") + len_of(v, ".binaryData"))
            }),
            col("Age", "string", 0, age),
        ],
        "secrets" => vec![
            col("Type", "string", 0, |v| json!(s(v, ".type"))),
            col("Data", "integer", 0, |v| {
                json!(len_of(v, ".data") + len_of(v, ".stringData"))
            }),
            col("Age", "string", 0, age),
        ],
        "serviceaccounts" => vec![
            col("Secrets", "integer", 0, |v| json!(len_of(v, ".secrets"))),
            col("Age", "string", 0, age),
        ],
        "namespaces" => vec![
            col("Status", "string", 0, |v| json!(s(v, ".status.phase"))),
            col("Age", "string", 0, age),
        ],
        "persistentvolumeclaims" => vec![
            col("Status", "string", 0, |v| json!(s(v, ".status.phase"))),
            col("Volume", "string", 0, |v| json!(s(v, ".spec.volumeName"))),
            col("Capacity", "string", 0, |v| {
                json!(s(v, ".status.capacity.storage"))
            }),
            col("Access Modes", "string", 0, |v| {
                let m = eval_first(v, ".spec.accessModes")
                    .and_then(|m| m.as_array().cloned())
                    .unwrap_or_default();
                let short: Vec<&str> = m
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|m| match m {
                        "ReadWriteOnce" => "RWO",
                        "ReadOnlyMany" => "ROX",
                        "ReadWriteMany" => "RWX",
                        "ReadWriteOncePod" => "RWOP",
                        o => o,
                    })
                    .collect();
                json!(short.join(","))
            }),
            col("StorageClass", "string", 0, |v| {
                none_if_empty(s(v, ".spec.storageClassName"))
            }),
            col("Age", "string", 0, age),
        ],
        "events" => {
            // events print Last Seen first; keep Name for a stable layout.
            vec![
                col("Type", "string", 0, |v| json!(s(v, ".type"))),
                col("Reason", "string", 0, |v| json!(s(v, ".reason"))),
                col("Object", "string", 0, |v| {
                    json!(format!(
                        "{}/{}",
                        s(v, ".involvedObject.kind").to_ascii_lowercase(),
                        s(v, ".involvedObject.name")
                    ))
                }),
                col("Message", "string", 0, |v| json!(s(v, ".message"))),
            ]
        }
        "ingresses" => vec![
            col("Class", "string", 0, |v| {
                none_if_empty(s(v, ".spec.ingressClassName"))
            }),
            col("Hosts", "string", 0, |v| {
                let rules = eval_first(v, ".spec.rules")
                    .and_then(|r| r.as_array().cloned())
                    .unwrap_or_default();
                let h: Vec<String> = rules.iter().map(|r| s(r, ".host")).collect();
                json!(if h.is_empty() {
                    "*".to_owned()
                } else {
                    h.join(",")
                })
            }),
            col("Address", "string", 0, |_| json!("")),
            col("Ports", "string", 0, |v| {
                json!(if len_of(v, ".spec.tls") > 0 {
                    "80, 443"
                } else {
                    "80"
                })
            }),
            col("Age", "string", 0, age),
        ],
        "horizontalpodautoscalers" => vec![
            col("Reference", "string", 0, |v| {
                json!(format!(
                    "{}/{}",
                    s(v, ".spec.scaleTargetRef.kind"),
                    s(v, ".spec.scaleTargetRef.name")
                ))
            }),
            col("Targets", "string", 0, |_| json!("<unknown>")),
            col("MinPods", "string", 0, |v| {
                json!(
                    eval_first(v, ".spec.minReplicas")
                        .and_then(|m| m.as_i64())
                        .unwrap_or(1)
                        .to_string()
                )
            }),
            col("MaxPods", "integer", 0, |v| {
                json!(i(v, ".spec.maxReplicas"))
            }),
            col("Replicas", "integer", 0, |v| {
                json!(i(v, ".status.currentReplicas"))
            }),
            col("Age", "string", 0, age),
        ],
        "rolebindings" | "clusterrolebindings" => vec![
            col("Role", "string", 0, |v| {
                json!(format!(
                    "{}/{}",
                    s(v, ".roleRef.kind"),
                    s(v, ".roleRef.name")
                ))
            }),
            col("Age", "string", 0, age),
        ],
        "roles" | "clusterroles" | "customresourcedefinitions" => {
            vec![col("Created At", "date", 0, |v| {
                json!(s(v, ".metadata.creationTimestamp"))
            })]
        }
        "leases" => vec![
            col("Holder", "string", 0, |v| {
                json!(s(v, ".spec.holderIdentity"))
            }),
            col("Age", "string", 0, age),
        ],
        "endpoints" => vec![
            col("Endpoints", "string", 0, |v| {
                let subsets = eval_first(v, ".subsets")
                    .and_then(|s| s.as_array().cloned())
                    .unwrap_or_default();
                let mut eps = Vec::new();
                for ss in &subsets {
                    let ports = ss
                        .get("ports")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    for a in ss
                        .get("addresses")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                    {
                        for p in &ports {
                            eps.push(format!("{}:{}", s(&a, ".ip"), i(p, ".port")));
                        }
                    }
                }
                none_if_empty(eps.join(","))
            }),
            col("Age", "string", 0, age),
        ],
        "nodes" => vec![
            col("Status", "string", 0, |v| {
                let ready = eval_first(v, ".status.conditions[?(@.type==\"Ready\")].status");
                json!(if ready == Some(json!("True")) {
                    "Ready"
                } else {
                    "NotReady"
                })
            }),
            col("Roles", "string", 0, |_| json!("<none>")),
            col("Age", "string", 0, age),
            col("Version", "string", 0, |v| {
                json!(s(v, ".status.nodeInfo.kubeletVersion"))
            }),
        ],
        "validatingadmissionpolicies" | "mutatingadmissionpolicies" => vec![
            col(
                if plural == "validatingadmissionpolicies" {
                    "Validations"
                } else {
                    "Mutations"
                },
                "integer",
                0,
                |v| json!(len_of(v, ".spec.validations").max(len_of(v, ".spec.mutations"))),
            ),
            col("ParamKind", "string", 0, |v| {
                json!(match eval_first(v, ".spec.paramKind") {
                    Some(pk) if pk.is_object() =>
                        format!("{}/{}", s(&pk, ".apiVersion"), s(&pk, ".kind")),
                    _ => "<unset>".to_owned(),
                })
            }),
            col("Age", "string", 0, age),
        ],
        "validatingadmissionpolicybindings" | "mutatingadmissionpolicybindings" => vec![
            col("PolicyName", "string", 0, |v| {
                json!(s(v, ".spec.policyName"))
            }),
            col("ParamRef", "string", 0, |v| {
                let Some(r) = eval_first(v, ".spec.paramRef").filter(Value::is_object) else {
                    return json!("<unset>");
                };
                let (name, ns) = (s(&r, ".name"), s(&r, ".namespace"));
                json!(if !name.is_empty() {
                    format!("{}/{name}", if ns.is_empty() { "*" } else { &ns })
                } else if let Some(sel) = r.get("selector") {
                    format_label_selector(Some(sel))
                } else {
                    "<unset>".to_owned()
                })
            }),
            col("Age", "string", 0, age),
        ],
        "validatingwebhookconfigurations" | "mutatingwebhookconfigurations" => vec![
            col("Webhooks", "integer", 0, |v| json!(len_of(v, ".webhooks"))),
            col("Age", "string", 0, age),
        ],
        "endpointslices" => vec![
            col("AddressType", "string", 0, |v| json!(s(v, ".addressType"))),
            col("Ports", "string", 0, |v| {
                let ports = eval_first(v, ".ports")
                    .and_then(|p| p.as_array().cloned())
                    .unwrap_or_default();
                let items: Vec<String> = ports
                    .iter()
                    .map(|p| {
                        match (
                            p.get("port").and_then(Value::as_i64),
                            p.get("name").and_then(Value::as_str),
                        ) {
                            (Some(n), _) => n.to_string(),
                            (None, Some(name)) => name.to_owned(),
                            _ => "*".to_owned(),
                        }
                    })
                    .collect();
                json!(list_with_more(items))
            }),
            col("Endpoints", "string", 0, |v| {
                let eps = eval(v, ".endpoints[*].addresses[*]");
                json!(list_with_more(
                    eps.iter()
                        .map(|a| a.as_str().unwrap_or_default().to_owned())
                        .collect()
                ))
            }),
            col("Age", "string", 0, age),
        ],
        "csistoragecapacities" => vec![
            col("StorageClassName", "string", 0, |v| {
                json!(s(v, ".storageClassName"))
            }),
            col("Capacity", "string", 0, |v| {
                let c = s(v, ".capacity");
                json!(if c.is_empty() {
                    "<unset>".to_owned()
                } else {
                    c
                })
            }),
        ],
        "csinodes" => vec![
            col("Drivers", "integer", 0, |v| {
                json!(len_of(v, ".spec.drivers"))
            }),
            col("Age", "string", 0, age),
        ],
        "flowschemas" => vec![
            col("PriorityLevel", "string", 0, |v| {
                json!(s(v, ".spec.priorityLevelConfiguration.name"))
            }),
            col("MatchingPrecedence", "string", 0, |v| {
                json!(i(v, ".spec.matchingPrecedence"))
            }),
            col("DistinguisherMethod", "string", 0, |v| {
                none_if_empty(s(v, ".spec.distinguisherMethod.type"))
            }),
            col("Age", "string", 0, age),
            col("MissingPL", "string", 0, |v| {
                let dangling = s(v, ".status.conditions[?(@.type==\"Dangling\")].status");
                json!(if dangling.is_empty() {
                    "?".to_owned()
                } else {
                    dangling
                })
            }),
        ],
        "prioritylevelconfigurations" => {
            fn limited(v: &Value, path: &str) -> Value {
                if eval_first(v, ".spec.limited").is_some_and(|l| l.is_object()) {
                    if let Some(n) = eval_first(v, path).filter(|n| !n.is_null()) {
                        return n;
                    }
                    if path == ".spec.limited.nominalConcurrencyShares" {
                        return json!(0);
                    }
                }
                json!("<none>")
            }
            vec![
                col("Type", "string", 0, |v| json!(s(v, ".spec.type"))),
                col("NominalConcurrencyShares", "string", 0, |v| {
                    limited(v, ".spec.limited.nominalConcurrencyShares")
                }),
                col("Queues", "string", 0, |v| {
                    limited(v, ".spec.limited.limitResponse.queuing.queues")
                }),
                col("HandSize", "string", 0, |v| {
                    limited(v, ".spec.limited.limitResponse.queuing.handSize")
                }),
                col("QueueLengthLimit", "string", 0, |v| {
                    limited(v, ".spec.limited.limitResponse.queuing.queueLengthLimit")
                }),
                col("Age", "string", 0, age),
            ]
        }
        "volumeattachments" => vec![
            col("Attacher", "string", 0, |v| json!(s(v, ".spec.attacher"))),
            col("PV", "string", 0, |v| {
                json!(s(v, ".spec.source.persistentVolumeName"))
            }),
            col("Node", "string", 0, |v| json!(s(v, ".spec.nodeName"))),
            col("Attached", "boolean", 0, |v| {
                json!(
                    eval_first(v, ".status.attached")
                        .and_then(|b| b.as_bool())
                        .unwrap_or(false)
                )
            }),
            col("Age", "string", 0, age),
        ],
        "ingressclasses" => vec![
            col("Controller", "string", 0, |v| {
                json!(s(v, ".spec.controller"))
            }),
            col("Parameters", "string", 0, |v| {
                let Some(p) = eval_first(v, ".spec.parameters").filter(Value::is_object) else {
                    return json!("<none>");
                };
                let group = p.get("apiGroup").and_then(Value::as_str);
                json!(format!(
                    "{}{}/{}",
                    s(&p, ".kind"),
                    group.map(|g| format!(".{g}")).unwrap_or_default(),
                    s(&p, ".name")
                ))
            }),
            col("Age", "string", 0, age),
        ],
        "poddisruptionbudgets" => vec![
            col("Min Available", "string", 0, |v| {
                na_or(v, ".spec.minAvailable")
            }),
            col("Max Unavailable", "string", 0, |v| {
                na_or(v, ".spec.maxUnavailable")
            }),
            col("Allowed Disruptions", "integer", 0, |v| {
                json!(i(v, ".status.disruptionsAllowed"))
            }),
            col("Age", "string", 0, age),
        ],
        "networkpolicies" => vec![
            col("Pod-Selector", "string", 0, |v| {
                json!(format_label_selector(
                    eval_first(v, ".spec.podSelector").as_ref()
                ))
            }),
            col("Age", "string", 0, age),
        ],
        "certificatesigningrequests" => vec![
            col("Age", "string", 0, age),
            col("SignerName", "string", 0, |v| {
                json!(s(v, ".spec.signerName"))
            }),
            col("Requestor", "string", 0, |v| json!(s(v, ".spec.username"))),
            col("RequestedDuration", "string", 0, |v| {
                json!(
                    match eval_first(v, ".spec.expirationSeconds").and_then(|n| n.as_i64()) {
                        Some(n) => crate::util::human_age(crate::util::unix_now() - n),
                        None => "<none>".to_owned(),
                    }
                )
            }),
            col("Condition", "string", 0, |v| {
                let types: Vec<String> = eval(v, ".status.conditions[*].type")
                    .iter()
                    .map(|t| t.as_str().unwrap_or_default().to_owned())
                    .collect();
                let has = |t: &str| types.iter().any(|x| x == t);
                let mut st = if has("Denied") {
                    "Denied".to_owned()
                } else if has("Approved") {
                    "Approved".to_owned()
                } else {
                    "Pending".to_owned()
                };
                if has("Failed") {
                    st.push_str(",Failed");
                }
                if !s(v, ".status.certificate").is_empty() {
                    st.push_str(",Issued");
                }
                json!(st)
            }),
        ],
        "runtimeclasses" => vec![
            col("Handler", "string", 0, |v| json!(s(v, ".handler"))),
            col("Age", "string", 0, age),
        ],
        "priorityclasses" => vec![
            col("Value", "integer", 0, |v| json!(i(v, ".value"))),
            col("Global-Default", "boolean", 0, |v| {
                json!(
                    eval_first(v, ".globalDefault")
                        .and_then(|b| b.as_bool())
                        .unwrap_or(false)
                )
            }),
            col("Age", "string", 0, age),
            col("PreemptionPolicy", "string", 0, |v| {
                let p = s(v, ".preemptionPolicy");
                json!(if p.is_empty() {
                    "<unset>".to_owned()
                } else {
                    p
                })
            }),
        ],
        _ => vec![col("Age", "string", 0, age)],
    };
    cols.extend(more);
    cols
}

/// The columns of a CRD version: `Name`, then its `additionalPrinterColumns`, or `Age` when
/// it has none (apiextensions-apiserver `tableconvertor`).
pub fn crd_columns(extra: Option<&Value>) -> Vec<Column> {
    let mut cols = vec![Column {
        name: "Name".into(),
        ty: "string".into(),
        format: "name".into(),
        description: "Name must be unique within a namespace.".into(),
        priority: 0,
        source: Source::Func(|v| json!(s(v, ".metadata.name"))),
    }];
    match extra.and_then(Value::as_array) {
        Some(list) if !list.is_empty() => {
            for c in list {
                let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
                let path = c
                    .get("jsonPath")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                cols.push(Column {
                    name: name.to_owned(),
                    ty: c
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("string")
                        .to_owned(),
                    format: c
                        .get("format")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    description: c
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                    source: Source::Path(path.to_owned()),
                });
            }
        }
        _ => cols.push(Column {
            name: "Age".into(),
            ty: "date".into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            source: Source::Path(".metadata.creationTimestamp".into()),
        }),
    }
    cols
}

fn cell(c: &Column, obj: &Value) -> Value {
    match &c.source {
        Source::Func(f) => f(obj),
        Source::Path(p) => {
            let all = eval(obj, p);
            let v = match all.len() {
                0 => return Value::Null,
                1 => all.into_iter().next().unwrap_or(Value::Null),
                _ => Value::String(
                    all.iter()
                        .map(|v| match v {
                            Value::String(s) => s.clone(),
                            o => o.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            };
            if c.ty == "date"
                && let Some(t) = v.as_str().and_then(parse_rfc3339)
            {
                return json!(human_age(t));
            }
            v
        }
    }
}

/// Column definitions as JSON.
pub fn column_definitions(cols: &[Column]) -> Vec<Value> {
    cols.iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.ty,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect()
}

/// One row. `object` is what `includeObject` asks for (None: omitted).
pub fn row(cols: &[Column], obj: &Value, object: Option<Value>) -> Value {
    let cells: Vec<Value> = cols.iter().map(|c| cell(c, obj)).collect();
    let mut r = json!({ "cells": cells });
    if let Some(o) = object {
        r["object"] = o;
    }
    r
}

/// A Table of `objects`.
pub fn table(
    cols: &[Column],
    rows: Vec<Value>,
    rv: &str,
    cont: Option<&str>,
    headers: bool,
) -> Value {
    let mut meta = json!({ "resourceVersion": rv });
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    let mut t = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "rows": rows,
    });
    if headers {
        t["columnDefinitions"] = Value::Array(column_definitions(cols));
    } else {
        t["columnDefinitions"] = json!([]);
    }
    t
}

/// The first result of a JSONPath.
pub fn eval_first(v: &Value, path: &str) -> Option<Value> {
    eval(v, path).into_iter().next()
}

/// Evaluates the JSONPath subset of printer columns: `.a.b`, `['a']`, `[0]`, `[*]`,
/// `[?(@.k=="v")]` / `[?(@.k == 'v')]`. Unknown syntax yields no result.
pub fn eval(v: &Value, path: &str) -> Vec<Value> {
    let mut cur: Vec<&Value> = vec![v];
    let p = path.trim().trim_start_matches('{').trim_end_matches('}');
    let p = p.strip_prefix('$').unwrap_or(p);
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'.' && b[j] != b'[' {
                    j += 1;
                }
                let key = &p[start..j];
                if !key.is_empty() {
                    cur = cur.into_iter().filter_map(|x| x.get(key)).collect();
                }
                i = j;
            }
            b'[' => {
                let Some(end) = find_close(p, i) else {
                    return vec![];
                };
                let inner = p[i + 1..end].trim();
                if inner == "*" {
                    cur = cur
                        .into_iter()
                        .flat_map(|x| match x {
                            Value::Array(a) => a.iter().collect::<Vec<_>>(),
                            Value::Object(m) => m.values().collect(),
                            _ => vec![],
                        })
                        .collect();
                } else if let Ok(n) = inner.parse::<usize>() {
                    cur = cur.into_iter().filter_map(|x| x.get(n)).collect();
                } else if let Some(f) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
                    let Some((lhs, rhs)) = f.split_once("==") else {
                        return vec![];
                    };
                    let lhs = lhs.trim().trim_start_matches('@');
                    let rhs = rhs.trim().trim_matches(|c| c == '"' || c == '\'');
                    cur = cur
                        .into_iter()
                        .flat_map(|x| match x {
                            Value::Array(a) => a.iter().collect::<Vec<_>>(),
                            _ => vec![],
                        })
                        .filter(|item| {
                            eval_first(item, lhs).is_some_and(|v| match v {
                                Value::String(s) => s == rhs,
                                o => o == rhs,
                            })
                        })
                        .collect();
                } else {
                    let key = inner.trim_matches(|c| c == '"' || c == '\'');
                    cur = cur.into_iter().filter_map(|x| x.get(key)).collect();
                }
                i = end + 1;
            }
            _ => return vec![],
        }
    }
    cur.into_iter().cloned().collect()
}

fn find_close(p: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (k, c) in p[open..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + k);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonpath_subset() {
        let v = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False"},
            {"type": "Succeeded", "status": "True", "reason": "Completed"}]}});
        assert_eq!(
            eval_first(&v, ".status.conditions[?(@.type==\"Succeeded\")].reason"),
            Some(json!("Completed"))
        );
        assert_eq!(
            eval_first(&v, ".status.conditions[?(@.type == 'Ready')].status"),
            Some(json!("False"))
        );
        assert_eq!(eval(&v, ".status.conditions[*].type").len(), 2);
        assert_eq!(
            eval_first(&v, ".status.conditions[1].type"),
            Some(json!("Succeeded"))
        );
        assert!(eval(&v, ".spec.none").is_empty());
    }

    // tektoncd/pipeline config/300-crds/300-pipelinerun.yaml additionalPrinterColumns
    #[test]
    fn crd_columns_render() {
        let cols = crd_columns(Some(&json!([
            {"name": "Succeeded", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Succeeded\")].status"},
            {"name": "StartTime", "type": "date", "jsonPath": ".status.startTime"}
        ])));
        let obj = json!({"metadata": {"name": "pr1"}, "status": {"conditions": [{"type": "Succeeded", "status": "Unknown"}]}});
        let r = row(&cols, &obj, None);
        assert_eq!(r["cells"], json!(["pr1", "Unknown", null]));
    }

    fn cells(plural: &str, obj: Value) -> Vec<Value> {
        let cols = builtin_columns(plural);
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        let r = row(&cols, &obj, None);
        let cells = r["cells"].as_array().cloned().unwrap_or_default();
        // drop Age cells (they depend on the clock)
        names
            .iter()
            .zip(cells)
            .filter(|(n, _)| **n != "Age")
            .map(|(_, c)| c)
            .collect()
    }

    // kubernetes pkg/printers/internalversion/printers.go: the column definitions and
    // print functions of the newer built-in kinds (printValidatingAdmissionPolicy,
    // printEndpointSlice with formatDiscoveryPorts/Endpoints and listWithMoreString,
    // printFlowSchema, printPriorityLevelConfiguration, printVolumeAttachment,
    // printIngressClass, printPodDisruptionBudget, printNetworkPolicy
    // (metav1.FormatLabelSelector), printCertificateSigningRequest (extractCSRStatus),
    // printRuntimeClass, printPriorityClass, printCSIStorageCapacity).
    #[test]
    fn newer_builtin_printers() {
        let names = |p: &str| {
            builtin_columns(p)
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names("validatingadmissionpolicies"),
            ["Name", "Validations", "ParamKind", "Age"]
        );
        assert_eq!(
            names("flowschemas"),
            [
                "Name",
                "PriorityLevel",
                "MatchingPrecedence",
                "DistinguisherMethod",
                "Age",
                "MissingPL"
            ]
        );
        assert_eq!(
            names("prioritylevelconfigurations"),
            [
                "Name",
                "Type",
                "NominalConcurrencyShares",
                "Queues",
                "HandSize",
                "QueueLengthLimit",
                "Age"
            ]
        );
        assert_eq!(
            names("certificatesigningrequests"),
            [
                "Name",
                "Age",
                "SignerName",
                "Requestor",
                "RequestedDuration",
                "Condition"
            ]
        );
        assert_eq!(
            names("priorityclasses"),
            ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"]
        );
        assert_eq!(
            cells(
                "validatingadmissionpolicies",
                json!({"metadata": {"name": "p"}, "spec": {"validations": [{}, {}], "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}}})
            ),
            [json!("p"), json!(2), json!("v1/ConfigMap")]
        );
        assert_eq!(
            cells(
                "validatingadmissionpolicybindings",
                json!({"metadata": {"name": "b"}, "spec": {"policyName": "p", "paramRef": {"name": "cfg"}}})
            ),
            [json!("b"), json!("p"), json!("*/cfg")]
        );
        assert_eq!(
            cells(
                "endpointslices",
                json!({"metadata": {"name": "e"}, "addressType": "IPv4",
                "ports": [{"port": 80}, {"name": "x"}],
                "endpoints": [{"addresses": ["10.0.0.1", "10.0.0.2"]}, {"addresses": ["10.0.0.3", "10.0.0.4", "10.0.0.5"]}]})
            ),
            [
                json!("e"),
                json!("IPv4"),
                json!("80,x"),
                json!("10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...")
            ]
        );
        assert_eq!(
            cells(
                "endpointslices",
                json!({"metadata": {"name": "e"}, "addressType": "IPv4"})
            ),
            [
                json!("e"),
                json!("IPv4"),
                json!("<unset>"),
                json!("<unset>")
            ]
        );
        assert_eq!(
            cells(
                "flowschemas",
                json!({"metadata": {"name": "f"}, "spec": {"priorityLevelConfiguration": {"name": "workload-low"}, "matchingPrecedence": 1000, "distinguisherMethod": {"type": "ByUser"}},
                "status": {"conditions": [{"type": "Dangling", "status": "False"}]}})
            ),
            [
                json!("f"),
                json!("workload-low"),
                json!(1000),
                json!("ByUser"),
                json!("False")
            ]
        );
        assert_eq!(
            cells(
                "prioritylevelconfigurations",
                json!({"metadata": {"name": "exempt"}, "spec": {"type": "Exempt", "exempt": {}}})
            ),
            [
                json!("exempt"),
                json!("Exempt"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>")
            ]
        );
        assert_eq!(
            cells(
                "prioritylevelconfigurations",
                json!({"metadata": {"name": "l"}, "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 30,
                "limitResponse": {"type": "Queue", "queuing": {"queues": 64, "handSize": 6, "queueLengthLimit": 50}}}}})
            ),
            [
                json!("l"),
                json!("Limited"),
                json!(30),
                json!(64),
                json!(6),
                json!(50)
            ]
        );
        assert_eq!(
            cells(
                "ingressclasses",
                json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx",
                "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}})
            ),
            [
                json!("nginx"),
                json!("k8s.io/ingress-nginx"),
                json!("IngressParameters.k8s.example.com/p")
            ]
        );
        assert_eq!(
            cells(
                "poddisruptionbudgets",
                json!({"metadata": {"name": "d"}, "spec": {"minAvailable": 1}, "status": {"disruptionsAllowed": 0}})
            ),
            [json!("d"), json!("1"), json!("N/A"), json!(0)]
        );
        assert_eq!(
            cells(
                "networkpolicies",
                json!({"metadata": {"name": "n"}, "spec": {"podSelector": {"matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}, {"key": "canary", "operator": "DoesNotExist"}]}}})
            ),
            [json!("n"), json!("app=web,!canary,tier in (a,b)")]
        );
        assert_eq!(
            cells(
                "networkpolicies",
                json!({"metadata": {"name": "n"}, "spec": {"podSelector": {}}})
            ),
            [json!("n"), json!("<none>")]
        );
        assert_eq!(
            cells(
                "certificatesigningrequests",
                json!({"metadata": {"name": "c"}, "spec": {"signerName": "kubernetes.io/kubelet-serving", "username": "u"},
                "status": {"conditions": [{"type": "Approved"}], "certificate": "Y2VydA=="}})
            ),
            [
                json!("c"),
                json!("kubernetes.io/kubelet-serving"),
                json!("u"),
                json!("<none>"),
                json!("Approved,Issued")
            ]
        );
        assert_eq!(
            cells(
                "priorityclasses",
                json!({"metadata": {"name": "high"}, "value": 1000, "globalDefault": true, "preemptionPolicy": "Never"})
            ),
            [json!("high"), json!(1000), json!(true), json!("Never")]
        );
        assert_eq!(
            cells(
                "volumeattachments",
                json!({"metadata": {"name": "va"}, "spec": {"attacher": "csi.example", "source": {"persistentVolumeName": "pv1"}, "nodeName": "n1"}, "status": {"attached": true}})
            ),
            [
                json!("va"),
                json!("csi.example"),
                json!("pv1"),
                json!("n1"),
                json!(true)
            ]
        );
        assert_eq!(
            cells(
                "csistoragecapacities",
                json!({"metadata": {"name": "c"}, "storageClassName": "fast"})
            ),
            [json!("c"), json!("fast"), json!("<unset>")]
        );
        assert_eq!(
            cells(
                "runtimeclasses",
                json!({"metadata": {"name": "gvisor"}, "handler": "runsc"})
            ),
            [json!("gvisor"), json!("runsc")]
        );
    }
}
