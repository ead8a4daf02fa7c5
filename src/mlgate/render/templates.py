"""mlgate's Jinja2 templates: where they live, and their compiled form kept between runs.

The templates are inside the installed package (the wheel force-includes the top-level
``templates/``), else in the source checkout's ``templates/``. Compiling them costs more
than the rest of a warm ``mlgate check`` (~0.2 s of ``Environment.compile``), so compiled
templates are kept in the cache (``Layout.templates``), keyed by Jinja2's and mlgate's
versions and the environment's filters; Jinja checks each entry against a checksum of the
template's source, so an edited template is compiled again. Only the built-in templates
are cached: a template from the pull request (``report.template``) is compiled from its
text every time.

A compiled template is code that Jinja loads back with ``marshal``: the directory is used
only when it belongs to this user and no one else may write to it, else nothing is cached.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.storage.layout import Layout

if TYPE_CHECKING:
    import jinja2


@cache
def template_dir() -> Path:
    packaged = Path(__file__).resolve().parents[1] / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "templates"


def render_init(template: str, /, **values: object) -> str:
    """A file ``mlgate init`` writes (``templates/init/TEMPLATE``): plain text, no escaping."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir() / "init"),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    return env.get_template(template).render(**values)


def bytecode_cache(variant: str, layout: Layout | None = None) -> jinja2.BytecodeCache | None:
    """Jinja's file cache of compiled templates, or None when it cannot be used safely.

    ``variant`` names the environment's filters: Jinja folds constant expressions at
    compile time (``{{ "PASS" | paint("green") }}`` becomes its coloured text), so each
    set of filters needs its own compiled templates."""
    import jinja2

    from mlgate import __version__

    layout = layout or Layout.current()
    folder = layout.templates / f"jinja2-{jinja2.__version__}-mlgate-{__version__}-{variant}"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(folder):
            return None
    except OSError:
        return None  # a read-only cache: templates are compiled on every run, as before
    return jinja2.FileSystemBytecodeCache(str(folder))


def _private(folder: Path) -> bool:
    """Owned by this user and writable by no one else (as ssh demands of ~/.ssh)."""
    st = folder.stat()
    if os.name != "posix":
        return True
    return st.st_uid == os.getuid() and not st.st_mode & 0o022
