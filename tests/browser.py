"""The real mermaid in a real browser: Debian's ``chromium``, headless, driven by the npm
package ``playwright-core`` from node (tests/browser_runner.js), with the npm ``mermaid``
that ``make tests/.node/.installed`` pins. The page and mermaid come from a loopback HTTP
server this module starts; every other request the page makes is refused and reported.

One browser per pytest worker (the ``browser`` fixture in conftest.py), started on first
use; tests send their blocks in batches. Without chromium, node or the npm packages the
fixture skips with the reason and the command that installs what is missing.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

REPO_ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = REPO_ROOT / "tests" / ".node" / "node_modules"
RUNNER = REPO_ROOT / "tests" / "browser_runner.js"
MERMAID_JS = NODE_MODULES / "mermaid" / "dist" / "mermaid.min.js"
# Screenshots for people (CI uploads the folder): gitignored.
ARTIFACTS = REPO_ROOT / "tests" / ".artifacts"

# What `make test` installs; MLGATE_TEST_CHROMIUM points at another Chromium build.
DEFAULT_CHROMIUM = "/usr/bin/chromium"

_MERMAID_BLOCK = re.compile(r"^```mermaid\n(.*?)^```$", re.S | re.M)

# GitHub draws a comment's mermaid blocks with mermaid's strict security level; so do we.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>mlgate charts</title>
<style>
  body { font-family: -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif;
         font-size: 14px; line-height: 1.5; color: #1f2328; margin: 16px; }
  .comment { max-width: 860px; border: 1px solid #d1d9e0; border-radius: 6px; padding: 16px; }
  table { border-collapse: collapse; margin: 8px 0; }
  th, td { border: 1px solid #d1d9e0; padding: 4px 10px; }
  .mermaid { margin: 8px 0; }
</style>
<script src="/mermaid.min.js"></script>
<script>
  mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
  window.mermaidReady = true;
</script>
</head><body></body></html>
"""


def mermaid_blocks(markdown: str) -> list[str]:
    """The text of every ```mermaid fenced block in ``markdown``."""
    return _MERMAID_BLOCK.findall(markdown)


_LABEL = r'"[A-Za-z0-9 _.:+()/-]*"'
_NUMBER = r"-?[0-9]+(?:\.[0-9]+)?"
# Every line a chart of mlgate's may have: nothing else gets into a block.
_XYCHART_LINES = [
    re.compile(r"xychart-beta"),
    re.compile(rf"    title {_LABEL}"),
    re.compile(rf"    x-axis \[{_LABEL}(?:, {_LABEL})*\]"),
    re.compile(rf"    y-axis {_LABEL} {_NUMBER} --> {_NUMBER}"),
    re.compile(rf"    (?:bar|line) \[{_NUMBER}(?:, {_NUMBER})*\]"),
]


def assert_safe_xychart(block: str) -> None:
    """``block`` is an xychart-beta of the shape mlgate writes, every label in the safe
    charset: each line matches one of _XYCHART_LINES, the header first."""
    lines = block.rstrip("\n").split("\n")
    assert lines[0] == "xychart-beta", block
    for line in lines:
        assert any(p.fullmatch(line) for p in _XYCHART_LINES), f"unexpected line {line!r}"


@dataclass
class Rendered:
    """One block as mermaid saw it: parsed and drawn (``ok``), or the parser's error."""

    ok: bool
    type: str | None
    error: str | None
    svg: str | None
    labels: list[str] | None  # the SVG's text nodes: what a reader sees
    title: list[str] | None  # the chart title's text nodes
    x_labels: list[str] | None  # the category axis' labels
    y_title: list[str] | None  # the value axis' title
    bars: int  # bars drawn, over all bar series
    lines: int  # line series drawn
    active: list[str] | None  # scripts, links, foreignObject, on* handlers: none expected


class _Handler(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, tuple[str, bytes]]] = {}

    def do_GET(self) -> None:
        found = self.files.get(self.path.split("?", 1)[0])
        if found is None:
            self.send_error(404)
            return
        kind, body = found
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    chromium = chromium_path()
    if chromium is None:
        return (
            "Chromium is not installed (Debian's `chromium` package): the mermaid charts "
            "cannot be checked in a browser; `make test` installs it where apt-get runs as root"
        )
    if shutil.which("node") is None:
        return "node is not installed: the mermaid charts cannot be checked in a browser"
    for package in ("mermaid", "playwright-core"):
        if not (NODE_MODULES / package).is_dir():
            return f"npm {package} is not in {NODE_MODULES}: run `make tests/.node/.installed`"
    return None


def chromium_path() -> str | None:
    named = os.environ.get("MLGATE_TEST_CHROMIUM") or DEFAULT_CHROMIUM
    return named if os.access(named, os.X_OK) else shutil.which("chromium")


class _Runner:
    """A node runner script driving headless chromium: one JSON request per stdin line, one
    JSON answer per stdout line; the first line says it is ready (or why it is not)."""

    def __init__(self, runner: Path, origin: str) -> None:
        self._profile = tempfile.mkdtemp(prefix="mlgate-chromium-")
        chromium = chromium_path()
        assert chromium is not None
        self._name = runner.name
        self._proc = subprocess.Popen(
            ["node", str(runner), str(NODE_MODULES), chromium, origin, self._profile],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._read()  # {"ready": true}, or the runner's error

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            assert self._proc.stderr is not None
            raise RuntimeError(f"{self._name} stopped: {self._proc.stderr.read()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()
        shutil.rmtree(self._profile, ignore_errors=True)


class Browser(_Runner):
    """Headless chromium with mermaid loaded, on a page from a loopback server."""

    def __init__(self) -> None:
        handler = type("Handler", (_Handler,), {})
        handler.files = {
            "/": ("text/html; charset=utf-8", PAGE.encode()),
            "/mermaid.min.js": ("text/javascript", MERMAID_JS.read_bytes()),
        }
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        super().__init__(RUNNER, f"http://127.0.0.1:{self._server.server_address[1]}/")
        package = json.loads((NODE_MODULES / "mermaid" / "package.json").read_text())
        self.mermaid_version: str = package["version"]

    def _ask(self, request: dict[str, Any]) -> list[Rendered]:
        answer = self._exchange(request)
        assert "error" not in answer, answer["error"]
        # Nothing leaves the machine: the page asked for nothing but the loopback server.
        assert answer["blocked"] == [], answer["blocked"]
        assert answer["page_errors"] == [], answer["page_errors"]
        return [Rendered(**result) for result in answer["results"]]

    def render(self, blocks: list[str]) -> list[Rendered]:
        """Parse and draw each mermaid block (its text, without the fence)."""
        return self._ask({"op": "render", "blocks": blocks})

    def screenshot(self, html: str, path: Path, *, width: int = 900) -> list[Rendered]:
        """Show ``html`` (a rendered comment) with its mermaid blocks drawn, the way GitHub
        does, and save a full-page PNG at ``path``; returns the blocks as rendered."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return self._ask({"op": "screenshot", "html": html, "path": str(path), "width": width})

    def close(self) -> None:
        super().close()
        self._server.shutdown()
        self._server.server_close()


# --- the pages of `mlgate site` (tests/site_runner.js) ----------------------------------------

SITE_RUNNER = REPO_ROOT / "tests" / "site_runner.js"


def site_unavailable() -> str | None:
    """Why the site's pages cannot be checked in a browser here, or None."""
    if chromium_path() is None:
        return "Chromium is not installed (Debian's `chromium` package): `make test` installs it"
    if shutil.which("node") is None:
        return "node is not installed: the site's pages cannot be checked in a browser"
    if not (NODE_MODULES / "playwright-core").is_dir():
        return f"npm playwright-core is not in {NODE_MODULES}: run `make tests/.node/.installed`"
    return None


class SiteBrowser(_Runner):
    """Headless chromium visiting pages of a site served on ``origin`` (127.0.0.1): every
    request elsewhere is refused and reported, as are console messages and failed loads."""

    def __init__(self, origin: str) -> None:
        super().__init__(SITE_RUNNER, origin)

    def visit(
        self, url: str, *, tab: bool = False, screenshot: Path | None = None, scheme: str = "light"
    ) -> dict[str, Any]:
        """Load ``url`` and inspect it (see site_runner.js); a clean load is asserted:
        HTTP 200, no console message or page error, no failed or outside request."""
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
        request = {"url": url, "tab": tab, "scheme": scheme}
        request["screenshot"] = None if screenshot is None else str(screenshot)
        answer = self._exchange(request)
        assert "error" not in answer, answer["error"]
        assert answer["status"] == 200, (url, answer["status"])
        for key in ("blocked", "failed", "console_errors", "page_errors"):
            assert answer[key] == [], (url, key, answer[key])
        return answer
