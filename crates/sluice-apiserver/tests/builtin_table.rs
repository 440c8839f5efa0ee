//! `src/builtin_gen.rs` — the built-in resources the server serves — is generated from
//! k8s-openapi's v1_32 resource metadata (`k8s_openapi::Resource`: API_VERSION, GROUP, KIND,
//! VERSION, URL_PATH_SEGMENT and the `Scope`), keeping what kube-apiserver 1.32 serves by
//! default: the GA versions (KEP 3136: beta APIs are off by default since 1.24, and 1.32
//! stopped serving the last beta on by default, flowcontrol.apiserver.k8s.io/v1beta3 —
//! kubernetes.io/docs/reference/using-api/deprecation-guide/#v1-32), top-level resources only
//! (no `SubResourceScope` types such as Scale, Eviction, TokenRequest, Status).
//!
//! This test regenerates the file and fails when the committed one differs:
//! `SLUICE_REGEN=1 cargo test -p sluice-apiserver --test builtin_table` rewrites it. It also
//! scans k8s-openapi's own v1_32 sources for every `impl crate::Resource for` so that no
//! resource type is missing from the list below.

use std::collections::BTreeSet;
use std::path::Path;

#[path = "support/k8s_src.rs"]
mod k8s_src;
use k8s_src::{k8s_openapi_src, walk};

use k8s_openapi::Resource;

/// Which `k8s_openapi` scope a resource has.
trait ScopeName {
    const NAME: &'static str;
}
impl ScopeName for k8s_openapi::NamespaceResourceScope {
    const NAME: &'static str = "Namespaced";
}
impl ScopeName for k8s_openapi::ClusterResourceScope {
    const NAME: &'static str = "Cluster";
}
impl ScopeName for k8s_openapi::SubResourceScope {
    const NAME: &'static str = "SubResource";
}

struct Row {
    path: &'static str,
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    scope: &'static str,
}

fn row<T>(path: &'static str) -> Row
where
    T: Resource,
    T::Scope: ScopeName,
{
    Row {
        path,
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND,
        plural: T::URL_PATH_SEGMENT,
        scope: <T::Scope as ScopeName>::NAME,
    }
}

macro_rules! rows {
    ($($($seg:ident)::+),* $(,)?) => {
        vec![$(row::<k8s_openapi::$($seg)::+>(stringify!($($seg)::+))),*]
    };
}

/// Every GA top-level resource type of k8s-openapi v1_32 (checked complete below).
fn ga_rows() -> Vec<Row> {
    rows![
        api::admissionregistration::v1::MutatingWebhookConfiguration,
        api::admissionregistration::v1::ValidatingAdmissionPolicy,
        api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
        api::admissionregistration::v1::ValidatingWebhookConfiguration,
        api::apps::v1::ControllerRevision,
        api::apps::v1::DaemonSet,
        api::apps::v1::Deployment,
        api::apps::v1::ReplicaSet,
        api::apps::v1::StatefulSet,
        api::authentication::v1::SelfSubjectReview,
        api::authentication::v1::TokenReview,
        api::authorization::v1::LocalSubjectAccessReview,
        api::authorization::v1::SelfSubjectAccessReview,
        api::authorization::v1::SelfSubjectRulesReview,
        api::authorization::v1::SubjectAccessReview,
        api::autoscaling::v1::HorizontalPodAutoscaler,
        api::autoscaling::v2::HorizontalPodAutoscaler,
        api::batch::v1::CronJob,
        api::batch::v1::Job,
        api::certificates::v1::CertificateSigningRequest,
        api::coordination::v1::Lease,
        api::core::v1::Binding,
        api::core::v1::ComponentStatus,
        api::core::v1::ConfigMap,
        api::core::v1::Endpoints,
        api::core::v1::Event,
        api::core::v1::LimitRange,
        api::core::v1::Namespace,
        api::core::v1::Node,
        api::core::v1::PersistentVolume,
        api::core::v1::PersistentVolumeClaim,
        api::core::v1::Pod,
        api::core::v1::PodTemplate,
        api::core::v1::ReplicationController,
        api::core::v1::ResourceQuota,
        api::core::v1::Secret,
        api::core::v1::Service,
        api::core::v1::ServiceAccount,
        api::discovery::v1::EndpointSlice,
        api::events::v1::Event,
        api::flowcontrol::v1::FlowSchema,
        api::flowcontrol::v1::PriorityLevelConfiguration,
        api::networking::v1::Ingress,
        api::networking::v1::IngressClass,
        api::networking::v1::NetworkPolicy,
        api::node::v1::RuntimeClass,
        api::policy::v1::PodDisruptionBudget,
        api::rbac::v1::ClusterRole,
        api::rbac::v1::ClusterRoleBinding,
        api::rbac::v1::Role,
        api::rbac::v1::RoleBinding,
        api::scheduling::v1::PriorityClass,
        api::storage::v1::CSIDriver,
        api::storage::v1::CSINode,
        api::storage::v1::CSIStorageCapacity,
        api::storage::v1::StorageClass,
        api::storage::v1::VolumeAttachment,
        apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        kube_aggregator::pkg::apis::apiregistration::v1::APIService,
    ]
}

fn is_ga(version: &str) -> bool {
    !version.contains("alpha") && !version.contains("beta")
}

fn generate(rows: &[Row]) -> String {
    let mut out = String::from(
        "//! @generated by `SLUICE_REGEN=1 cargo test -p sluice-apiserver --test builtin_table`\n\
         //! from k8s-openapi 0.25's v1_32 `Resource` metadata: the resources kube-apiserver 1.32\n\
         //! serves by default (GA versions, top-level resources). Do not edit by hand.\n\n\
         use crate::resources::Generated;\n\n\
         /// (group, version, plural, kind, namespaced) of every default-served resource.\n\
         #[rustfmt::skip]\n\
         pub const GENERATED: &[Generated] = &[\n",
    );
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by_key(|r| (r.group, r.plural, r.version));
    for r in sorted {
        assert!(is_ga(r.version), "{} is not GA", r.path);
        assert_ne!(r.scope, "SubResource", "{} is a subresource", r.path);
        out.push_str(&format!(
            "    Generated {{ group: {:?}, version: {:?}, plural: {:?}, kind: {:?}, namespaced: {} }},\n",
            r.group,
            r.version,
            r.plural,
            r.kind,
            r.scope == "Namespaced"
        ));
    }
    out.push_str("];\n");
    out
}

/// (module path, type) of every GA, top-level `impl crate::Resource for` in the sources.
fn scanned(src: &Path) -> BTreeSet<String> {
    let mut files = Vec::new();
    walk(src, &mut files);
    let mut out = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable source");
        let Some(i) = text.find("impl crate::Resource for ") else {
            continue;
        };
        let block = &text[i..];
        let end = block.find("\n}").unwrap_or(block.len());
        let block = &block[..end];
        let ty = block["impl crate::Resource for ".len()..]
            .split_whitespace()
            .next()
            .unwrap_or_default();
        let konst = |name: &str| -> String {
            block
                .lines()
                .find(|l| l.contains(&format!("const {name}:")))
                .and_then(|l| l.split('"').nth(1))
                .unwrap_or_default()
                .to_owned()
        };
        if konst("URL_PATH_SEGMENT").is_empty()
            || !is_ga(&konst("VERSION"))
            || block.contains("SubResourceScope")
        {
            continue;
        }
        let rel = f.strip_prefix(src).expect("under src");
        let module: Vec<String> = rel
            .parent()
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        out.insert(format!("{}::{ty}", module.join("::")));
    }
    out
}

#[test]
fn the_generated_table_is_current_and_complete() {
    let rows = ga_rows();
    let src = k8s_openapi_src()
        .expect("k8s-openapi 0.25.0's sources under $CARGO_HOME/registry/src (run `cargo fetch`)");
    let listed: BTreeSet<String> = rows
        .iter()
        .map(|r| r.path.split_whitespace().collect::<String>())
        .collect();
    let found = scanned(&src);
    assert_eq!(
        listed, found,
        "ga_rows() must list exactly k8s-openapi v1_32's GA top-level resource types"
    );
    let text = generate(&rows);
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/builtin_gen.rs");
    if std::env::var_os("SLUICE_REGEN").is_some() {
        std::fs::write(&file, &text).expect("writes src/builtin_gen.rs");
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == text,
        "src/builtin_gen.rs is stale: run SLUICE_REGEN=1 cargo test -p sluice-apiserver --test builtin_table"
    );
}

#[test]
fn the_table_has_kube_apiserver_1_32s_rows() {
    // kubernetes.io/docs/reference/kubectl/#resource-types (v1.32) and `kubectl api-resources`
    // against kube-apiserver 1.32: 58 resources (preferred versions), autoscaling served in v2
    // and v1.
    let rows = ga_rows();
    assert_eq!(rows.len(), 59);
    let distinct: BTreeSet<(&str, &str)> = rows.iter().map(|r| (r.group, r.plural)).collect();
    assert_eq!(distinct.len(), 58);
    let pdb = rows
        .iter()
        .find(|r| r.kind == "PodDisruptionBudget")
        .expect("pdb");
    assert_eq!(
        (pdb.group, pdb.version, pdb.plural, pdb.scope),
        ("policy", "v1", "poddisruptionbudgets", "Namespaced")
    );
}
