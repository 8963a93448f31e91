"""Headless Chromium driven over the DevTools protocol on a pipe (no driver, no library):
load a page as a person's browser would, and report what went wrong on it.

``chromium --remote-debugging-pipe`` reads commands on fd 3 and writes answers and events
on fd 4, as JSON texts ended by a NUL byte.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy.processes import ROOT

CHROMIUM = next(
    (path for path in ("/usr/lib/chromium/chromium", shutil.which("chromium")) if path and os.access(path, os.X_OK)),
    "chromium",
)
"""Debian's binary itself: its /usr/bin wrapper script does not keep the protocol's pipes."""


@dataclass
class PageReport:
    """What a page load showed: problems (script errors, console errors, failed or refused
    loads, HTTP errors of any resource), and what ``evaluate`` returned."""

    url: str
    problems: list[str] = field(default_factory=list)
    value: Any = None
    screenshot: bytes = b""


class Browser:
    def __init__(self) -> None:
        self._profile = tempfile.mkdtemp(prefix="wallet-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def pipes() -> None:  # in the child: the protocol's fds 3 and 4, inherited by Chromium
            reader, writer = os.dup(to_chrome_r), os.dup(from_chrome_w)  # neither is 3 or 4 now
            os.dup2(reader, 3)
            os.dup2(writer, 4)

        self._proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={self._profile}",
                "--window-size=1400,900",
                "about:blank",
            ],
            close_fds=False,  # Python's own fds are not inheritable: only fds 3 and 4 reach Chromium
            preexec_fn=pipes,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send("Browser.close")
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, session: str | None = None, **params: Any) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_chrome, 65536)
            if not chunk:
                raise OSError("Chromium exited")
            self._buffer += chunk
        text, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(text)
        return message

    def call(self, method: str, session: str | None = None, timeout: float = 30, **params: Any) -> dict[str, Any]:
        """Send a command and return its result; events read meanwhile are kept."""
        wanted = self._send(method, session, **params)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._events.append(message)

    def _wait_for(self, method: str, session: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method and e.get("sessionId") == session for e in self._events):
            self._events.append(self._read(deadline))

    def load(
        self,
        url: str,
        *,
        cookies: dict[str, str] | None = None,
        evaluate: str | None = None,
        settle: float = 0.5,
        timeout: float = 30,
    ) -> PageReport:
        """Open ``url`` in a new tab (with ``cookies`` for its host), wait for its load event,
        then return what went wrong and what ``evaluate`` (a JS expression) returned."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session)
        for name, value in (cookies or {}).items():
            self.call("Network.setCookie", session, name=name, value=value, url=url)
        self._events.clear()
        self.call("Page.navigate", session, url=url)
        self._wait_for("Page.loadEventFired", session, timeout)
        time.sleep(settle)
        report = PageReport(url)
        if evaluate is not None:
            answer = self.call("Runtime.evaluate", session, expression=evaluate, returnByValue=True)
            if "exceptionDetails" in answer:
                report.problems.append(f"evaluate: {answer['exceptionDetails']}")
            report.value = answer.get("result", {}).get("value")
        shot = self.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)
        report.screenshot = base64.b64decode(shot["data"])
        report.problems += _problems(e for e in self._events if e.get("sessionId") == session)
        self.call("Target.closeTarget", targetId=target)
        return report


def _problems(events: Any) -> list[str]:
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            found.append(f"script error: {params['exceptionDetails'].get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        elif method == "Network.loadingFailed":
            found.append(f"load failed: {params.get('errorText')} {params.get('blockedReason', '')}")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            found.append(f"HTTP {params['response']['status']}: {params['response']['url']}")
    return found


def save_screenshot(report: PageReport, name: str) -> Path:
    """Keep a page's picture under ``.run/screenshots`` for a person to look at."""
    folder = ROOT / ".run" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    path.write_bytes(report.screenshot)
    return path
