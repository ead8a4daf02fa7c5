"""Compiled templates are kept in the cache: a later process renders without compiling,
each set of filters has its own, and a directory others may write to is never used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlgate.render.templates import bytecode_cache
from mlgate.storage.layout import Layout

RENDER = """
import sys, time
import jinja2.environment as env
compiled = []
original = env.Environment.compile
def counting(self, *a, **k):
    compiled.append(a[1] if len(a) > 1 else k.get("name"))
    return original(self, *a, **k)
env.Environment.compile = counting
from mlgate.render.report import _environment
for color, markdown in ((False, False), (True, False), (False, True)):
    e = _environment(color=color, markdown=markdown)
    e.get_template("report.txt.j2")
    e.get_template("report.md.j2")
print(len(compiled))
"""


def compiles(cache: Path) -> int:
    env = {**os.environ, "MLGATE_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", RENDER], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1])


def test_a_second_process_compiles_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = compiles(cache)
    assert first >= 4  # both templates (and their includes), once per filter set
    assert compiles(cache) == 0
    folders = sorted(p.name.rsplit("-", 1)[1] for p in Layout(cache).templates.iterdir())
    # Jinja folds constants through filters, and markdown's escaping is compiled in.
    assert folders == ["color", "markdown", "plain"]


def test_a_directory_others_may_write_to_is_not_used(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "cache")
    assert bytecode_cache("plain", layout) is not None
    (folder,) = layout.templates.iterdir()
    folder.chmod(0o777)
    assert bytecode_cache("plain", layout) is None
    folder.chmod(0o700)
    assert bytecode_cache("plain", layout) is not None


def test_a_read_only_cache_only_costs_the_compiling(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    assert bytecode_cache("plain", Layout(blocked)) is None
