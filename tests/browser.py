"""A minimal headless-Chromium driver over the DevTools protocol on a pipe (standard library only).

Chromium is started with ``--remote-debugging-pipe``: it reads protocol
messages (JSON, each ended by a NUL byte) on file descriptor 3 and writes on
descriptor 4.  No websocket, no port, no extra package.  Used by the browser
test of the HTML report: open a page, collect console errors, uncaught
exceptions and network requests, evaluate JavaScript, take a screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Flags that work on this workplace's machines (see .library/env): no sandbox as
#: root, no GPU, and no background connections (the network is closed).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--no-default-browser-check",
)


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    env = os.environ.get("SIBMODEL_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    """The browser did not answer as expected."""


class Browser:
    """One headless Chromium with one page, driven over a pipe.

    Use as a context manager; :meth:`open` loads a URL and waits for the load event.

    Attributes
    ----------
    console_errors : list of str
        ``console.error`` calls and error-level log entries.
    exceptions : list of str
        Uncaught JavaScript exceptions.
    requests : list of str
        URLs of every request the page made.
    """

    def __init__(self, binary: str, width: int = 1200, height: int = 900, timeout_s: float = 60.0):
        self.binary = binary
        self.width, self.height, self.timeout_s = width, height, timeout_s
        self.console_errors: list[str] = []
        self.exceptions: list[str] = []
        self.requests: list[str] = []
        self._id = 0
        self._buf = b""
        self._events: list[dict] = []

    # -------------------------------------------------------------- process
    def __enter__(self) -> Browser:
        self._profile = tempfile.mkdtemp(prefix="sibmodel-chromium-")
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()

        def child_fds():  # runs in the child: put the pipes on fds 3 and 4 (via high copies, in case they are 3 or 4)
            import fcntl

            r, w = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 64), fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 64)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self._proc = subprocess.Popen(
            [
                self.binary,
                *FLAGS,
                f"--user-data-dir={self._profile}",
                f"--window-size={self.width},{self.height}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child_fds,
            pass_fds=(3, 4, to_chrome_r, from_chrome_w),
            close_fds=True,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._w = os.fdopen(to_chrome_w, "wb", buffering=0)
        self._r = from_chrome_r
        os.set_blocking(self._r, False)
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable", session=True)
            self.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
                session=True,
            )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._w.close()
        except OSError:
            pass
        try:
            os.close(self._r)
        except OSError:
            pass
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self._proc.kill()
            self._proc.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    # -------------------------------------------------------------- protocol
    def _read_message(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("timed out waiting for the browser")
            ready, _, _ = select.select([self._r], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self._r, 1 << 16)
                if not chunk:
                    raise BrowserError("the browser closed the pipe")
                self._buf += chunk
            elif self._proc.poll() is not None:
                raise BrowserError(f"the browser exited with code {self._proc.returncode}")
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def _record(self, msg: dict) -> None:
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.console_errors.append(
                " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            )
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.exceptions.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            self.console_errors.append(f"{e.get('source')}: {e.get('text')} {e.get('url', '')}".strip())
        elif method == "Network.requestWillBeSent":
            self.requests.append(p.get("request", {}).get("url", ""))
        self._events.append(msg)

    def call(self, method: str, params: dict | None = None, session: bool = False) -> dict:
        """Send one command and wait for its answer (recording events meanwhile)."""
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self._session
        self._w.write(json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._record(reply)

    def wait_for(self, method: str) -> dict:
        """Wait for an event (one already received counts)."""
        for ev in self._events:
            if ev.get("method") == method:
                self._events.remove(ev)
                return ev
        deadline = time.monotonic() + self.timeout_s
        while True:
            msg = self._read_message(deadline)
            self._record(msg)
            if msg.get("method") == method:
                self._events.remove(msg)
                return msg

    # -------------------------------------------------------------- page
    def open(self, url: str) -> None:
        """Navigate to ``url`` and wait for the load event."""
        self._events.clear()
        nav = self.call("Page.navigate", {"url": url}, session=True)
        if nav.get("errorText"):
            raise BrowserError(f"cannot open {url}: {nav['errorText']}")
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        """Evaluate JavaScript in the page and return its (JSON) value."""
        res = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, session=True
        )
        if "exceptionDetails" in res:
            raise BrowserError(f"evaluate failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def screenshot(self, full_page: bool = False) -> bytes:
        """PNG bytes of the viewport (or the whole page)."""
        params = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            h = int(self.evaluate("document.documentElement.scrollHeight"))
            params["clip"] = {"x": 0, "y": 0, "width": self.width, "height": min(h, 16000), "scale": 1}
        return base64.b64decode(self.call("Page.captureScreenshot", params, session=True)["data"])
