"""A loopback HTTP server for tests: a route table of canned responses, requests recorded.

    with serve({"/store/a.csv": Route(b"a,b\\n1,2\\n")}) as server:
        requests.get(server.url + "/store/a.csv")
        assert server.requests[0].path == "/store/a.csv"

Each route can misbehave on purpose: ``status`` (e.g. 404), ``cut`` (announce the full
Content-Length, send half the bytes, close the connection), ``corrupt`` (same length,
different bytes). A route may also be a callable ``Request -> Route`` for dynamic answers.
Unknown paths answer 404. Runs on 127.0.0.1, port 0 (the OS picks a free one), in a thread.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    cut: bool = False  # send Content-Length of the whole body, then only half of it
    corrupt: bool = False  # flip every byte: same length, wrong content

    def payload(self) -> bytes:
        return bytes(b ^ 0xFF for b in self.body) if self.corrupt else self.body


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with the query string, as sent
    headers: dict[str, str]
    body: bytes


Responder = Route | Callable[[Request], Route]


class _QuietServer(ThreadingHTTPServer):
    """Clients in these tests hang up on purpose (cut-off downloads, timeouts): a reset
    connection is expected there, not an error worth a traceback in the test output."""

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class Server:
    """The running server: its base ``url``, a mutable ``routes`` table, and ``requests``."""

    def __init__(self, routes: Mapping[str, Responder]) -> None:
        self.routes: dict[str, Responder] = dict(routes)
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    def respond(self, request: Request) -> Route:
        with self._lock:
            self.requests.append(request)
        route = self.routes.get(request.path) or self.routes.get(urlsplit(request.path).path)
        if route is None:
            return Route(b"not found\n", status=404)
        return route(request) if callable(route) else route

    def paths(self, method: str | None = None) -> list[str]:
        """Paths requested so far (optionally only for one method), in order."""
        with self._lock:
            return [r.path for r in self.requests if method in (None, r.method)]

    def start(self) -> None:
        # A short poll interval: shutdown() waits up to one interval, at every test teardown.
        thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True)
        thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@contextmanager
def serve(routes: Mapping[str, Responder] | None = None) -> Iterator[Server]:
    """Run a Server for the duration of the ``with`` block."""
    server = Server(routes or {})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _handler_for(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                method=self.command,
                path=self.path,
                headers=dict(self.headers.items()),
                body=self.rfile.read(length) if length else b"",
            )
            _send(self, server.respond(request))

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    return Handler


def _send(handler: BaseHTTPRequestHandler, route: Route) -> None:
    payload = route.payload()
    handler.send_response(route.status)
    for name, value in route.headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    if handler.command == "HEAD":
        return
    if not route.cut:
        handler.wfile.write(payload)
        return
    handler.wfile.write(payload[: len(payload) // 2])
    handler.wfile.flush()
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)
