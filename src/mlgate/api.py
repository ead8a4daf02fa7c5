"""The library facade: mlgate's commands as typed functions that return results and print
nothing (the CLI is one caller of these). Importing it loads the core, not the renderers
or the forges; ``render``/``render_history`` import jinja2 when called.

    from mlgate import api
    result = api.check(".", base="main")
    for model in api.check_all(".", base="main"):  # every model of a monorepo
        print(model.config, model.exit_code)
    print(api.render(result, "markdown"))
    health = api.monitor(".", data=["logs/"])  # the production model on a live batch
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlgate.commands.check import run_check as check
from mlgate.commands.history import list_versions as history
from mlgate.commands.matrix import Checked, check_all
from mlgate.commands.promote import promote, rollback
from mlgate.core.config import Config, load_path
from mlgate.core.results import CheckResult, Outcome, summary_lines
from mlgate.errors import ConfigError, DataError, ExitCode, GitError, MlgateError, UsageError

if TYPE_CHECKING:
    import http.server
    import os
    from collections.abc import Sequence

    from mlgate.commands.site import Built
    from mlgate.core.monitor import MonitorResult
    from mlgate.render.report import Format

__all__ = [
    "CheckResult",
    "Checked",
    "Config",
    "ConfigError",
    "DataError",
    "ExitCode",
    "GitError",
    "MlgateError",
    "Outcome",
    "UsageError",
    "check",
    "check_all",
    "history",
    "load_path",
    "monitor",
    "promote",
    "render",
    "rollback",
    "site",
    "summary_lines",
    "ui_server",
]


def render(result: CheckResult, fmt: Format = "markdown", **options: Any) -> str:
    """A check's report as ``text``, ``markdown`` or ``json`` (see render.report.render)."""
    from mlgate.render.report import render as render_report  # jinja2: only when rendering

    return render_report(result, fmt, **options)


def site(cwd: str | os.PathLike[str] = ".", out: str = "site", **options: Any) -> Built:
    """Build ``mlgate site`` into ``out``; a no-op when its inputs are unchanged (see
    commands.site.build: ``config_path``, ``force``)."""
    from mlgate.commands.site import build  # the renderers: only when a site is built

    return build(cwd, out, **options)


def ui_server(cwd: str | os.PathLike[str] = ".", **options: Any) -> http.server.ThreadingHTTPServer:
    """``mlgate ui``'s server, built and bound to 127.0.0.1 (see commands.site.ui_server);
    the caller runs ``serve_forever``."""
    from mlgate.commands.site import ui_server as server  # likewise

    return server(cwd, **options)


def monitor(
    cwd: str,
    *,
    data: Sequence[str],
    name: str | None = None,
    labels: str | None = None,
    **options: Any,
) -> MonitorResult:
    """The production model's health on a batch of live data (see commands.monitor.monitor):
    drift per feature and of its predictions, and live metrics when ``labels`` is given."""
    from mlgate.commands.monitor import monitor as run_monitor  # numpy: only when monitoring

    return run_monitor(cwd, data=data, name=name, labels=labels, **options)
