"""Drive headless Chromium over the Chrome DevTools Protocol, stdlib only.

Usage::

    with Browser.launch(find_chromium(), tmp_path) as browser:
        page = browser.page
        page.goto("http://127.0.0.1:8000/")
        page.wait_for("document.readyState === 'complete'")
        page.click("[data-testid=enable-button]")
        page.screenshot(Path("shot.png"))

A WebSocket client small enough to read (RFC 6455: client frames masked,
server frames not; text frames, continuation, ping/pong, close) so the tests
need no extra package. Clicks are real mouse events at the element's centre,
so a hidden or covered button fails the way it would for a person.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from support import stop_process

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
    "--hide-scrollbars", "--mute-audio", "--password-store=basic",
)


class CDPError(Exception):
    """The browser answered a command with an error, or did not answer in time."""


def find_chromium() -> str | None:
    """The Chromium binary: $CHROMIUM, else the first known name on PATH."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class WebSocket:
    """A blocking text-only WebSocket client."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise CDPError("the browser closed the WebSocket during the handshake")
            head += chunk
        status_line = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status_line:
            raise CDPError(f"WebSocket handshake refused: {status_line!r}")
        self._buffer = head.split(b"\r\n\r\n", 1)[1]

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self._buffer)))
            if not chunk:
                raise CDPError("the browser closed the WebSocket")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode("utf-8"))

    def recv(self) -> str:
        message = b""
        while True:
            first, second = self._read(2)
            opcode, n = first & 0x0F, second & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            if opcode == 0x9:  # ping
                self._send_frame(0xA, payload)
            elif opcode == 0x8:
                raise CDPError("the browser closed the WebSocket")
            elif opcode in (0x0, 0x1, 0x2):
                message += payload
                if first & 0x80:
                    return message.decode("utf-8")

    def close(self) -> None:
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


class Page:
    """One tab: commands, JS evaluation, waiting, mouse and keyboard."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        self.ws.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise CDPError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        """The value of a JS expression (promises awaited); JS errors raise CDPError."""
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise CDPError(f"JS error in {expression[:80]!r}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def watch_csp(self) -> None:
        """Record Content-Security-Policy violations from now on, in every document this tab loads.

        Two witnesses: a ``securitypolicyviolation`` listener installed before
        any page script runs (events land in ``window.__cspViolations``), and
        the browser's own log (``Log.entryAdded`` from the ``security`` source),
        which also sees what happens before a listener could exist.
        """
        self.send("Log.enable")
        self.send("Page.addScriptToEvaluateOnNewDocument", source=(
            "window.__cspViolations = [];"
            "document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push("
            "{directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber}));"))

    def csp_violations(self) -> list[Any]:
        """Violations seen so far: the current document's events, then every logged one (see :meth:`watch_csp`)."""
        in_page = self.evaluate("window.__cspViolations || []") or []
        logged = [e["params"]["entry"]["text"] for e in self.events if e.get("method") == "Log.entryAdded"
                  and e["params"]["entry"].get("source") == "security"]
        return [*in_page, *logged]

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def wait_for(self, expression: str, timeout: float = 20.0, what: str | None = None) -> Any:
        """Poll until the expression is truthy; its value, or CDPError naming it."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except CDPError:
                value = None
            if value:
                return value
            time.sleep(0.1)
        raise CDPError(f"timed out after {timeout} s waiting for {what or expression}")

    def text(self, selector: str) -> str:
        return self.evaluate(f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''")

    def count(self, selector: str) -> int:
        return int(self.evaluate(f"document.querySelectorAll({json.dumps(selector)}).length"))

    def click(self, selector: str, timeout: float = 10.0) -> None:
        """A real left click at the centre of the (visible) element.

        Waits until the element stands still (a smooth scroll or a re-render
        may be moving it), so the click lands where a person would aim.
        """
        measure = f"""(() => {{
            const node = document.querySelector({json.dumps(selector)});
            if (!node) return null;
            node.scrollIntoView({{block: 'center', behavior: 'instant'}});
            const r = node.getBoundingClientRect();
            if (!r.width || !r.height) return null;
            const x = r.left + r.width / 2, y = r.top + r.height / 2;
            const hit = document.elementFromPoint(x, y);
            return {{x, y, hit: !!hit && (hit === node || node.contains(hit))}};
        }})()"""
        deadline = time.monotonic() + timeout
        box = self.evaluate(measure)
        while time.monotonic() < deadline:
            time.sleep(0.05)
            again = self.evaluate(measure)
            if again == box:
                break
            box = again
        if not box:
            raise CDPError(f"cannot click {selector}: not found or not visible")
        if not box["hit"]:
            raise CDPError(f"cannot click {selector}: another element covers it")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1)

    def fill(self, selector: str, text: str) -> None:
        """Focus the field, clear it and type ``text``."""
        self.evaluate(f"(() => {{ const n = document.querySelector({json.dumps(selector)}); "
                      f"n.focus(); n.select && n.select(); n.value = ''; }})()")
        self.send("Input.insertText", text=text)

    def screenshot(self, path: Path, width: int = 1280) -> None:
        """A full-page PNG at ``width`` CSS pixels."""
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))


class Browser:
    """A headless Chromium process and its first tab."""

    def __init__(self, process: subprocess.Popen[bytes], page: Page) -> None:
        self.process, self.page = process, page

    @classmethod
    def launch(cls, binary: str, profile_dir: Path, *, width: int = 1280, height: int = 900) -> Browser:
        profile_dir.mkdir(parents=True, exist_ok=True)
        (profile_dir / "DevToolsActivePort").unlink(missing_ok=True)  # a stale one names a dead port
        log = open(profile_dir / "chromium.log", "wb")
        process = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", "--remote-debugging-port=0",
             f"--window-size={width},{height}", "about:blank"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            port = cls._devtools_port(profile_dir, process)
            page_ws = cls._page_websocket(port)
            page = Page(WebSocket(page_ws))
            page.send("Page.enable")
            page.send("Runtime.enable")
            return cls(process, page)
        except BaseException:
            process.kill()
            process.wait(10)
            raise

    @staticmethod
    def _devtools_port(profile_dir: Path, process: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
        # Chromium writes the chosen port to DevToolsActivePort in the profile folder.
        marker = profile_dir / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log = (profile_dir / "chromium.log").read_text(errors="replace")[-2000:]
                raise CDPError(f"chromium exited with {process.returncode}: {log}")
            if marker.exists():
                first = marker.read_text().split("\n", 1)[0].strip()
                if re.fullmatch(r"\d+", first):
                    return int(first)
            time.sleep(0.05)
        raise CDPError("chromium did not open its DevTools port in time")

    @staticmethod
    def _page_websocket(port: int, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
                    targets = json.load(answer)
                pages = [t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            except OSError:
                pass
            time.sleep(0.1)
        raise CDPError("no page target found in chromium")

    def close(self) -> None:
        try:
            self.page.ws.close()
        finally:
            stop_process(self.process)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
