"""Run records shared through git notes: real git, a bare remote and two clones."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import commit_all, git
from mlgate.run import notes


def run_record(
    model: str, sha: str, *, digest: str | None = "d" * 64, **extra: Any
) -> dict[str, Any]:
    """The smallest record run.schema.json accepts, plus the digest notes require."""
    return {
        "schema": "mlgate/run@1",
        "model": model,
        "side": "base",
        "ref": "main",
        "sha": sha,
        "estimator": "sklearn.linear_model.LogisticRegression",
        "metrics": {"accuracy": 0.9},
        "params": {"C": 1.0},
        "data": {
            "train": {"path": "data/train.csv", "sha256": "a" * 64, "size": 10, "source": "git"}
        },
        "versions": {"python": "3.12.0", "scikit-learn": "1.5.0"},
        "digest": digest,
        **extra,
    }


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare remote whose main has two commits."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    (seed / "a.txt").write_text("one\n")
    commit_all(seed, "one")
    (seed / "a.txt").write_text("two\n")
    commit_all(seed, "two")
    git(seed, "push", "-q", "origin", "main")
    return bare


def clone(remote: Path, name: str) -> Path:
    path = remote.parent / name
    git(remote.parent, "clone", "-q", str(remote), str(path))
    return path


def raw_note(repo: Path, commit: str, text: str) -> None:
    note = repo.parent / "note.txt"
    note.write_text(text)
    git(repo, "notes", f"--ref={notes.NOTES_REF}", "add", "-f", "-F", str(note), commit)


def remote_notes(remote: Path) -> dict[str, str]:
    """{commit: note text} as the bare remote holds them."""
    listing = git(remote, "notes", f"--ref={notes.NOTES_REF}", "list")
    pairs = (line.split() for line in listing.splitlines())
    return {commit: git(remote, "cat-file", "blob", blob) for blob, commit in pairs}


def traced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """GIT_TRACE logs every git command run from here on: the test sees what was called."""
    trace = tmp_path / "git-trace.log"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    return trace


def network_commands(trace: Path) -> list[str]:
    """The ls-remote, fetch and push commands git ran (without their options)."""
    lines = trace.read_text().splitlines() if trace.exists() else []
    commands = [line.split("built-in: git ", 1)[1] for line in lines if "built-in: git " in line]
    return [
        " ".join(a for a in c.split() if not a.startswith("-"))
        for c in commands
        if c.startswith(("ls-remote", "fetch", "push"))
    ]


# --- reading and writing -------------------------------------------------------------------


def test_read_without_any_notes(repo: Path) -> None:
    (repo / "a.txt").write_text("a\n")
    sha = commit_all(repo, "a")
    assert notes.read(repo, sha, "iris") == (None, None)
    assert notes.read_all(repo, sha) == ([], [])


def test_write_then_read_round_trips(repo: Path) -> None:
    (repo / "a.txt").write_text("a\n")
    sha = commit_all(repo, "a")
    record = run_record("iris", sha, extra={"nested": [1, "two", None, {"x": True}]})
    notes.write(repo, sha, "iris", record)
    assert notes.read(repo, sha, "iris") == (record, None)
    assert notes.read(repo, sha, "other") == (None, None)
    stored = json.loads(git(repo, "notes", f"--ref={notes.NOTES_REF}", "show", sha))
    assert stored == {"mlgate": "notes@1", "records": {"iris": record}}


def test_two_models_share_one_note(repo: Path) -> None:
    (repo / "a.txt").write_text("a\n")
    sha = commit_all(repo, "a")
    iris, wine = run_record("iris", sha), run_record("wine", sha, digest="e" * 64)
    notes.write(repo, sha, "iris", iris)
    notes.write(repo, sha, "wine", wine)
    newer = run_record("iris", sha, digest="f" * 64)
    notes.write(repo, sha, "iris", newer)  # replaces iris only
    assert notes.read(repo, sha, "iris") == (newer, None)
    assert notes.read(repo, sha, "wine") == (wine, None)
    assert notes.read_all(repo, sha) == (
        [
            notes.NoteRecord(model="iris", digest="f" * 64, record=newer),
            notes.NoteRecord(model="wine", digest="e" * 64, record=wine),
        ],
        [],
    )


def test_write_refuses_an_invalid_record(repo: Path) -> None:
    (repo / "a.txt").write_text("a\n")
    sha = commit_all(repo, "a")
    with pytest.raises(ValueError) as e:
        notes.write(repo, sha, "iris", run_record("iris", sha, digest=None))
    assert str(e.value) == (
        "refusing to write an invalid mlgate note: the record for 'iris' has no digest "
        "(64 lowercase hex digits)"
    )
    bad_metric = run_record("iris", sha, metrics={"accuracy": float("nan")})
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        notes.write(repo, sha, "iris", bad_metric)
    assert notes.read(repo, sha, "iris") == (None, None)


def test_write_replaces_a_corrupt_note(repo: Path) -> None:
    (repo / "a.txt").write_text("a\n")
    sha = commit_all(repo, "a")
    raw_note(repo, sha, "{not json")
    record = run_record("iris", sha)
    notes.write(repo, sha, "iris", record)
    assert notes.read(repo, sha, "iris") == (record, None)


# --- untrusted content is ignored with a warning -------------------------------------------


@pytest.mark.parametrize(
    ("text", "why"),
    [
        pytest.param(
            "{not json",
            "it is not JSON (Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1))",
            id="invalid-json",
        ),
        pytest.param(
            '{"mlgate": "notes@1", "records": {"iris": {"accuracy": NaN}}}',
            "it is not JSON (NaN is not valid JSON)",
            id="nan",
        ),
        pytest.param(
            '["iris"]',
            'it is not an mlgate note (expected {"mlgate": "notes@1", ...})',
            id="not-a-notes-document",
        ),
        pytest.param(
            '{"mlgate": "notes@1", "records": []}',
            'its "records" is not an object',
            id="records-not-an-object",
        ),
        pytest.param(
            '{"mlgate": "notes@1", "records": {"iris": "import os"}}',
            "the record for 'iris' is not an object",
            id="record-not-an-object",
        ),
    ],
)
def test_malformed_note_is_ignored(repo: Path, text: str, why: str) -> None:
    (repo / "a.txt").write_text("a\n")
    sha = commit_all(repo, "a")
    raw_note(repo, sha, text)
    assert notes.read(repo, sha, "iris") == (None, f"ignored the mlgate note on {sha[:7]}: {why}")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        pytest.param(
            {"metrics": {"accuracy": "0.99"}},
            "the record for 'iris' is not a valid run record: metrics.accuracy: "
            "'0.99' is not of type 'number'",
            id="metric-not-a-number",
        ),
        pytest.param(
            {"schema": "mlgate/run@9"},
            "the record for 'iris' is not a valid run record: schema: 'mlgate/run@1' was expected",
            id="unknown-schema",
        ),
        pytest.param(
            {"digest": "D" * 64},
            "the record for 'iris' is not a valid run record: digest: "
            f"'{'D' * 64}' does not match '^[0-9a-f]{{64}}$'",
            id="digest-not-hex",
        ),
        pytest.param(
            {"digest": 7},
            "the record for 'iris' is not a valid run record: digest: "
            "7 is not of type 'string', 'null'",
            id="digest-not-a-string",
        ),
        pytest.param(
            {"digest": None},
            "the record for 'iris' has no digest (64 lowercase hex digits)",
            id="digest-missing",
        ),
        pytest.param(
            {"model": "wine"},
            "the record filed under 'iris' is for 'wine'",
            id="model-mismatch",
        ),
    ],
)
def test_invalid_record_is_ignored(repo: Path, change: dict[str, Any], why: str) -> None:
    (repo / "a.txt").write_text("a\n")
    sha = commit_all(repo, "a")
    record = {**run_record("iris", sha), **change}
    raw_note(repo, sha, json.dumps({"mlgate": "notes@1", "records": {"iris": record}}))
    assert notes.read(repo, sha, "iris") == (None, f"ignored the mlgate note on {sha[:7]}: {why}")


def test_missing_required_field_is_ignored(repo: Path) -> None:
    (repo / "a.txt").write_text("a\n")
    sha = commit_all(repo, "a")
    record = run_record("iris", sha)
    del record["metrics"]
    raw_note(repo, sha, json.dumps({"mlgate": "notes@1", "records": {"iris": record}}))
    assert notes.read(repo, sha, "iris") == (
        None,
        f"ignored the mlgate note on {sha[:7]}: the record for 'iris' is not a valid run "
        "record: (top level): 'metrics' is a required property",
    )


def test_oversize_note_is_ignored(repo: Path) -> None:
    (repo / "a.txt").write_text("a\n")
    sha = commit_all(repo, "a")
    record = run_record("iris", sha, padding="x" * notes.MAX_NOTE_BYTES)  # valid, only big
    text = json.dumps({"mlgate": "notes@1", "records": {"iris": record}})
    raw_note(repo, sha, text)
    size = len(text) + 1  # git notes ends the message with a newline
    assert notes.read(repo, sha, "iris") == (
        None,
        f"ignored the mlgate note on {sha[:7]}: it is {size} bytes, more than the "
        "1048576 a note may hold",
    )


def test_one_invalid_record_does_not_hide_the_others(repo: Path) -> None:
    (repo / "a.txt").write_text("a\n")
    sha = commit_all(repo, "a")
    iris = run_record("iris", sha)
    wine = run_record("wine", sha, digest=None)
    raw_note(repo, sha, json.dumps({"mlgate": "notes@1", "records": {"iris": iris, "wine": wine}}))
    assert notes.read(repo, sha, "iris") == (iris, None)
    assert notes.read_all(repo, sha) == (
        [notes.NoteRecord(model="iris", digest="d" * 64, record=iris)],
        [
            f"ignored the mlgate note on {sha[:7]}: the record for 'wine' has no digest "
            "(64 lowercase hex digits)"
        ],
    )


# --- sharing through a remote --------------------------------------------------------------


def test_push_then_fetch_in_another_clone(
    remote: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    a, b = clone(remote, "a"), clone(remote, "b")
    sha = git(a, "rev-parse", "main")
    record = run_record("iris", sha)
    notes.write(a, sha, "iris", record)
    assert notes.push(a)
    assert notes.read(b, sha, "iris") == (None, None)  # not fetched yet

    trace = traced(monkeypatch, tmp_path)
    assert notes.fetch(b)
    incoming = f"{notes.NOTES_REF}-incoming-{os.getpid()}"
    assert network_commands(trace) == [
        f"ls-remote origin {notes.NOTES_REF}",
        f"fetch origin +{notes.NOTES_REF}:{incoming}",
    ]
    assert notes.read(b, sha, "iris") == (record, None)

    trace.unlink()
    assert notes.fetch(b)  # up to date: one ls-remote, no fetch
    assert network_commands(trace) == [f"ls-remote origin {notes.NOTES_REF}"]
    assert git(b, "for-each-ref", "refs/notes/") == (
        f"{git(a, 'rev-parse', notes.NOTES_REF)} commit\t{notes.NOTES_REF}"
    )  # the temporary ref is gone


def test_fetch_without_remote_notes_is_cheap(
    remote: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    b = clone(remote, "b")
    trace = traced(monkeypatch, tmp_path)
    assert notes.fetch(b) is False
    assert network_commands(trace) == [f"ls-remote origin {notes.NOTES_REF}"]


def test_fetch_and_push_without_a_remote(repo: Path) -> None:
    (repo / "a.txt").write_text("a\n")
    sha = commit_all(repo, "a")
    notes.write(repo, sha, "iris", run_record("iris", sha))
    assert notes.fetch(repo) is False
    assert notes.push(repo) is False


def test_unreachable_remote_is_not_an_error(remote: Path, tmp_path: Path) -> None:
    a = clone(remote, "a")
    sha = git(a, "rev-parse", "main")
    notes.write(a, sha, "iris", run_record("iris", sha))
    git(a, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    assert notes.fetch(a) is False
    assert notes.push(a) is False


def test_push_refused_by_the_remote_is_not_retried(
    remote: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'notes are read-only here' >&2\nexit 1\n")
    hook.chmod(0o755)
    a = clone(remote, "a")
    sha = git(a, "rev-parse", "main")
    notes.write(a, sha, "iris", run_record("iris", sha))
    trace = traced(monkeypatch, tmp_path)
    assert notes.push(a) is False
    assert network_commands(trace) == [f"push origin {notes.NOTES_REF}:{notes.NOTES_REF}"]
    assert remote_notes(remote) == {}


def test_push_with_no_local_notes(remote: Path) -> None:
    assert notes.push(clone(remote, "a")) is False
    assert remote_notes(remote) == {}


def test_fetch_keeps_local_notes_the_remote_lacks(remote: Path) -> None:
    a, b = clone(remote, "a"), clone(remote, "b")
    first, second = git(a, "rev-parse", "main~1"), git(a, "rev-parse", "main")
    theirs = run_record("iris", second)
    notes.write(a, second, "iris", theirs)
    assert notes.push(a)
    ours = run_record("iris", first)
    notes.write(b, first, "iris", ours)  # written locally, not pushed
    assert notes.fetch(b)
    assert notes.read(b, first, "iris") == (ours, None)
    assert notes.read(b, second, "iris") == (theirs, None)


def test_racing_pushes_both_land(
    remote: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each clone wrote a record for a different commit; the second push is rejected, then
    fetches, merges and retries."""
    a, b = clone(remote, "a"), clone(remote, "b")
    first, second = git(a, "rev-parse", "main~1"), git(a, "rev-parse", "main")
    record_a, record_b = run_record("iris", first), run_record("iris", second)
    notes.write(a, first, "iris", record_a)
    notes.write(b, second, "iris", record_b)
    assert notes.push(a)
    trace = traced(monkeypatch, tmp_path)
    assert notes.push(b)  # rejected at first: A's notes are not in B's history
    incoming = f"{notes.NOTES_REF}-incoming-{os.getpid()}"
    assert network_commands(trace) == [
        f"push origin {notes.NOTES_REF}:{notes.NOTES_REF}",
        f"ls-remote origin {notes.NOTES_REF}",
        f"fetch origin +{notes.NOTES_REF}:{incoming}",
        f"push origin {notes.NOTES_REF}:{notes.NOTES_REF}",
    ]
    assert {c: json.loads(t)["records"] for c, t in remote_notes(remote).items()} == {
        first: {"iris": record_a},
        second: {"iris": record_b},
    }
    c = clone(remote, "c")
    assert notes.fetch(c)
    assert notes.read(c, first, "iris") == (record_a, None)
    assert notes.read(c, second, "iris") == (record_b, None)


def test_simultaneous_pushes_both_land(remote: Path) -> None:
    """The same race on real threads: whichever push wins, the other merges and retries."""
    clones = [clone(remote, "a"), clone(remote, "b"), clone(remote, "c")]
    commits = git(clones[0], "rev-list", "main").split()
    expected: dict[str, dict[str, Any]] = {}
    for i, (path, sha) in enumerate(zip(clones, [*commits, commits[0]], strict=True)):
        record = run_record(f"model{i}", sha)
        notes.write(path, sha, f"model{i}", record)
        expected.setdefault(sha, {})[f"model{i}"] = record
    with ThreadPoolExecutor(max_workers=len(clones)) as pool:
        assert list(pool.map(notes.push, clones)) == [True] * len(clones)
    assert {c: json.loads(t)["records"] for c, t in remote_notes(remote).items()} == expected


def test_racing_pushes_on_one_commit_keep_both_models(remote: Path) -> None:
    """The same commit annotated in two clones: a union of records, never concatenated
    text (git's own ``union`` strategy would make invalid JSON)."""
    a, b = clone(remote, "a"), clone(remote, "b")
    sha = git(a, "rev-parse", "main")
    iris, wine = run_record("iris", sha), run_record("wine", sha, digest="e" * 64)
    notes.write(a, sha, "iris", iris)
    notes.write(b, sha, "wine", wine)
    assert notes.push(a)
    assert notes.push(b)
    assert json.loads(remote_notes(remote)[sha]) == {
        "mlgate": "notes@1",
        "records": {"iris": iris, "wine": wine},
    }
    assert notes.fetch(a)
    assert notes.read(a, sha, "wine") == (wine, None)


def test_merge_ignores_a_corrupt_remote_note(remote: Path) -> None:
    a, b = clone(remote, "a"), clone(remote, "b")
    sha = git(a, "rev-parse", "main")
    raw_note(a, sha, "{not json")
    assert notes.push(a)
    record = run_record("iris", sha)
    notes.write(b, sha, "iris", record)
    assert notes.fetch(b)
    assert notes.read(b, sha, "iris") == (record, None)
    assert notes.push(b)
    assert json.loads(remote_notes(remote)[sha])["records"] == {"iris": record}
