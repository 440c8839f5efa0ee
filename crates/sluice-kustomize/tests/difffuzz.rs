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
//! differing line; every mismatch found becomes a regular test case (tests/features.rs).

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
        (Err(e), true) => Some(format!("sluice fails, kubectl builds: {e}")),
        (Err(_), false) => None,
    }
}

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
