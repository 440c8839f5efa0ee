#!/usr/bin/env python3
"""Benchmark of `sluice helm template` (issue 12 item 5): the argo-cd chart with the seed's
HA values (../shared/seed/manifests/argocd/argocd-ha-values.yaml), the largest other shared
chart (cert-manager, 1.3 MB, mostly CRDs) and the prometheus chart with its four vendored
dependencies. Wall time (median of RUNS) and peak RSS (`/usr/bin/time` %M) of Sluice.

The baseline, run in the same invocation, is real Helm through helm-sdkpy (Helm's Go
library). The wheel has no template or dry-run action, so Helm's figure is its Install into
a fresh `sluice apiserver` (render plus creating the objects), as scripts/helm-reference.py
does: an upper bound of Helm's rendering, not the same work. Helm's RSS is not separable
from the Python process hosting it and is not reported.

    bench/helm.py SLUICE_BIN SHARED [RUNS]
"""
import asyncio
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "helm_reference", os.path.join(HERE, "..", "scripts", "helm-reference.py"))
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)


def pick_cases(cases):
    want = []
    for i, c in enumerate(cases):
        if c["chart"].endswith("argo-cd") and any("argocd-ha-values" in f for f in c["values_files"]):
            want.append((i, "argo-cd, seed HA values"))
    for name, label in (("cert-manager/cert-manager", "cert-manager (largest other chart)"),
                        ("prometheus-community-helm-charts/prometheus",
                         "prometheus (4 dependencies)")):
        i = next(i for i, c in enumerate(cases) if c["chart"] == name)
        want.append((i, label))
    return want


def values_of(root, case):
    values = {}
    for f in case["values_files"]:
        with open(os.path.join(root, f)) as fh:
            ref.merge(values, ref.yaml.load(fh, Loader=ref.GoYamlV2Loader) or {})
    for k, v in case["set"].items():
        ref.set_path(values, k, v)
    return values


def sluice_runs(sluice, root, case, vals_file, kube_version, runs):
    times, rss = [], 0
    out_bytes = 0
    for _ in range(runs):
        p = subprocess.run(
            ["/usr/bin/time", "-f", "%e %M", sluice, "helm", "template", case["release"],
             os.path.join(root, case["chart"]), "-n", case["namespace"], "-f", vals_file,
             "--kube-version", kube_version],
            capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"sluice helm template failed: {p.stderr[-2000:]}")
        wall, kb = p.stderr.strip().splitlines()[-1].split()
        times.append(float(wall))
        rss = max(rss, int(kb))
        out_bytes = len(p.stdout)
    return statistics.median(times), rss / 1024, out_bytes


def helm_install(sluice, root, case, values, Configuration, Install):
    """Install on a fresh server; kinds the server lacks are served by schemaless CRDs and
    namespaces created first, as scripts/helm-reference.py does, and the install that
    succeeds is the one timed."""
    stubs, namespaces = set(), set()
    for _attempt in range(8):
        with tempfile.TemporaryDirectory() as data:
            proc, kc = ref.start_apiserver(sluice, data)
            try:
                if namespaces:
                    ref.create_namespaces(kc, sorted(namespaces))
                if stubs:
                    ref.stub_crds(kc, sorted(stubs))
                caps = ref.capabilities(kc, os.path.join(root, case["chart"]))
                cfg = Configuration(namespace=case["namespace"], kubeconfig=kc)
                t0 = time.monotonic()
                try:
                    asyncio.run(Install(cfg).run(
                        release_name=case["release"],
                        chart_path=os.path.join(root, case["chart"]), values=values,
                        wait=False, create_namespace=(case["namespace"] != "default"),
                        take_ownership=True))
                    return time.monotonic() - t0, True, caps["kubeVersion"]
                except Exception as e:  # noqa: BLE001
                    err, took = str(e), time.monotonic() - t0
            finally:
                proc.kill()
                proc.wait()
        missing = set((gv, k) for k, gv in ref.MISSING.findall(err))
        no_ns = set(ref.NO_NAMESPACE.findall(err))
        if missing <= stubs and no_ns <= namespaces:
            return took, False, caps["kubeVersion"]
        stubs |= missing
        namespaces |= no_ns
    return took, False, caps["kubeVersion"]


def main():
    sluice, shared = sys.argv[1:3]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    sys.path.insert(0, ref.wheel_dir())
    from helm_sdkpy import Configuration, Install  # noqa: E402
    root = os.path.join(shared, "conformance", "helm")
    cases = json.load(open(os.path.join(root, "cases.json")))
    print("| chart | sluice helm template (median) | sluice peak RSS | output | "
          "helm-sdkpy Install (render + create) | ratio |")
    print("|---|---|---|---|---|---|")
    for i, label in pick_cases(cases):
        case = cases[i]
        values = values_of(root, case)
        helm_s, ok, kube_version = helm_install(sluice, root, case, values, Configuration,
                                                Install)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump(values, fh)
            vals_file = fh.name
        try:
            s, rss, n = sluice_runs(sluice, root, case, vals_file, kube_version, runs)
        finally:
            os.unlink(vals_file)
        note = "" if ok else " (Install failed on a kind the server lacks; timed to the failure)"
        print(f"| {label} (case {i}) | {s * 1000:.0f} ms | {rss:.1f} MiB | {n / 1024:.0f} KiB | "
              f"{helm_s * 1000:.0f} ms{note} | {s / helm_s:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
