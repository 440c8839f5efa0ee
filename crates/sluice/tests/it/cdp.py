#!/usr/bin/env python3
"""Drives headless Chromium over the DevTools protocol (--remote-debugging-pipe: requests on
fd 3, answers and events on fd 4, each a JSON message ended by NUL) for the web UI's
end-to-end tests. No dependency beyond the standard library and Debian's `chromium`.

stdin: {"url": ..., "token": ... (optional; put in sessionStorage before any page script
runs, never in a URL), "init": JS (optional; runs before any page script, e.g. performance
observers for bench/ui.py), "steps": [...]}; a step is one of
  {"wait": JS, "timeout": S}   poll until the expression is truthy (default 60 s)
  {"eval": JS}                 evaluate (promises awaited) and record the value
  {"click": CSS}               click the first element matching CSS
  {"screenshot": PATH}         save a PNG of the page
stdout: {"ok": bool, "results": [...], "failed": step index or null, "text": the page's
text when a step failed, "exceptions": uncaught page exceptions}. Exit 0 when ok.
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import base64


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class Browser:
    def __init__(self):
        exe = chromium()
        if not exe:
            raise SystemExit("cdp.py: chromium is not installed")
        self.profile = tempfile.mkdtemp(prefix="sluice-ui-chromium-")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        hi_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
        hi_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
        for fd in (to_child_r, from_child_w):
            os.close(fd)

        def fds():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen(
            [
                exe,
                "--headless=new",
                "--remote-debugging-pipe",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--ignore-certificate-errors",
                "--window-size=1280,900",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=fds,
            pass_fds=(3, 4),
        )
        os.close(hi_r)
        os.close(hi_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def close(self):
        try:
            self.proc.kill()
            self.proc.wait(timeout=10)
        except Exception:
            pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            if time.time() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.from_child, 65536)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)


def main():
    spec = json.load(sys.stdin)
    b = Browser()
    out = {"ok": False, "results": [], "failed": None, "text": "", "exceptions": []}
    try:
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        b.call("Page.enable", session=s)
        b.call("Runtime.enable", session=s)
        if spec.get("token") is not None:
            b.call(
                "Page.addScriptToEvaluateOnNewDocument",
                {"source": f"sessionStorage.setItem('sluice-token', {json.dumps(spec['token'])});"},
                session=s,
            )
        if spec.get("init"):
            b.call(
                "Page.addScriptToEvaluateOnNewDocument",
                {"source": spec["init"]},
                session=s,
            )
        b.call("Page.navigate", {"url": spec["url"]}, session=s)

        def evaluate(expr):
            r = b.call(
                "Runtime.evaluate",
                {"expression": expr, "returnByValue": True, "awaitPromise": True},
                session=s,
            )
            if "exceptionDetails" in r:
                return {"exception": r["exceptionDetails"].get("text", "")}
            return r.get("result", {}).get("value")

        for i, step in enumerate(spec["steps"]):
            if "wait" in step:
                deadline = time.time() + step.get("timeout", 60)
                value = None
                while time.time() < deadline:
                    value = evaluate(step["wait"])
                    if value and not (isinstance(value, dict) and "exception" in value):
                        break
                    time.sleep(0.1)
                else:
                    out["failed"] = i
                    out["results"].append(value)
                    break
                out["results"].append(value)
            elif "eval" in step:
                out["results"].append(evaluate(step["eval"]))
            elif "click" in step:
                v = evaluate(
                    "(() => { const e = document.querySelector(%s); if (!e) return false;"
                    " e.dispatchEvent(new MouseEvent('click', {bubbles: true})); return true; })()"
                    % json.dumps(step["click"])
                )
                out["results"].append(v)
                if v is not True:
                    out["failed"] = i
                    break
            elif "screenshot" in step:
                png = b.call("Page.captureScreenshot", {"format": "png"}, session=s)["data"]
                with open(step["screenshot"], "wb") as f:
                    f.write(base64.b64decode(png))
                out["results"].append(step["screenshot"])
        out["ok"] = out["failed"] is None
        if not out["ok"]:
            out["text"] = evaluate(
                "location.href + '\\n' + (document.body ? document.body.innerText : '')"
            )
    finally:
        for m in b.events:
            if m.get("method") == "Runtime.exceptionThrown":
                d = m["params"]["exceptionDetails"]
                out["exceptions"].append(
                    (d.get("exception") or {}).get("description") or d.get("text", "")
                )
        b.close()
    json.dump(out, sys.stdout)
    sys.exit(0 if out["ok"] else 1)


if __name__ == "__main__":
    main()
