//! Issue 17, item 7: chart output applies to `sluice apiserver` as it applies to
//! kube-apiserver 1.32 — `sluice helm template | kubectl apply -f -`, then `kubectl diff`
//! finds no drift — and real Helm (helm-sdkpy, scripts/helm-install.py) installs and
//! uninstalls the charts of ../shared/conformance/helm.

use std::path::Path;

use serde_json::Value;

use crate::apiserver_kubectl::{Server, err, kubectl_available, out, temp_dir};
use crate::common::{repo_root, report, shared, sluice, stderr, stdout};

/// `namespaces "X" not found` in kubectl's errors: a namespace a chart writes into besides
/// the release's (`helm install --create-namespace` creates only that one).
fn missing_namespaces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("namespaces \"") {
        let after = &rest[i + "namespaces \"".len()..];
        if let Some(j) = after.find('"')
            && after[j..].starts_with("\" not found")
        {
            out.push(after[..j].to_owned());
        }
        rest = after;
    }
    out.sort();
    out.dedup();
    out
}

/// Applies `manifest` into `ns` as a user does: the namespace first, and a second `kubectl
/// apply` when the first stopped at custom resources whose CRDs it had just created
/// (kubectl resolves every kind before applying: "ensure CRDs are installed first").
/// Objects whose client-side `last-applied-configuration` would pass kube-apiserver's 256 KiB
/// annotation limit (CRDs such as Argo CD's ApplicationSet or Argo Workflows': "metadata.
/// annotations: Too long") are applied server-side with `--force-conflicts`, as Argo CD's
/// install docs tell users to (`kubectl apply --server-side --force-conflicts`), the rest
/// client-side. Returns the manifest split into (client-side, server-side) documents, or
/// kubectl's error text when the manifest does not apply.
fn apply(s: &Server, ns: &str, manifest: &str) -> Result<(String, String), String> {
    let o = s.kubectl(&["create", "namespace", ns], None);
    if !o.status.success() && !err(&o).contains("AlreadyExists") {
        return Err(err(&o));
    }
    let mut last = String::new();
    let (mut client, mut server) = (manifest.to_owned(), String::new());
    for _ in 0..4 {
        if !server.is_empty() {
            let o = s.kubectl(
                &[
                    "apply",
                    "-n",
                    ns,
                    "--server-side",
                    "--force-conflicts",
                    "-f",
                    "-",
                ],
                Some(&server),
            );
            if !o.status.success() {
                return Err(err(&o));
            }
        }
        let o = s.kubectl(&["apply", "-n", ns, "-f", "-"], Some(&client));
        if o.status.success() {
            return Ok((client, server));
        }
        last = err(&o);
        let too_long: Vec<&str> = last
            .lines()
            .filter(|l| l.contains("metadata.annotations: Too long"))
            .filter_map(|l| l.split('"').nth(1))
            .collect();
        if !too_long.is_empty() {
            let (mut c, mut sv) = (Vec::new(), Vec::new());
            for doc in client.split("\n---") {
                let doc = doc.strip_prefix("---").unwrap_or(doc);
                let big = too_long
                    .iter()
                    .any(|n| doc.contains(&format!("\n  name: {n}\n")));
                if big { sv.push(doc) } else { c.push(doc) }
            }
            server = format!("{server}---{}\n", sv.join("\n---"));
            client = format!("---{}", c.join("\n---"));
            continue;
        }
        let namespaces = missing_namespaces(&last);
        let crds_first = last.contains("ensure CRDs are installed first");
        if namespaces.is_empty() && !crds_first {
            break;
        }
        for n in namespaces {
            s.kubectl(&["create", "namespace", &n], None);
        }
    }
    Err(last)
}

/// `kubectl diff` of what was applied: exit 0 (no difference) or the difference.
fn diff(s: &Server, ns: &str, manifest: &str, server_side: bool) -> Result<(), String> {
    let mut args = vec!["diff", "-n", ns, "-f", "-"];
    if server_side {
        args.extend(["--server-side", "--force-conflicts"]);
    }
    let o = s.kubectl(&args, Some(manifest));
    match o.status.code() {
        Some(0) => Ok(()),
        _ => Err(format!("{}{}", out(&o), err(&o))),
    }
}

/// A chart written here with the built-in kinds charts use beside workloads (the kinds the
/// corpus' charts failed on before: NetworkPolicy, IngressClass, PodDisruptionBudget, the
/// webhook configurations, ...).
fn write_chart(dir: &Path) {
    let files: &[(&str, &str)] = &[
        (
            "Chart.yaml",
            "apiVersion: v2\nname: kinds\nversion: 0.1.0\nappVersion: \"1.27\"\n",
        ),
        ("values.yaml", "replicas: 2\nimage: nginx:1.27\n"),
        (
            "templates/workloads.yaml",
            r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels: {app: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers:
      - name: web
        image: {{ .Values.image }}
        ports: [{name: http, containerPort: 80}]
        livenessProbe: {httpGet: {path: /, port: http}}
---
apiVersion: v1
kind: Service
metadata: {name: {{ .Release.Name }}-web}
spec:
  selector: {app: {{ .Release.Name }}}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: {{ .Release.Name }}-agent}
spec:
  selector: {matchLabels: {app: {{ .Release.Name }}-agent}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}-agent}}
    spec:
      containers: [{name: agent, image: "busybox:1.36"}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: {{ .Release.Name }}-web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: {{ .Release.Name }}-web}
  minReplicas: 2
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
"#,
        ),
        (
            "templates/policy.yaml",
            r#"apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: {{ .Release.Name }}-web}
spec:
  podSelector: {matchLabels: {app: {{ .Release.Name }}}}
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: 80}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: {{ .Release.Name }}-web}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: {{ .Release.Name }}}}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: {{ .Release.Name }}-nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: {{ .Release.Name }}-web}
spec:
  ingressClassName: {{ .Release.Name }}-nginx
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: {{ .Release.Name }}-web, port: {name: http}}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: {{ .Release.Name }}-admission}
webhooks:
- name: validate.{{ .Release.Name }}.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig:
    service: {name: {{ .Release.Name }}-web, namespace: {{ .Release.Namespace }}, path: /validate}
  rules:
  - apiGroups: [networking.k8s.io]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [ingresses]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: {{ .Release.Name }}-mutate}
webhooks:
- name: mutate.{{ .Release.Name }}.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig:
    service: {name: {{ .Release.Name }}-web, namespace: {{ .Release.Namespace }}, path: /mutate}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: {{ .Release.Name }}-high}
value: 100000
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: {{ .Release.Name }}-leases}
rules:
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, create, update]
"#,
        ),
    ];
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write chart file");
    }
}

#[test]
fn chart_output_applies_and_diffs_clean() {
    if !kubectl_available() {
        eprintln!("kubectl not installed: skipped");
        return;
    }
    let dir = temp_dir("helm-kinds");
    let chart = dir.join("kinds");
    write_chart(&chart);
    let o = sluice(
        &[
            "helm",
            "template",
            "rel",
            chart.to_str().expect("utf-8"),
            "-n",
            "web",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = stdout(&o);
    let s = Server::start("helm-kinds");
    if let Err(e) = apply(&s, "web", &manifest) {
        panic!("kubectl apply failed:\n{e}");
    }
    if let Err(e) = diff(&s, "web", &manifest, false) {
        panic!("kubectl diff after apply found drift:\n{e}");
    }
    for (kind, name) in [
        ("networkpolicy", "rel-web"),
        ("pdb", "rel-web"),
        ("ingress", "rel-web"),
        ("hpa", "rel-web"),
        ("ds", "rel-agent"),
    ] {
        s.ok(&["get", kind, name, "-n", "web"], None);
    }
    for (kind, name) in [
        ("ingressclass", "rel-nginx"),
        ("validatingwebhookconfiguration", "rel-admission"),
        ("mutatingwebhookconfiguration", "rel-mutate"),
        ("pc", "rel-high"),
    ] {
        s.ok(&["get", kind, name], None);
    }
    // `kubectl delete -f` of the same output removes everything it created
    s.ok(
        &["delete", "-n", "web", "-f", "-", "--wait=false"],
        Some(&manifest),
    );
    let left = s.ok(
        &[
            "get",
            "deploy,svc,ds,hpa,netpol,pdb,ingress,role",
            "-n",
            "web",
            "-o",
            "name",
        ],
        None,
    );
    assert_eq!(left.trim(), "", "{left}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every case of ../shared/conformance/helm/cases.json: `sluice helm template` (with the
/// charts' CRDs), `kubectl apply` into the case's namespace, then `kubectl diff` of the same
/// output must find no difference. Cases that need a kind kube-apiserver does not serve
/// either (Gateway API's HTTPRoute, Kyverno's policies.kyverno.io) fail here as they fail
/// against a cluster without those CRDs.
#[test]
#[ignore = "conformance: needs ../shared (./scripts/conformance)"]
fn helm_corpus_applies_with_kubectl_and_diffs_clean() {
    assert!(kubectl_available(), "kubectl is not installed");
    let root = shared().join("conformance/helm");
    let cases: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(root.join("cases.json")).expect("cases.json"),
    )
    .expect("cases.json is JSON");
    let s = Server::start("helm-corpus");
    let (mut passed, mut failures) = (0, Vec::new());
    for (i, case) in cases.iter().enumerate() {
        let chart = root.join(case["chart"].as_str().expect("chart"));
        let release = case["release"].as_str().expect("release");
        let ns = case["namespace"].as_str().expect("namespace");
        let chart_s = chart.to_string_lossy().into_owned();
        let mut args: Vec<String> = ["helm", "template", release, &chart_s, "-n", ns]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        args.push("--include-crds".into());
        for f in case["values_files"].as_array().into_iter().flatten() {
            args.push("-f".into());
            args.push(
                root.join(f.as_str().expect("values file"))
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = sluice(&argv, None);
        if !o.status.success() {
            failures.push(format!("case {i} ({chart_s}): render: {}", stderr(&o)));
            continue;
        }
        let manifest = stdout(&o);
        let result = apply(&s, ns, &manifest)
            .map_err(|e| format!("apply: {e}"))
            .and_then(|(client, server)| {
                diff(&s, ns, &client, false)
                    .and_then(|()| {
                        if server.is_empty() {
                            Ok(())
                        } else {
                            diff(&s, ns, &server, true)
                        }
                    })
                    .map_err(|e| format!("diff: {e}"))
            });
        match result {
            Ok(()) => passed += 1,
            Err(e) => failures.push(format!(
                "case {i} ({} {}): {}",
                case["chart"],
                case["values_files"],
                e.lines().take(12).collect::<Vec<_>>().join("\n    ")
            )),
        }
    }
    for f in &failures {
        eprintln!("{f}");
    }
    eprintln!(
        "helm corpus with kubectl: {passed}/{} applied with no drift",
        cases.len()
    );
    report("helm-apply", passed, cases.len());
}

/// Real Helm installs and uninstalls every case (scripts/helm-install.py, helm-sdkpy).
#[test]
#[ignore = "conformance: needs ../shared, python3 and helm-sdkpy (./scripts/conformance)"]
fn helm_corpus_installs_and_uninstalls_with_real_helm() {
    let script = repo_root().join("scripts/helm-install.py");
    let o = std::process::Command::new("python3")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_sluice"))
        .arg(shared())
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    eprintln!("{text}{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "helm-install.py failed");
    let last = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("HELM-INSTALL "))
        .expect("a HELM-INSTALL line");
    let mut f = last.split_whitespace().map(|n| n.parse::<usize>());
    let (Some(Ok(passed)), Some(Ok(total))) = (f.next(), f.next()) else {
        panic!("bad HELM-INSTALL line {last:?}");
    };
    report("helm-install", passed, total);
}

#[test]
fn missing_namespaces_are_read_from_kubectls_errors() {
    let e = r#"Error from server (NotFound): error when creating "STDIN": namespaces "kube-system" not found
Error from server (NotFound): namespaces "monitoring" not found"#;
    assert_eq!(missing_namespaces(e), vec!["kube-system", "monitoring"]);
    assert!(missing_namespaces("deployments.apps \"x\" not found").is_empty());
}

/// real Helm's release actions (helm-sdkpy, scripts/helm-oci.py): what a release did, as
/// the JSON the script prints
fn helm_release(s: &Server, args: &[&str]) -> String {
    let o = std::process::Command::new("python3")
        .arg(repo_root().join("scripts/helm-oci.py"))
        .arg(s.dir().join("kubeconfig"))
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "helm {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Issue 12 item 2, the ecosystem test: real Helm keeps working against Sluice's API
/// server through a release's whole life — install, upgrade, rollback (a new revision
/// with the old manifest, helm/helm pkg/action/rollback.go), history, uninstall — with
/// the releases stored as Secrets `sh.helm.release.v1.NAME.vN` of type `helm.sh/release.v1`
/// (helm/helm pkg/storage/driver/secrets.go), and the objects following each revision.
#[test]
fn real_helm_install_upgrade_rollback_uninstall() {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import cffi, yaml"])
        .output();
    if !kubectl_available() || !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipping: kubectl, and python3 with cffi and pyyaml, are needed");
        return;
    }
    let s = Server::start("helm-lifecycle");
    let chart = s.dir().join("life");
    std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: life\nversion: 0.1.0\n",
    )
    .expect("Chart.yaml");
    std::fs::write(chart.join("values.yaml"), "msg: default\n").expect("values");
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n  msg: {{ .Values.msg | quote }}\n  revision: {{ .Release.Revision | quote }}\n{{- if .Values.extra }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-extra\ndata: {}\n{{- end }}\n",
    )
    .expect("template");
    let c = chart.display().to_string();
    let msg = |s: &Server| {
        let o = s.kubectl(
            &[
                "get",
                "configmap",
                "rel-cfg",
                "-n",
                "apps",
                "-o",
                "jsonpath={.data.msg}/{.data.revision}",
            ],
            None,
        );
        out(&o)
    };
    let secrets = |s: &Server| {
        let o = s.kubectl(
            &[
                "get",
                "secrets",
                "-n",
                "apps",
                "-l",
                "owner=helm,name=rel",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name}={.type},{end}",
            ],
            None,
        );
        out(&o)
    };
    helm_release(&s, &["install", "rel", &c, "apps", r#"{"msg": "one"}"#]);
    assert_eq!(msg(&s), "one/1");
    helm_release(
        &s,
        &[
            "upgrade",
            "rel",
            &c,
            "apps",
            r#"{"msg": "two", "extra": true}"#,
        ],
    );
    assert_eq!(msg(&s), "two/2");
    assert!(
        s.kubectl(&["get", "configmap", "rel-extra", "-n", "apps"], None)
            .status
            .success()
    );
    // helm-sdkpy 0.1.32's Rollback fails in its Go shim after Helm stored the new
    // revision ("unable to get waiter: wait strategy not set": the shim sets no
    // WaitStrategy, which Helm v4's rollback needs to apply it); then revision 3 stays
    // `pending-rollback`, which is what Helm wrote through Sluice's API
    let rb = std::process::Command::new("python3")
        .arg(repo_root().join("scripts/helm-oci.py"))
        .arg(s.dir().join("kubeconfig"))
        .args(["rollback", "rel", "apps", "1"])
        .output()
        .expect("python3 runs");
    let rb_err = String::from_utf8_lossy(&rb.stderr).into_owned();
    let rolled_back = rb.status.success();
    if rolled_back {
        // revision 3 holds revision 1's manifest as rendered then; the object only
        // revision 2 had is deleted
        assert_eq!(msg(&s), "one/1");
        let o = s.kubectl(&["get", "configmap", "rel-extra", "-n", "apps"], None);
        assert!(
            !o.status.success(),
            "rel-extra survived the rollback: {}",
            out(&o)
        );
    } else {
        assert!(
            rb_err.contains("wait strategy not set"),
            "rollback: {rb_err}"
        );
        eprintln!("helm-sdkpy's Rollback stops in its shim before applying (no WaitStrategy)");
    }
    let history: Value =
        serde_json::from_str(&helm_release(&s, &["history", "rel", "apps"])).expect("history JSON");
    let revs: Vec<(i64, String)> = history
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| {
            (
                r["version"].as_i64().unwrap_or(0),
                r["info"]["status"]
                    .as_str()
                    .or(r["status"].as_str())
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect();
    let third = if rolled_back {
        "deployed"
    } else {
        "pending-rollback"
    };
    assert_eq!(revs.len(), 3, "{history}");
    let second = if rolled_back {
        "superseded"
    } else {
        "deployed"
    };
    assert_eq!(revs[0], (1, "superseded".to_owned()), "{history}");
    assert_eq!(revs[1], (2, second.to_owned()), "{history}");
    assert_eq!(revs[2], (3, third.to_owned()), "{history}");
    assert_eq!(
        secrets(&s),
        "sh.helm.release.v1.rel.v1=helm.sh/release.v1,sh.helm.release.v1.rel.v2=helm.sh/release.v1,sh.helm.release.v1.rel.v3=helm.sh/release.v1,"
    );
    helm_release(&s, &["uninstall", "rel", "apps"]);
    let o = s.kubectl(&["get", "configmap", "rel-cfg", "-n", "apps"], None);
    assert!(!o.status.success(), "rel-cfg survived the uninstall");
    assert_eq!(
        secrets(&s),
        "",
        "release Secrets left after uninstall: {}",
        err(&o)
    );
}
