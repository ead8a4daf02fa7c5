"""Human-readable sizes, shared by the CLI and the report without importing jinja2."""

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
