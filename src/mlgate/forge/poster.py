"""Forge writes from a CI run that degrade to a single warning when the token may not write
(a pull request from a fork gets a read-only token): the gate still decides the exit code."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from mlgate.core.units import shorten
from mlgate.forge import ForbiddenError, Forge, ForgeError, State
from mlgate.forge.env import FORGES, Change

T = TypeVar("T")


class Poster:
    """Comments and statuses for one change; ``forge`` None means no token was found."""

    def __init__(self, forge: Forge | None, change: Change, warn: Callable[[str], None]) -> None:
        self.forge, self.change, self.warn = forge, change, warn
        self.read_only = forge is None
        if forge is None:
            names = FORGES[change.forge].no_token_hint
            warn(f"no token ({names}): the report is only in the job log and the result file")

    def attempt(self, what: str, call: Callable[[Forge], T]) -> T | None:
        if self.read_only or self.forge is None:
            return None
        try:
            return call(self.forge)
        except ForbiddenError as e:
            self.read_only = True
            hint = (
                "expected for a pull request from a fork: the job summary has the report, and "
                "`mlgate publish` can post the saved result from a workflow_run workflow"
            )
            self.warn(f"the token may not {what} ({e}); {hint}")
            return None

    def status(self, state: State, context: str, description: str) -> None:
        self.attempt(
            "set commit statuses",
            lambda f: f.set_status(
                self.change.status_sha,
                state,
                context=context,
                description=shorten(description),
                target_url=self.change.run_url,
            ),
        )


def server_limit(error: ForgeError) -> int | None:
    """The body size a 422 "body is too long (maximum is N characters)" allows, if it says."""
    if error.status != 422:
        return None
    found = re.search(r"maximum is (\d+) characters", str(error))
    return int(found.group(1)) if found else None
