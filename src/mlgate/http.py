"""The HTTP boundary: the one place a ``requests`` session is made, for storage and forges.

``session`` (or ``mount`` on a session subclass) gives every request a default timeout, so
no call site can forget one, the retry policy its caller chose, and mlgate's User-Agent.
``redact_url`` is how a URL appears in any message: without credentials or query string;
``redact`` takes secrets out of any text, and ``api_url`` checks a forge's base URL before a
token is sent to it.
``requests`` is imported only when a session is made: data commands that never go online
(``mlgate data status`` on a local store) must not pay for it.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from mlgate.errors import UsageError

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
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[": none of it is shown, it may hold a secret
        return "(a URL that cannot be parsed)"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with each secret replaced by ``***``: as it is, URL-encoded, without
    surrounding whitespace, and as ``repr`` shows it (a token ending in a newline)."""
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        forms = {secret, quote(secret, safe=""), quote(secret), secret.strip(), repr(secret)[1:-1]}
        for form in sorted(filter(None, forms), key=len, reverse=True):
            text = text.replace(form, "***")
    return text


def api_url(value: str, name: str, example: str) -> str:
    """``value``, the setting ``name`` (``GITHUB_API_URL``), as the base URL of an API a
    token is sent to: http(s), a host, a valid port, no credentials, query or fragment.
    Checked before any request, so no library error can carry the value (which may hold a
    secret) into a message or a traceback; the error does not repeat it either."""
    try:
        parts = urlsplit(value)
        host_port = parts.netloc.rpartition("@")[2]
        valid = parts.port is not None or ":" not in host_port.rpartition("]")[2]
    except ValueError:  # a port out of range, an unbalanced "[", a host NFKC changes
        parts, valid = None, False
    if parts is None or not valid:
        problem = "cannot be parsed as a URL"
    elif parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "is not an http(s) URL with a host"
    elif "@" in parts.netloc:
        problem = "holds credentials (the token has its own variable)"
    elif parts.query or parts.fragment or any(c.isspace() or not c.isprintable() for c in value):
        problem = "has a query, a fragment, spaces or control characters"
    else:
        return value.rstrip("/")
    raise UsageError(f"{name} {problem}; set it to the API's base URL, like {example}")
