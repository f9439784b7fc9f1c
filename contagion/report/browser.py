"""Check a rendered report in a headless Chromium: console errors, sections, a screenshot.

Talks the Chrome DevTools Protocol over ``--remote-debugging-pipe`` (JSON messages ending
in a NUL byte on file descriptors 3 and 4), so it needs only the Python standard library
and a Chromium binary: no Node, no driver downloads. :func:`find_browser` looks for one
(``$CONTAGION_BROWSER``, then ``chromium``, ``chromium-browser``, ``google-chrome``);
``make browser`` installs Debian's ``chromium`` where it can.

:func:`check_report` opens a report, waits for the load event, and returns a
:class:`BrowserCheck`: the console errors and uncaught exceptions the page produced (log
entries of level ``error`` too, e.g. an image that failed to load), the ids of its
sections, the images that did not decode, and a PNG screenshot of the first screen.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 60.0
PAGE_JS = """JSON.stringify({
  sections: Array.from(document.querySelectorAll('section[id]')).map(s => s.id),
  broken: Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)
                .map(i => i.alt),
  images: document.images.length,
  height: document.documentElement.scrollHeight,
  title: document.title
})"""


class BrowserError(RuntimeError):
    """The browser could not be started or did not answer in time."""


@dataclass
class BrowserCheck:
    """What a headless browser saw on a page."""

    console_errors: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    images: int = 0
    height_px: int = 0
    title: str = ""
    screenshot_png: bytes = b""


def find_browser() -> str | None:
    """Path of a Chromium-family browser, or None."""
    env = os.environ.get("CONTAGION_BROWSER")
    if env:
        return env if Path(env).is_file() else shutil.which(env)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class _Pipe:
    """A CDP connection over the browser's debugging pipe."""

    def __init__(self, browser: str, profile: str) -> None:
        to_browser_r, self._w = os.pipe()
        self._r, from_browser_w = os.pipe()
        args = [
            browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--mute-audio",
            "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank",
        ]  # fmt: skip

        # the browser reads fd 3 and writes fd 4: bash puts the pipe ends there (a POSIX sh
        # such as dash takes only one-digit descriptors in a redirection)
        bash = shutil.which("bash")
        if bash is None:
            raise BrowserError("the browser check needs bash to hand the browser its pipe")
        wire = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}'
        self.proc = subprocess.Popen(
            [bash, "-c", wire, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_browser_r, from_browser_w),
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None):
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        return self._wait(lambda m: m.get("id") == self._id, method)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise BrowserError("the browser did not answer in time (or exited)")
            ready, _, _ = select.select([self._r], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise BrowserError("the browser closed its debugging pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def _wait(self, match, what: str, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read(deadline)
            if match(msg):
                if "error" in msg:
                    raise BrowserError(f"{what}: {msg['error'].get('message', msg['error'])}")
                return msg.get("result", msg.get("params", {}))
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        for i, msg in enumerate(self.events):
            if msg.get("method") == method:
                return self.events.pop(i)["params"]
        return self._wait(lambda m: m.get("method") == method, method, timeout)

    def close(self) -> None:
        try:
            os.write(self._w, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass


def _console_errors(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(str(d.get("exception", {}).get("description") or d.get("text")))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            out.append(f"{entry.get('text', '')} {entry.get('url', '')}".strip())
    return out


def check_report(
    path: str | os.PathLike,
    *,
    browser: str | None = None,
    width: int = 1366,
    height: int = 900,
) -> BrowserCheck:
    """Open ``path`` (an HTML file) headless and report what the page did.

    Raises :class:`BrowserError` when no browser is found or it fails to answer.
    """
    exe = browser or find_browser()
    if exe is None:
        raise BrowserError("no Chromium-family browser found (make browser installs one)")
    url = Path(path).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="contagion-chromium-") as profile:
        pipe = _Pipe(exe, profile)
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"
            ]
            for method in ("Page.enable", "Runtime.enable", "Log.enable"):
                pipe.send(method, session=session)
            pipe.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            pipe.send("Page.navigate", {"url": url}, session=session)
            pipe.wait_event("Page.loadEventFired")
            result = pipe.send(
                "Runtime.evaluate",
                {"expression": PAGE_JS, "returnByValue": True},
                session=session,
            )
            page = json.loads(result["result"]["value"])
            shot = pipe.send("Page.captureScreenshot", {"format": "png"}, session=session)
            time.sleep(0.2)  # late console messages
            pipe.send("Runtime.evaluate", {"expression": "1"}, session=session)
        finally:
            pipe.close()
    return BrowserCheck(
        console_errors=_console_errors(pipe.events),
        sections=list(page["sections"]),
        broken_images=list(page["broken"]),
        images=int(page["images"]),
        height_px=int(page["height"]),
        title=str(page["title"]),
        screenshot_png=base64.b64decode(shot["data"]),
    )
