"""``mlgate init --hooks`` / ``--git-hook``: the gate before you commit and push.

``--hooks`` adds mlgate's two hooks (``mlgate-validate`` on commit, ``mlgate-check`` on
push) to the repository's ``.pre-commit-config.yaml``, creating it or extending it as text:
the new entry is inserted at the end of ``repos:`` and every byte already there stays as
it was (pyyaml's dumper would drop the comments), then the result is parsed to prove it
means the old file plus that entry. ``--git-hook`` writes a plain ``pre-push`` script for
teams without pre-commit; it carries a marker line, so init rewrites its own hook (adding
a model's config) and refuses anyone else's, saying how to chain the two.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from mlgate import git
from mlgate.core import config as config_mod
from mlgate.errors import UsageError
from mlgate.render.templates import render_init
from mlgate.storage.files import atomic_write

PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"
HOOK_IDS = ("mlgate-validate", "mlgate-check")
GIT_HOOK_MARKER = "# mlgate pre-push hook, written by `mlgate init --git-hook`"
_CONFIGS_LINE = "for config in "
PRE_COMMIT_INSTALL = "pre-commit install --hook-type pre-commit --hook-type pre-push"
# What `mlgate validate` reads besides the config: pointers, DVC files, model code, params.
_INPUTS = r"[^/]+\.(ptr|dvc|py)|params\.ya?ml|dvc\.(yaml|lock)|MLproject"

Action = Literal["created", "extended", "updated", "unchanged"]


@dataclass(frozen=True)
class Installed:
    path: Path
    action: Action
    config: str  # the model's config, repository-relative
    next_steps: tuple[str, ...]


def _config(cwd: Path) -> tuple[Path, str]:
    """The repository root and the config of the model where ``cwd`` stands."""
    root = git.toplevel(cwd)
    rel = git.config_path(cwd, config_mod.DEFAULT_CONFIG)
    if not (root / rel).is_file():
        raise UsageError(
            f"no {rel} in {root}: the hooks run the gate it defines; "
            "run `mlgate init` first, then `mlgate init --hooks`"
        )
    return root, rel


def _single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def files_pattern(config: str) -> str:
    """The validate hook's ``files:`` regex: the config and what it reads under its
    directory (pre-commit matches repository-relative paths)."""
    directory, _, name = config.rpartition("/")
    prefix = re.escape(directory + "/") if directory else ""
    return f"^{prefix}(.*/)?({re.escape(name)}|{_INPUTS})$"


def hooks_entry(config: str) -> str:
    """The ``repos:`` entry for ``config`` (repository-relative), unindented."""
    args = "" if config == config_mod.DEFAULT_CONFIG else f"['-c', {_single_quoted(config)}]"
    return render_init(
        "pre-commit-repo.yaml.j2", files=_single_quoted(files_pattern(config)), args=args
    )


def _configured(hook: Any) -> str | None:
    """The config an mlgate hook in a pre-commit config runs with, else None."""
    if not isinstance(hook, dict) or hook.get("id") not in HOOK_IDS:
        return None
    args = [str(a) for a in hook.get("args") or []]
    for i, arg in enumerate(args[:-1]):
        if arg in ("-c", "--config"):
            return args[i + 1]
    found = next((a.split("=", 1)[1] for a in args if a.startswith("--config=")), None)
    return found or config_mod.DEFAULT_CONFIG


def _has_hooks(document: Any, config: str) -> bool:
    repos = document.get("repos") if isinstance(document, dict) else None
    for repo in repos if isinstance(repos, list) else []:
        hooks = repo.get("hooks") if isinstance(repo, dict) else None
        if isinstance(hooks, list) and any(_configured(h) == config for h in hooks):
            return True
    return False


def install_pre_commit(cwd: Path) -> Installed:
    """Add mlgate's hooks for the config where ``cwd`` stands to .pre-commit-config.yaml."""
    root, config = _config(cwd)
    path = root / PRE_COMMIT_CONFIG
    entry = hooks_entry(config)
    steps = (f"run `{PRE_COMMIT_INSTALL}` once (pre-commit from PyPI)",)
    if not path.exists():
        text = (
            "# pre-commit hooks (https://pre-commit.com): mlgate validates on commit and\n"
            "# checks the gate on push; `pre-commit install` sets up both.\n"
            "default_install_hook_types: [pre-commit, pre-push]\n"
            "repos:\n" + entry
        )
        atomic_write(path, text.encode("utf-8"))
        return Installed(path, "created", config, ("run `pre-commit install` once",))
    raw = path.read_bytes()
    try:
        old = raw.decode("utf-8")
        document = yaml.safe_load(old)
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        raise UsageError(f"{path}{_where(e)}; it was left as it is") from None
    if document is not None and not isinstance(document, dict):
        raise UsageError(f"{path} is not a mapping with `repos:`; it was left as it is")
    if _has_hooks(document, config):
        return Installed(path, "unchanged", config, steps)
    new = _with_entry(old, entry)
    if not _means(new, document, entry):
        raise UsageError(
            f"cannot add mlgate's hooks to {path} without rewriting what is there (its "
            "`repos:` is not a block list); add the entry from the README's "
            "'Before you push' by hand"
        )
    atomic_write(path, new.encode("utf-8"))
    return Installed(path, "extended", config, steps)


def _where(e: Exception) -> str:
    """``:LINE: not valid YAML (problem)``, a YAML error on one line."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or type(e).__name__
    line = f":{mark.line + 1}" if mark is not None else ""
    return f"{line}: not valid YAML ({problem})"


def _with_entry(old: str, entry: str) -> str:
    """``old`` with ``entry`` inserted after the last item of its top-level ``repos:``
    (indented like that list's items), or a ``repos:`` appended; nothing else changes."""
    newline = "\r\n" if "\r\n" in old else "\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"repos\s*:", line)), None)
    if start is None:
        sep = newline if old and not old.endswith(("\n", "\r")) else ""
        return old + sep + "repos:" + newline + _indented(entry, "", newline)
    end = next(
        (
            j
            for j in range(start + 1, len(lines))
            if re.match(r"[^\s#-]|(---|\.\.\.)(\s|$)", lines[j])  # the next top-level key
        ),
        len(lines),
    )
    body = range(start + 1, end)
    item = next((m for j in body if (m := re.match(r"([ \t]*)-(\s|$)", lines[j]))), None)
    indent = item.group(1) if item else ""
    content = [j for j in body if lines[j].strip() and not lines[j].lstrip().startswith("#")]
    after = content[-1] if content else start
    head = lines[: after + 1]
    if not head[-1].endswith(("\n", "\r")):
        head[-1] += newline
    return "".join(head) + _indented(entry, indent, newline) + "".join(lines[after + 1 :])


def _indented(entry: str, indent: str, newline: str) -> str:
    return "".join(indent + line + newline for line in entry.splitlines())


def _means(new: str, old: Any, entry: str) -> bool:
    """Whether ``new`` parses to the ``old`` document with ``entry`` added to its repos."""
    try:
        parsed = yaml.safe_load(new)
    except yaml.YAMLError:
        return False
    expected = dict(old or {})
    expected["repos"] = [*(expected.get("repos") or []), *yaml.safe_load(entry)]
    return bool(parsed == expected)


# --- a plain git hook -----------------------------------------------------------------------


def install_git_hook(cwd: Path) -> Installed:
    """Write (or extend with this config) mlgate's own ``pre-push`` hook; refuse another's."""
    _root, config = _config(cwd)
    path = git.hook_path(cwd, "pre-push")
    configs = [config]
    action: Action = "created"
    if path.exists():
        text = path.read_text(encoding="utf-8", errors="replace")
        if GIT_HOOK_MARKER not in text:
            raise UsageError(_foreign(path, text, config))
        listed = _listed_configs(text)
        configs = [*listed, *([config] if config not in listed else [])]
        action = "updated"
    script = render_init(
        "pre-push.j2",
        configs=" ".join(shlex.quote(c) for c in configs),
        mlgate=shlex.join([sys.executable, "-m", "mlgate"]),
    )
    if action == "updated" and path.read_text(encoding="utf-8", errors="replace") == script:
        action = "unchanged"
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, script.encode("utf-8"))
    mode = path.stat().st_mode
    os.chmod(path, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    bypass = "a failing gate blocks `git push`; `git push --no-verify` pushes anyway"
    return Installed(path, action, config, (bypass,))


def _listed_configs(text: str) -> list[str]:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(_CONFIGS_LINE):
            words = stripped[len(_CONFIGS_LINE) :].rpartition(";")[0]
            try:
                return shlex.split(words)
            except ValueError:
                return []
    return []


def _foreign(path: Path, text: str, config: str) -> str:
    """Why init leaves another tool's hook alone, and how to run mlgate's check with it."""
    if "pre-commit" in text and "hook-impl" in text:
        return f"pre-commit manages {path}: add mlgate's hooks with `mlgate init --hooks`"
    line = f'mlgate check --pre-push --remote "$1" -c {shlex.quote(config)}'
    return (
        f"{path} is another pre-push hook; mlgate leaves it as it is. To chain them, have it "
        f"keep its stdin (refs=$(cat)) and pipe it on: printf '%s\\n' \"$refs\" | {line} "
        "(a non-zero exit blocks the push); or move it away and rerun `mlgate init --git-hook`"
    )
