"""``mlgate history``: the promoted versions of a model, read from its annotated tags
(rendered by render.history).

Every promotion or rollback leaves an annotated tag whose message ends with a JSON block
(``production.tag_message``), so the whole history is one ``git for-each-ref`` call: no
checkout, no per-version ``git show``, fast with thousands of versions. Tags that only look
like ours (lightweight, foreign message, another model, a malformed block) are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlgate.core import production
from mlgate.errors import GitError
from mlgate.git import run_git

# One record per tag, fields separated by NUL: no field can hold a NUL (git prints each
# field as a C string), unlike a newline or any printable separator a message could carry.
# lstrip=2 rather than :short, which turns into "tags/<name>" when a branch has the same name.
_FIELDS = (
    "%(objecttype)",
    "%(refname:lstrip=2)",
    "%(*objecttype)",
    "%(*objectname)",
    "%(taggerdate:iso-strict)",
    "%(contents:signature)",
    "%(contents)",
)
_FORMAT = "%00".join(_FIELDS) + "%00"


@dataclass(frozen=True)
class _Ref:
    """One ``git for-each-ref`` record."""

    type: str
    name: str
    target_type: str
    target: str
    tagger_date: str
    signature: str
    message: str


def list_versions(
    root: Path, model: str, *, tag_template: str = production.DEFAULT_TAG
) -> list[production.Version]:
    """Every promoted version of ``model`` in the repository at ``root``, oldest first."""
    pattern = production.tag_pattern(tag_template, model)
    versions = []
    for ref in _tag_refs(root, production.tag_glob(tag_template, model)):
        match = pattern.match(ref.name)
        if match is None or ref.type != "tag" or ref.target_type != "commit":
            continue  # another template's look-alike, a lightweight or a nested tag
        version = _version(ref, model, match.group(1))
        if version is not None:
            versions.append(version)
    return sorted(versions, key=lambda v: v.version)


def _tag_refs(root: Path, glob: str) -> list[_Ref]:
    args = ["for-each-ref", "--sort=version:refname", f"--format={_FORMAT}", glob]
    try:
        out = run_git(args, root)
    except UnicodeDecodeError as e:  # run_git decodes strictly; mlgate writes UTF-8 only
        raise GitError(
            f"a tag matching {glob} in {root} has a message that is not UTF-8, so it is not "
            "one mlgate wrote; delete or re-create that tag and run mlgate history again"
        ) from e
    return _parse_records(out, glob, root)


def _parse_records(out: str, glob: str, root: Path) -> list[_Ref]:
    # Each record ends with the format's trailing NUL, then git's newline, which therefore
    # starts the next record's first field.
    tokens = out.split("\0")
    width = len(_FIELDS)
    if len(tokens) % width != 1 or tokens[-1].strip():
        raise GitError(f"git for-each-ref {glob} in {root} printed output mlgate cannot read")
    records = (tokens[i : i + width] for i in range(0, len(tokens) - 1, width))
    return [_Ref(fields[0].lstrip("\n"), *fields[1:]) for fields in records]


def _version(ref: _Ref, model: str, number: str) -> production.Version | None:
    """The version a tag describes, or None when its block is not one mlgate wrote."""
    try:
        block = production.parse_tag_message(ref.message.removesuffix(ref.signature))
        version = int(number)
    except (RecursionError, ValueError):  # a JSON bomb, or more digits than int() takes
        return None
    if block is None or block.get("model") != model or block.get("version") != version:
        return None
    try:
        return production.version_from_block(
            block, tag=ref.name, commit=ref.target, tagger_date=ref.tagger_date
        )
    except (TypeError, ValueError):
        return None
