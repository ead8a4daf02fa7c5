"""Units people read: sizes in binary units, and text cut to a length (commit status
descriptions, error bodies). Shared by the CLI, renderers and forges; no imports."""

from __future__ import annotations


def fmt_size(size: float) -> str:
    """Bytes in binary units: ``512 B``, ``1.5 KiB``, ``2.0 MiB``."""
    amount = float(size)
    if abs(amount) < 1024:
        return f"{amount:.0f} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        amount /= 1024
        if abs(amount) < 1024 or unit == "TiB":
            return f"{amount:.1f} {unit}"
    raise AssertionError("unreachable")


def cut(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters, ending in "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shorten(text: str, limit: int = 140) -> str:
    """``text`` on one line (whitespace runs become one space), cut to ``limit`` (140:
    the longest commit status description GitHub accepts)."""
    return cut(" ".join(text.split()), limit)


def escaped(text: str, limit: int = 60) -> str:
    """Text from a file (a column name, a value) for a message: cut to ``limit``, control
    characters escaped as Python writes them (``a\\x1bb``), so it stays on its line."""
    return repr(cut(text, limit))[1:-1]


def names(found: list[str], most: int = 20, limit: int = 60) -> str:
    """``found`` for a one-line message: the first ``most``, each ``escaped``, then how
    many more; a file's column names are its content and must not flood an error."""
    shown = ", ".join(escaped(name, limit) for name in found[:most])
    rest = len(found) - most
    return f"{shown} and {rest} more" if rest > 0 else shown
