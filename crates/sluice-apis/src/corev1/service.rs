//! `Service` (kubernetes `ValidateService`: DNS-1035 names, ports, selector).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, names};

use super::util::{KindNameRule, validate_labels, validate_object_meta};
use crate::meta::ObjectMeta;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ServiceSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
    #[serde(default, rename = "clusterIP", skip_serializing_if = "Option::is_none")]
    pub cluster_ip: Option<String>,
    #[serde(default, rename = "clusterIPs", skip_serializing_if = "Vec::is_empty")]
    pub cluster_ips: Vec<String>,
    /// `ClusterIP` (default), `NodePort`, `LoadBalancer`, `ExternalName`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, rename = "externalIPs", skip_serializing_if = "Vec::is_empty")]
    pub external_ips: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity: Option<String>,
    #[serde(
        default,
        rename = "loadBalancerIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub load_balancer_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancer_source_ranges: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_traffic_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_node_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_not_ready_addresses: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_families: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_family_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocate_load_balancer_node_ports: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_traffic_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_distribution: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
    #[serde(default)]
    pub port: i64,
    /// A port number or an IANA service name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<i64>,
}

const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";

/// `IsValidPortName`.
fn port_name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && s.bytes().any(|c| c.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

pub fn validate_spec(spec: &ServiceSpec) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let ty = spec.type_.as_deref().unwrap_or("ClusterIP");
    if !matches!(
        ty,
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName"
    ) {
        errs.push(FieldError::new(
            "type",
            format!("Unsupported value: {ty:?}: supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""),
        ));
    }
    let headless = spec.cluster_ip.as_deref() == Some("None");
    if spec.ports.is_empty() && !headless && ty != "ExternalName" {
        errs.push(FieldError::new("ports", "Required value"));
    }
    if ty == "ExternalName" && spec.external_name.as_deref().is_none_or(str::is_empty) {
        errs.push(FieldError::new("externalName", "Required value"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, p) in spec.ports.iter().enumerate() {
        let mut e = FieldErrors::new();
        if spec.ports.len() > 1 && p.name.is_empty() {
            e.push(FieldError::new("name", "Required value"));
        }
        if !p.name.is_empty() {
            for m in names::dns1123_label(&p.name) {
                e.push(FieldError::invalid("name", format!("{:?}: {m}", p.name)));
            }
            if !seen.insert(p.name.clone()) {
                e.push(FieldError::new(
                    "name",
                    format!("Duplicate value: {:?}", p.name),
                ));
            }
        }
        if !(1..=65535).contains(&p.port) {
            e.push(FieldError::invalid(
                "port",
                format!("{}: {PORT_RANGE}", p.port),
            ));
        }
        if let Some(proto) = &p.protocol
            && !matches!(proto.as_str(), "TCP" | "UDP" | "SCTP")
        {
            e.push(FieldError::new(
                "protocol",
                format!(
                    "Unsupported value: {proto:?}: supported values: \"SCTP\", \"TCP\", \"UDP\""
                ),
            ));
        }
        match &p.target_port {
            Some(Value::Number(n)) if !n.as_i64().is_some_and(|n| (1..=65535).contains(&n)) => {
                e.push(FieldError::invalid(
                    "targetPort",
                    format!("{n}: {PORT_RANGE}"),
                ));
            }
            Some(Value::String(s)) if !port_name_ok(s) => {
                e.push(FieldError::invalid(
                        "targetPort",
                        format!("{s:?}: must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-), at most 15 characters, at least one letter, no consecutive or leading/trailing hyphens"),
                    ));
            }
            _ => {}
        }
        errs.also(e.via_field_index("ports", i));
    }
    errs.also(validate_labels(&spec.selector).via_field("selector"));
    errs
}

pub fn validate(s: &Service) -> FieldErrors {
    let mut errs = validate_object_meta(&s.metadata, KindNameRule::Dns1035Label);
    errs.also(validate_spec(&s.spec).via_field("spec"));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // kubernetes ValidateService: ValidateServiceName = NameIsDNS1035Label; ports.
    #[test]
    fn ports_and_names() {
        let (s, _) = crate::decode::decode::<Service>(&json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "1svc"},
            "spec": {"ports": [{"port": 80}, {"name": "x", "port": 0, "targetPort": "http_"}]}
        }))
        .expect("decodes");
        let got: Vec<String> = validate(&s).iter().map(|e| e.path.to_string()).collect();
        assert_eq!(
            got,
            [
                "metadata.name",
                "spec.ports[0].name",
                "spec.ports[1].port",
                "spec.ports[1].targetPort"
            ]
        );
    }
}
