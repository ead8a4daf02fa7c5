"""A fork server for the training workers: scikit-learn, pandas and skops imported once.

A worker process spends ~2.5 s of CPU importing scikit-learn, pandas, scipy and skops
(skops walks every estimator) before it reads a byte of data. One process that runs
several workers (``check --all``, a promotion's retries, a library user's loop, the test
suite) pays that once with this server: a child of the process that imports those
libraries and then, per worker, forks a copy that runs the worker module as a fresh
``python -m`` would. The server imports no user code (each fork enters its own side's
code), so base and head stay as separate as before.

Requests travel over a socket pair passed at start (no path or port another user could
reach): a JSON line and, with SCM_RIGHTS, one end of a fresh socket pair per worker. That
socket carries the spec to the fork (its stdin) and ``pid N`` and ``exit CODE`` back. The
server exits when the parent goes (its end of the control socket closes).

Linux only (forking after these imports is unsafe on macOS, impossible on Windows); off
with ``MLGATE_FORK_WORKERS=0``. Anything else falls back to one ``subprocess`` per worker.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import io
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_lock = threading.Lock()
# One server per PYTHONPATH: it fixes the forks' sys.path, which a fresh process would
# build from the PYTHONPATH it is given.
_servers: dict[str, _Server] = {}


def enabled(environ: Mapping[str, str]) -> bool:
    return sys.platform == "linux" and environ.get("MLGATE_FORK_WORKERS", "1") != "0"


class Forked:
    """A worker forked by the server; the subset of ``subprocess.Popen`` the parent uses
    (``stdin``, ``poll``, ``wait``, ``kill``, ``returncode``)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = b""
        self.pid: int | None = None
        self.returncode: int | None = None
        self.stdin = _SocketWriter(sock)

    def _read_line(self, *, block: bool) -> str | None:
        while b"\n" not in self._buf:
            self._sock.setblocking(block)
            try:
                data = self._sock.recv(256)
            except BlockingIOError:
                return None
            finally:
                self._sock.setblocking(True)
            if not data:  # the server died: the fork's fate is unknown, report a crash
                self._buf += b"exit -9\n"
                continue
            self._buf += data
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def _step(self, *, block: bool) -> bool:
        """Read the next message (``pid N`` or ``exit CODE``); False if none is there yet."""
        line = self._read_line(block=block)
        if line is None:
            return False
        what, value = line.split()
        if what == "pid":
            self.pid = int(value)
        else:
            self.returncode = int(value)
            self._sock.close()
        return True

    def poll(self) -> int | None:
        while self.returncode is None and self._step(block=False):
            pass
        return self.returncode

    def wait(self) -> int:
        while self.returncode is None:
            self._step(block=True)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is not None:
            return
        if not self.stdin.sent:
            # No spec sent: the fork reads an empty stdin and ends at once, doing nothing,
            # so there is nothing to wait for (the server may still be importing).
            self.stdin.close()
            self._sock.close()
            self.returncode = -signal.SIGKILL
            return
        while self.pid is None and self.returncode is None:
            self._step(block=True)
        if self.returncode is None and self.pid is not None:
            # ProcessLookupError: it ended on its own; the server sends its exit next.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


class _SocketWriter:
    """The fork's stdin seen from the parent: ``close`` half-closes, so the fork reads EOF
    while its pid and exit code still come back on the same socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.closed = False
        self.sent = False

    def write(self, data: bytes) -> int:
        self._sock.sendall(data)
        self.sent = True  # something was sent: the fork is doing work
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(OSError):  # the server already closed it
                self._sock.shutdown(socket.SHUT_WR)


class _Server:
    def __init__(self, environ: Mapping[str, str], first: str) -> None:
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        code = (
            f"import sys; sys.path.pop(0); from {__name__} import serve; "
            f"serve({theirs.fileno()}, {first!r})"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd="/",
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        self._send_lock = threading.Lock()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def fork(
        self, module: str, argv: list[str], *, cwd: Path, env: Mapping[str, str], log: Path
    ) -> Forked:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        request = {
            "module": module,
            "argv": argv,
            "cwd": str(cwd),
            "env": dict(env),
            "log": str(log),
        }
        with self._send_lock:
            socket.send_fds(
                self._control, [json.dumps(request).encode() + b"\n"], [theirs.fileno()]
            )
        theirs.close()
        return Forked(ours)

    def close(self) -> None:
        """Stop the server at once: it holds no state, and it may be importing for workers
        that will never come. Forks still running are processes of their own."""
        self._control.close()
        self.proc.kill()
        self.proc.wait()


def fork_worker(
    module: str, argv: list[str], *, cwd: Path, env: Mapping[str, str], log: Path
) -> Forked | None:
    """The worker, forked by this process's server (started on first use); None when
    forking is off or the server cannot be used (the caller starts a process instead).
    ``env`` is the worker's whole environment, PYTHONPATH already leading to mlgate."""
    if not enabled(env):
        return None
    path = env.get("PYTHONPATH", "")
    with _lock:
        server = _servers.get(path)
        if server is None or not server.alive():
            try:
                server = _servers[path] = _Server(env, module)
            except OSError:
                return None
            atexit.register(server.close)
    try:
        return server.fork(module, argv, cwd=cwd, env=env, log=log)
    except OSError:
        return None


# --- the server ----------------------------------------------------------------------------


# The modules workers run; a module's ``warm_up()``, if it has one, imports what its
# workers need first.
WORKER_MODULES = ("mlgate.run.fit", "mlgate.run.probe")


def _preload(module: str) -> None:
    """What ``module``'s workers import first; a library that is missing is the worker's
    to report, when its spec needs it."""
    try:
        warm_up = getattr(importlib.import_module(module), "warm_up", None)
        if warm_up is not None:
            warm_up()
    except Exception:  # the fork imports it again and its log shows the traceback
        pass


def serve(control_fd: int, first: str) -> None:
    """Fork workers on request until the parent goes. Only the first request's module is
    preloaded before it is served (a lone ``validate`` probe must not wait for skops);
    the other worker modules' imports follow once it has been forked."""
    control = socket.socket(fileno=control_fd)
    _preload(first)
    rest = [m for m in WORKER_MODULES if m != first]
    children: dict[int, socket.socket] = {}
    # Reaped in the handler, which runs between bytecodes: while the server waits for a
    # request (the wait resumes after it) and while a preload imports, so a fork's exit
    # is reported at once.
    signal.signal(signal.SIGCHLD, lambda *_: _reap(children))
    sel = selectors.DefaultSelector()
    sel.register(control, selectors.EVENT_READ)
    pending = b""
    socks: list[socket.socket] = []  # the fds that came with the lines in ``pending``
    while True:
        sel.select()
        data, fds, _flags, _addr = socket.recv_fds(control, 1 << 16, 16)
        if not data:  # the parent is gone
            os._exit(0)
        pending += data
        socks += [socket.socket(fileno=fd) for fd in fds]
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            sock = socks.pop(0)
            # No reaping until the fork is known and its pid sent: "pid" before "exit".
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
            pid = os.fork()
            if pid == 0:
                _child(json.loads(line), sock, control, children)
            children[pid] = sock
            _say(sock, f"pid {pid}\n")
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        while rest and not sel.select(timeout=0):  # idle: ready the next kinds of worker
            _preload(rest.pop(0))


def _say(sock: socket.socket, text: str) -> None:
    with contextlib.suppress(OSError):  # the parent stopped listening for this worker
        sock.sendall(text.encode())


def _reap(children: dict[int, socket.socket]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock = children.pop(pid, None)
        if sock is not None:
            _say(sock, f"exit {os.waitstatus_to_exitcode(status)}\n")
            sock.close()


def _child(
    request: dict[str, Any],
    sock: socket.socket,
    control: socket.socket,
    children: Mapping[int, socket.socket],
) -> None:
    """In the fork: become ``python -m MODULE ARGV`` run from ``cwd`` with ``env``."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        control.close()
        for other in children.values():
            other.close()
        # The spec first: an empty one (the parent needed no work, and may be deleting the
        # work directory right now) ends the fork before it touches any file.
        with sock.makefile("rb") as spec:
            text = spec.read().decode()
        if not text:
            os._exit(0)
        sys.stdin = io.StringIO(text)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        sock.close()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        # What ``python -m`` puts first (the server dropped its own first entry at start).
        sys.path.insert(0, request["cwd"])
        sys.argv = [request["module"], *request["argv"]]
        _reseed()
        module = importlib.import_module(request["module"])
        code = module.child_main(request["argv"])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _reseed() -> None:
    """A fresh process seeds numpy's global generator from the OS; a fork inherits the
    server's, which would give every unseeded estimator the same randomness."""
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed()
