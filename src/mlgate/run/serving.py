"""The server behind ``mlgate serve``: a Starlette app on uvicorn, the request log, and the
watcher that swaps in a newly promoted version.

The app answers MLflow's scoring protocol (run.protocol) plus ``/metadata``. The model is
loaded once, before the socket is served (and before ``--workers`` processes fork, so they
share its memory); a ``Deployment`` is swapped in one assignment, so a request is answered
by exactly one version and no request waits for a reload. Starlette and uvicorn are
imported only here, and this module only when ``mlgate serve`` runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlgate import __version__
from mlgate.run.protocol import (
    Answer,
    BadRequest,
    ModelFailed,
    ProtocolError,
    Served,
    TooLarge,
    invoke,
    request_body,
)

log = logging.getLogger("mlgate.serve")

DEFAULT_MAX_BODY = 32 * 1024 * 1024
SAMPLE_ROWS = 20  # recent request rows kept to smoke-test a new version on


@dataclass(frozen=True)
class Deployment:
    """One production version, loaded: what answers requests and what /metadata says."""

    name: str
    version: int
    tag: str
    commit: str  # the production-branch commit it was read from
    source_commit: str  # the commit it was trained from
    metrics: dict[str, float]
    promoted_at: str
    served: Served
    extra: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        schema = self.served.schema
        return {
            "model": self.name,
            "version": self.version,
            "tag": self.tag,
            "production_commit": self.commit,
            "source_commit": self.source_commit,
            "promoted_at": self.promoted_at,
            "metrics": self.metrics,
            "input_schema": None if schema is None else schema.to_dict(),
            "input_schema_source": None if schema is None else schema.source,
            "methods": self.served.methods,
            "mlgate": __version__,
            **self.extra,
        }


class Current:
    """The deployment that answers, swapped whole; plus recent rows to smoke-test on."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.sample: Any = None
        self.started = time.time()


def smoke_test(deployment: Deployment, sample: Any) -> str | None:
    """A new version answers an /invocations request, as promotion tested it; None when it
    did, else why not. The rows: recent requests, else one made from the schema."""
    served = deployment.served
    schema = served.schema
    if sample is not None and schema is not None and not set(schema.names) <= set(sample.columns):
        sample = None  # the new version takes other columns: rows made from its schema
    sample = _synthetic(served) if sample is None else sample.iloc[:SAMPLE_ROWS]
    if sample is None:
        return None  # no schema and no request yet: loaded with trusted types is all
    try:
        answer = invoke(served, request_body(sample), "application/json")
    except ProtocolError as e:
        return e.message
    if len(answer.document["predictions"]) != len(sample):
        return (
            f"it answered {len(answer.document['predictions'])} predictions for {len(sample)} rows"
        )
    return None


def _synthetic(served: Served) -> Any:
    import pandas as pd

    schema = served.schema
    if schema is None:
        return None
    row = {n: (0 if not t or t[0] in "biuf" else "") for n, t in schema.columns}
    return pd.DataFrame([row])


# --- the request log -------------------------------------------------------------------


class RequestLog:
    """Inputs and predictions, appended in batches to ``directory``: one file per batch
    (Parquet when pyarrow is installed, else CSV), named by time, written to a hidden
    temporary file and renamed, so a reader (``mlgate monitor``) never sees a torn batch,
    even after a kill -9. A batch closes after ``interval`` seconds or ``max_rows`` rows,
    which is the rotation. ``record`` never blocks a response: a full queue drops the rows
    and counts them (``dropped``)."""

    def __init__(
        self,
        directory: Path,
        *,
        interval: float = 5.0,
        max_rows: int = 50_000,
        queue_size: int = 10_000,
    ) -> None:
        self.directory = directory
        self.interval = interval
        self.max_rows = max_rows
        self.dropped = 0
        self._reported = 0
        self.written = 0
        directory.mkdir(parents=True, exist_ok=True)
        self.parquet = _has_pyarrow()
        self._queue: queue.Queue[tuple[float, int, Any, Any] | None] = queue.Queue(queue_size)
        self._seq = 0
        self._thread = threading.Thread(target=self._run, name="mlgate-request-log", daemon=True)
        self._thread.start()

    def record(self, version: int, answer: Answer) -> None:
        try:
            self._queue.put_nowait((time.time(), version, answer.frame, answer.predictions))
        except queue.Full:
            self.dropped += len(answer.frame)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        batch: list[tuple[float, int, Any, Any]] = []
        rows, opened = 0, 0.0
        while True:
            timeout = None if not batch else max(0.0, opened + self.interval - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = ()  # type: ignore[assignment]  # the interval is over: flush
            if item is None:
                self._flush(batch)
                return
            if item:
                if not batch:
                    opened = time.monotonic()
                batch.append(item)
                rows += len(item[2])
            if batch and (not item or rows >= self.max_rows):
                self._flush(batch)
                batch, rows = [], 0

    def _flush(self, batch: list[tuple[float, int, Any, Any]]) -> None:
        if self.dropped > self._reported:
            log.warning(
                "mlgate serve: the request log fell behind and left out %d rows",
                self.dropped - self._reported,
            )
            self._reported = self.dropped
        if not batch:
            return
        try:
            self._write(batch)
        except Exception as e:  # a full disk must not stop the server
            log.error("mlgate serve: could not write the request log: %s", e)

    def _write(self, batch: list[tuple[float, int, Any, Any]]) -> None:
        import pandas as pd

        parts = []
        for at, version, frame, predictions in batch:
            part = frame.reset_index(drop=True).copy()
            values = predictions.tolist() if hasattr(predictions, "tolist") else list(predictions)
            part["mlgate.time"] = datetime.fromtimestamp(at, timezone.utc).isoformat()
            part["mlgate.version"] = version
            part["mlgate.prediction"] = [
                json.dumps(v) if isinstance(v, list) else v for v in values
            ]
            parts.append(part)
        frame = pd.concat(parts, ignore_index=True)
        self._seq += 1
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        suffix = "parquet" if self.parquet else "csv"
        name = f"requests-{stamp}-{os.getpid()}-{self._seq:06d}.{suffix}"
        tmp = self.directory / f".{name}.tmp"
        if self.parquet:
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.directory / name)
        _fsync_dir(self.directory)
        self.written += len(frame)


def _has_pyarrow() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- the app ---------------------------------------------------------------------------


def build_app(
    current: Current, *, max_body: int = DEFAULT_MAX_BODY, requests: RequestLog | None = None
) -> Any:
    """The Starlette app: MLflow's endpoints plus /metadata."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    def _json(doc: Any, status: int = 200) -> Response:
        return Response(json.dumps(doc), status, media_type="application/json")

    async def ping(request: Request) -> Response:
        return Response("\n", media_type="application/json")

    async def version(request: Request) -> Response:
        return Response(__version__, media_type="text/plain")

    async def metadata(request: Request) -> Response:
        return _json(current.deployment.metadata())

    async def invocations(request: Request) -> Response:
        try:
            body = await _body(request, max_body)
            deployment = current.deployment  # one version answers the whole request
            answer = invoke(deployment.served, body, request.headers.get("content-type"))
        except ModelFailed as e:
            log.error("mlgate serve: %s", e.message)
            return _json(e.document(), e.status)
        except ProtocolError as e:
            return _json(e.document(), e.status)
        except Exception as e:  # a bug: one line, logged, never a traceback to the client
            line = f"internal error: {type(e).__name__}: {' '.join(str(e).split())}"
            log.error("mlgate serve: %s", line)
            return _json(ModelFailed(line).document(), 500)
        if requests is not None:
            requests.record(deployment.version, answer)
        current.sample = answer.frame  # cut to SAMPLE_ROWS when a smoke test uses it
        return _json(answer.document)

    routes = [
        Route("/ping", ping, methods=["GET"]),
        Route("/health", ping, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/metadata", metadata, methods=["GET"]),
        Route("/invocations", invocations, methods=["POST"]),
    ]
    return Starlette(routes=routes)


async def _body(request: Any, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise BadRequest(f"Content-Length {length!r} is not a number")
        if int(length) > limit:
            raise TooLarge(f"the body is {int(length)} bytes; this server takes at most {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the body is over {limit} bytes, the most this server takes")
        chunks.append(chunk)
    return b"".join(chunks)


# --- following the production branch ---------------------------------------------------


Check = Callable[[bool], "Deployment | None"]


def follow(current: Current, check: Check, interval: float, *, fetch: bool) -> threading.Thread:
    """Every ``interval`` seconds ``check(fetch)`` (git fetch, then the branch's tip): a
    newer deployment it returns answers from the next request on, once its smoke test
    passes. A failed check (no network, an untrusted file) is logged; the old version
    keeps answering."""

    def loop() -> None:
        while True:
            time.sleep(interval)
            try:
                found = check(fetch)
            except Exception as e:
                log.warning("mlgate serve: could not check for a new version: %s", e)
                continue
            if found is None:
                continue
            old = current.deployment
            problem = smoke_test(found, current.sample)
            if problem is not None:
                log.warning(
                    "mlgate serve: %s v%d fails its smoke test, still serving v%d: %s",
                    found.name,
                    found.version,
                    old.version,
                    problem,
                )
                continue
            current.deployment = found
            log.info(
                "mlgate serve: now serving %s v%d (was v%d)", found.name, found.version, old.version
            )

    thread = threading.Thread(target=loop, name="mlgate-follow", daemon=True)
    thread.start()
    return thread


def _fetch_only(check: Check, interval: float) -> None:
    """The parent of --workers processes fetches; each worker only looks at the refs."""
    while True:
        time.sleep(interval)
        try:
            check(True)
        except Exception as e:
            log.warning("mlgate serve: git fetch failed: %s", e)


# --- running ---------------------------------------------------------------------------


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the server starts (port 0: the kernel picks)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


@dataclass(frozen=True)
class Options:
    workers: int = 1
    max_body: int = DEFAULT_MAX_BODY
    log_dir: Path | None = None
    log_interval: float = 5.0
    log_rows: int = 50_000
    follow_interval: float | None = None  # seconds between fetches; None: no --follow


def run(
    deployment: Deployment,
    sock: socket.socket,
    options: Options,
    check: Check | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT: in this process, or in ``options.workers`` forked
    processes sharing the socket and the loaded model."""
    if options.workers <= 1:
        _worker(deployment, sock, options, check, fetch=True)
        return
    children: list[int] = []
    stopping: list[bool] = []

    def stop(signum: int, frame: Any) -> None:
        stopping.append(True)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    # Before the first fork: a SIGTERM that arrives while forking still reaches every worker.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    parent = os.getpid()
    for _ in range(options.workers):
        pid = os.fork()
        if pid == 0:  # the child serves, then exits without running the parent's cleanup
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                _orphan_watch(parent)
                _worker(deployment, sock, options, check, fetch=False)
            except BaseException:
                code = 3
            os._exit(code)
        children.append(pid)
    if stopping:  # stopped while forking: the last workers were not told yet
        stop(signal.SIGTERM, None)
    if check is not None and options.follow_interval:
        threading.Thread(
            target=_fetch_only, args=(check, options.follow_interval), daemon=True
        ).start()
    for pid in children:
        while True:
            try:
                os.waitpid(pid, 0)
                break
            except ChildProcessError:
                break
            except InterruptedError:
                continue


def _orphan_watch(parent: int) -> None:
    """A worker whose parent died (kill -9) stops too, instead of serving on alone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="mlgate-orphan-watch", daemon=True).start()


def _worker(
    deployment: Deployment,
    sock: socket.socket,
    options: Options,
    check: Check | None,
    *,
    fetch: bool,
) -> None:
    import uvicorn

    current = Current(deployment)
    requests = None
    if options.log_dir is not None:
        requests = RequestLog(
            options.log_dir, interval=options.log_interval, max_rows=options.log_rows
        )
    if check is not None and options.follow_interval:
        follow(current, check, options.follow_interval, fetch=fetch)
    app = build_app(current, max_body=options.max_body, requests=requests)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    if threading.current_thread() is threading.main_thread():
        # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again
        # through the handlers it found: ignored, so a stopped server exits 0.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        server.run(sockets=[sock])
    finally:
        if requests is not None:
            requests.close()
