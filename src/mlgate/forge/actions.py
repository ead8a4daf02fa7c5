"""GitHub Actions' files and workflow commands: step outputs, the job summary, annotations."""

from __future__ import annotations

import uuid
from collections.abc import Mapping


def escape_data(text: str) -> str:
    """Workflow-command data: %, CR and LF must be escaped or they end the command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def write_outputs(path: str, outputs: Mapping[str, str]) -> None:
    """Append to GITHUB_OUTPUT with a random heredoc delimiter: multi-line safe."""
    with open(path, "a", encoding="utf-8") as f:
        for name, value in outputs.items():
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            f.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def append_summary(path: str, markdown: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(markdown if markdown.endswith("\n") else markdown + "\n")
