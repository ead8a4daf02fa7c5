"""``mlgate monitor`` output: text for the terminal, markdown (its first line the marker
``<!-- mlgate:monitor model=<name> -->``, for the sticky issue) and JSON, the machine twin
(``schema/monitor.schema.json``). The templates are ``templates/monitor.md.j2`` and
``monitor.txt.j2``, rendered in the report's sandboxed environment: column names and paths
come from the data, so they are printed through ``md``/``plain``."""

from __future__ import annotations

import json
from typing import Literal

from mlgate.core.monitor import MonitorResult, marker
from mlgate.render.report import environment

Format = Literal["text", "markdown", "json"]
TOP = 10  # the most drifted columns shown in text and markdown (the JSON has all)


def render(result: MonitorResult, fmt: Format, *, color: bool = False) -> str:
    document = result.to_dict()
    if fmt == "json":
        return json.dumps(document, indent=2, sort_keys=False) + "\n"
    if fmt not in ("text", "markdown"):
        raise ValueError(f"unknown monitor format {fmt!r}")
    markdown = fmt == "markdown"
    env = environment(color=color and not markdown, markdown=markdown)
    template = env.get_template("monitor.md.j2" if markdown else "monitor.txt.j2")
    body = template.render(report=document, top=TOP)
    text = body.strip() + "\n"
    return f"{marker(result.model)}\n{text}" if markdown else text
