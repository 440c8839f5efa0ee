#!/usr/bin/env python3
"""Real Helm's OCI client (helm-sdkpy: Helm's Go library) against Sluice's registry, for the
end-to-end tests (crates/sluice/tests/it/registry_e2e.rs).

    scripts/helm-oci.py KUBECONFIG package CHART_DIR DEST
    scripts/helm-oci.py KUBECONFIG push CHART.tgz oci://HOST/PROJECT
    scripts/helm-oci.py KUBECONFIG pull oci://HOST/PROJECT/NAME VERSION DEST
    scripts/helm-oci.py KUBECONFIG show oci://HOST/PROJECT/NAME:VERSION   (prints Chart.yaml)

and real Helm's release actions against Sluice's API server (releases stored as Secrets):

    scripts/helm-oci.py KUBECONFIG install|upgrade NAME CHART_DIR NAMESPACE VALUES_JSON
    scripts/helm-oci.py KUBECONFIG rollback NAME NAMESPACE REVISION
    scripts/helm-oci.py KUBECONFIG history|uninstall NAME NAMESPACE   (history: JSON)

(helm-sdkpy 0.1.32's Pull dereferences a nil pointer in its shim (pkg/action/pull.go:88);
`show` fetches the chart through the same OCI client.)

KUBECONFIG is the one `sluice serve` writes: its token is the registry password (any user
name) and its server's scheme says TLS (verification skipped: Helm's Go client has no way
to take the CA from a kubeconfig) or plain HTTP. helm-sdkpy comes from PyPI on demand, as
scripts/helm-reference.py fetches it (WHEEL_DIR).
"""
import asyncio
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load_reference():
    spec = importlib.util.spec_from_file_location("helm_reference", os.path.join(HERE, "helm-reference.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ref = load_reference()
    sys.path.insert(0, ref.wheel_dir())
    import helm_sdkpy
    import yaml

    kubeconfig, action, *args = sys.argv[1:]
    with open(kubeconfig) as f:
        kc = yaml.safe_load(f)
    token = kc["users"][0]["user"]["token"]
    server = kc["clusters"][0]["cluster"]["server"]
    plain = server.startswith("http://")
    ca_file = None
    ca_data = kc["clusters"][0]["cluster"].get("certificate-authority-data")
    if ca_data:
        import base64
        import tempfile
        fd, ca_file = tempfile.mkstemp(suffix=".crt")
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64decode(ca_data))

    def host_of(ref_):
        return ref_[len("oci://"):].split("/", 1)[0]

    def config(host):
        return helm_sdkpy.Configuration(
            kubeconfig=kubeconfig,
            plain_http=plain,
            insecure_skip_tls_verify=not plain,
            registry_auth={host: {"username": "helm", "password": token}},
        )

    if action == "package":
        chart_dir, dest = args
        path = asyncio.run(helm_sdkpy.Package(helm_sdkpy.Configuration(kubeconfig=kubeconfig)).run(chart_dir, dest_dir=dest))
        print(path)
    elif action == "push":
        chart, remote = args
        asyncio.run(helm_sdkpy.Push(config(host_of(remote))).run(
            chart_path=chart, remote=remote, ca_file=ca_file, plain_http=plain))
    elif action == "pull":
        chart_ref, version, dest = args
        asyncio.run(helm_sdkpy.Pull(config(host_of(chart_ref))).run(chart_ref, dest_dir=dest, version=version))
    elif action == "show":
        (chart_ref,) = args
        print(asyncio.run(helm_sdkpy.Show(config(host_of(chart_ref))).chart(chart_ref)))
    elif action in ("install", "upgrade"):
        import json
        name, chart_dir, ns, values = args
        cfg = helm_sdkpy.Configuration(namespace=ns, kubeconfig=kubeconfig)
        vals = json.loads(values)
        if action == "install":
            r = asyncio.run(helm_sdkpy.Install(cfg).run(
                release_name=name, chart_path=chart_dir, values=vals, wait=False,
                create_namespace=True))
        else:
            r = asyncio.run(helm_sdkpy.Upgrade(cfg).run(name, chart_dir, values=vals, wait=False))
        print(json.dumps({"version": r.get("version"), "status": (r.get("info") or {}).get("status")}))
    elif action == "rollback":
        name, ns, revision = args
        cfg = helm_sdkpy.Configuration(namespace=ns, kubeconfig=kubeconfig)
        asyncio.run(helm_sdkpy.Rollback(cfg).run(name, revision=int(revision)))
    elif action == "history":
        import json
        name, ns = args
        cfg = helm_sdkpy.Configuration(namespace=ns, kubeconfig=kubeconfig)
        h = asyncio.run(helm_sdkpy.History(cfg).run(name))
        print(json.dumps(h, default=str))
    elif action == "uninstall":
        name, ns = args
        cfg = helm_sdkpy.Configuration(namespace=ns, kubeconfig=kubeconfig)
        asyncio.run(helm_sdkpy.Uninstall(cfg).run(name, wait=False))
    else:
        sys.exit(f"unknown action {action}")


if __name__ == "__main__":
    main()
