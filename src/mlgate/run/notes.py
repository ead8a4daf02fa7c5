"""Run records shared through git notes, so a pull request trains only its head (issue 5).

``mlgate ci`` on the default branch stores each model's run record as JSON in a note on the
commit under ``refs/notes/mlgate`` and pushes that ref; checks elsewhere fetch it and reuse a
record whose input digest matches. One note per commit holds every model's record::

    {"mlgate": "notes@1", "records": {"<model>": <run record + "digest">, ...},
     "signatures": {"<model>": "<base64 Ed25519 signature>", ...}}

Anyone who can push to the repository can write a note, so a note is untrusted data: it is
size-capped, parsed as strict JSON, validated against ``schema/run.schema.json`` and never
executed. Bad content is ignored with a warning, never raised: the notes are only a cache.
``signatures`` (optional; see run.signatures) is what lets `mlgate ci` trust a record.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mlgate.errors import GitError
from mlgate.git import _git, has_remote, identity
from mlgate.paths import package_file

NOTES_REF = "refs/notes/mlgate"
FORMAT = "notes@1"
MAX_NOTE_BYTES = 1024 * 1024
PUSH_RETRIES = 3
_DIGEST = re.compile(r"[0-9a-f]{64}")
_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class NoteRecord:
    model: str
    digest: str
    record: dict[str, Any]
    signature: str | None = None


class _BadNote(ValueError):
    """Why a note (or one record in it) cannot be trusted."""


# --- reading -------------------------------------------------------------------------------


def read(root: Path, commit: str, model: str) -> tuple[dict[str, Any] | None, str | None]:
    """(record, warning): ``model``'s validated run record in ``commit``'s note.

    (None, None) when there is no note or it holds no record for ``model``; (None, warning)
    when the note or the record is corrupt, too big or invalid. Never raises for content.
    """
    found, warning = read_entry(root, commit, model)
    return (None if found is None else found.record), warning


def read_entry(root: Path, commit: str, model: str) -> tuple[NoteRecord | None, str | None]:
    """``read``, with the record's signature (None when the note has none for it)."""
    try:
        note = _note(root, commit)
        if note is None or model not in note.records:
            return None, None
        return _checked(model, note.records[model], note.signatures.get(model)), None
    except _BadNote as e:
        return None, _warning(commit, str(e))


def read_all(root: Path, commit: str) -> tuple[list[NoteRecord], list[str]]:
    """Every valid record in ``commit``'s note, plus a warning for each one ignored."""
    try:
        note = _note(root, commit) or _Note({}, {})
    except _BadNote as e:
        return [], [_warning(commit, str(e))]
    found: list[NoteRecord] = []
    warnings: list[str] = []
    for model, record in sorted(note.records.items()):
        try:
            found.append(_checked(model, record, note.signatures.get(model)))
        except _BadNote as e:
            warnings.append(_warning(commit, str(e)))
    return found, warnings


def read_many(
    root: Path, commits: Collection[str], *, full: bool = True
) -> dict[str, list[NoteRecord]]:
    """{commit: its valid records} for those of ``commits`` that have a note, in three git
    calls whatever their number (the notes listing, the blobs' sizes, the blobs): what
    ``mlgate site`` reads for thousands of evaluated commits. Invalid notes and records are
    left out, as ``read_all`` would; oversized blobs are never loaded.

    ``full=False`` checks only what a record is shown by (``shown``) instead of the whole
    run schema, which costs ~0.5 ms a record: for display, never for reuse."""
    check = _checked if full else _shown
    wanted = set(commits)
    blobs = {c: b for c, b in _listing(root, NOTES_REF).items() if c in wanted}
    if not blobs:
        return {}
    order = sorted(set(blobs.values()))
    sizes = _git(root, "cat-file", "--batch-check", input="\n".join(order) + "\n").stdout
    checked = (line.split() for line in sizes.decode().splitlines())  # "<sha> blob <size>"
    small = [
        fields[0]
        for fields in checked
        if len(fields) == 3 and fields[1] == "blob" and int(fields[2]) <= MAX_NOTE_BYTES
    ]
    contents = _batch_blobs(root, small)
    found: dict[str, list[NoteRecord]] = {}
    for commit, blob in blobs.items():
        if blob not in contents:
            continue
        try:
            note = _parse(contents[blob])
        except _BadNote:
            continue
        records = []
        for model, record in sorted(note.records.items()):
            try:
                records.append(check(model, record, note.signatures.get(model)))
            except _BadNote:
                continue
        if records:
            found[commit] = records
    return found


def _batch_blobs(root: Path, blobs: list[str]) -> dict[str, bytes]:
    """{blob: content} from one ``git cat-file --batch``."""
    if not blobs:
        return {}
    out = _git(root, "cat-file", "--batch", input="\n".join(blobs) + "\n").stdout
    found: dict[str, bytes] = {}
    at = 0
    for blob in blobs:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        at = end + 1
        if len(header) != 3:
            continue  # "<blob> missing"
        size = int(header[2])
        found[blob] = out[at : at + size]
        at += size + 1
    return found


def _warning(commit: str, why: str) -> str:
    short = commit[:7] if _SHA.fullmatch(commit) else commit
    return f"ignored the mlgate note on {short}: {why}"


@dataclass(frozen=True)
class _Note:
    records: dict[str, Any]
    signatures: dict[str, str]  # model -> signature, for the records that carry one


def _note(root: Path, commit: str) -> _Note | None:
    """The note on ``commit``, None without one; _BadNote when it is malformed."""
    blob = _note_blob(root, NOTES_REF, commit)
    return None if blob is None else _parse(_blob_bytes(root, blob))


def _note_blob(root: Path, ref: str, commit: str) -> str | None:
    proc = _git(root, "notes", f"--ref={ref}", "list", commit)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def _blob_bytes(root: Path, blob: str) -> bytes:
    # Ask the size first: an oversized note is never loaded into memory.
    size = int(_git(root, "cat-file", "-s", blob).stdout or 0)
    if size > MAX_NOTE_BYTES:
        raise _BadNote(f"it is {size} bytes, more than the {MAX_NOTE_BYTES} a note may hold")
    return _git(root, "cat-file", "blob", blob).stdout


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _parse(data: bytes) -> _Note:
    try:
        document = json.loads(data, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise _BadNote(f"it is not JSON ({e})") from e
    if not isinstance(document, dict) or document.get("mlgate") != FORMAT:
        raise _BadNote(f'it is not an mlgate note (expected {{"mlgate": "{FORMAT}", ...}})')
    records = document.get("records")
    if not isinstance(records, dict):
        raise _BadNote('its "records" is not an object')
    signatures = document.get("signatures")
    if not isinstance(signatures, dict):
        signatures = {}  # absent, or garbage: as good as unsigned
    signed = {m: sig for m, sig in signatures.items() if m in records and isinstance(sig, str)}
    return _Note(records, signed)


def _checked(model: str, record: Any, signature: str | None = None) -> NoteRecord:
    """The record if it is a valid run record for ``model`` with a digest; else _BadNote."""
    if not isinstance(record, dict):
        raise _BadNote(f"the record for {model!r} is not an object")
    # The first error by path (as text: a path mixes keys and list indexes) is reproducible.
    errors = sorted(_validator().iter_errors(record), key=lambda e: [str(p) for p in e.path])
    error = next(iter(errors), None)
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise _BadNote(
            f"the record for {model!r} is not a valid run record: {where}: {error.message}"
        )
    if record["model"] != model:
        raise _BadNote(f"the record filed under {model!r} is for {record['model']!r}")
    digest = record.get("digest")
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise _BadNote(f"the record for {model!r} has no digest (64 lowercase hex digits)")
    return NoteRecord(model=model, digest=digest, record=record, signature=signature)


def _shown(model: str, record: Any, signature: str | None = None) -> NoteRecord:
    """The record if the fields a page shows have the schema's types: an object for
    ``model`` with a digest, numeric ``metrics``, ``data`` of objects; else _BadNote."""
    if not isinstance(record, dict) or record.get("model") != model:
        raise _BadNote(f"the record for {model!r} is not one of {model!r}")
    digest = record.get("digest")
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise _BadNote(f"the record for {model!r} has no digest (64 lowercase hex digits)")
    metrics, data = record.get("metrics"), record.get("data")
    if not isinstance(metrics, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values()
    ):
        raise _BadNote(f"the record for {model!r} has metrics that are not numbers")
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise _BadNote(f"the record for {model!r} has data that is not objects")
    return NoteRecord(model=model, digest=digest, record=record, signature=signature)


@cache
def _validator() -> Any:
    import jsonschema  # lazily: a check that finds no note should not pay for it

    text = package_file("schema", "run.schema.json").read_text(encoding="utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


# --- writing -------------------------------------------------------------------------------


def write(
    root: Path,
    commit: str,
    model: str,
    record: Mapping[str, Any],
    signature: str | None = None,
) -> None:
    """Store ``record`` (and its ``signature``, if any) for ``model`` in ``commit``'s note,
    keeping other models' records.

    ValueError when the record itself is invalid: that is a bug in the caller, and a record
    that would be ignored on reading must not be shared.
    """
    try:
        # The JSON round trip rejects what a note cannot hold (NaN, non-JSON types).
        _checked(model, json.loads(json.dumps(record, allow_nan=False)))
    except (_BadNote, ValueError, TypeError) as e:
        raise ValueError(f"refusing to write an invalid mlgate note: {e}") from e
    try:
        note = _note(root, commit) or _Note({}, {})
    except _BadNote:
        note = _Note({}, {})  # a corrupt note is ignored on reading anyway: replace it
    # Other models' records are kept as they are, even ones this version would not accept:
    # a newer mlgate may have written them, and reading validates them anyway.
    signatures = {m: sig for m, sig in note.signatures.items() if m != model}
    if signature is not None:
        signatures[model] = signature
    records = {**note.records, model: dict(record)}
    _store(root, NOTES_REF, commit, _Note(records, signatures))


def _store(root: Path, ref: str, commit: str, note: _Note) -> None:
    document: dict[str, Any] = {"mlgate": FORMAT, "records": dict(sorted(note.records.items()))}
    if note.signatures:
        document["signatures"] = dict(sorted(note.signatures.items()))
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
    blob = _must(root, "hash-object", "-w", "--stdin", input=text)
    # -C stores the blob byte for byte; -m/-F would run the message through stripspace.
    _must(root, *identity(root), "notes", f"--ref={ref}", "add", "-f", "-C", blob, commit)


def _must(root: Path, *args: str, input: str | None = None) -> str:
    proc = _git(root, *args, input=input)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise GitError(f"git {' '.join(args[:4])} failed in {root}: {err}")
    return proc.stdout.decode().strip()


# --- sharing -------------------------------------------------------------------------------


def _network_env() -> dict[str, str]:
    # A CI runner without credentials must fail fast, not wait at a password prompt.
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0"}


def remote_notes_sha(root: Path, remote: str) -> str | None:
    """The remote's notes commit via one ``git ls-remote`` (cheap), None if absent/unreachable."""
    proc = _git(root, "ls-remote", remote, NOTES_REF, env=_network_env())
    if proc.returncode != 0:
        return None
    for line in proc.stdout.decode().splitlines():
        sha, _, name = line.partition("\t")
        if name == NOTES_REF:
            return sha
    return None


def fetch(root: Path, remote: str = "origin") -> bool:
    """Bring the remote's notes in, merged with local ones; whether the remote had notes.

    Never raises: the notes are an optimisation, so a network or git failure only returns
    False. Local notes the remote lacks are never lost (see ``_merge_incoming``).
    """
    if not has_remote(root, remote):
        return False
    sha = remote_notes_sha(root, remote)
    if sha is None:
        return False
    if sha == _local_sha(root, NOTES_REF):
        return True  # already up to date: skip the fetch
    incoming = f"{NOTES_REF}-incoming-{os.getpid()}"  # pid: two checks in one clone
    try:
        refspec = f"+{NOTES_REF}:{incoming}"
        proc = _git(root, "fetch", "--quiet", "--no-tags", remote, refspec, env=_network_env())
        return proc.returncode == 0 and _merge_incoming(root, incoming)
    except GitError:
        return False  # writing a merged note failed (disk full?): the notes stay as they were
    finally:
        _git(root, "update-ref", "-d", incoming)


def _local_sha(root: Path, ref: str) -> str | None:
    proc = _git(root, "rev-parse", "--verify", "--quiet", ref)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def _merge_incoming(root: Path, incoming: str) -> bool:
    """Merge the fetched notes into ours.

    A plain ``+refs/notes/mlgate:refs/notes/mlgate`` fetch would clobber notes written here
    and not yet pushed, and ``git notes merge -s union`` concatenates two notes on one commit
    into invalid JSON. So: ``git notes merge -s ours`` (fast-forwards when it can, and keeps
    the remote's history as a parent so the next push is a fast-forward), then, for each
    commit both sides annotated differently, add the model records the merged note lacks.
    For the same commit and model either record will do: equal digests, equivalent records.
    """
    ours, theirs = _listing(root, NOTES_REF), _listing(root, incoming)
    merge = ("notes", f"--ref={NOTES_REF}", "merge", "--quiet", "--strategy=ours", incoming)
    proc = _git(root, *identity(root), *merge)
    if proc.returncode != 0:
        return False
    for commit in sorted(ours.keys() & theirs.keys()):
        if ours[commit] != theirs[commit]:
            _union(root, commit, (ours[commit], theirs[commit]))
    return True


def _listing(root: Path, ref: str) -> dict[str, str]:
    """{annotated commit: note blob} for a notes ref (empty when it does not exist)."""
    proc = _git(root, "notes", f"--ref={ref}", "list")
    pairs = (line.split() for line in proc.stdout.decode().splitlines())
    return {commit: blob for blob, commit in pairs} if proc.returncode == 0 else {}


def _union(root: Path, commit: str, sides: tuple[str, str]) -> None:
    merged = _loose_note(root, _note_blob(root, NOTES_REF, commit))
    records, signatures = dict(merged.records), dict(merged.signatures)
    for blob in sides:
        note = _loose_note(root, blob)
        for model, record in note.records.items():
            if model not in records:
                records[model] = record  # with its own signature, never another's
                if model in note.signatures:
                    signatures[model] = note.signatures[model]
    if records != merged.records:
        _store(root, NOTES_REF, commit, _Note(records, signatures))


def _loose_note(root: Path, blob: str | None) -> _Note:
    """A note's records for merging; a corrupt side contributes nothing."""
    try:
        return _parse(_blob_bytes(root, blob)) if blob else _Note({}, {})
    except _BadNote:
        return _Note({}, {})


def push(root: Path, remote: str = "origin") -> bool:
    """Push the notes ref (never forced); on rejection fetch, merge and retry, up to 3 times.

    Returns whether the remote now has our notes. Never raises: a rejected or failed push
    only costs a later pull request one training.
    """
    if not has_remote(root, remote) or _local_sha(root, NOTES_REF) is None:
        return False
    refspec = f"{NOTES_REF}:{NOTES_REF}"
    for attempt in range(PUSH_RETRIES + 1):
        proc = _git(root, "push", "--porcelain", remote, refspec, env=_network_env())
        if proc.returncode == 0:
            return True
        if not _lost_race(proc.stdout + proc.stderr) or attempt == PUSH_RETRIES:
            return False
        if not fetch(root, remote):
            return False
    return False


def _lost_race(output: bytes) -> bool:
    """Whether a failed push lost to another writer, so fetch, merge and retry can help.

    "[rejected]": not a fast-forward (someone pushed notes since we fetched). The others: both
    pushes passed that check and the remote's compare-and-swap of the ref picked the other
    (seen with simultaneous pushes). No access, a hook's refusal or no network will not
    change by trying again.
    """
    markers = (b"[rejected]", b"cannot lock ref", b"failed to update ref", b"incorrect old value")
    return any(marker in output for marker in markers)
