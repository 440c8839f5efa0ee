#!/usr/bin/env python3
"""Expected `helm template` output from real Helm (helm-sdkpy), never stored by hand.

For each case of SHARED/conformance/helm/cases.json: start a fresh `sluice apiserver`, install
the chart with helm-sdkpy (Helm's Go library; it has no template or dry-run action), and
write what `helm template` prints (the release manifest, then the hooks with their
`# Source:` lines) to OUT/<index>.yaml, or the error to OUT/<index>.err. Also writes
OUT/<index>.values.json: the user values as Helm received them.

The method is the one of ../shared/conformance/helm/README.md ("Regenerating expected
output with real Helm"). helm-sdkpy is downloaded with pip on demand into WHEEL_DIR
(default: $TMPDIR/sluice-helm-sdkpy) when it is not there.

    scripts/helm-reference.py SLUICE_BIN SHARED OUT [CASE_INDEX...]
"""
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile

try:
    import yaml
except ImportError:  # the tests' machines have python3; PyYAML and cffi come from PyPI
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "pyyaml"], check=True)
    import yaml

WHEEL = "helm-sdkpy==0.1.32"


def wheel_dir():
    try:
        import cffi  # noqa: F401 (helm-sdkpy loads Helm's shared library through it)
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "cffi"], check=True)
    d = os.environ.get("WHEEL_DIR") or os.path.join(tempfile.gettempdir(), "sluice-helm-sdkpy")
    if not os.path.isdir(os.path.join(d, "helm_sdkpy")):
        os.makedirs(d, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", WHEEL, "--no-deps",
             "--python-version", "3.12", "--only-binary=:all:", "-d", d],
            check=True)
        whl = [f for f in os.listdir(d) if f.endswith(".whl")][0]
        with zipfile.ZipFile(os.path.join(d, whl)) as z:
            z.extractall(d)
    return d


class GoYamlV2Loader(yaml.SafeLoader):
    """Types plain scalars as go-yaml v2 (Helm's values reader) does."""


GoYamlV2Loader.yaml_implicit_resolvers = {}
GoYamlV2Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE"
               r"|on|On|ON|off|Off|OFF)$"),
    list("yYnNtTfFoO"))
GoYamlV2Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"))
GoYamlV2Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))
GoYamlV2Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


def _bool(loader, node):
    return loader.construct_scalar(node).lower() in ("y", "yes", "true", "on")


def _float(loader, node):
    v = loader.construct_scalar(node).replace("_", "")
    return float(v.replace(".inf", "inf").replace(".Inf", "inf").replace(".INF", "inf")
                 .replace(".nan", "nan").replace(".NaN", "nan").replace(".NAN", "nan"))


GoYamlV2Loader.add_constructor("tag:yaml.org,2002:bool", _bool)
GoYamlV2Loader.add_constructor("tag:yaml.org,2002:float", _float)


def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            merge(a[k], v)
        else:
            a[k] = v
    return a


def set_path(values, key, value):
    parts = key.split(".")
    cur = values
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value


def start_apiserver(sluice, data):
    proc = subprocess.Popen([sluice, "apiserver", "--listen", "127.0.0.1:0", "--data", data],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kc = os.path.join(data, "kubeconfig")
    for _ in range(300):
        if os.path.exists(kc) and os.path.getsize(kc) > 0:
            time.sleep(0.2)
            return proc, kc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("apiserver did not write its kubeconfig")


def capabilities(kubeconfig, chart_dir):
    """What `.Capabilities` holds during the install: the server's version and discovery
    (Helm's GetVersionSet: each group/version and group/version/Kind), plus the group-versions
    of the CRDs in `crds/` of the chart and its subcharts, which Install creates first."""
    import ssl
    import urllib.request
    kc = yaml.safe_load(open(kubeconfig))
    server = kc["clusters"][0]["cluster"]["server"]
    token = kc["users"][0]["user"]["token"]
    ctx = ssl._create_unverified_context()

    def get(path):
        req = urllib.request.Request(server + path, headers={"Authorization": "Bearer " + token})
        return json.load(urllib.request.urlopen(req, context=ctx))

    version = get("/version")
    gvs = []

    def add(gv, resources):
        gvs.append(gv)
        for r in resources:
            if "/" not in r["name"]:
                gvs.append(gv + "/" + r["kind"])

    for v in get("/api")["versions"]:
        add(v, get("/api/" + v)["resources"])
    for g in get("/apis")["groups"]:
        for v in g["versions"]:
            add(v["groupVersion"], get("/apis/" + v["groupVersion"])["resources"])
    for dirpath, _dirs, files in os.walk(chart_dir):
        if os.path.basename(dirpath) != "crds":
            continue
        for f in sorted(files):
            if not f.endswith((".yaml", ".yml", ".json")):
                continue
            try:
                docs = list(yaml.safe_load_all(open(os.path.join(dirpath, f))))
            except yaml.YAMLError:
                continue  # a template-like file Helm does not parse either
            for doc in docs:
                if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc.get("spec") or {}
                for v in spec.get("versions") or [{"name": spec.get("version")}]:
                    gv = spec.get("group", "") + "/" + str(v.get("name"))
                    gvs.append(gv)
                    gvs.append(gv + "/" + (spec.get("names") or {}).get("kind", ""))
    return {"kubeVersion": version["gitVersion"], "major": version["major"],
            "minor": version["minor"], "apiVersions": gvs}


CLUSTER_SCOPED = {"IngressClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                  "ClusterIssuer", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                  "ClusterPolicy", "GatewayClass", "PriorityClass", "StorageClass"}


def stub_crds(kubeconfig, kinds):
    """Serves each (group/version, kind) the server lacks through a schemaless CRD, so that
    real Helm can install a chart using it (the kinds of groups that are CRDs on a real
    cluster too, such as Gateway API's HTTPRoute). The kinds then show in discovery, so
    `.Capabilities` records them."""
    import ssl
    import urllib.request
    kc = yaml.safe_load(open(kubeconfig))
    server = kc["clusters"][0]["cluster"]["server"]
    token = kc["users"][0]["user"]["token"]
    ctx = ssl._create_unverified_context()
    by_group = {}
    for gv, kind in kinds:
        group, version = gv.rsplit("/", 1) if "/" in gv else ("", gv)
        by_group.setdefault((group, kind), set()).add(version)
    for (group, kind), versions in sorted(by_group.items()):
        plural = kind.lower() + ("es" if kind.lower().endswith(("s", "x", "ch")) else
                                 "ies" if kind.lower().endswith("y") else "s")
        if kind.lower().endswith("y"):
            plural = kind.lower()[:-1] + "ies"
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": f"{plural}.{group}"},
               "spec": {"group": group,
                        "scope": "Cluster" if kind in CLUSTER_SCOPED else "Namespaced",
                        "names": {"plural": plural, "singular": kind.lower(), "kind": kind,
                                  "listKind": kind + "List"},
                        "versions": [{"name": v, "served": True, "storage": i == 0,
                                      "schema": {"openAPIV3Schema": {
                                          "type": "object",
                                          "x-kubernetes-preserve-unknown-fields": True}}}
                                     for i, v in enumerate(sorted(versions))]}}
        req = urllib.request.Request(
            server + "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", method="POST",
            data=json.dumps(crd).encode(),
            headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        urllib.request.urlopen(req, context=ctx).read()
    time.sleep(0.5)


NO_NAMESPACE = re.compile(r'namespaces \\?"([^"\\]+)\\?" not found')


def create_namespaces(kubeconfig, names):
    """Namespaces a chart writes into besides the release's (Helm creates only that one)."""
    import ssl
    import urllib.request
    kc = yaml.safe_load(open(kubeconfig))
    server = kc["clusters"][0]["cluster"]["server"]
    token = kc["users"][0]["user"]["token"]
    ctx = ssl._create_unverified_context()
    for n in names:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
        req = urllib.request.Request(
            server + "/api/v1/namespaces", method="POST", data=json.dumps(body).encode(),
            headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        urllib.request.urlopen(req, context=ctx).read()


MISSING = re.compile(r'no matches for kind \\?"([^"\\]+)\\?" in version \\?"([^"\\]+)\\?"')


def main():
    sluice, shared, out = sys.argv[1:4]
    only = {int(x) for x in sys.argv[4:]}
    sys.path.insert(0, wheel_dir())
    from helm_sdkpy import Configuration, Install  # noqa: E402

    root = os.path.join(shared, "conformance", "helm")
    cases = json.load(open(os.path.join(root, "cases.json")))
    os.makedirs(out, exist_ok=True)
    for i, case in enumerate(cases):
        if only and i not in only:
            continue
        values = {}
        for f in case["values_files"]:
            with open(os.path.join(root, f)) as fh:
                merge(values, yaml.load(fh, Loader=GoYamlV2Loader) or {})
        for k, v in case["set"].items():
            set_path(values, k, v)
        with open(os.path.join(out, f"{i}.values.json"), "w") as fh:
            json.dump(values, fh)
        ns = case["namespace"]
        stubs = set()
        namespaces = set()
        for _attempt in range(8):
            err = install_case(sluice, root, out, i, case, values, ns, sorted(stubs),
                               sorted(namespaces), Configuration, Install)
            missing = set((gv, k) for k, gv in MISSING.findall(err or ""))
            no_ns = set(NO_NAMESPACE.findall(err or ""))
            if not err or (missing <= stubs and no_ns <= namespaces):
                break
            stubs |= missing
            namespaces |= no_ns


def install_case(sluice, root, out, i, case, values, ns, stubs, namespaces, Configuration,
                 Install):
    """One install on a fresh server; returns the error text (None when it rendered)."""
    if True:
        with tempfile.TemporaryDirectory() as data:
            proc, kc = start_apiserver(sluice, data)
            try:
                if namespaces:
                    create_namespaces(kc, namespaces)
                if stubs:
                    stub_crds(kc, stubs)
                    with open(os.path.join(out, f"{i}.stubs.json"), "w") as fh:
                        json.dump(stubs, fh)
                caps = capabilities(kc, os.path.join(root, case["chart"]))
                with open(os.path.join(out, f"{i}.caps.json"), "w") as fh:
                    json.dump(caps, fh)
                cfg = Configuration(namespace=ns, kubeconfig=kc)
                r = asyncio.run(Install(cfg).run(
                    release_name=case["release"], chart_path=os.path.join(root, case["chart"]),
                    values=values, wait=False, create_namespace=(ns != "default"),
                    take_ownership=True))
                text = (r.get("manifest") or "").strip() + "\n"
                for h in r.get("hooks") or []:
                    text += "---\n# Source: " + h["path"] + "\n" + h["manifest"] + "\n"
                with open(os.path.join(out, f"{i}.yaml"), "w") as fh:
                    fh.write(text)
                if os.path.exists(os.path.join(out, f"{i}.err")):
                    os.remove(os.path.join(out, f"{i}.err"))
                print(f"case {i}: rendered" + (f" (stub CRDs: {stubs})" if stubs else ""),
                      flush=True)
                return None
            except Exception as e:  # noqa: BLE001 (the error is the expected output)
                with open(os.path.join(out, f"{i}.err"), "w") as fh:
                    fh.write(str(e))
                print(f"case {i}: error: {str(e).splitlines()[0] if str(e) else e}", flush=True)
                return str(e)
            finally:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
