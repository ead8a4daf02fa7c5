"""Git notes cannot forge results (issue 11, item 3).

``refs/notes/mlgate`` is writable by anyone who can push, and a run record's digest hashes
only inputs. Before: a note claiming great metrics for the PR head was reused by `mlgate ci`
in a fresh clone (a model whose accuracy fell from 0.96 to 0.28 passed), and a note
lowering the base's metrics defeated ``max_regression``. Now the head is always run in the
job, and the base is reused only when signed by the key the *base's* config pins.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ci_events import ci_push, github_env, pr_event
from conftest import commit_all, git
from mlgate.run import notes, signatures
from projects import (
    base_project,
    classification_config,
    classification_frames,
    cli,
    push_to_origin,
    run_json,
    set_params,
    write_config,
)

NO_INTERVALS = (
    "no noise intervals: base's run has no saved predictions "
    "(a run shared as a git note keeps none)"
)


def keypair() -> tuple[str, str]:
    """(OpenSSH private key, ``ssh-ed25519 AAAA…`` line), as ``ssh-keygen -t ed25519`` makes."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public.decode() + " mlgate-ci"


GATE = {"accuracy": {"min": 0.5, "max_regression": 0.02}}


@pytest.fixture
def shared(repo: Path, tmp_path: Path, monkeypatch, capsys) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """main pins a notes key; its CI job (holding the private key) shares a signed run."""
    private, public = keypair()
    cfg = classification_config(gate=GATE, notes={"public_key": public})
    base = base_project(repo, cfg, classification_frames())
    origin = push_to_origin(repo, tmp_path)
    monkeypatch.setenv(signatures.ENV_KEY, private)
    ci_push(repo, tmp_path, monkeypatch, capsys)
    monkeypatch.delenv(signatures.ENV_KEY)
    assert git(origin, "notes", "--ref=mlgate", "list")
    return {"origin": origin, "base": base, "cfg": cfg, "private": private}


def _attacker_branch(
    shared: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, C: float
) -> tuple[Path, str]:
    """The attacker's clone with a PR branch (``C``), pushed to origin; its sha."""
    clone = tmp_path / "attacker"
    git(tmp_path, "clone", "-q", str(shared["origin"]), str(clone))
    git(clone, "fetch", "-q", "origin", "refs/notes/mlgate:refs/notes/mlgate")
    monkeypatch.setenv("MLGATE_CACHE_DIR", str(tmp_path / "attacker-cache"))
    monkeypatch.chdir(clone)
    git(clone, "checkout", "-q", "-b", "feature")
    set_params(clone, C=C)
    head = commit_all(clone, f"C {C}")
    git(clone, "push", "-q", "origin", "feature")
    return clone, head


def _own_digests(tmp_path: Path) -> list[str]:
    """The digests in the attacker's run cache after a local check (the head's among them:
    a digest hashes only inputs, so anyone can compute it)."""
    runs = tmp_path / "attacker-cache" / "runs" / "by-inputs" / "churn"
    return [entry.name for entry in runs.iterdir()]


def _plant(clone: Path, commit: str, record: dict[str, Any], signature: str | None = None) -> None:
    notes.write(clone, commit, "churn", record, signature)
    git(clone, "push", "-q", "-f", "origin", "refs/notes/mlgate:refs/notes/mlgate")


def _ci_in_a_fresh_clone(
    shared: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
    head: str,  # type: ignore[no-untyped-def]
) -> tuple[int, dict[str, Any]]:
    """The pull request's CI job: a new runner, a new cache, the PR head checked out."""
    runner = tmp_path / "runner"
    git(tmp_path, "clone", "-q", str(shared["origin"]), str(runner))
    git(runner, "checkout", "-q", head)
    monkeypatch.setenv("MLGATE_CACHE_DIR", str(tmp_path / "runner-cache"))
    monkeypatch.chdir(runner)
    event_dir = tmp_path / "runner-event"
    event_dir.mkdir()
    env = github_env(event_dir, pr_event(number=7, base__sha=shared["base"], head__sha=head))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code, _, err = cli(capsys, "ci")
    assert code in (0, 1), err
    return code, json.loads((runner / "mlgate-result.json").read_text())["report"]


def test_an_honest_pr_reuses_the_signed_base_and_trains_its_head(
    shared: dict[str, Any], tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    _, head = _attacker_branch(shared, tmp_path, monkeypatch, C=0.5)
    code, report = _ci_in_a_fresh_clone(shared, tmp_path, monkeypatch, capsys, head)
    assert code == 0
    assert (report["base"]["cached"], report["head"]["cached"]) == (True, False)
    assert report["notes"] == [
        NO_INTERVALS,
        f"base: the run shared in refs/notes/mlgate for {shared['base'][:7]} "
        "(signed with the notes.public_key of its own config)",
    ]


def test_a_note_claiming_great_metrics_for_the_head_is_never_used(
    shared: dict[str, Any], tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    clone, head = _attacker_branch(shared, tmp_path, monkeypatch, C=0.0001)  # collapses
    assert run_json(capsys)[0] == 1  # honestly, this head fails the gate
    genuine = notes.read(clone, shared["base"], "churn")[0]  # a valid record to start from
    assert genuine is not None
    (head_digest,) = set(_own_digests(tmp_path)) - {genuine["digest"]}
    forged = {**genuine, "digest": head_digest, "metrics": {"accuracy": 0.99, "f1_macro": 0.99}}
    _plant(clone, head, forged)
    code, report = _ci_in_a_fresh_clone(shared, tmp_path, monkeypatch, capsys, head)
    assert code == 1  # as an honest run
    assert report["head"]["cached"] is False
    assert report["head"]["metrics"]["accuracy"] < 0.9


@pytest.mark.parametrize("how", ["unsigned", "attacker's key", "genuine signature, new metrics"])
def test_a_note_lowering_the_base_cannot_defeat_max_regression(
    shared: dict[str, Any], tmp_path: Path, monkeypatch, capsys, how: str
) -> None:  # type: ignore[no-untyped-def]
    clone, head = _attacker_branch(shared, tmp_path, monkeypatch, C=0.0001)
    genuine = notes.read_entry(clone, shared["base"], "churn")[0]
    assert genuine is not None and genuine.signature is not None
    lowered = {**genuine.record, "metrics": {"accuracy": 0.3, "f1_macro": 0.3}}
    signature = {
        "unsigned": None,
        "attacker's key": signatures.sign(keypair()[0], shared["base"], "churn", lowered),
        "genuine signature, new metrics": genuine.signature,
    }[how]
    if how == "attacker's key":  # the PR pins its own key too: only the base's config counts
        cfg = shared["cfg"]
        model = {**cfg["model"], "params": {**cfg["model"]["params"], "C": 0.0001}}
        write_config(clone, {**cfg, "model": model, "notes": {"public_key": keypair()[1]}})
        head = commit_all(clone, "pin my key")
        git(clone, "push", "-q", "origin", "feature")
    _plant(clone, shared["base"], lowered, signature)
    code, report = _ci_in_a_fresh_clone(shared, tmp_path, monkeypatch, capsys, head)
    assert code == 1
    assert report["base"]["cached"] is False  # trained honestly instead
    assert report["base"]["metrics"] == pytest.approx(genuine.record["metrics"])
    why = "it is not signed" if how == "unsigned" else "its signature does not verify"
    (note,) = [n for n in report["notes"] if n.startswith("ignored ")]  # and the gate's notes
    assert note.startswith(f"ignored the mlgate note on {shared['base'][:7]}: ") and why in note


def test_without_a_pinned_key_ci_reuses_no_note(
    repo: Path, tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    base = base_project(repo, classification_config(gate=GATE), classification_frames())
    origin = push_to_origin(repo, tmp_path)
    ci_push(repo, tmp_path, monkeypatch, capsys)  # an unsigned note
    state = {"origin": origin, "base": base}
    _, head = _attacker_branch(state, tmp_path, monkeypatch, C=0.5)
    code, report = _ci_in_a_fresh_clone(state, tmp_path, monkeypatch, capsys, head)
    assert code == 0
    assert (report["base"]["cached"], report["head"]["cached"]) == (False, False)
    assert report["notes"] == [
        f"ignored the mlgate note on {base[:7]}: mlgate.yaml@{base[:7]} pins no notes.public_key, "
        "so shared runs are not trusted; base trained"
    ]


def test_a_local_check_still_reuses_notes_and_says_so(
    shared: dict[str, Any], tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    _attacker_branch(shared, tmp_path, monkeypatch, C=0.5)
    code, report = run_json(capsys)
    assert code == 0 and report["base"]["cached"] is True
    assert report["notes"] == [
        NO_INTERVALS,
        f"base: the run shared in refs/notes/mlgate for {shared['base'][:7]} "
        "(a local check trusts its clone's notes)",
    ]


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")
def test_keys_made_by_ssh_keygen_sign_and_verify(tmp_path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci", "-f", str(tmp_path / "k")],
        check=True,
    )
    private, public = (tmp_path / "k").read_text(), (tmp_path / "k.pub").read_text().strip()
    record = {"model": "churn", "metrics": {"accuracy": 0.9}}
    signature = signatures.sign(private, "a" * 40, "churn", record)
    assert signatures.public_line(private).split()[:2] == public.split()[:2]
    assert signatures.verify(public, signature, "a" * 40, "churn", record)
    assert not signatures.verify(public, signature, "b" * 40, "churn", record)  # moved
    assert not signatures.verify(public, signature, "a" * 40, "other", record)  # refiled


def test_a_bad_signing_key_never_reaches_the_output() -> None:
    secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END"
    with pytest.raises(signatures.SigningKeyError) as e:
        signatures.sign(secret, "a" * 40, "churn", {})
    assert "c2VjcmV0" not in str(e.value) and "MLGATE_NOTES_KEY" in str(e.value)
