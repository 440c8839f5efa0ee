//! Issue 17: `sluice apiserver` serves every resource kube-apiserver 1.32 serves by default,
//! with upstream's scope, short names, categories, verbs and defaults; checked with the real
//! kubectl (v1.32).

use crate::apiserver_kubectl::{Server, err, kubectl_available, out};

/// `kubectl api-resources --no-headers` against kube-apiserver 1.32 with its default
/// `--runtime-config`: NAME, SHORTNAMES, APIVERSION, NAMESPACED, KIND. From the resource
/// types table of kubernetes.io/docs/reference/kubectl/#resource-types (v1.32) and each
/// registry's `ShortNames()` in k8s.io/kubernetes pkg/registry/*/*/storage/storage.go.
const UPSTREAM_1_32: &[(&str, &str, &str, bool, &str)] = &[
    ("bindings", "", "v1", true, "Binding"),
    ("componentstatuses", "cs", "v1", false, "ComponentStatus"),
    ("configmaps", "cm", "v1", true, "ConfigMap"),
    ("endpoints", "ep", "v1", true, "Endpoints"),
    ("events", "ev", "v1", true, "Event"),
    ("limitranges", "limits", "v1", true, "LimitRange"),
    ("namespaces", "ns", "v1", false, "Namespace"),
    ("nodes", "no", "v1", false, "Node"),
    (
        "persistentvolumeclaims",
        "pvc",
        "v1",
        true,
        "PersistentVolumeClaim",
    ),
    ("persistentvolumes", "pv", "v1", false, "PersistentVolume"),
    ("pods", "po", "v1", true, "Pod"),
    ("podtemplates", "", "v1", true, "PodTemplate"),
    (
        "replicationcontrollers",
        "rc",
        "v1",
        true,
        "ReplicationController",
    ),
    ("resourcequotas", "quota", "v1", true, "ResourceQuota"),
    ("secrets", "", "v1", true, "Secret"),
    ("serviceaccounts", "sa", "v1", true, "ServiceAccount"),
    ("services", "svc", "v1", true, "Service"),
    (
        "mutatingwebhookconfigurations",
        "",
        "admissionregistration.k8s.io/v1",
        false,
        "MutatingWebhookConfiguration",
    ),
    (
        "validatingadmissionpolicies",
        "",
        "admissionregistration.k8s.io/v1",
        false,
        "ValidatingAdmissionPolicy",
    ),
    (
        "validatingadmissionpolicybindings",
        "",
        "admissionregistration.k8s.io/v1",
        false,
        "ValidatingAdmissionPolicyBinding",
    ),
    (
        "validatingwebhookconfigurations",
        "",
        "admissionregistration.k8s.io/v1",
        false,
        "ValidatingWebhookConfiguration",
    ),
    (
        "customresourcedefinitions",
        "crd,crds",
        "apiextensions.k8s.io/v1",
        false,
        "CustomResourceDefinition",
    ),
    (
        "apiservices",
        "",
        "apiregistration.k8s.io/v1",
        false,
        "APIService",
    ),
    (
        "controllerrevisions",
        "",
        "apps/v1",
        true,
        "ControllerRevision",
    ),
    ("daemonsets", "ds", "apps/v1", true, "DaemonSet"),
    ("deployments", "deploy", "apps/v1", true, "Deployment"),
    ("replicasets", "rs", "apps/v1", true, "ReplicaSet"),
    ("statefulsets", "sts", "apps/v1", true, "StatefulSet"),
    (
        "selfsubjectreviews",
        "",
        "authentication.k8s.io/v1",
        false,
        "SelfSubjectReview",
    ),
    (
        "tokenreviews",
        "",
        "authentication.k8s.io/v1",
        false,
        "TokenReview",
    ),
    (
        "localsubjectaccessreviews",
        "",
        "authorization.k8s.io/v1",
        true,
        "LocalSubjectAccessReview",
    ),
    (
        "selfsubjectaccessreviews",
        "",
        "authorization.k8s.io/v1",
        false,
        "SelfSubjectAccessReview",
    ),
    (
        "selfsubjectrulesreviews",
        "",
        "authorization.k8s.io/v1",
        false,
        "SelfSubjectRulesReview",
    ),
    (
        "subjectaccessreviews",
        "",
        "authorization.k8s.io/v1",
        false,
        "SubjectAccessReview",
    ),
    (
        "horizontalpodautoscalers",
        "hpa",
        "autoscaling/v2",
        true,
        "HorizontalPodAutoscaler",
    ),
    ("cronjobs", "cj", "batch/v1", true, "CronJob"),
    ("jobs", "", "batch/v1", true, "Job"),
    (
        "certificatesigningrequests",
        "csr",
        "certificates.k8s.io/v1",
        false,
        "CertificateSigningRequest",
    ),
    ("leases", "", "coordination.k8s.io/v1", true, "Lease"),
    (
        "endpointslices",
        "",
        "discovery.k8s.io/v1",
        true,
        "EndpointSlice",
    ),
    ("events", "ev", "events.k8s.io/v1", true, "Event"),
    (
        "flowschemas",
        "",
        "flowcontrol.apiserver.k8s.io/v1",
        false,
        "FlowSchema",
    ),
    (
        "prioritylevelconfigurations",
        "",
        "flowcontrol.apiserver.k8s.io/v1",
        false,
        "PriorityLevelConfiguration",
    ),
    (
        "ingressclasses",
        "",
        "networking.k8s.io/v1",
        false,
        "IngressClass",
    ),
    ("ingresses", "ing", "networking.k8s.io/v1", true, "Ingress"),
    (
        "networkpolicies",
        "netpol",
        "networking.k8s.io/v1",
        true,
        "NetworkPolicy",
    ),
    (
        "runtimeclasses",
        "",
        "node.k8s.io/v1",
        false,
        "RuntimeClass",
    ),
    (
        "poddisruptionbudgets",
        "pdb",
        "policy/v1",
        true,
        "PodDisruptionBudget",
    ),
    (
        "clusterrolebindings",
        "",
        "rbac.authorization.k8s.io/v1",
        false,
        "ClusterRoleBinding",
    ),
    (
        "clusterroles",
        "",
        "rbac.authorization.k8s.io/v1",
        false,
        "ClusterRole",
    ),
    (
        "rolebindings",
        "",
        "rbac.authorization.k8s.io/v1",
        true,
        "RoleBinding",
    ),
    ("roles", "", "rbac.authorization.k8s.io/v1", true, "Role"),
    (
        "priorityclasses",
        "pc",
        "scheduling.k8s.io/v1",
        false,
        "PriorityClass",
    ),
    ("csidrivers", "", "storage.k8s.io/v1", false, "CSIDriver"),
    ("csinodes", "", "storage.k8s.io/v1", false, "CSINode"),
    (
        "csistoragecapacities",
        "",
        "storage.k8s.io/v1",
        true,
        "CSIStorageCapacity",
    ),
    (
        "storageclasses",
        "sc",
        "storage.k8s.io/v1",
        false,
        "StorageClass",
    ),
    (
        "volumeattachments",
        "",
        "storage.k8s.io/v1",
        false,
        "VolumeAttachment",
    ),
];

/// Sluice's own CRD groups, served beside the built-ins.
const SLUICE_GROUPS: &[&str] = &[
    "tekton.dev/",
    "triggers.tekton.dev/",
    "argoproj.io/",
    "kyverno.io/",
    "wgpolicyk8s.io/",
    "monitoring.coreos.com/",
];

#[test]
fn api_resources_lists_kube_apiserver_1_32s_rows() {
    if !kubectl_available() {
        eprintln!("kubectl not installed: skipped");
        return;
    }
    let s = Server::start("api-resources");
    let text = s.ok(&["api-resources", "--no-headers"], None);
    let mut rows: Vec<(String, String, String, bool, String)> = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // NAME [SHORTNAMES] APIVERSION NAMESPACED KIND
        let (name, short, rest) = match f.len() {
            5 => (f[0], f[1], &f[2..]),
            4 => (f[0], "", &f[1..]),
            _ => panic!("unexpected row {line:?}"),
        };
        if SLUICE_GROUPS.iter().any(|g| rest[0].starts_with(g)) {
            continue;
        }
        rows.push((
            name.to_owned(),
            short.to_owned(),
            rest[0].to_owned(),
            rest[1] == "true",
            rest[2].to_owned(),
        ));
    }
    let mut want: Vec<(String, String, String, bool, String)> = UPSTREAM_1_32
        .iter()
        .map(|(n, sh, av, ns, k)| {
            (
                (*n).to_owned(),
                (*sh).to_owned(),
                (*av).to_owned(),
                *ns,
                (*k).to_owned(),
            )
        })
        .collect();
    rows.sort();
    want.sort();
    assert_eq!(rows, want);

    // verbs as upstream: create-only reviews and bindings, get/list componentstatuses
    let create_only = s.ok(
        &[
            "api-resources",
            "--no-headers",
            "-o",
            "name",
            "--verbs=create",
        ],
        None,
    );
    assert!(
        create_only
            .lines()
            .any(|l| l == "selfsubjectaccessreviews.authorization.k8s.io")
    );
    let listable = s.ok(
        &[
            "api-resources",
            "--no-headers",
            "-o",
            "name",
            "--verbs=list",
        ],
        None,
    );
    assert!(!listable.lines().any(|l| l.starts_with("tokenreviews")));
    assert!(!listable.lines().any(|l| l == "bindings"));
    assert!(listable.lines().any(|l| l == "componentstatuses"));
    // `kubectl auth can-i` posts a SelfSubjectAccessReview
    assert_eq!(
        s.ok(&["auth", "can-i", "create", "deployments"], None)
            .trim(),
        "yes"
    );
    let cs = s.ok(&["get", "cs", "--no-headers"], None);
    assert!(cs.contains("etcd-0"), "{cs}");
    let o = s.kubectl(&["delete", "cs", "etcd-0"], None);
    assert!(!o.status.success());
    assert!(
        err(&o).contains("MethodNotAllowed") || err(&o).contains("not allow"),
        "{}",
        err(&o)
    );
    // autoscaling is served in v2 (preferred) and v1
    let versions = s.ok(&["api-versions"], None);
    assert!(versions.lines().any(|l| l == "autoscaling/v1"));
    assert!(versions.lines().any(|l| l == "autoscaling/v2"));
}

const KINDS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: kinds}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: kinds}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: kinds}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: vwc}
webhooks:
- name: v.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig: {url: "https://example.com/validate"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: mwc}
webhooks:
- name: m.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig: {url: "https://example.com/mutate"}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000000
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, namespace: kinds, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 80, protocol: TCP}]
endpoints: [{addresses: [10.1.2.3]}]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: leader, namespace: kinds}
spec: {holderIdentity: me, leaseDurationSeconds: 15}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: quota, namespace: kinds}
spec: {hard: {pods: "10"}}
---
apiVersion: v1
kind: LimitRange
metadata: {name: limits, namespace: kinds}
spec:
  limits: [{type: Container, default: {cpu: 500m}}]
---
apiVersion: v1
kind: ReplicationController
metadata: {name: rc, namespace: kinds}
spec:
  replicas: 1
  selector: {app: rc}
  template:
    metadata: {labels: {app: rc}}
    spec: {containers: [{name: c, image: nginx:1.27}]}
"#;

#[test]
fn apply_the_kinds_charts_need_and_get_all() {
    if !kubectl_available() {
        eprintln!("kubectl not installed: skipped");
        return;
    }
    let s = Server::start("builtin-kinds");
    let applied = s.ok(&["apply", "-f", "-"], Some(KINDS));
    for line in [
        "networkpolicy.networking.k8s.io/deny-all created",
        "ingressclass.networking.k8s.io/nginx created",
        "poddisruptionbudget.policy/web created",
        "validatingwebhookconfiguration.admissionregistration.k8s.io/vwc created",
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/mwc created",
        "storageclass.storage.k8s.io/fast created",
        "priorityclass.scheduling.k8s.io/high created",
        "endpointslice.discovery.k8s.io/web-abc created",
        "lease.coordination.k8s.io/leader created",
        "resourcequota/quota created",
        "limitrange/limits created",
        "replicationcontroller/rc created",
    ] {
        assert!(applied.contains(line), "{line} not in {applied}");
    }
    // a second apply changes nothing. kubectl always sends a PodDisruptionBudget's
    // `spec.selector` (its patch strategy is `replace`, k8s.io/api policy/v1 types.go), and a
    // LimitRange's `spec.limits` (a list without merge key that the server's defaults —
    // SetDefaults_LimitRangeItem's defaultRequest — made differ from the manifest), so it
    // says "configured" for those two against kube-apiserver too.
    let again = s.ok(&["apply", "-f", "-"], Some(KINDS));
    for line in again
        .lines()
        .filter(|l| !l.starts_with("poddisruptionbudget") && !l.starts_with("limitrange"))
    {
        assert!(line.ends_with(" unchanged"), "{again}");
    }
    // short names resolve
    for (short, name) in [
        ("netpol", "deny-all"),
        ("pdb", "web"),
        ("quota", "quota"),
        ("limits", "limits"),
        ("rc", "rc"),
    ] {
        let got = s.ok(&["get", short, "-n", "kinds", "-o", "name"], None);
        assert!(got.contains(name), "{short}: {got}");
    }
    for (short, name) in [("sc", "fast"), ("pc", "high")] {
        let got = s.ok(&["get", short, "-o", "name"], None);
        assert!(got.contains(name), "{short}: {got}");
    }
    // replicationcontrollers have scale, as upstream
    s.ok(&["scale", "rc", "rc", "-n", "kinds", "--replicas=3"], None);
    let rc = s.json(&["get", "rc", "rc", "-n", "kinds"]);
    assert_eq!(rc["spec"]["replicas"], 3);
    // `kubectl get all`: the "all" category holds replicationcontrollers too
    let all = s.ok(&["get", "all", "-A", "-o", "name"], None);
    assert!(
        all.lines().any(|l| l == "replicationcontroller/rc"),
        "{all}"
    );
    assert!(!all.lines().any(|l| l.starts_with("configmap/")), "{all}");
    let o = s.kubectl(&["get", "all", "-A"], None);
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("replicationcontroller/rc"), "{}", out(&o));
}

const WORKLOADS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
        readinessProbe: {httpGet: {port: 80}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: apps}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: busybox, command: ["true"]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: apps}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          # not `name: n`: kubectl's YAML 1.1 reads a bare n as false, which kube-apiserver
          # refuses (a container name is a required string)
          containers: [{name: nightly, image: busybox:1.36}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: apps}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres:16}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"#;

#[test]
fn defaults_are_kube_apiservers_and_diff_after_apply_is_empty() {
    if !kubectl_available() {
        eprintln!("kubectl not installed: skipped");
        return;
    }
    let s = Server::start("defaults");
    s.ok(&["apply", "-f", "-"], Some(WORKLOADS));
    // `kubectl diff` (server-side dry run of the apply patch) after the apply: no drift
    let o = s.kubectl(&["diff", "-f", "-"], Some(WORKLOADS));
    assert_eq!(
        o.status.code(),
        Some(0),
        "kubectl diff found a difference:\n{}\n{}",
        out(&o),
        err(&o)
    );
    // the defaults of pkg/apis/{core,apps,batch}/v1/defaults.go
    let d = s.json(&["get", "deploy", "web", "-n", "apps"]);
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    assert_eq!(c["readinessProbe"]["periodSeconds"], 10);
    assert_eq!(
        d["spec"]["template"]["spec"]["schedulerName"],
        "default-scheduler"
    );
    let svc = s.json(&["get", "svc", "web", "-n", "apps"]);
    assert_eq!(svc["spec"]["ipFamilies"], serde_json::json!(["IPv4"]));
    assert_eq!(svc["spec"]["ipFamilyPolicy"], "SingleStack");
    assert_eq!(svc["spec"]["internalTrafficPolicy"], "Cluster");
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 80);
    let j = s.json(&["get", "job", "migrate", "-n", "apps"]);
    assert_eq!(j["spec"]["backoffLimit"], 6);
    assert_eq!(j["spec"]["completionMode"], "NonIndexed");
    let cj = s.json(&["get", "cj", "nightly", "-n", "apps"]);
    assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
    assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
    let sts = s.json(&["get", "sts", "db", "-n", "apps"]);
    assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady");
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"],
        "Filesystem"
    );
    // a changed manifest is a difference, and applying it leaves no drift again
    let changed = WORKLOADS.replace("nginx:1.27", "nginx:1.28");
    let o = s.kubectl(&["diff", "-f", "-"], Some(&changed));
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(out(&o).contains("nginx:1.28"), "{}", out(&o));
    s.ok(&["apply", "-f", "-"], Some(&changed));
    let o = s.kubectl(&["diff", "-f", "-"], Some(&changed));
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
}

/// Issue 17, item 6: server-side dry run goes through defaulting, validation and admission
/// and stores nothing (k8s.io/apiserver pkg/registry/generic/registry/dryrun.go;
/// kubernetes.io/docs/reference/using-api/api-concepts/#dry-run).
#[test]
fn server_side_dry_run_stores_nothing() {
    if !kubectl_available() {
        eprintln!("kubectl not installed: skipped");
        return;
    }
    let s = Server::start("dry-run");
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {a: \"1\"}\n";
    // a create: answered with the defaulted object, nothing stored
    let o = s.ok(&["apply", "--dry-run=server", "-f", "-"], Some(cm));
    assert_eq!(o.trim(), "configmap/settings created (server dry run)");
    let o = s.kubectl(&["get", "cm", "settings"], None);
    assert!(!o.status.success(), "{}", out(&o));
    let d = s.ok(
        &["apply", "--dry-run=server", "-f", "-", "-o", "json"],
        Some(&WORKLOADS.replace("namespace: apps", "namespace: default")),
    );
    assert!(d.contains("\"revisionHistoryLimit\": 10"), "{d}");
    assert!(d.contains("\"terminationMessagePath\": \"/dev/termination-log\""));
    let o = s.kubectl(&["get", "deploy,svc,job,cj,sts", "-o", "name"], None);
    assert!(out(&o).trim().is_empty(), "{}", out(&o));
    // validation runs: an invalid object is refused as a real write would be
    let bad = cm.replace("name: settings", "name: Not_Valid");
    let o = s.kubectl(&["apply", "--dry-run=server", "-f", "-"], Some(&bad));
    assert!(!o.status.success());
    assert!(err(&o).contains("metadata.name"), "{}", err(&o));
    // an update and a delete: the stored object is unchanged
    s.ok(&["apply", "-f", "-"], Some(cm));
    let before = s.json(&["get", "cm", "settings"]);
    let o = s.ok(
        &["apply", "--dry-run=server", "-f", "-"],
        Some(&cm.replace("a: \"1\"", "a: \"2\"")),
    );
    assert_eq!(o.trim(), "configmap/settings configured (server dry run)");
    s.ok(&["delete", "cm", "settings", "--dry-run=server"], None);
    let after = s.json(&["get", "cm", "settings"]);
    assert_eq!(before, after);
    // a dry-run create of an existing name is AlreadyExists, as the create would be
    let o = s.kubectl(&["create", "--dry-run=server", "-f", "-"], Some(cm));
    assert!(!o.status.success());
    assert!(err(&o).contains("AlreadyExists"), "{}", err(&o));
    // `kubectl diff` of a new object is a dry-run create: a difference, nothing stored
    let other = cm.replace("name: settings", "name: other");
    let o = s.kubectl(&["diff", "-f", "-"], Some(&other));
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(!s.kubectl(&["get", "cm", "other"], None).status.success());
    // dryRun takes only `All` (apimachinery ValidateDryRun): anything else is refused,
    // never taken as a real write
    let path = "/api/v1/namespaces/default/configmaps?dryRun=all";
    let dir = s.dir().join("other.yaml");
    std::fs::write(&dir, &other).expect("write");
    let o = s.kubectl(
        &["create", "--raw", path, "-f", dir.to_str().expect("utf-8")],
        None,
    );
    assert!(!o.status.success());
    assert!(
        err(&o).contains("dryRun: Unsupported value: []string{\"all\"}: supported values: \"All\""),
        "{}",
        err(&o)
    );
    assert!(!s.kubectl(&["get", "cm", "other"], None).status.success());
}

/// The seed-shaped GitOps overlays (tests/fixtures/platform/gitops, what Argo CD syncs):
/// `kubectl apply -k` then `kubectl diff -k` finds no drift, the server's defaults being
/// kube-apiserver's (issue 17, item 2).
#[test]
fn overlays_apply_without_phantom_drift() {
    if !kubectl_available() {
        eprintln!("kubectl not installed: skipped");
        return;
    }
    let s = Server::start("overlays");
    let apps = crate::common::platform().join("gitops/apps/billing-api/overlays");
    for env in ["dev", "staging"] {
        s.ok(&["create", "namespace", env], None);
        let dir = apps.join(env);
        let dir = dir.to_str().expect("utf-8");
        let applied = s.ok(&["apply", "-k", dir], None);
        assert!(
            applied.contains("deployment.apps/billing-api created"),
            "{applied}"
        );
        let o = s.kubectl(&["diff", "-k", dir], None);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{env}: kubectl diff after apply:\n{}\n{}",
            out(&o),
            err(&o)
        );
        let again = s.ok(&["apply", "-k", dir], None);
        assert!(
            again.lines().all(|l| l.ends_with(" unchanged")),
            "{env}: {again}"
        );
    }
}
