"""Storage backends: the places objects live besides the local cache, addressed by sha256.

``file://`` (a directory: local disk or a mount) is readable and writable; ``http(s)://``
is read-only; ``s3://``, ``gs://`` and ``az://`` buckets (storage/cloud.py, through the
optional obstore) are readable and writable. Objects sit at ``<prefix>/sha256/<2>/<62>``.
Downloads stream into a temp file and are verified by the caller before they land anywhere.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlsplit

from mlgate import http
from mlgate.errors import ConfigError, DataError
from mlgate.http import redact_url
from mlgate.storage import cloud
from mlgate.storage.files import temp_beside
from mlgate.storage.objects import (
    ObjectMissing,
    TransferError,
    copy_verified,
    intact,
    object_relpath,
)

if TYPE_CHECKING:
    import requests

CHUNK = 1 << 20


HTTP_TIMEOUT = (10.0, 60.0)  # seconds: to connect, and between two reads of the body


SCHEMES = ("file://", "http://", "https://", "s3://", "gs://", "az://")


def _url_path(path: str) -> str:
    """A file URL's path as a local path (urllib.request costs 15 ms to import)."""
    if os.name == "nt":
        from urllib.request import url2pathname

        return str(url2pathname(path))
    return unquote(path)


class Backend(Protocol):
    """A place objects are stored, addressed by sha256."""

    url: str
    writable: bool

    def get(self, sha256: str, dest: Path) -> str | None:
        """Write the object to ``dest``; ObjectMissing when absent, TransferError on failure.
        Returns the sha256 of the bytes written when it hashed them on the way (the caller
        then checks that instead of reading them again), else None."""
        ...

    def put(self, src: Path, sha256: str) -> None:
        """Store ``src`` (verified against ``sha256``) as the object; DataError when read-only."""
        ...

    def has(self, sha256: str) -> bool:
        """Whether the object is there; DataError when that cannot be known."""
        ...


class FileBackend:
    """``file:///path``: a directory (local disk or a mount), readable and writable."""

    writable = True

    def __init__(self, url: str, *, removed: list[Path] | None = None) -> None:
        self.url = url
        self.root = file_url_path(url)
        # Temp files of killed pushes that puts removed (older than STALE_AFTER), for the output.
        self.removed = removed if removed is not None else []

    def path_for(self, sha256: str) -> Path:
        return self.root / object_relpath(sha256)

    def get(self, sha256: str, dest: Path) -> str | None:
        copy_file(self.path_for(sha256), dest, where=f"storage {self.url}")
        return None

    def put(self, src: Path, sha256: str) -> None:
        final = self.path_for(sha256)
        # No lock: the name is the content, so two writers racing both rename identical,
        # verified bytes into place, and a shared store stays free of lock files.
        try:
            if intact(final, sha256):
                return
            with temp_beside(final, removed=self.removed) as tmp:
                copy_verified(src, tmp, sha256)
                os.replace(tmp, final)
        except OSError as e:
            raise DataError(f"cannot write {final} to storage {self.url}: {e.strerror}") from e

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()


class HttpBackend:
    """``http(s)://host/prefix``: read-only, objects at ``<prefix>/sha256/<2>/<62>``."""

    writable = False

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def object_url(self, sha256: str) -> str:
        return f"{self.url}/{object_relpath(sha256)}"

    def get(self, sha256: str, dest: Path) -> str | None:
        download(self.object_url(sha256), dest)
        return None

    def put(self, src: Path, sha256: str) -> None:
        raise DataError(
            f"http storage is read-only: cannot upload to {redact_url(self.url)}; "
            "push to file:// or bucket storage instead"
        )

    def has(self, sha256: str) -> bool:
        return exists(self.object_url(sha256))


def backend_for(url: str, *, removed: list[Path] | None = None) -> Backend:
    """The backend for a storage URL; ConfigError (exit 2) for an unsupported scheme.
    A writable one adds the stale temp files its writes remove to ``removed``."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        return FileBackend(url, removed=removed)
    if scheme in ("http", "https"):
        return HttpBackend(url)
    if scheme in cloud.SCHEMES:
        return cloud.CloudBackend(url)
    raise ConfigError(
        f"unsupported storage URL {redact_url(url)!r}; supported schemes: {', '.join(SCHEMES)}",
        key="storage",
    )


def file_url_path(url: str) -> Path:
    """``file:///srv/store`` -> ``/srv/store``; ConfigError for a remote host or relative path."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigError(
            f"file URL {url!r} names host {parts.netloc!r}; use file:///absolute/path",
            key="storage",
        )
    path = Path(_url_path(parts.path))
    if not parts.path or not path.is_absolute():
        raise ConfigError(f"file URL {url!r} needs an absolute path (file:///srv/store)")
    return path


def exists(url: str) -> bool:
    """Whether ``url`` (file://, http(s)://, or an object in a bucket) has something to
    download, without downloading it (a stat, or a HEAD); DataError when that cannot be
    known."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        return file_url_path(url).is_file()
    if scheme in cloud.SCHEMES:
        store, key, where = cloud.object_at(url)
        return cloud.exists(store, key, where=where)
    if scheme not in ("http", "https"):
        raise DataError(f"cannot tell whether {redact_url(url)} exists: unsupported scheme")
    import requests

    try:
        with http_session() as session:
            resp = session.head(url, allow_redirects=True)
    except requests.RequestException as e:
        raise DataError(f"cannot reach {redact_url(url)}: {_why(e)}") from e
    if resp.status_code in (404, 410):
        return False
    if resp.status_code == 200:
        return True
    raise DataError(f"cannot tell whether {redact_url(url)} exists: HTTP {resp.status_code}")


def copy_file(src: Path, dest: Path, *, where: str) -> None:
    """Copy ``src`` over ``dest``; ObjectMissing when ``src`` is absent."""
    try:
        shutil.copyfile(src, dest)
    except FileNotFoundError as e:
        raise ObjectMissing(f"{src} not found in {where}", reason="absent") from e
    except OSError as e:
        raise TransferError(
            f"cannot read {src} from {where}: {e.strerror}", reason=str(e.strerror)
        ) from e


def http_session() -> requests.Session:
    """Storage's session: retries on connection errors and 5xx, for GET/HEAD only."""
    from urllib3.util.retry import Retry

    retry = Retry(
        total=2,
        read=0,  # a body cut off mid-way is reported, not silently re-downloaded
        backoff_factor=0.2,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
    )
    return http.session(retry=retry)


def download(url: str, dest: Path) -> str | None:
    """Stream ``url`` into ``dest`` in chunks; ObjectMissing on 404/410, TransferError else.
    The sha256 of the bytes written when they were hashed on the way (a bucket's), else None."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        copy_file(file_url_path(url), dest, where=redact_url(url))
        return None
    if scheme in cloud.SCHEMES:
        store, key, where = cloud.object_at(url)
        return cloud.get_hashing(store, key, dest, where=where)
    if scheme not in ("http", "https"):
        raise TransferError(
            f"cannot download {redact_url(url)}: unsupported scheme", reason="unsupported scheme"
        )
    _http_download(url, dest)
    return None


def _http_download(url: str, dest: Path) -> None:
    import requests

    shown = redact_url(url)
    # identity: we hash the stored bytes, so ask the server not to re-encode them on the way.
    headers = {"Accept-Encoding": "identity"}
    try:
        with (
            http_session() as session,
            session.get(url, stream=True, headers=headers) as resp,
        ):
            _check_status(resp, shown)
            written = _write_body(resp, dest)
            expected = resp.headers.get("Content-Length")
            encoded = "Content-Encoding" in resp.headers
    except requests.RequestException as e:
        raise TransferError(f"downloading {shown} failed: {_why(e)}", reason=_why(e)) from e
    # urllib3 already enforces Content-Length; this is a second net for other stacks.
    if expected is not None and expected.isdigit() and not encoded and int(expected) != written:
        reason = f"download cut off after {written} of {expected} bytes"
        raise TransferError(f"downloading {shown} failed: {reason}", reason=reason)


def _check_status(resp: requests.Response, shown: str) -> None:
    code = resp.status_code
    if code in (404, 410):
        raise ObjectMissing(f"{shown} not found (HTTP {code})", reason=f"HTTP {code}")
    if code != 200:
        raise TransferError(f"downloading {shown} failed: HTTP {code}", reason=f"HTTP {code}")


def _write_body(resp: requests.Response, dest: Path) -> int:
    written = 0
    with dest.open("wb") as f:
        for chunk in resp.iter_content(CHUNK):
            f.write(chunk)
            written += len(chunk)
    return written


def _why(e: Exception) -> str:
    import requests

    if isinstance(e, requests.Timeout):
        return "timed out"
    if isinstance(e, requests.ConnectionError):
        return "connection failed"
    if isinstance(e, requests.exceptions.ChunkedEncodingError):
        return "download cut off (connection closed early)"
    return type(e).__name__
