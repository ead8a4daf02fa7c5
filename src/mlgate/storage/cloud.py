"""Cloud object storage: ``s3://``, ``gs://`` and ``az://`` buckets, through obstore.

obstore (Rust's ``object_store``, the optional extra ``mlgate[cloud]``) is imported only
when such a URL is used. Objects sit at ``<prefix>/sha256/<2>/<62>`` like in every store.
Credentials and endpoint come from the standard environment (``AWS_ACCESS_KEY_ID``,
``AWS_ENDPOINT_URL``, ``GOOGLE_APPLICATION_CREDENTIALS``, ``AZURE_STORAGE_ACCOUNT_KEY`` …)
and, for S3, from the shared AWS files (``~/.aws/credentials``, ``~/.aws/config``,
``AWS_PROFILE``), a profile's ``credential_process``, SSO or role through boto3. No
message repeats a library error's text, which may quote a response body holding the
access key id: every failure is reduced to a reason mlgate words itself, raised ``from
None`` so even ``--debug`` shows no key material.

Uploads are hashed while they stream (the bytes are read once) and land only whole: a
file larger than one part goes up as a multipart upload that is completed only after its
last part was read and its sha256 matched, and aborted otherwise; a killed push leaves
an incomplete multipart upload, which S3 never shows as an object (a bucket lifecycle
rule ``AbortIncompleteMultipartUpload`` reclaims its parts). Downloads stream into the
caller's temp file, hashed on the way, and the caller verifies the digest before rename.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import threading
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from queue import Queue
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mlgate.errors import ConfigError, DataError
from mlgate.storage.objects import (
    HashMismatch,
    ObjectMissing,
    TransferError,
    object_relpath,
    short,
)

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig, S3Config

SCHEMES = ("s3", "gs", "az")
EXTRA = "pip install 'mlgate[cloud]'"

# Each part is read, hashed and queued while earlier ones upload (obstore runs up to
# CONCURRENCY of them at once). 8 MiB parts measured as fast as larger ones against a
# local server (benchmarks/bench_s3.py) and keep a 1 GiB upload at 128 parts, far below
# S3's 10,000.
PART = 8 << 20
CONCURRENCY = 8
READ_CHUNK = 1 << 20  # download chunks handed from the network to the hashing writer


def is_cloud_url(url: str) -> bool:
    return urlsplit(url).scheme.lower() in SCHEMES


def parse(url: str) -> tuple[str, str, str]:
    """``s3://bucket/a/b`` -> ("s3", "bucket", "a/b"); ConfigError naming what is wrong,
    never repeating a URL that carries credentials."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"a {scheme}:// storage URL holds only the bucket and a prefix; credentials "
            "come from the environment or the provider's config files, never the URL",
            key="storage",
        )
    bucket = parts.netloc
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]", bucket):
        raise ConfigError(
            f"{url!r} names no valid bucket; expected {scheme}://bucket/optional/prefix",
            key="storage",
        )
    prefix = parts.path.strip("/")
    if any(p in ("", ".", "..") for p in prefix.split("/")) and prefix:
        raise ConfigError(f"{url!r}: the prefix has an empty, . or .. part", key="storage")
    return scheme, bucket, prefix


class CloudBackend:
    """``s3://bucket/prefix`` (also ``gs://``, ``az://``): readable and writable."""

    writable = True

    def __init__(self, url: str, *, environ: Mapping[str, str] | None = None) -> None:
        self.scheme, self.bucket, self.prefix = parse(url)
        self.url = url.rstrip("/")
        self._environ = os.environ if environ is None else environ
        self._store: Any = None

    @property
    def where(self) -> str:
        return f"{self.scheme}://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")

    def store(self) -> Any:
        if self._store is None:
            self._store = open_store(self.scheme, self.bucket, self.prefix, self._environ)
        return self._store

    def get(self, sha256: str, dest: Path) -> str:
        return get_hashing(self.store(), _key(sha256), dest, where=self.where)

    def put(self, src: Path, sha256: str) -> None:
        put_hashing(self.store(), _key(sha256), src, sha256, where=self.where)

    def has(self, sha256: str) -> bool:
        return exists(self.store(), _key(sha256), where=self.where)


def _key(sha256: str) -> str:
    return object_relpath(sha256)


def object_at(url: str) -> tuple[Any, str, str]:
    """(store, key, bucket URL) for the URL of one object, ``s3://bucket/path/to/obj``
    (a DVC remote's object): the store is the bucket's, the key the rest."""
    scheme, bucket, key = parse(url)
    if not key:
        raise ConfigError(f"{url!r} names a bucket, not an object in it")
    where = f"{scheme}://{bucket}"
    return open_store(scheme, bucket, "", os.environ), key, where


# --- opening a store ---------------------------------------------------------------------


def open_store(scheme: str, bucket: str, prefix: str, environ: Mapping[str, str]) -> Any:
    """The obstore store for the bucket; ConfigError (exit 2) when obstore is missing or
    the credentials it was given cannot be used at all."""
    try:
        import obstore.store as stores
        from obstore.exceptions import BaseError
    except ImportError:
        raise DataError(f"{scheme}:// storage needs obstore; install it with {EXTRA}") from None
    options: ClientConfig = {
        "connect_timeout": timedelta(seconds=10),
        "timeout": timedelta(seconds=300),  # one request: a part, or a whole small object
    }
    retry: RetryConfig = {"max_retries": 2, "retry_timeout": timedelta(seconds=60)}
    where = f"{scheme}://{bucket}"
    try:
        if scheme == "s3":
            config = aws_config(environ)
            endpoint = config.get("endpoint") or environ.get("AWS_ENDPOINT_URL") or ""
            if endpoint.startswith("http://"):
                options["allow_http"] = True  # a local MinIO/Ceph: the user named plain http
            provider = None
            if "AWS_ACCESS_KEY_ID" not in environ and "access_key_id" not in config:
                provider = delegated_credentials(environ, where)
            return stores.S3Store(
                bucket,
                prefix=prefix or None,
                config=config or None,
                client_options=options,
                retry_config=retry,
                credential_provider=provider,
            )
        if scheme == "gs":
            return stores.GCSStore(
                bucket, prefix=prefix or None, client_options=options, retry_config=retry
            )
        return stores.AzureStore(
            bucket, prefix=prefix or None, client_options=options, retry_config=retry
        )
    except BaseError as e:
        raise DataError(f"cannot open {where}: {_reason(e, where)}") from None
    except (ValueError, OSError, TypeError) as e:
        raise DataError(f"cannot open {where}: {_reason(e, where)}") from None


def _profile(environ: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The AWS profile's name and its section of ``~/.aws/config``."""
    home = Path(environ.get("HOME", str(Path.home())))
    profile = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or "default"
    conf = _ini(Path(environ.get("AWS_CONFIG_FILE") or home / ".aws" / "config"))
    return profile, conf.get("default" if profile == "default" else f"profile {profile}", {})


def aws_config(environ: Mapping[str, str]) -> S3Config:
    """What obstore does not read itself: keys of the profile in the shared credentials
    file (when the environment has none) and the region and endpoint of ``~/.aws/config``.
    The environment always wins; obstore reads it."""
    home = Path(environ.get("HOME", str(Path.home())))
    profile, section = _profile(environ)
    found: S3Config = {}
    if (
        "AWS_REGION" not in environ
        and "AWS_DEFAULT_REGION" not in environ
        and section.get("region")
    ):
        found["region"] = section["region"]
    if "AWS_ENDPOINT_URL" not in environ and "AWS_ENDPOINT" not in environ:
        endpoint = section.get("endpoint_url")
        if endpoint:
            found["endpoint"] = endpoint
    if "AWS_ACCESS_KEY_ID" not in environ:
        creds = _ini(
            Path(environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
        ).get(profile, {})
        for key, name in (
            ("aws_access_key_id", "access_key_id"),
            ("aws_secret_access_key", "secret_access_key"),
            ("aws_session_token", "session_token"),
        ):
            if creds.get(key):
                found[name] = creds[key]  # type: ignore[literal-required]
    return found


# Profile settings whose credentials something else supplies: a command, SSO, a role.
_DELEGATED = (
    "credential_process",
    "sso_session",
    "sso_start_url",
    "role_arn",
    "web_identity_token_file",
)


def delegated_credentials(environ: Mapping[str, str], where: str) -> Any:
    """For a profile that gets its keys from a ``credential_process``, SSO or an assumed
    role: obstore's provider over a boto3 session of that profile (boto3 runs the process
    or refreshes the token; obstore asks again before they expire). None for any other
    profile (obstore's own chain: environment, instance and container metadata)."""
    profile, section = _profile(environ)
    how = next((key for key in _DELEGATED if section.get(key)), None)
    if how is None:
        return None
    try:
        import boto3
        from obstore.auth.boto3 import Boto3CredentialProvider
    except ImportError:
        raise DataError(
            f"the AWS profile {profile} gets its credentials through {how}, which needs "
            "boto3 (and Python 3.11+); install it with `pip install boto3`"
        ) from None
    try:
        return Boto3CredentialProvider(boto3.session.Session(profile_name=profile))
    except Exception as e:  # botocore's text may quote the process's output: not shown
        raise DataError(
            f"cannot open {where}: the AWS profile {profile} gave no credentials through "
            f"{how} ({type(e).__name__})"
        ) from None


def _ini(path: Path) -> dict[str, dict[str, str]]:
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}  # no such file: nothing from it
    except configparser.Error:
        # Said without the text: the file holds secrets.
        raise DataError(f"cannot read the AWS config file {path}: not valid INI") from None
    return {name: dict(parser.items(name)) for name in parser.sections()}


# --- transfers ---------------------------------------------------------------------------


def exists(store: Any, key: str, *, where: str) -> bool:
    """Whether the object is there (a HEAD); DataError when that cannot be known."""
    import obstore
    from obstore.exceptions import BaseError, NotFoundError

    try:
        obstore.head(store, key)
    except (NotFoundError, FileNotFoundError):
        return False
    except BaseError as e:
        raise DataError(f"cannot look up {key} in {where}: {_reason(e, where)}") from None
    return True


def get_hashing(store: Any, key: str, dest: Path, *, where: str) -> str:
    """Stream the object into ``dest`` and return the sha256 of the bytes written.

    The network is read on this thread (obstore releases the GIL while it waits) and a
    writer thread hashes and writes each chunk, so hashing overlaps the download.
    ``also``: the user's copy (``data pull``'s working-tree file): the bytes stream there,
    are flushed to disk, and ``dest`` (the cache's) is a kernel copy of them.
    ObjectMissing when absent, TransferError when the transfer fails."""
    import obstore
    from obstore.exceptions import BaseError, NotFoundError

    queue: Queue[Any] = Queue(maxsize=16)
    h = hashlib.sha256()
    failure: list[BaseException] = []

    def write() -> None:
        try:
            with dest.open("wb") as f:
                while (chunk := queue.get()) is not None:
                    h.update(chunk)
                    f.write(chunk)
        except BaseException as e:  # reported to the reading thread
            failure.append(e)
            while queue.get() is not None:  # drain so the reader never blocks
                pass

    writer = threading.Thread(target=write, name="mlgate-download")
    writer.start()
    try:
        for chunk in obstore.get(store, key).stream(min_chunk_size=READ_CHUNK):
            if failure:
                break
            queue.put(chunk)
    except (NotFoundError, FileNotFoundError):
        raise ObjectMissing(f"{key} not found in {where}", reason="absent") from None
    except BaseError as e:
        reason = _reason(e, where)
        raise TransferError(
            f"downloading {key} from {where} failed: {reason}", reason=reason
        ) from None
    finally:
        queue.put(None)
        writer.join()
    if failure:
        raise failure[0]
    return h.hexdigest()


def put_hashing(store: Any, key: str, src: Path, sha256: str, *, where: str) -> None:
    """Upload ``src`` as ``key``, hashed while it streams; HashMismatch (nothing stored,
    the multipart upload aborted) when its bytes are not ``sha256``."""
    import obstore
    from obstore.exceptions import BaseError

    mismatch: list[HashMismatch] = []

    def parts(f: Any) -> Iterator[bytes]:
        h = hashlib.sha256()
        while chunk := f.read(PART):
            h.update(chunk)
            yield chunk
        actual = h.hexdigest()
        if actual != sha256:
            # Raised into obstore's upload, which then aborts it instead of completing.
            mismatch.append(_mismatch(src, actual, sha256))
            raise mismatch[-1]

    try:
        with src.open("rb") as f:
            if os.fstat(f.fileno()).st_size <= PART:
                data = f.read()
                actual = hashlib.sha256(data).hexdigest()
                if actual != sha256:
                    raise _mismatch(src, actual, sha256)
                obstore.put(store, key, data, use_multipart=False)
            else:
                obstore.put(
                    store,
                    key,
                    parts(f),
                    use_multipart=True,
                    chunk_size=PART,
                    max_concurrency=CONCURRENCY,
                )
    except BaseError as e:
        if mismatch:
            raise mismatch[-1] from None
        raise DataError(f"cannot upload {key} to {where}: {_reason(e, where)}") from None
    except OSError as e:
        raise DataError(f"cannot upload {src} to {where}: {e.strerror or e}") from e
    if mismatch:
        raise mismatch[-1]


def _mismatch(src: Path, actual: str, sha256: str) -> HashMismatch:
    return HashMismatch(
        f"{src} has sha256 {short(actual)}, expected {short(sha256)}; it changed while "
        "being uploaded, or its pointer is stale",
        reason=f"sha256 {short(actual)} differs",
    )


# --- errors, in mlgate's words -----------------------------------------------------------

_CREDENTIALS = (
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "InvalidToken",
    "ExpiredToken",
    "AuthenticationFailed",
    "AuthorizationFailure",
    "invalid_grant",
    "status: 401",
    "status: 403",
    "401 Unauthorized",
    "403 Forbidden",
)


def _reason(e: BaseException, where: str) -> str:
    """Why a call failed, from the error's class and a few codes in its text, which
    itself is never shown (it may quote a response body with the access key id)."""
    name = type(e).__name__
    text = str(e)
    bucket = where.split("://", 1)[-1].split("/", 1)[0]
    if name in ("PermissionDeniedError", "UnauthenticatedError") or any(
        c in text for c in _CREDENTIALS
    ):
        return (
            f"the credentials were refused for bucket {bucket} (check AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, the profile, or the provider's credentials)"
        )
    if "NoSuchBucket" in text or "ContainerNotFound" in text:
        return f"no bucket {bucket}"
    if re.search(
        r"(?i)credential|service account|private key|access key|rsa key|invalidkey|pem", text
    ):
        return f"no usable credentials for bucket {bucket} (environment or config files)"
    if re.search(r"(?i)error sending request|connection refused|dns error|timed out", text):
        return "cannot connect to the storage endpoint"
    status = re.search(r"status:? (\d{3})", text)
    if status:
        return f"HTTP {status.group(1)}"
    return name
