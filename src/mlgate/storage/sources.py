"""A pointer's ``source``: where ``mlgate data bump`` gets the newest bytes of its file.

A source is a URL (``file://`` or ``http(s)://``, downloaded through ``backends.download``,
so through ``mlgate/http.py``), or a command as a list of arguments: run without a shell,
in the repository root, with a timeout; it writes the new file to ``$MLGATE_OUTPUT`` (a temp
path), or else to its standard output. The pointer is repository content: the command is
the one the committed pointer names, run by whoever runs ``data bump`` in that checkout.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Collection
from pathlib import Path

from mlgate.errors import DataError
from mlgate.http import redact_url
from mlgate.storage.backends import download
from mlgate.storage.objects import TransferError

DEFAULT_TIMEOUT = 3600.0  # seconds a source command may run


def shown(source: str | tuple[str, ...]) -> str:
    """How a source appears in messages: a URL without secrets, a command by its program."""
    if isinstance(source, str):
        return redact_url(source)
    return f"command `{Path(source[0]).name}`"


def obtain(
    source: str | tuple[str, ...],
    dest: Path,
    *,
    root: Path,
    timeout: float = DEFAULT_TIMEOUT,
    hidden: Collection[str] = (),
) -> None:
    """Put the source's bytes at ``dest`` (an existing empty temp file); DataError else.
    A command runs without the environment variables named in ``hidden`` (forge tokens)."""
    if isinstance(source, str):
        try:
            download(source, dest)
        except TransferError as e:
            raise DataError(f"source {shown(source)} failed: {e.reason}") from e
        return
    _run(source, dest, root=root, timeout=timeout, hidden=hidden)


def _run(
    argv: tuple[str, ...], dest: Path, *, root: Path, timeout: float, hidden: Collection[str]
) -> None:
    what = shown(argv)
    out = dest.with_name(dest.name + ".out")
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env["MLGATE_OUTPUT"] = str(out)
    try:
        with dest.open("wb") as stdout:
            done = subprocess.run(
                list(argv),
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.PIPE,
                env=env,
                timeout=timeout,
                check=False,
            )
        if done.returncode != 0:
            last = _last_line(done.stderr)
            raise DataError(
                f"source {what} failed with exit code {done.returncode}"
                + (f": {last}" if last else "")
            )
        if out.exists():  # it wrote the file it was given: that is the result
            os.replace(out, dest)
    except subprocess.TimeoutExpired as e:
        raise DataError(f"source {what} did not finish within {timeout:g} s") from e
    except FileNotFoundError as e:
        raise DataError(f"source {what} cannot run: {argv[0]} not found") from e
    except PermissionError as e:
        raise DataError(f"source {what} cannot run: {argv[0]} is not executable") from e
    except OSError as e:
        raise DataError(f"source {what} cannot run: {e.strerror or e}") from e
    finally:
        out.unlink(missing_ok=True)


def _last_line(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""
