"""A real S3-compatible server on 127.0.0.1 for tests and benchmarks: moto's, in its own
process (so its CPU work never holds the test's GIL), on a port the OS picks.

    with moto_server() as s3:
        s3.client().create_bucket(Bucket="store")
        env = s3.environ()   # AWS_ENDPOINT_URL, test credentials, region

``auth=True`` starts it with moto's IAM checks on from the first request
(``INITIAL_NO_AUTH_ACTION_COUNT=0``): any access key it did not issue is refused with 403
InvalidAccessKeyId, as AWS does. ``stalling_proxy`` forwards to it and stops forwarding
request bytes after a budget, so an upload can be caught (and killed) mid-way.

Run as a script (``python -m fakes.s3``), it serves until its stdin closes, printing the port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

ACCESS_KEY = "AKIATESTTESTTESTTEST"
SECRET_KEY = "testSecretKeyThatMustNeverBePrinted0123456"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    url: str  # http://127.0.0.1:PORT

    def environ(self, **overrides: str) -> dict[str, str]:
        env = {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            # Never ask an instance metadata service (169.254.169.254) for credentials.
            "AWS_METADATA_ENDPOINT": "http://127.0.0.1:9",
        }
        env.update(overrides)
        return env

    def client(self) -> Any:
        import boto3

        # A session of its own: boto3's default one keeps the first HOME's profiles.
        session = boto3.session.Session(
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
        )
        return session.client("s3", endpoint_url=self.url)


@contextmanager
def moto_server(*, auth: bool = False) -> Iterator[S3Server]:
    env = dict(os.environ)
    if auth:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = here + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakes.s3"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        proc.kill()
        proc.wait()


@dataclass
class Stall:
    url: str
    stalled: threading.Event  # set once the budget is used up and forwarding stopped


@contextmanager
def stalling_proxy(target: str, *, budget: int) -> Iterator[Stall]:
    """A TCP proxy to ``target`` that forwards at most ``budget`` request bytes in all,
    then holds every connection open without forwarding more (a network that hangs)."""
    host, port = target.removeprefix("http://").split(":")
    listener = socket.create_server(("127.0.0.1", 0))
    stall = Stall(f"http://127.0.0.1:{listener.getsockname()[1]}", threading.Event())
    left = [budget]
    lock = threading.Lock()
    stop = threading.Event()

    def pipe(src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        try:
            while not stop.is_set():
                data = src.recv(65536)
                if not data:
                    break
                if upstream:
                    with lock:
                        allowed = max(0, min(len(data), left[0]))
                        left[0] -= allowed
                    if allowed < len(data):
                        dst.sendall(data[:allowed])
                        stall.stalled.set()
                        stop.wait()
                        return
                dst.sendall(data)
        except OSError:
            pass

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection((host, int(port)))
            for a, b, up in ((client, server, True), (server, client, False)):
                threading.Thread(target=pipe, args=(a, b, up), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield stall
    finally:
        stop.set()
        listener.close()


def _main() -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(server.get_host_and_port()[1], flush=True)
    sys.stdin.read()  # until the parent closes it or dies
    server.stop()


if __name__ == "__main__":
    _main()
