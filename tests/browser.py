"""A page as a person sees it: headless Chromium over the DevTools protocol, the page served on loopback.

``open_page(folder, page)`` serves ``folder`` on 127.0.0.1, loads the page, runs a check in it (every audio
element's file fetched and decoded by the Web Audio API, every image loaded), and returns that with the
console errors and a PNG screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

CHECK = """(async () => {
  const audio = [];
  for (const a of document.querySelectorAll('audio')) {
    const item = {src: a.getAttribute('src')};
    try {
      const r = await fetch(a.src);
      item.status = r.status;
      const decoded = await new OfflineAudioContext(1, 1, 16000).decodeAudioData(await r.arrayBuffer());
      item.seconds = decoded.duration;
    } catch (e) { item.error = String(e); }
    audio.push(item);
  }
  const images = [...document.images].map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0}));
  return {audio, images, title: document.title, height: document.body.scrollHeight};
})()"""


def chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


@contextlib.contextmanager
def _served(folder: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # the test reports what matters
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _DevTools:
    def __init__(self, url: str):
        import websocket

        self.ws, self.next_id, self.events = websocket.create_connection(url, timeout=60), 0, []

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, seconds: float = 60):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if any(e.get("method") == method for e in self.events):
                return
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(method)


def open_page(folder: Path, page: str, width: int = 1280, height: int = 1600) -> dict:
    """Load ``folder/page`` in headless Chromium: {"check": ..., "errors": [...], "screenshot": png bytes}."""
    binary = chromium()
    if binary is None:
        raise RuntimeError("no Chromium on the PATH (.ci/run installs Debian's chromium)")
    with tempfile.TemporaryDirectory() as profile, _served(folder) as base:
        proc = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            for _ in range(300):
                if port_file.is_file() and port_file.read_text().strip():
                    break
                time.sleep(0.1)
            port = int(port_file.read_text().split()[0])
            targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json").read())
            tools = _DevTools(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
            for domain in ("Page", "Runtime", "Log"):
                tools.call(f"{domain}.enable")
            tools.call("Page.navigate", url=f"{base}/{page}")
            tools.wait_for("Page.loadEventFired")
            check = tools.call("Runtime.evaluate", expression=CHECK, awaitPromise=True, returnByValue=True)
            shot = tools.call("Page.captureScreenshot", format="png")
            errors = [
                e["params"]
                for e in tools.events
                if e.get("method") == "Runtime.exceptionThrown"
                or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
                or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
            ]
            return {"check": check["result"]["value"], "errors": errors, "screenshot": base64.b64decode(shot["data"])}
        finally:
            proc.terminate()
            proc.wait(timeout=30)
