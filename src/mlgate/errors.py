"""The error tree. Every error carries the exit code the CLI returns for it.

Exit codes are part of the contract (DESIGN.md): 0 ok, 1 gate failed / promotion refused,
2 usage or config error, 3 any other failure (data, git, network, forge, training).
A failed gate is a result, not an exception.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    GATE_FAILED = 1
    USAGE = 2
    FAILURE = 3


class MlgateError(Exception):
    """Base class: a one-sentence message for the user plus an exit code."""

    exit_code: ExitCode = ExitCode.FAILURE


class UsageError(MlgateError):
    """Bad command line, not a git repository, unknown revision: the user must fix the call."""

    exit_code = ExitCode.USAGE


class ConfigError(MlgateError):
    """mlgate.yaml (or a pointer, or model params) is wrong. Carries where, when known."""

    exit_code = ExitCode.USAGE

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.detail}"

    def located(self, *, file: str, line: int | None) -> ConfigError:
        """The same error with a file and line filled in (e.g. from the config's YAML nodes)."""
        return ConfigError(self.detail, file=file, line=line, key=self.key)


class GitError(MlgateError):
    """A git operation failed for a reason other than the user's arguments."""


class DataError(MlgateError):
    """Data missing, corrupt, unreadable, or a storage backend failed."""


class TrainingError(MlgateError):
    """The estimator raised while fitting, predicting or scoring."""
