"""The HTTP boundary: the one place a ``requests`` session is made, for storage and forges.

``session`` (or ``mount`` on a session subclass) gives every request a default timeout, so
no call site can forget one, the retry policy its caller chose, and mlgate's User-Agent.
``redact_url`` is how a URL appears in any message: without credentials or query string.
``requests`` is imported only when a session is made: data commands that never go online
(``mlgate data status`` on a local store) must not pay for it.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import requests
    from urllib3.util.retry import Retry

Timeout = tuple[float, float]  # (connect, read) seconds
DEFAULT_TIMEOUT: Timeout = (10.0, 30.0)

S = TypeVar("S", bound="requests.Session")


def mount(session: S, *, retry: Retry, timeout: Timeout = DEFAULT_TIMEOUT) -> S:
    """Fit ``session`` with mlgate's adapter (``retry``, default ``timeout``) and User-Agent."""
    from mlgate import __version__

    adapter = _adapter_class()(timeout, retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = f"mlgate/{__version__}"
    return session


def session(*, retry: Retry, timeout: Timeout = DEFAULT_TIMEOUT) -> requests.Session:
    """A new plain session: see ``mount``."""
    import requests

    return mount(requests.Session(), retry=retry, timeout=timeout)


@functools.cache
def _adapter_class() -> Any:
    from requests.adapters import HTTPAdapter

    class TimeoutAdapter(HTTPAdapter):
        """Every request gets a timeout unless the call gives its own."""

        def __init__(self, timeout: Timeout, retry: Retry) -> None:
            self.timeout = timeout
            super().__init__(max_retries=retry)

        def send(self, request: Any, timeout: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
            return super().send(request, timeout=timeout or self.timeout, **kwargs)

    return TimeoutAdapter


def redact_url(url: str) -> str:
    """The URL without credentials or query string, which may hold tokens or signatures."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
