#!/usr/bin/env python3
"""Real Helm's rendering of the charts scripts/helm-fuzz generated (helm-sdkpy, Helm's Go
library), never stored by hand.

helm-sdkpy has no template or dry-run action, so, as scripts/helm-reference.py does, each
chart is installed into one fresh `sluice apiserver` (each under its own release name) and the
release manifest plus hooks is what `helm template` prints (helm/helm `pkg/action/install.go`).
Writes DIR/caps.json (the server's version: what `.Capabilities.KubeVersion` holds), and for
each DIR/<n>/chart: DIR/<n>/expected.yaml, or DIR/<n>/expected.err with Helm's error.

    scripts/helm-fuzz-reference.py SLUICE_BIN DIR
"""
import asyncio
import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("helm_reference",
                                               os.path.join(HERE, "helm-reference.py"))
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)


def main():
    sluice, root = sys.argv[1:3]
    sys.path.insert(0, ref.wheel_dir())
    from helm_sdkpy import Configuration, Install  # noqa: E402
    import tempfile
    cases = sorted((d for d in os.listdir(root) if d.isdigit()), key=int)
    with tempfile.TemporaryDirectory() as data:
        proc, kc = ref.start_apiserver(sluice, data)
        try:
            caps = ref.capabilities(kc, os.path.join(root, cases[0], "chart") if cases else root)
            with open(os.path.join(root, "caps.json"), "w") as fh:
                json.dump(caps, fh)
            for n in cases:
                d = os.path.join(root, n)
                vf = os.path.join(d, "values.yaml")
                values = {}
                if os.path.exists(vf):
                    with open(vf) as fh:
                        values = ref.yaml.load(fh, Loader=ref.GoYamlV2Loader) or {}
                for f in ("expected.yaml", "expected.err"):
                    if os.path.exists(os.path.join(d, f)):
                        os.remove(os.path.join(d, f))
                try:
                    cfg = Configuration(namespace="default", kubeconfig=kc)
                    r = asyncio.run(Install(cfg).run(
                        release_name=f"fz{n}", chart_path=os.path.join(d, "chart"),
                        values=values, wait=False, create_namespace=False,
                        take_ownership=True))
                    text = (r.get("manifest") or "").strip() + "\n"
                    for h in r.get("hooks") or []:
                        text += "---\n# Source: " + h["path"] + "\n" + h["manifest"] + "\n"
                    with open(os.path.join(d, "expected.yaml"), "w") as fh:
                        fh.write(text)
                except Exception as e:  # noqa: BLE001 (the error is the expected output)
                    with open(os.path.join(d, "expected.err"), "w") as fh:
                        fh.write(str(e))
        finally:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
