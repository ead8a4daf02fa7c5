"""Where mlgate's Jinja2 templates live: inside the installed package (the wheel
force-includes the top-level ``templates/``), else the source checkout's ``templates/``."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def template_dir() -> Path:
    packaged = Path(__file__).resolve().parent / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "templates"
