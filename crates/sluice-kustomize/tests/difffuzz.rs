//! Differential fuzzer: random small kustomization trees (a base, an optional component and an
//! overlay, with resources, prefixes/suffixes, namespaces, labels with and without selectors,
//! annotations, images, replicas, generators with behaviors, strategic merge and JSON 6902
//! patches, replacements and vars) built by the native renderer and by the real
//! `kubectl kustomize`; the output bytes, the warnings and success/failure must agree.
//!
//! The cases are deterministic: case N is generated from seed N. `./scripts/test` runs seeds
//! from 0 for `SLUICE_KFUZZ_SECS` seconds (default 30); by hand, run longer from any seed:
//!
//! ```text
//! SLUICE_KFUZZ_SECS=600 SLUICE_KFUZZ_SEED=100000 cargo test -p sluice-kustomize --test difffuzz
//! ```
//!
//! A mismatch leaves its tree under the temporary directory and prints the seed and the first
//! differing line; every mismatch found becomes a regular test case (tests/features.rs,
//! tests/realworld_classes.rs).
//!
//! A second generator (`generate_wide`) draws the classes issue 11 saw on real trees: vars in
//! container commands/env and in `configurations` varReference fields, CRDs with
//! nameReference/commonLabels configurations, Namespace objects and cluster-scoped kinds
//! under the namespace transformer, empty values (`{}`, `[]`, null, `- {}`), strategic merge
//! patches with `$patch`, `$setElementOrder`, `$retainKeys`, volumeClaimTemplates and one
//! name in two namespaces, long strings the emitter folds, generators with behaviors and
//! options across base/component/overlay, replacements with delimiter/index/create, labels
//! with includeSelectors/includeTemplates/fields, patch targets by regex, label and
//! annotation selectors, images with digest/newName/tagSuffix, replicas, sortOptions,
//! buildMetadata, and built-in plugin configs (inline and in files, from their own random
//! stream so the other draws of a seed stay) under `transformers:`, `generators:` and
//! `validators:`, `crds:` definitions, strategic merge patch items without their list's merge key,
//! and what unseen real inputs showed: folded (`>`) scalars with more-indented lines,
//! StatefulSets without volumeClaimTemplates, a Role named like a ClusterRole, CRD kinds named
//! like cluster-scoped built-ins (Cluster API `Cluster`, a CRD `Namespace`) and long
//! secretGenerator literals. It runs for `SLUICE_KFUZZ_WIDE_SECS` (30); `SLUICE_KFUZZ_MEASURE=1`
//! prints the counts (identical, refused by both, refused as not supported, mismatches)
//! without failing, `SLUICE_KFUZZ_CASES` bounds the cases, `SLUICE_KFUZZ_KEEP` keeps every
//! tree, `SLUICE_KFUZZ_ERRORS` prints both sides' errors:
//!
//! ```text
//! SLUICE_KFUZZ_MEASURE=1 SLUICE_KFUZZ_SEED=1000 SLUICE_KFUZZ_CASES=300 SLUICE_KFUZZ_WIDE_SECS=900 \
//!   cargo test -p sluice-kustomize --test difffuzz wide -- --nocapture
//! ```

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{ensure_kubectl, exact, kubectl, kubectl_warnings, sluice};

/// splitmix64: small, seedable, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const NAMES: &[&str] = &["app", "web", "api", "db"];
const NAMESPACES: &[&str] = &["team-a", "team-b", "prod"];
const IMAGES: &[&str] = &[
    "nginx",
    "nginx:1.25",
    "registry.example.com/team/api:v1",
    "busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    "localhost:5000/web:2",
];
const LABEL_KEYS: &[&str] = &["app", "tier", "app.kubernetes.io/part-of", "env"];
const LABEL_VALUES: &[&str] = &["x", "backend", "shop", "prod", "v1"];

/// One resource document of a random kind, with names other documents refer to.
fn resource(r: &mut Rng, name: &str, ns: Option<&str>) -> String {
    let meta = |kind_name: &str| {
        let mut m = format!("metadata:\n  name: {kind_name}\n");
        if let Some(ns) = ns {
            let _ = writeln!(m, "  namespace: {ns}");
        }
        m
    };
    match r.below(11) {
        0 | 1 => {
            let image = r.pick(IMAGES);
            let mut s = format!(
                "apiVersion: apps/v1\nkind: Deployment\n{}  labels:\n    app: {name}\nspec:\n  replicas: {}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: main\n        image: {image}\n",
                meta(name),
                r.below(4)
            );
            if r.chance(50) {
                let _ = write!(
                    s,
                    "        env:\n        - name: MODE\n          valueFrom:\n            configMapKeyRef:\n              name: {}-config\n              key: mode\n        - name: PLAIN\n          value: \"$(SVC_NAME)\"\n",
                    r.pick(NAMES)
                );
            }
            if r.chance(40) {
                let _ = write!(
                    s,
                    "        envFrom:\n        - secretRef:\n            name: {}-secret\n",
                    r.pick(NAMES)
                );
            }
            if r.chance(40) {
                let _ = write!(
                    s,
                    "      - name: sidecar\n        image: {}\n        args: [\"--target=$(SVC_NAME)\"]\n",
                    r.pick(IMAGES)
                );
            }
            if r.chance(50) {
                let _ = write!(
                    s,
                    "      volumes:\n      - name: cfg\n        configMap:\n          name: {}-config\n      - name: empty\n        emptyDir: {{}}\n",
                    r.pick(NAMES)
                );
            }
            s
        }
        2 => format!(
            "apiVersion: v1\nkind: Service\n{}  labels:\n    app: {name}\nspec:\n  selector:\n    app: {name}\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n",
            meta(name)
        ),
        3 => {
            let data = if r.chance(20) {
                "data: {}\n".to_owned()
            } else {
                format!(
                    "data:\n  mode: {}\n  key.txt: hello\n",
                    r.pick(LABEL_VALUES)
                )
            };
            format!(
                "apiVersion: v1\nkind: ConfigMap\n{}{data}",
                meta(&format!("{name}-config"))
            )
        }
        4 => format!(
            "apiVersion: v1\nkind: Secret\n{}type: Opaque\nstringData:\n  password: s3cr3t\n",
            meta(&format!("{name}-secret"))
        ),
        5 => format!(
            "apiVersion: apps/v1\nkind: StatefulSet\n{}spec:\n  serviceName: {name}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: db\n        image: {}\n        volumeMounts:\n        - name: data\n          mountPath: /data\n  volumeClaimTemplates:\n  - metadata:\n      name: data\n    spec:\n      accessModes: [ReadWriteOnce]\n      resources:\n        requests:\n          storage: 1Gi\n",
            meta(name),
            r.pick(IMAGES)
        ),
        6 => format!(
            "apiVersion: v1\nkind: ServiceAccount\n{}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n{}roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: {name}-role\nsubjects:\n- kind: ServiceAccount\n  name: {name}-sa\n{}",
            meta(&format!("{name}-sa")),
            meta(&format!("{name}-binding")),
            ns.map(|n| format!("  namespace: {n}\n"))
                .unwrap_or_default()
        ),
        7 => format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {name}-role\nrules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get, list]\n"
        ),
        8 => format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\n{}spec:\n  rules:\n  - host: {name}.example.com\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: {name}\n            port:\n              number: 80\n",
            meta(&format!("{name}-ingress"))
        ),
        9 => format!(
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n{}spec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: {name}\n  minReplicas: 1\n  maxReplicas: 5\n",
            meta(&format!("{name}-hpa"))
        ),
        _ => format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {}\n",
            r.pick(NAMESPACES)
        ),
    }
}

fn labels_block(r: &mut Rng, indent: &str) -> String {
    let mut s = String::new();
    let n = 1 + r.below(2);
    let mut used = Vec::new();
    for _ in 0..n {
        let k = r.pick(LABEL_KEYS);
        if used.contains(&k) {
            continue;
        }
        used.push(k);
        let _ = writeln!(s, "{indent}{k}: {}", r.pick(LABEL_VALUES));
    }
    s
}

/// The transformer fields of one kustomization (prefix, namespace, labels, images...).
fn transformers(r: &mut Rng, k: &mut String, names: &[String]) {
    if r.chance(30) {
        let _ = writeln!(k, "namePrefix: {}-", r.pick(&["p", "dev", "x1"]));
    }
    if r.chance(25) {
        let _ = writeln!(k, "nameSuffix: -{}", r.pick(&["s", "v2"]));
    }
    if r.chance(35) {
        let _ = writeln!(k, "namespace: {}", r.pick(NAMESPACES));
    }
    match r.below(4) {
        0 => {
            k.push_str("commonLabels:\n");
            k.push_str(&labels_block(r, "  "));
        }
        1 => {
            let _ = writeln!(
                k,
                "labels:\n- includeSelectors: {}\n  includeTemplates: {}\n  pairs:",
                r.chance(50),
                r.chance(50)
            );
            k.push_str(&labels_block(r, "    "));
        }
        _ => {}
    }
    if r.chance(30) {
        k.push_str("commonAnnotations:\n");
        k.push_str(&labels_block(r, "  "));
    }
    if r.chance(35) {
        k.push_str("images:\n");
        let name = r.pick(&["nginx", "busybox", "registry.example.com/team/api", "web"]);
        let _ = writeln!(k, "- name: {name}");
        match r.below(4) {
            0 => {
                let _ = writeln!(k, "  newTag: \"{}\"", r.pick(&["2.0", "latest", "1"]));
            }
            1 => {
                let _ = writeln!(k, "  newName: mirror.local/{name}");
            }
            2 => {
                k.push_str("  digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\n");
            }
            _ => {
                let _ = writeln!(k, "  newName: other\n  newTag: v9");
            }
        }
    }
    if r.chance(25) && !names.is_empty() {
        let name = &names[r.below(names.len())];
        let _ = writeln!(k, "replicas:\n- name: {name}\n  count: {}", r.below(6));
    }
}

fn generators(r: &mut Rng, k: &mut String, behavior: bool, files: &mut Vec<(String, String)>) {
    if r.chance(45) {
        let name = r.pick(NAMES);
        let _ = writeln!(k, "configMapGenerator:\n- name: {name}-config");
        if behavior {
            let _ = writeln!(k, "  behavior: {}", r.pick(&["create", "merge", "replace"]));
        }
        let _ = writeln!(
            k,
            "  literals:\n  - mode={}\n  - level={}",
            r.pick(LABEL_VALUES),
            r.below(9)
        );
        if r.chance(30) {
            k.push_str("  files:\n  - app.properties\n");
            files.push(("app.properties".into(), "a=1\nb=2\n".into()));
        }
        if r.chance(30) {
            k.push_str("  options:\n    disableNameSuffixHash: true\n");
        } else if r.chance(30) {
            k.push_str("  options:\n    labels:\n      generated: \"yes\"\n");
        }
    }
    if r.chance(30) {
        let name = r.pick(NAMES);
        let _ = writeln!(k, "secretGenerator:\n- name: {name}-secret");
        if behavior {
            let _ = writeln!(k, "  behavior: {}", r.pick(&["create", "merge", "replace"]));
        }
        k.push_str("  literals:\n  - password=pw\n");
        // long values print as base64 lines of 70 (kyaml encodeBase64)
        if r.chance(30) {
            k.push_str("  - cert=-----BEGIN CERTIFICATE----- MIIBszCCAVmgAwIBAgIUexample0123456789abcdefghij\n");
        }
        if r.chance(30) {
            k.push_str("  type: kubernetes.io/basic-auth\n");
        }
    }
}

fn patches(r: &mut Rng, k: &mut String, names: &[String]) {
    if names.is_empty() || !r.chance(55) {
        return;
    }
    k.push_str("patches:\n");
    for _ in 0..1 + r.below(2) {
        let name = &names[r.below(names.len())];
        match r.below(5) {
            0 => {
                let _ = write!(
                    k,
                    "- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: {name}\n    spec:\n      replicas: {}\n      template:\n        spec:\n          containers:\n          - name: main\n            env:\n            - name: EXTRA\n              value: \"1\"\n",
                    r.below(5)
                );
            }
            1 => {
                let _ = write!(
                    k,
                    "- target:\n    kind: Deployment\n  patch: |-\n    - op: {}\n      path: /spec/replicas\n      value: {}\n",
                    r.pick(&["add", "replace"]),
                    r.below(7)
                );
            }
            2 => {
                let _ = write!(
                    k,
                    "- target:\n    name: {name}\n  patch: |-\n    - op: add\n      path: /metadata/annotations\n      value:\n        patched: \"true\"\n"
                );
            }
            3 => {
                let _ = write!(
                    k,
                    "- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: {name}\n    spec:\n      template:\n        spec:\n          containers:\n          - name: sidecar\n            $patch: delete\n"
                );
            }
            _ => {
                let _ = write!(
                    k,
                    "- target:\n    labelSelector: app={name}\n  patch: |-\n    - op: add\n      path: /metadata/labels/patched\n      value: \"yes\"\n"
                );
            }
        }
    }
}

fn replacements_and_vars(r: &mut Rng, k: &mut String, names: &[String]) {
    if names.is_empty() {
        return;
    }
    let name = &names[r.below(names.len())];
    if r.chance(20) {
        let _ = write!(
            k,
            "replacements:\n- source:\n    kind: Service\n    name: {name}\n    fieldPath: metadata.name\n  targets:\n  - select:\n      kind: Deployment\n    fieldPaths:\n    - spec.template.metadata.annotations.[svc.example.com/name]\n    options:\n      create: true\n"
        );
    }
    if r.chance(20) {
        let _ = write!(
            k,
            "vars:\n- name: SVC_NAME\n  objref:\n    apiVersion: v1\n    kind: Service\n    name: {name}\n  fieldref:\n    fieldPath: metadata.name\n"
        );
    }
}

/// A random tree under `root`; returns the directory to build.
fn generate(seed: u64, root: &Path) -> PathBuf {
    let mut r = Rng(seed);
    let mut files: Vec<(String, String)> = Vec::new();
    // Base.
    let base_ns = if r.chance(30) {
        Some(r.pick(NAMESPACES))
    } else {
        None
    };
    let mut names = Vec::new();
    let mut base = String::from("resources:\n");
    for i in 0..1 + r.below(4) {
        let name = r.pick(NAMES);
        if !names.iter().any(|n: &String| n == name) {
            names.push(name.to_owned());
        }
        let file = format!("r{i}.yaml");
        let mut text = resource(&mut r, name, base_ns);
        if r.chance(25) {
            text.push_str("---\n");
            text.push_str(&resource(&mut r, name, base_ns));
        }
        files.push((format!("base/{file}"), text));
        let _ = writeln!(base, "- {file}");
    }
    transformers(&mut r, &mut base, &names);
    let mut gen_files = Vec::new();
    generators(&mut r, &mut base, false, &mut gen_files);
    for (f, t) in gen_files.drain(..) {
        files.push((format!("base/{f}"), t));
    }
    patches(&mut r, &mut base, &names);
    replacements_and_vars(&mut r, &mut base, &names);
    files.push(("base/kustomization.yaml".into(), base));
    let mut target = "base";
    // Component.
    let with_component = r.chance(30);
    if with_component {
        let mut c = String::from("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n");
        if r.chance(50) {
            c.push_str("resources:\n- extra.yaml\n");
            let extra_name = r.pick(NAMES);
            files.push(("comp/extra.yaml".into(), resource(&mut r, extra_name, None)));
        }
        transformers(&mut r, &mut c, &names);
        patches(&mut r, &mut c, &names);
        files.push(("comp/kustomization.yaml".into(), c));
    }
    // Overlay.
    if with_component || r.chance(60) {
        let mut o = String::from("resources:\n- ../base\n");
        if r.chance(30) {
            let extra_name = r.pick(NAMES);
            o.push_str("- own.yaml\n");
            files.push((
                "overlay/own.yaml".into(),
                resource(&mut r, extra_name, None),
            ));
        }
        if with_component {
            o.push_str("components:\n- ../comp\n");
        }
        transformers(&mut r, &mut o, &names);
        generators(&mut r, &mut o, true, &mut gen_files);
        for (f, t) in gen_files.drain(..) {
            files.push((format!("overlay/{f}"), t));
        }
        patches(&mut r, &mut o, &names);
        files.push(("overlay/kustomization.yaml".into(), o));
        target = "overlay";
    }
    let _ = std::fs::remove_dir_all(root);
    for (path, text) in &files {
        let p = root.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
    }
    root.join(target)
}

fn first_diff(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: kubectl {x:?} / sluice {y:?}", i + 1);
        }
    }
    format!(
        "kubectl {} lines / sluice {} lines",
        a.lines().count(),
        b.lines().count()
    )
}

/// The verdict for one case: None when both agree.
fn compare(dir: &Path) -> Option<String> {
    let (ok, expected, stderr) = kubectl(dir);
    match (sluice(dir), ok) {
        (Ok(out), true) => {
            if out.yaml != expected {
                Some(format!(
                    "output differs: {}",
                    first_diff(&expected, &out.yaml)
                ))
            } else if out.warnings != kubectl_warnings(&stderr) {
                Some(format!(
                    "warnings differ: kubectl {:?} / sluice {:?}",
                    kubectl_warnings(&stderr),
                    out.warnings
                ))
            } else {
                None
            }
        }
        (Ok(_), false) => Some(format!(
            "kubectl fails, sluice builds: {}",
            common::kubectl_error(&stderr)
        )),
        // refusing what it does not support is allowed (issue 11), and counted apart
        (Err(e @ sluice_kustomize::Error::Unsupported { .. }), true) => {
            REFUSED.with(|c| c.set(c.get() + 1));
            if std::env::var_os("SLUICE_KFUZZ_ERRORS").is_some() {
                println!("refused {}: {e}", dir.display());
            }
            None
        }
        (Err(e), true) => Some(format!("sluice fails, kubectl builds: {e}")),
        (Err(e), false) => {
            BOTH_FAIL.with(|c| c.set(c.get() + 1));
            let same = common::kubectl_error(&stderr).contains(&e.to_string());
            if same {
                SAME_ERROR.with(|c| c.set(c.get() + 1));
            }
            if !same && std::env::var_os("SLUICE_KFUZZ_ERRORS").is_some() {
                println!(
                    "both refuse {}: kubectl: {} / sluice: {e}",
                    dir.display(),
                    common::kubectl_error(&stderr)
                        .lines()
                        .next()
                        .unwrap_or_default()
                );
            }
            None
        }
    }
}

// Cases kubectl builds and sluice refuses as not supported.
thread_local! { static REFUSED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) }; }

// Cases both refuse where kubectl's error contains sluice's message.
thread_local! { static SAME_ERROR: std::cell::Cell<u64> = const { std::cell::Cell::new(0) }; }

// Cases both refuse (agreement, but a weaker one than identical output).
thread_local! { static BOTH_FAIL: std::cell::Cell<u64> = const { std::cell::Cell::new(0) }; }

#[test]
fn random_kustomizations_match_kubectl() {
    ensure_kubectl();
    if !exact() {
        eprintln!("kubectl's kustomize is not v5.5.0: byte comparison does not apply; skipped");
        return;
    }
    let secs: u64 = std::env::var("SLUICE_KFUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let start_seed: u64 = std::env::var("SLUICE_KFUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let base = std::env::temp_dir().join(format!("sluice-kfuzz-{}", std::process::id()));
    let mut failures = Vec::new();
    let mut seed = start_seed;
    while Instant::now() < deadline && failures.len() < 5 {
        let root = base.join(seed.to_string());
        let dir = generate(seed, &root);
        match compare(&dir) {
            None => {
                let _ = std::fs::remove_dir_all(&root);
            }
            Some(why) => failures.push(format!("seed {seed} ({}): {why}", dir.display())),
        }
        seed += 1;
    }
    println!(
        "kustomize differential fuzzer: {} cases (seeds {start_seed}..{seed}), {} mismatches",
        seed - start_seed,
        failures.len()
    );
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// The wide generator: the classes issue 11 saw on real trees, each drawn at random.
// ---------------------------------------------------------------------------------------

/// A CRD declaring `Widget` (example.com/v1), whose objects refer to a ConfigMap and a
/// Service; `configurations` teach kustomize those references (nameReference), a var field
/// (varReference) and common labels' paths (commonLabels).
const WIDGET_CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
  creationTimestamp: null
spec:
  group: example.com
  names:
    kind: Widget
    plural: widgets
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
  conversion:
    strategy: Webhook
    webhook:
      clientConfig:
        service:
          name: webhook
          namespace: system
          path: /convert
      conversionReviewVersions: [v1]
status:
  acceptedNames:
    kind: \"\"
    plural: \"\"
  conditions: []
  storedVersions: []
";

const WIDGET_CONFIG: &str = "nameReference:
- kind: ConfigMap
  fieldSpecs:
  - kind: Widget
    path: spec/configRef/name
- kind: Service
  fieldSpecs:
  - kind: Widget
    path: spec/backends[]/service
varReference:
- kind: Widget
  path: spec/endpoint
- path: metadata/annotations
commonLabels:
- kind: Widget
  path: spec/selector/matchLabels
  create: true
";

/// `crds:` definitions (kustomize's loadconfigfromcrds.go): a Widget's `spec.configRef`
/// refers to a ConfigMap by name.
const WIDGET_CRDS: &str = r##"{
  "github.com/example/pkg/apis/example/v1.Widget": {
    "Schema": {
      "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"$ref": "k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta"},
        "spec": {"$ref": "github.com/example/pkg/apis/example/v1.WidgetSpec"}
      }
    }
  },
  "github.com/example/pkg/apis/example/v1.WidgetSpec": {
    "Schema": {
      "properties": {
        "configRef": {
          "x-kubernetes-object-ref-api-version": "v1",
          "x-kubernetes-object-ref-kind": "ConfigMap",
          "$ref": "k8s.io/api/core/v1.LocalObjectReference"
        }
      }
    }
  }
}
"##;

const WIDGET_SCHEMA: &str = r##"{
  "definitions": {
    "com.example.v1.Widget": {
      "type": "object",
      "x-kubernetes-group-version-kind": [{"group": "example.com", "kind": "Widget", "version": "v1"}],
      "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {"$ref": "#/definitions/com.example.v1.WidgetSpec"}
      }
    },
    "com.example.v1.WidgetSpec": {
      "type": "object",
      "properties": {
        "items": {
          "type": "array",
          "items": {"type": "object", "properties": {"name": {"type": "string"}, "value": {"type": "integer"}}},
          "x-kubernetes-patch-merge-key": "name",
          "x-kubernetes-patch-strategy": "merge"
        },
        "backends": {"type": "array", "items": {"type": "object"}}
      }
    }
  }
}
"##;

const LONG_TEXTS: &[&str] = &[
    "this is a rather long annotation value with spaces that go-yaml folds when it passes its line width of eighty",
    "\"quoted\" start and a colon: inside a long value that keeps going past the width of the emitter's line, really",
    "no-spaces-at-all-but-very-long-no-spaces-at-all-but-very-long-no-spaces-at-all-but-very-long-xxxxxxxxxxxxxx",
    "  leading spaces and a trailing space and long enough to fold across the line width of the go-yaml emitter ",
    "line one\nline two with a long tail that goes past the width of the emitter for sure, yes it does indeed\n",
    "# hash start and 'single quotes' and a long tail that goes past the width of the emitter for sure, yes",
    "ends with colon and is long enough to be folded by the emitter at its best width of eighty characters:",
    "yes",
    "0755",
    "1e3",
    "~",
    "",
];

fn long_text(r: &mut Rng) -> String {
    serde_json::to_string(r.pick(LONG_TEXTS)).expect("json string")
}

/// Empty values as real trees have them: `{}`, `[]`, null and `- {}`.
fn empties(r: &mut Rng, indent: &str) -> String {
    let mut s = String::new();
    for _ in 0..r.below(3) {
        let line = r.pick(&[
            "nodeSelector: {}",
            "tolerations: []",
            "affinity:\n  nodeAffinity: {}",
            "securityContext: {}",
            "imagePullSecrets: []",
            "hostAliases: []",
            "dnsConfig: null",
        ]);
        if s.contains(line.split(':').next().unwrap_or("")) {
            continue;
        }
        for l in line.lines() {
            let _ = writeln!(s, "{indent}{l}");
        }
    }
    s
}

/// One document of the wide pool.
fn wide_resource(r: &mut Rng, name: &str, ns: Option<&str>) -> String {
    let meta = |n: &str, r: &mut Rng| {
        let mut m = format!("metadata:\n  name: {n}\n");
        if let Some(ns) = ns {
            let _ = writeln!(m, "  namespace: {ns}");
        }
        if r.chance(20) {
            m.push_str("  creationTimestamp: null\n");
        }
        if r.chance(25) {
            let _ = writeln!(m, "  annotations:\n    note: {}", long_text(r));
        }
        if r.chance(15) {
            m.push_str("  labels: {}\n");
        }
        m
    };
    match r.below(16) {
        0..=2 => {
            let m = meta(name, r);
            let mut s = format!(
                "apiVersion: apps/v1\nkind: Deployment\n{m}spec:\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      serviceAccountName: {name}-sa\n{}      containers:\n      - name: main\n        image: {}\n        command: [\"/bin/run\", \"--svc=$(SVC_NAME)\", \"--cm=$(CM_MODE)\"]\n        env:\n        - name: MODE\n          valueFrom:\n            configMapKeyRef:\n              name: {}-config\n              key: mode\n        - name: SVC\n          value: $(SVC_NAME).$(SVC_NS).svc\n        - name: EMPTY\n          value: \"\"\n        resources: {{}}\n        ports:\n        - containerPort: 8080\n          protocol: TCP\n        - containerPort: 8080\n          protocol: UDP\n",
                empties(r, "      "),
                r.pick(IMAGES),
                r.pick(NAMES)
            );
            if r.chance(50) {
                let _ = write!(
                    s,
                    "      - name: sidecar\n        image: {}\n        args:\n        - --long={}\n",
                    r.pick(IMAGES),
                    r.pick(&["x", "$(SVC_NAME)", "a b c"])
                );
            }
            if r.chance(40) {
                let _ = write!(
                    s,
                    "      initContainers:\n      - name: init\n        image: busybox\n        env: []\n"
                );
            }
            let _ = write!(
                s,
                "      volumes:\n      - name: cfg\n        configMap:\n          name: {}-config\n      - name: sec\n        secret:\n          secretName: {}-secret\n      - name: scratch\n        emptyDir: {{}}\n",
                r.pick(NAMES),
                r.pick(NAMES)
            );
            s
        }
        3 => {
            let m = meta(name, r);
            // real StatefulSets often have no volumeClaimTemplates (commonLabels' list
            // field spec must not create them)
            let keep_vct = !r.chance(30);
            let s = format!(
                "apiVersion: apps/v1\nkind: StatefulSet\n{m}spec:\n  serviceName: {name}\n  replicas: {}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: db\n        image: {}\n        volumeMounts:\n        - name: data\n          mountPath: /data\n  volumeClaimTemplates:\n  - metadata:\n      name: data\n      creationTimestamp: null\n    spec:\n      accessModes: [ReadWriteOnce]\n      storageClassName: {name}-sc\n      resources:\n        requests:\n          storage: 1Gi\n",
                r.below(3),
                r.pick(IMAGES)
            );
            if keep_vct {
                s
            } else {
                s[..s.find("  volumeClaimTemplates:").unwrap_or(s.len())].to_owned()
            }
        }
        4 => {
            let m = meta(name, r);
            format!(
                "apiVersion: v1\nkind: Service\n{m}spec:\n  selector:\n    app: {name}\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n"
            )
        }
        5 => {
            let m = meta(&format!("{name}-config"), r);
            let data = match r.below(5) {
                0 => "data: {}\n".to_owned(),
                // folded scalars as kio reads them back (go-yaml v3's folded writer)
                4 => "data:\n  script: >-\n    run\n      --flag\n    done\n  lead: >2\n     x\n    a\n    b\n".to_owned(),
                1 => "data:\n  mode: fast\n  empty: \"\"\n".to_owned(),
                _ => format!(
                    "data:\n  mode: {}\n  long: {}\n",
                    r.pick(LABEL_VALUES),
                    long_text(r)
                ),
            };
            format!("apiVersion: v1\nkind: ConfigMap\n{m}{data}")
        }
        6 => {
            let m = meta(&format!("{name}-sa"), r);
            let m2 = meta(&format!("{name}-crb"), r);
            format!(
                "apiVersion: v1\nkind: ServiceAccount\n{m}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n{}roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: {name}-role\nsubjects:\n- kind: ServiceAccount\n  name: {name}-sa\n  namespace: {}\n",
                m2.replace(&format!("  namespace: {}\n", ns.unwrap_or("-")), ""),
                ns.unwrap_or("default")
            )
        }
        7 => {
            let mut s = format!(
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {name}-role\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  resourceNames: [{name}-config]\n  verbs: [get]\n"
            );
            // a Role of the same name: roleRef/name follows only its roleRef's kind
            if r.chance(30) {
                let _ = write!(
                    s,
                    "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {name}-role\nrules: []\n"
                );
            }
            s
        }
        8 => format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {}\n{}",
            r.pick(&["system", "team-a", "prod"]),
            if r.chance(30) {
                "spec: {}\nstatus: {}\n"
            } else {
                ""
            }
        ),
        9 if r.chance(25) => format!(
            "apiVersion: {}\nmetadata:\n  name: {name}-cl\n",
            r.pick(&[
                "cluster.x-k8s.io/v1beta1\nkind: Cluster",
                "example.com/v1\nkind: Namespace",
                "networking.k8s.io/v1\nkind: IngressClass",
            ])
        ),
        9 => format!(
            "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: {name}-vwc\nwebhooks:\n- name: v.example.com\n  admissionReviewVersions: [v1]\n  sideEffects: None\n  clientConfig:\n    service:\n      name: {name}\n      namespace: {}\n      path: /validate\n  rules:\n  - operations: [CREATE]\n    apiGroups: [\"\"]\n    apiVersions: [v1]\n    resources: [pods]\n",
            ns.unwrap_or("system")
        ),
        10 => WIDGET_CRD.to_owned(),
        11 => {
            let m = meta(&format!("{name}-widget"), r);
            format!(
                "apiVersion: example.com/v1\nkind: Widget\n{m}spec:\n  configRef:\n    name: {name}-config\n  backends:\n  - service: {name}\n  - service: other\n  endpoint: http://$(SVC_NAME):80\n  items:\n  - name: a\n    value: 1\n  - {{}}\n  extra: null\n"
            )
        }
        12 => {
            let m = meta(&format!("{name}-np"), r);
            format!(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n{m}spec:\n  podSelector: {{}}\n  ingress:\n  - {{}}\n  policyTypes: [Ingress]\n"
            )
        }
        13 => {
            let m = meta(&format!("{name}-cron"), r);
            format!(
                "apiVersion: batch/v1\nkind: CronJob\n{m}spec:\n  schedule: \"*/5 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - name: job\n            image: {}\n            args: [\"$(SVC_NAME)\"]\n",
                r.pick(IMAGES)
            )
        }
        14 => format!(
            "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: {name}-sc\nprovisioner: example.com/disk\nparameters: {{}}\n"
        ),
        _ => {
            // the same name in two namespaces
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: team-a\ndata:\n  who: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: team-b\ndata:\n  who: b\n"
                .to_owned()
        }
    }
}

/// The objects of a tree so far (kind, name, namespace as written), so that patches,
/// replicas, vars, replacements and generator behaviors mostly name objects that exist.
#[derive(Default)]
struct Objs(Vec<(String, String, String)>);

impl Objs {
    /// The (kind, name, namespace) of each document of `text`.
    fn parse(text: &str) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for doc in text.split("---\n") {
            let kind = doc
                .lines()
                .find_map(|l| l.strip_prefix("kind: "))
                .unwrap_or_default();
            let mut name = "";
            let mut ns = "";
            let mut in_meta = false;
            for l in doc.lines() {
                if l == "metadata:" {
                    in_meta = true;
                } else if !l.starts_with(' ') {
                    in_meta = false;
                } else if in_meta {
                    if let Some(n) = l.strip_prefix("  name: ") {
                        name = n;
                    } else if let Some(n) = l.strip_prefix("  namespace: ") {
                        ns = n;
                    }
                }
            }
            out.push((kind.to_owned(), name.to_owned(), ns.to_owned()));
        }
        out
    }
    /// Adds the documents of `text` unless one of them is already there (by kind and name).
    fn add(&mut self, text: &str) -> bool {
        let new = Objs::parse(text);
        if new.iter().enumerate().any(|(i, (k, n, ns))| {
            self.0.iter().any(|(k2, n2, _)| k == k2 && n == n2)
                || new[..i]
                    .iter()
                    .any(|(k2, n2, ns2)| k == k2 && n == n2 && ns == ns2)
        }) && !text.contains("name: shared\n  namespace: team-a")
        {
            return false;
        }
        if text.contains("name: shared\n  namespace: team-a")
            && self.0.iter().any(|(_, n, _)| n == "shared")
        {
            return false;
        }
        self.0.extend(new);
        true
    }
    fn named(&self, kind: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _, _)| k == kind)
            .map(|(_, n, _)| n.clone())
            .collect()
    }
    fn has(&self, kind: &str, name: &str) -> bool {
        self.0.iter().any(|(k, n, _)| k == kind && n == name)
    }
}

fn pick_of(r: &mut Rng, items: &[String]) -> Option<String> {
    if items.is_empty() {
        None
    } else {
        Some(items[r.below(items.len())].clone())
    }
}

fn wide_transformers(r: &mut Rng, k: &mut String, objs: &Objs, top: bool) -> Option<&'static str> {
    if r.chance(30) {
        let _ = writeln!(k, "namePrefix: {}-", r.pick(&["p", "dev"]));
    }
    if r.chance(20) {
        let _ = writeln!(k, "nameSuffix: -{}", r.pick(&["s", "v2"]));
    }
    let ns = if r.chance(40) {
        let ns = r.pick(&["system", "team-a", "prod"]);
        let _ = writeln!(k, "namespace: {ns}");
        Some(ns)
    } else {
        None
    };
    match r.below(5) {
        0 => {
            k.push_str("commonLabels:\n");
            k.push_str(&labels_block(r, "  "));
        }
        1 | 2 => {
            let _ = writeln!(k, "labels:\n- pairs:");
            k.push_str(&labels_block(r, "    "));
            if r.chance(60) {
                let _ = writeln!(k, "  includeSelectors: {}", r.chance(50));
            }
            if r.chance(60) {
                let _ = writeln!(k, "  includeTemplates: {}", r.chance(50));
            }
            if r.chance(30) {
                let _ = writeln!(
                    k,
                    "  fields:\n  - kind: Widget\n    path: spec/owner/labels\n    create: true"
                );
            }
        }
        _ => {}
    }
    if r.chance(30) {
        let _ = writeln!(k, "commonAnnotations:\n  long: {}", long_text(r));
    }
    if r.chance(40) {
        k.push_str("images:\n");
        let name = r.pick(&[
            "nginx",
            "busybox",
            "registry.example.com/team/api",
            "localhost:5000/web",
        ]);
        let _ = writeln!(k, "- name: {name}");
        match r.below(5) {
            0 => {
                let _ = writeln!(k, "  newTag: \"{}\"", r.pick(&["2.0", "latest", "1"]));
            }
            1 => {
                let _ = writeln!(k, "  newName: mirror.local/{name}");
            }
            2 => k.push_str(
                "  digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\n",
            ),
            3 => k.push_str("  tagSuffix: -fips\n"),
            _ => {
                let _ = writeln!(
                    k,
                    "  newName: other\n  newTag: v9\n  digest: sha256:2222222222222222222222222222222222222222222222222222222222222222"
                );
            }
        }
    }
    let mut workloads = objs.named("Deployment");
    workloads.extend(objs.named("StatefulSet"));
    if r.chance(25)
        && let Some(name) = pick_of(r, &workloads)
    {
        let _ = writeln!(k, "replicas:\n- name: {name}\n  count: {}", r.below(6));
    }
    if top && r.chance(25) {
        let _ = writeln!(
            k,
            "sortOptions:\n  order: {}",
            r.pick(&[
                "fifo",
                "legacy\n  legacySortOptions:\n    orderFirst: [Namespace, Widget]\n    orderLast: [ValidatingWebhookConfiguration]",
                "legacy"
            ])
        );
    }
    if top && r.chance(20) {
        let _ = writeln!(
            k,
            "buildMetadata: [{}]",
            r.pick(&[
                "originAnnotations",
                "transformerAnnotations",
                "managedByLabel",
                "originAnnotations, transformerAnnotations"
            ])
        );
    }
    ns
}

fn wide_generators(
    r: &mut Rng,
    k: &mut String,
    behavior: bool,
    files: &mut Vec<(String, String)>,
    objs: &mut Objs,
) {
    if r.chance(50) {
        let existing = objs.named("ConfigMap");
        let (name, b) = match pick_of(r, &existing) {
            Some(n) if behavior && n.ends_with("-config") && r.chance(80) => {
                (n, r.pick(&["merge", "replace", "merge"]))
            }
            _ => (format!("{}-config", r.pick(NAMES)), "create"),
        };
        if b == "create" && objs.has("ConfigMap", &name) {
            return;
        }
        objs.0
            .push(("ConfigMap".into(), name.clone(), String::new()));
        let _ = writeln!(k, "configMapGenerator:\n- name: {name}");
        if behavior && (b != "create" || r.chance(30)) {
            let _ = writeln!(k, "  behavior: {b}");
        }
        let _ = writeln!(
            k,
            "  literals:\n  - mode={}\n  - long={}",
            r.pick(LABEL_VALUES),
            r.pick(&["a b c", "x", "with=equals", "\"quoted\""])
        );
        if r.chance(30) {
            k.push_str("  envs:\n  - app.env\n");
            files.push(("app.env".into(), "A=1\n# comment\nB=two words\n".into()));
        }
        match r.below(5) {
            0 => k.push_str("  options:\n    disableNameSuffixHash: true\n"),
            1 => k.push_str(
                "  options:\n    labels:\n      generated: \"yes\"\n    annotations:\n      note: x\n",
            ),
            2 => k.push_str("  options:\n    immutable: true\n"),
            _ => {}
        }
        if r.chance(20) {
            k.push_str(
                "generatorOptions:\n  disableNameSuffixHash: false\n  labels:\n    gen: all\n",
            );
        }
    }
    if r.chance(35) {
        let existing = objs.named("Secret");
        let (name, b) = match pick_of(r, &existing) {
            Some(n) if behavior && r.chance(80) => (n, r.pick(&["merge", "replace"])),
            _ => (format!("{}-secret", r.pick(NAMES)), "create"),
        };
        if b == "create" && objs.has("Secret", &name) {
            return;
        }
        objs.0.push(("Secret".into(), name.clone(), String::new()));
        let _ = writeln!(k, "secretGenerator:\n- name: {name}");
        if behavior {
            let _ = writeln!(k, "  behavior: {b}");
        }
        k.push_str("  literals:\n  - password=pw\n");
        if r.chance(30) {
            k.push_str("  type: kubernetes.io/basic-auth\n");
        }
    }
}

/// Patches on objects that exist: `ns` is the namespace they are in when the patches run.
fn wide_patches(
    r: &mut Rng,
    k: &mut String,
    objs: &Objs,
    ns: Option<&str>,
    patch_files: &mut Vec<String>,
) {
    if !r.chance(70) {
        return;
    }
    let deployments = objs.named("Deployment");
    let statefulsets = objs.named("StatefulSet");
    let services = objs.named("Service");
    let widgets = objs.named("Widget");
    let ns_line = ns
        .map(|n| format!("\n      namespace: {n}"))
        .unwrap_or_default();
    let mut out = String::new();
    for _ in 0..1 + r.below(3) {
        let choice = r.below(15);
        let dep = pick_of(r, &deployments);
        let body = match (choice, dep) {
            (0, Some(name)) => format!("- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: {name}{ns_line}\n    spec:\n      template:\n        spec:\n          containers:\n          - name: main\n            env:\n            - name: MODE\n              $patch: delete\n            - name: ADDED\n              value: \"1\"\n"),
            (1, Some(name)) => format!("- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: {name}{ns_line}\n    spec:\n      template:\n        spec:\n          $setElementOrder/containers:\n          - name: sidecar\n          - name: main\n          containers:\n          - name: main\n            imagePullPolicy: Always\n"),
            (2, Some(name)) => format!("- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: {name}{ns_line}\n    spec:\n      strategy:\n        $retainKeys: [type]\n        type: Recreate\n        rollingUpdate: null\n      template:\n        spec:\n          nodeSelector: {{}}\n          tolerations: []\n          volumes:\n          - name: scratch\n            emptyDir: null\n            hostPath:\n              path: /tmp\n"),
            (3, Some(name)) => format!("- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: {name}{ns_line}\n    spec:\n      template:\n        spec:\n          affinity:\n            $patch: replace\n            podAntiAffinity: {{}}\n          containers:\n          - name: main\n            resources:\n              limits:\n                memory: 1Gi\n"),
            (10, Some(name)) => format!("- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: {name}{ns_line}\n    spec:\n      template:\n        spec:\n          containers:\n          - name: main\n            ports:\n            - containerPort: 9090\n            - containerPort: 8080\n              protocol: UDP\n              name: udp\n"),
            (11, Some(name)) => format!("- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: {name}{ns_line}\n    spec:\n      template:\n        spec:\n          volumes:\n          - $patch: replace\n          - name: only\n            emptyDir: {{}}\n"),
            (12, Some(name)) => format!("- target:\n    kind: Deployment\n    name: {name}\n  options:\n    allowNameChange: true\n  patch: |-\n    - op: replace\n      path: /metadata/name\n      value: {name}-renamed\n"),
            (13, Some(name)) => {
                patch_files.push(format!("p0:{name}:{}", ns.unwrap_or_default()));
                "- path: p0.yaml\n".to_owned()
            }
            (4, _) => match pick_of(r, &statefulsets) {
                Some(name) => format!("- patch: |-\n    apiVersion: apps/v1\n    kind: StatefulSet\n    metadata:\n      name: {name}{ns_line}\n    spec:\n      volumeClaimTemplates:\n      - metadata:\n          name: data\n        spec:\n          resources:\n            requests:\n              storage: 5Gi\n      - metadata:\n          name: logs\n        spec:\n          accessModes: [ReadWriteOnce]\n"),
                None => continue,
            },
            (5, _) if objs.has("ConfigMap", "shared") => "- patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: shared\n      namespace: team-b\n    data:\n      who: patched\n      extra: null\n".to_owned(),
            (6, _) => format!("- target:\n    kind: Deploy.*\n    name: \"{}.*\"\n  patch: |-\n    - op: add\n      path: /spec/template/metadata/annotations\n      value: {{}}\n", r.pick(&["a", "w", "d", ".*p"])),
            (7, _) => format!("- target:\n    labelSelector: app={}\n  patch: |-\n    - op: add\n      path: /metadata/labels/patched\n      value: \"yes\"\n", r.pick(NAMES)),
            (8, _) => "- target:\n    annotationSelector: note\n  patch: |-\n    - op: add\n      path: /metadata/annotations/seen\n      value: \"true\"\n".to_owned(),
            (9, _) => match pick_of(r, &widgets) {
                Some(name) => format!("- target:\n    group: example.com\n    kind: Widget\n  patch: |-\n    apiVersion: example.com/v1\n    kind: Widget\n    metadata:\n      name: {name}\n    spec:\n      items:\n      - name: b\n      extra: {{}}\n      newList: []\n"),
                None => continue,
            },
            (14, _) => match pick_of(r, &services) {
                Some(name) => {
                    patch_files.push(format!("p2:{name}:{}", ns.unwrap_or_default()));
                    if r.chance(50) {
                        patch_files.push("p1::".into());
                        "- path: p2.yaml\n- path: p1.yaml\n  target:\n    kind: Service\n".to_owned()
                    } else {
                        "- path: p2.yaml\n".to_owned()
                    }
                }
                None => continue,
            },
            _ => continue,
        };
        if !out.contains(&body) {
            out.push_str(&body);
        }
    }
    if !out.is_empty() {
        k.push_str("patches:\n");
        k.push_str(&out);
    }
}

fn wide_replacements(r: &mut Rng, k: &mut String, objs: &Objs, files: &mut Vec<(String, String)>) {
    let services = objs.named("Service");
    let Some(svc) = pick_of(r, &services) else {
        return;
    };
    if r.chance(35) {
        let (path, opts) = match r.below(5) {
            0 => (
                "spec.template.spec.containers.[name=main].image",
                "      delimiter: \":\"\n      index: 1\n",
            ),
            1 => (
                "spec.template.metadata.annotations.[svc.example.com/name]",
                "      create: true\n",
            ),
            2 => (
                "spec.template.spec.containers.[name=main].image",
                "      delimiter: \"/\"\n      index: 0\n",
            ),
            3 => (
                "spec.template.spec.containers.[name=main].env.[name=SVC].value",
                "",
            ),
            _ => ("spec.endpoint", ""),
        };
        let _ = write!(
            k,
            "replacements:\n- source:\n    kind: Service\n    name: {svc}\n    fieldPath: metadata.name\n  targets:\n  - select:\n      kind: {}\n    reject:\n    - name: nothing\n    fieldPaths:\n    - {path}\n{}",
            if path == "spec.endpoint" {
                "Widget"
            } else {
                "Deployment"
            },
            if opts.is_empty() {
                String::new()
            } else {
                format!("    options:\n{opts}")
            }
        );
        let cms: Vec<String> = objs
            .named("ConfigMap")
            .into_iter()
            .filter(|n| n.ends_with("-config"))
            .collect();
        if r.chance(40)
            && let Some(cm) = pick_of(r, &cms)
        {
            k.push_str("- path: repl.yaml\n");
            files.push((
                "repl.yaml".into(),
                format!(
                    "source:\n  kind: ConfigMap\n  name: {cm}\n  fieldPath: data.mode\ntargets:\n- select:\n    kind: Deployment\n  fieldPaths:\n  - metadata.labels.mode\n  options:\n    create: true\n"
                ),
            ));
        }
    }
    if r.chance(40) {
        let _ = write!(
            k,
            "vars:\n- name: SVC_NAME\n  objref:\n    apiVersion: v1\n    kind: Service\n    name: {svc}\n  fieldref:\n    fieldPath: metadata.name\n- name: SVC_NS\n  objref:\n    apiVersion: v1\n    kind: Service\n    name: {svc}\n  fieldref:\n    fieldPath: metadata.namespace\n"
        );
        let cms: Vec<String> = objs
            .named("ConfigMap")
            .into_iter()
            .filter(|n| n.ends_with("-config"))
            .collect();
        if r.chance(50)
            && let Some(cm) = pick_of(r, &cms)
        {
            let _ = write!(
                k,
                "- name: CM_MODE\n  objref:\n    apiVersion: v1\n    kind: ConfigMap\n    name: {cm}\n  fieldref:\n    fieldPath: data.mode\n"
            );
        }
    }
}

/// Adds up to `n` resource files of the wide pool (no id twice) to `dir`'s `resources`.
#[allow(clippy::too_many_arguments)]
fn wide_resources(
    r: &mut Rng,
    k: &mut String,
    dir: &str,
    n: usize,
    ns: Option<&str>,
    objs: &mut Objs,
    files: &mut Vec<(String, String)>,
) {
    let mut listed = false;
    for i in 0..n {
        let mut text = None;
        for _ in 0..6 {
            let name = r.pick(NAMES);
            let mut t = wide_resource(r, name, ns);
            if r.chance(30) {
                t.push_str("---\n");
                t.push_str(&wide_resource(r, name, ns));
            }
            if objs.add(&t) {
                text = Some(t);
                break;
            }
        }
        let Some(text) = text else { continue };
        if !listed {
            k.push_str("resources:\n");
            listed = true;
        }
        files.push((format!("{dir}/r{i}.yaml"), text));
        let _ = writeln!(k, "- r{i}.yaml");
    }
}

fn patch_file_text(r: &mut Rng, spec: &str) -> (String, String) {
    let mut parts = spec.splitn(3, ':');
    let which = parts.next().unwrap_or_default();
    let name = parts.next().unwrap_or_default();
    let ns = parts
        .next()
        .filter(|n| !n.is_empty())
        .map(|n| format!("  namespace: {n}\n"))
        .unwrap_or_default();
    let text = match which {
        "p0" => format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n{ns}spec:\n  template:\n    spec:\n      containers:\n      - name: main\n        image: patched:1\n        env: null\n"
        ),
        "p1" => format!(
            "- op: add\n  path: /metadata/annotations\n  value:\n    long: {}\n",
            long_text(r)
        ),
        _ => format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n{ns}spec:\n  ports:\n  - port: 80\n    $patch: delete\n  - name: https\n    port: 443\n"
        ),
    };
    (format!("{which}.yaml"), text)
}

/// One built-in plugin config (api/internal/plugins/builtinhelpers/builtins.go) for a
/// `transformers:`, `generators:` or `validators:` entry, named `name`.
fn plugin_config(r: &mut Rng, field: &str, name: &str, objs: &Objs) -> String {
    let head =
        |kind: &str| format!("apiVersion: builtin\nkind: {kind}\nmetadata:\n  name: {name}\n");
    if field == "generators" {
        let (kind, body) = if r.chance(60) {
            let existing: Vec<String> = objs
                .named("ConfigMap")
                .into_iter()
                .filter(|n| n.ends_with("-config"))
                .collect();
            match pick_of(r, &existing) {
                Some(n) if r.chance(30) => (
                    "ConfigMapGenerator",
                    format!("name: {n}\nbehavior: merge\nliterals:\n- mode=from-plugin\n"),
                ),
                _ => (
                    "ConfigMapGenerator",
                    format!(
                        "literals:\n- k={}\n{}",
                        r.pick(LABEL_VALUES),
                        if r.chance(30) {
                            "options:\n  disableNameSuffixHash: true\n"
                        } else {
                            ""
                        }
                    ),
                ),
            }
        } else {
            (
                "SecretGenerator",
                "literals:\n- token=abc\ntype: Opaque\n".to_owned(),
            )
        };
        return format!("{}{body}", head(kind));
    }
    if field == "validators" {
        return match r.below(3) {
            0 => format!(
                "{}labels: {{}}\nfieldSpecs:\n- path: metadata/labels\n  create: true\n",
                head("LabelTransformer")
            ),
            1 => format!(
                "{}labels:\n  validated: \"no\"\nfieldSpecs:\n- path: metadata/labels\n  create: true\n",
                head("LabelTransformer")
            ),
            _ => format!(
                "{}annotations: {{}}\nfieldSpecs:\n- path: metadata/annotations\n  create: true\n",
                head("AnnotationsTransformer")
            ),
        };
    }
    let services = objs.named("Service");
    let mut workloads = objs.named("Deployment");
    workloads.extend(objs.named("StatefulSet"));
    match r.below(11) {
        0 => format!(
            "{}labels:\n  plugin: {}\nfieldSpecs:\n- path: metadata/labels\n  create: true\n{}",
            head("LabelTransformer"),
            r.pick(LABEL_VALUES),
            if r.chance(40) {
                "- path: spec/selector\n  kind: Service\n  create: true\n"
            } else {
                ""
            }
        ),
        1 => format!(
            "{}annotations:\n  by-plugin: {}\nfieldSpecs:\n- path: metadata/annotations\n  create: true\n",
            head("AnnotationsTransformer"),
            long_text(r)
        ),
        2 => format!(
            "{}{}fieldSpecs:\n- path: metadata/name\n",
            head("PrefixSuffixTransformer"),
            r.pick(&[
                "prefix: pp-\n",
                "suffix: -ss\n",
                "prefix: pp-\nsuffix: -ss\n"
            ])
        ),
        3 => format!(
            "{}imageTag:\n  name: {}\n  newTag: \"3\"\nfieldSpecs:\n- path: spec/template/spec/containers[]/image\n{}",
            head("ImageTagTransformer"),
            r.pick(&["nginx", "busybox", "registry.example.com/team/api"]),
            if r.chance(50) {
                "- path: spec/template/spec/initContainers[]/image\n"
            } else {
                ""
            }
        ),
        4 => format!(
            "apiVersion: builtin\nkind: NamespaceTransformer\nmetadata:\n  name: {name}\n  namespace: {}\n{}fieldSpecs:\n- path: metadata/namespace\n  create: true\n{}",
            r.pick(&["plugin-ns", "team-a"]),
            r.pick(&[
                "",
                "unsetOnly: true\n",
                "setRoleBindingSubjects: allServiceAccounts\n",
                "setRoleBindingSubjects: none\n"
            ]),
            if r.chance(50) {
                "- path: subjects/namespace\n  kind: ClusterRoleBinding\n  create: true\n"
            } else {
                ""
            }
        ),
        5 => format!(
            "{}target:\n  kind: {}\npatch: |-\n  - op: add\n    path: /metadata/labels/patched-by\n    value: plugin\n",
            head("PatchTransformer"),
            r.pick(&["Deployment", "Service", "ConfigMap"])
        ),
        6 => match pick_of(r, &services) {
            Some(svc) => format!(
                "{}patches: |-\n  apiVersion: v1\n  kind: Service\n  metadata:\n    name: {svc}\n  spec:\n    type: NodePort\n",
                head("PatchStrategicMergeTransformer")
            ),
            None => head("HashTransformer"),
        },
        7 => format!(
            "{}target:\n  kind: {}{}\njsonOp: '[{{\"op\": \"add\", \"path\": \"/metadata/annotations\", \"value\": {{\"j\": \"1\"}}}}]'\n",
            head("PatchJson6902Transformer"),
            r.pick(&["Deployment", "Service", "ConfigMap"]),
            // kustomize wants the target's name (PatchJson6902Transformer.Config)
            if r.chance(85) {
                format!("\n  name: {}", r.pick(NAMES))
            } else {
                String::new()
            }
        ),
        8 => match pick_of(r, &workloads) {
            Some(w) => format!(
                "{}replica:\n  name: {w}\n  count: {}\nfieldSpecs:\n- path: spec/replicas\n  create: true\n",
                head("ReplicaCountTransformer"),
                r.below(5)
            ),
            None => head("HashTransformer"),
        },
        9 => head("HashTransformer"),
        _ => match pick_of(r, &services) {
            Some(svc) => format!(
                "{}replacements:\n- source:\n    kind: Service\n    name: {svc}\n  targets:\n  - select:\n      kind: Deployment\n    fieldPaths:\n    - metadata.annotations.svc\n    options:\n      create: true\n",
                head("ReplacementTransformer")
            ),
            None => head("HashTransformer"),
        },
    }
}

/// A strategic merge patch (as `patchesStrategicMerge`, a field the other draws leave
/// alone) whose keyed lists hold items without their merge key, between keyed ones.
fn wide_keyless(r: &mut Rng, k: &mut String, objs: &Objs, ns: Option<&str>) {
    let deployments = objs.named("Deployment");
    let Some(name) = pick_of(r, &deployments).filter(|_| r.chance(15)) else {
        return;
    };
    let ns_line = ns
        .map(|n| format!("\n    namespace: {n}"))
        .unwrap_or_default();
    let mut items = String::new();
    for _ in 0..1 + r.below(3) {
        items.push_str(r.pick(&[
            "      - image: keyless\n",
            "      - name: main\n        imagePullPolicy: Always\n",
            "      - name: sidecar\n        image: patched\n",
            "      - name: extra\n        image: new\n",
        ]));
    }
    let volumes = if r.chance(40) {
        "      volumes:\n      - emptyDir: {}\n      - name: cfg\n        configMap:\n          name: other\n"
    } else {
        ""
    };
    let _ = write!(
        k,
        "patchesStrategicMerge:\n- |-\n  apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: {name}{ns_line}\n  spec:\n    template:\n      spec:\n        containers:\n{}{}",
        items
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect::<String>(),
        volumes
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect::<String>()
    );
}

/// `transformers:`, `generators:` and `validators:` entries with built-in plugin configs,
/// inline or in files of `dir` (one or two configs a file).
fn wide_plugins(
    r: &mut Rng,
    k: &mut String,
    dir: &str,
    objs: &Objs,
    files: &mut Vec<(String, String)>,
) {
    for (field, chance) in [("generators", 20), ("transformers", 35), ("validators", 10)] {
        if !r.chance(chance) {
            continue;
        }
        let _ = writeln!(k, "{field}:");
        for i in 0..1 + r.below(3) {
            let name = format!("{}{i}", &field[..1]);
            let mut text = plugin_config(r, field, &name, objs);
            if r.chance(40) {
                k.push_str("- |-\n");
                for l in text.lines() {
                    let _ = writeln!(k, "  {l}");
                }
            } else {
                if r.chance(20) {
                    text.push_str("---\n");
                    text.push_str(&plugin_config(r, field, &format!("{name}b"), objs));
                }
                let file = format!("{name}.yaml");
                let _ = writeln!(k, "- {file}");
                files.push((format!("{dir}/{file}"), text));
            }
        }
    }
}

/// A random tree of the wide classes under `root`; returns the directory to build.
fn generate_wide(seed: u64, root: &Path) -> PathBuf {
    let mut r = Rng(seed ^ 0x5eed_0000_0000_0000);
    // plugin configs draw from their own stream: the other draws of a seed stay as they were
    let mut rp = Rng(seed ^ 0x9106_0000_0000_0000);
    let mut files: Vec<(String, String)> = Vec::new();
    let mut objs = Objs::default();
    let base_ns = if r.chance(35) {
        Some(r.pick(&["system", "team-a", "prod"]))
    } else {
        None
    };
    let mut base = String::new();
    let n = 1 + r.below(5);
    wide_resources(&mut r, &mut base, "base", n, base_ns, &mut objs, &mut files);
    if !objs.named("Widget").is_empty() && r.chance(60) {
        base.push_str("configurations:\n- widget-config.yaml\n");
        files.push(("base/widget-config.yaml".into(), WIDGET_CONFIG.into()));
    }
    if r.chance(15) {
        // a custom OpenAPI schema: Widget lists merge by name, and kinds it does not describe
        // merge no lists at all
        base.push_str("openapi:\n  path: schema.json\n");
        files.push(("base/schema.json".into(), WIDGET_SCHEMA.into()));
    }
    if !objs.named("Widget").is_empty() && rp.chance(20) {
        base.push_str("crds:\n- widget-crds.json\n");
        files.push(("base/widget-crds.json".into(), WIDGET_CRDS.into()));
    }
    let mut gen_files = Vec::new();
    wide_generators(&mut r, &mut base, false, &mut gen_files, &mut objs);
    let mut patch_files = Vec::new();
    wide_patches(&mut r, &mut base, &objs, base_ns, &mut patch_files);
    let base_set_ns = wide_transformers(&mut r, &mut base, &objs, false);
    wide_replacements(&mut r, &mut base, &objs, &mut gen_files);
    wide_plugins(&mut rp, &mut base, "base", &objs, &mut files);
    for (f, t) in gen_files.drain(..) {
        files.push((format!("base/{f}"), t));
    }
    for p in patch_files.drain(..) {
        let (f, t) = patch_file_text(&mut r, &p);
        files.push((format!("base/{f}"), t));
    }
    files.push(("base/kustomization.yaml".into(), base));
    // after the base, its objects are in its `namespace:` if it has one
    let ns_after = base_set_ns.or(base_ns);
    let mut target = "base";
    let with_component = r.chance(30);
    if with_component {
        let mut c = String::from("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n");
        let n = r.below(2);
        wide_resources(&mut r, &mut c, "comp", n, None, &mut objs, &mut files);
        wide_generators(&mut r, &mut c, true, &mut gen_files, &mut objs);
        wide_patches(&mut r, &mut c, &objs, ns_after, &mut patch_files);
        wide_transformers(&mut r, &mut c, &objs, false);
        for (f, t) in gen_files.drain(..) {
            files.push((format!("comp/{f}"), t));
        }
        for p in patch_files.drain(..) {
            let (f, t) = patch_file_text(&mut r, &p);
            files.push((format!("comp/{f}"), t));
        }
        files.push(("comp/kustomization.yaml".into(), c));
    }
    if with_component || r.chance(65) {
        let mut o = String::from("resources:\n- ../base\n");
        let mut own = String::new();
        let n = r.below(2);
        wide_resources(
            &mut r,
            &mut own,
            "overlay",
            n,
            Some("team-b"),
            &mut objs,
            &mut files,
        );
        if let Some(list) = own.strip_prefix("resources:\n") {
            o.push_str(list);
        }
        if with_component {
            o.push_str("components:\n- ../comp\n");
        }
        wide_generators(&mut r, &mut o, true, &mut gen_files, &mut objs);
        wide_patches(&mut r, &mut o, &objs, ns_after, &mut patch_files);
        wide_transformers(&mut r, &mut o, &objs, true);
        wide_replacements(&mut r, &mut o, &objs, &mut gen_files);
        wide_plugins(&mut rp, &mut o, "overlay", &objs, &mut files);
        wide_keyless(&mut rp, &mut o, &objs, ns_after);
        for (f, t) in gen_files.drain(..) {
            files.push((format!("overlay/{f}"), t));
        }
        for p in patch_files.drain(..) {
            let (f, t) = patch_file_text(&mut r, &p);
            files.push((format!("overlay/{f}"), t));
        }
        files.push(("overlay/kustomization.yaml".into(), o));
        target = "overlay";
    }
    let _ = std::fs::remove_dir_all(root);
    for (path, text) in &files {
        let p = root.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
    }
    root.join(target)
}

/// The wide generator, for a budget of seconds (`SLUICE_KFUZZ_WIDE_SECS`, default 30) from
/// `SLUICE_KFUZZ_SEED`. With `SLUICE_KFUZZ_MEASURE=1` it runs the whole budget, prints the
/// fraction of identical cases and each mismatch's first difference, and does not fail.
#[test]
fn wide_random_kustomizations_match_kubectl() {
    ensure_kubectl();
    if !exact() {
        eprintln!("kubectl's kustomize is not v5.5.0: byte comparison does not apply; skipped");
        return;
    }
    let env = |k: &str| std::env::var(k).ok().and_then(|s| s.parse::<u64>().ok());
    let secs = env("SLUICE_KFUZZ_WIDE_SECS").unwrap_or(30);
    let start_seed = env("SLUICE_KFUZZ_SEED").unwrap_or(0);
    let measure = env("SLUICE_KFUZZ_MEASURE").unwrap_or(0) == 1;
    let max_cases = env("SLUICE_KFUZZ_CASES").unwrap_or(u64::MAX);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let base = std::env::temp_dir().join(format!("sluice-kfuzz-wide-{}", std::process::id()));
    let mut failures = Vec::new();
    let mut seed = start_seed;
    while Instant::now() < deadline
        && seed - start_seed < max_cases
        && (measure || failures.len() < 5)
    {
        let root = base.join(seed.to_string());
        let dir = generate_wide(seed, &root);
        match compare(&dir) {
            None => {
                if std::env::var_os("SLUICE_KFUZZ_KEEP").is_none() {
                    let _ = std::fs::remove_dir_all(&root);
                }
            }
            Some(why) => failures.push(format!("seed {seed} ({}): {why}", dir.display())),
        }
        seed += 1;
    }
    let cases = seed - start_seed;
    println!(
        "kustomize wide differential fuzzer: {cases} cases (seeds {start_seed}..{seed}), {} agree ({} of them refused by both, {} with kubectl's message, {} refused by sluice as not supported), {} mismatches",
        cases - failures.len() as u64,
        BOTH_FAIL.with(std::cell::Cell::get),
        SAME_ERROR.with(std::cell::Cell::get),
        REFUSED.with(std::cell::Cell::get),
        failures.len()
    );
    if measure {
        for f in &failures {
            println!("{f}");
        }
        return;
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}
