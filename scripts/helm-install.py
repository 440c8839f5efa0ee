#!/usr/bin/env python3
"""Real Helm (helm-sdkpy, Helm v4.3's Go library) installs and uninstalls each case of
SHARED/conformance/helm/cases.json into a fresh `sluice apiserver`, as a user would into a
kube-apiserver 1.32 cluster (issue 17, item 7).

Nothing is stubbed for Kubernetes' own groups: a chart whose built-in kind the server does
not serve fails. Kinds of other groups (Gateway API's HTTPRoute, Kyverno's
policies.kyverno.io) are CRDs on a real cluster too, installed before such a chart: for
those, a schemaless CRD is created first and the case says so.

Per case it prints one line `case I: ok ...` or `case I: FAILED <stage>: <error>`, then
`HELM-INSTALL <passed> <total>`. A case passes when the install succeeds, and the uninstall
succeeds and leaves no object carrying the release's `meta.helm.sh/release-name` annotation
(but those Helm keeps on purpose, `helm.sh/resource-policy: keep`).

    scripts/helm-install.py SLUICE_BIN SHARED [CASE_INDEX...]
"""
import asyncio
import importlib.util
import json
import os
import ssl
import sys
import tempfile
import urllib.request

import yaml

_spec = importlib.util.spec_from_file_location(
    "helm_reference", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                   "helm-reference.py"))
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)

# The groups kube-apiserver serves itself (k8s.io/kubernetes pkg/controlplane, kube-aggregator,
# apiextensions-apiserver): a chart's kind in one of them must be served, never stubbed.
K8S_GROUPS = {"", "v1", "admissionregistration.k8s.io", "apiextensions.k8s.io",
              "apiregistration.k8s.io", "apps", "authentication.k8s.io",
              "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io",
              "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io",
              "flowcontrol.apiserver.k8s.io", "networking.k8s.io", "node.k8s.io", "policy",
              "rbac.authorization.k8s.io", "scheduling.k8s.io", "storage.k8s.io",
              "resource.k8s.io", "storagemigration.k8s.io", "internal.apiserver.k8s.io"}


def group_of(gv):
    return gv.rsplit("/", 1)[0] if "/" in gv else ""


class Api:
    def __init__(self, kubeconfig):
        kc = yaml.safe_load(open(kubeconfig))
        self.server = kc["clusters"][0]["cluster"]["server"]
        self.token = kc["users"][0]["user"]["token"]
        self.ctx = ssl._create_unverified_context()

    def get(self, path):
        req = urllib.request.Request(self.server + path,
                                     headers={"Authorization": "Bearer " + self.token})
        return json.load(urllib.request.urlopen(req, context=self.ctx))

    def leftovers(self, release):
        """Objects still annotated as the release's, but those Helm keeps on purpose."""
        out = []
        gvs = ["/api/v1"] + ["/apis/" + v["groupVersion"]
                             for g in self.get("/apis")["groups"]
                             for v in g["versions"][:1]]
        for gv in gvs:
            for r in self.get(gv)["resources"]:
                if "/" in r["name"] or "list" not in r.get("verbs", []):
                    continue
                try:
                    items = self.get(f"{gv}/{r['name']}")["items"]
                except Exception:  # noqa: BLE001 (a list the server refuses has no leftovers)
                    continue
                for o in items:
                    ann = (o.get("metadata") or {}).get("annotations") or {}
                    if ann.get("meta.helm.sh/release-name") != release:
                        continue
                    if ann.get("helm.sh/resource-policy") == "keep":
                        continue
                    m = o["metadata"]
                    if m.get("deletionTimestamp"):
                        continue  # being deleted (finalizers of a controller we do not run)
                    out.append(f"{r['kind']} {m.get('namespace', '')}/{m['name']}")
        return out


def run_case(sluice, root, i, case, Configuration, Install, Uninstall):
    values = {}
    for f in case["values_files"]:
        with open(os.path.join(root, f)) as fh:
            ref.merge(values, yaml.load(fh, Loader=ref.GoYamlV2Loader) or {})
    for k, v in case["set"].items():
        ref.set_path(values, k, v)
    ns = case["namespace"]
    stubs, namespaces = set(), set()
    # Sluice serves Argo CD's and Argo Rollouts' CRDs itself (installed on first start): a
    # chart that ships them in templates/ meets them as objects it does not own, as on a
    # cluster where they were installed by hand; Helm's --take-ownership adopts them.
    take_ownership = False
    err = None
    for _attempt in range(6):
        with tempfile.TemporaryDirectory() as data:
            proc, kc = ref.start_apiserver(sluice, data)
            try:
                if namespaces:
                    ref.create_namespaces(kc, sorted(namespaces))
                if stubs:
                    ref.stub_crds(kc, sorted(stubs))
                cfg = Configuration(namespace=ns, kubeconfig=kc)
                try:
                    asyncio.run(Install(cfg).run(
                        release_name=case["release"],
                        chart_path=os.path.join(root, case["chart"]), values=values,
                        wait=False, create_namespace=(ns != "default"),
                        take_ownership=take_ownership))
                except Exception as e:  # noqa: BLE001 (the error is the finding)
                    err = str(e)
                    missing = set((gv, k) for k, gv in ref.MISSING.findall(err))
                    builtin = [f"{gv}/{k}" for gv, k in missing if group_of(gv) in K8S_GROUPS]
                    if builtin:
                        return False, f"install: built-in kind not served: {builtin}"
                    if (not take_ownership and "CustomResourceDefinition" in err
                            and "exists and cannot be imported" in err):
                        take_ownership = True
                        continue
                    no_ns = set(ref.NO_NAMESPACE.findall(err))
                    if (missing and not missing <= stubs) or (no_ns and not no_ns <= namespaces):
                        stubs |= missing
                        namespaces |= no_ns
                        continue
                    return False, "install: " + err.splitlines()[0]
                try:
                    asyncio.run(Uninstall(cfg).run(case["release"], wait=False))
                except Exception as e:  # noqa: BLE001
                    return False, "uninstall: " + (str(e).splitlines() or [""])[0]
                left = Api(kc).leftovers(case["release"])
                if left:
                    return False, f"uninstall left {len(left)} objects: {left[:5]}"
                note = f" (CRDs first for {sorted(k for _, k in stubs)})" if stubs else ""
                if take_ownership:
                    note += " (--take-ownership of Sluice's own CRDs)"
                return True, "installed and uninstalled" + note
            finally:
                proc.kill()
                proc.wait()
    return False, "install: " + (err or "").splitlines()[0] if err else "install: gave up"


def main():
    sluice, shared = sys.argv[1:3]
    only = {int(x) for x in sys.argv[3:]}
    sys.path.insert(0, ref.wheel_dir())
    from helm_sdkpy import Configuration, Install, Uninstall  # noqa: E402

    root = os.path.join(shared, "conformance", "helm")
    cases = json.load(open(os.path.join(root, "cases.json")))
    passed = total = 0
    for i, case in enumerate(cases):
        if only and i not in only:
            continue
        total += 1
        ok, what = run_case(sluice, root, i, case, Configuration, Install, Uninstall)
        passed += ok
        print(f"case {i} ({case['chart']} {case['values_files']}): "
              f"{'ok' if ok else 'FAILED'} {what}", flush=True)
    print(f"HELM-INSTALL {passed} {total}", flush=True)


if __name__ == "__main__":
    main()
