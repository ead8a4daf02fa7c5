"""Repositories for the tests of ``mlgate site`` (tests/commands/test_site.py, the browser
and the hostile-value tests) and its benchmark: promotions, commits and notes made by git
plumbing, as `mlgate promote` and `mlgate ci` leave them, and a page read back as elements."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from conftest import commit_all, git
from mlgate.core import production
from mlgate.run import notes
from projects import classification_config, write_config

BOT = "mlgate <mlgate@example.com>"
ORDER = ("accuracy", "f1_macro")


def git_input(cwd: Path, stdin: str | bytes, *args: str) -> str:
    """git with ``stdin`` as input; fails the test when git fails."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True)
    assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr.decode()}"
    return proc.stdout.decode().strip()


def lineage(
    version: int,
    *,
    metrics: dict[str, float] | None = None,
    source: str = "1a2b3c4d" * 5,
    pull_request: int | None = None,
    rollback_of: int | None = None,
    model: str = "churn",
    time: str | None = None,
) -> production.Lineage:
    """A production version's lineage; promoted on day ``version`` of May 2024 unless
    ``time`` says otherwise."""
    return production.Lineage(
        model=model,
        version=version,
        kind="rollback" if rollback_of is not None else "promotion",
        source_commit=source,
        metrics={"accuracy": 0.9, "f1_macro": 0.88} if metrics is None else metrics,
        model_sha256="0" * 64,
        model_size=1024,
        time=time or f"2024-05-{(version - 1) % 28 + 1:02d}T10:00:00+00:00",
        pull_request=pull_request,
        rollback_of=rollback_of,
    )


def run_record(model: str, sha: str, metrics: dict[str, float], rows: int = 120) -> dict[str, Any]:
    """A run record as `mlgate ci` stores it in a note (the schema's required fields)."""
    return {
        "schema": "mlgate/run@1",
        "model": model,
        "side": "base",
        "ref": "main",
        "sha": sha,
        "estimator": "sklearn.linear_model.LogisticRegression",
        "metrics": metrics,
        "params": {"C": 1.0},
        "data": {
            "train": {"path": "data/train.csv", "sha256": "a" * 64, "size": 10, "rows": rows,
                      "source": "git"},
            "test": {"path": "data/test.csv", "sha256": "b" * 64, "size": 5, "rows": 30,
                     "source": "git"},
        },
        "versions": {"python": "3.11.0", "scikit-learn": "1.5.0"},
        "digest": "d" * 64,
    }  # fmt: skip


def fast_import_commits(repo: Path, count: int, model: str = "churn") -> list[str]:
    """``count`` commits on ``main``, each with a note holding ``model``'s run record, in
    one ``git fast-import``; their shas, oldest first."""
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    chunks: list[str] = []
    for n in range(1, count + 1):
        stamp = int((start + timedelta(minutes=n)).timestamp())
        message = f"change {n}\n"
        chunks.append(
            f"commit refs/heads/main\nmark :{n}\ncommitter {BOT} {stamp} +0000\n"
            f"data {len(message)}\n{message}M 100644 inline file.txt\ndata {len(str(n))}\n{n}\n"
        )
    chunks.append("checkpoint\n")
    proc = subprocess.run(
        ["git", "fast-import", "--quiet", f"--export-marks={repo / '.git' / 'marks'}"],
        cwd=repo,
        input="".join(chunks).encode(),
        capture_output=True,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    marks = dict(line.split() for line in (repo / ".git" / "marks").read_text().splitlines())
    shas = [marks[f":{n}"] for n in range(1, count + 1)]
    note_chunks = [f"commit refs/notes/mlgate\ncommitter {BOT} 1704067200 +0000\ndata 5\nnotes\n"]
    for n, sha in enumerate(shas, 1):
        record = run_record(model, sha, {"accuracy": 0.8 + (n % 53) / 1000, "f1_macro": 0.7})
        text = json.dumps({"mlgate": notes.FORMAT, "records": {model: record}})
        note_chunks.append(f"N inline {sha}\ndata {len(text.encode())}\n{text}\n")
    proc = subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=repo,
        input="".join(note_chunks).encode(),
        capture_output=True,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return shas


class Page(HTMLParser):
    """A page as text and elements: what a reader (or a script) would find in it."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def links(self) -> list[str]:
        return [a["href"] or "" for tag, a in self.tags if tag == "a" and "href" in a]


def small_project(repo: Path) -> list[str]:
    """Two commits on main with notes, three versions of churn (v3 a rollback of v1) with
    model cards and data files."""
    write_config(repo, classification_config())
    first = commit_all(repo, "first model")
    (repo / "x.txt").write_text("x\n")
    second = commit_all(repo, "second model")
    notes.write(
        repo, first, "churn", run_record("churn", first, {"accuracy": 0.90, "f1_macro": 0.8})
    )
    notes.write(
        repo, second, "churn", run_record("churn", second, {"accuracy": 0.93, "f1_macro": 0.85})
    )
    records = [
        lineage(1, source=first, pull_request=4, metrics={"accuracy": 0.90, "f1_macro": 0.8}),
        lineage(2, source=second, pull_request=5, metrics={"accuracy": 0.93, "f1_macro": 0.85}),
        lineage(3, source=first, rollback_of=1, metrics={"accuracy": 0.90, "f1_macro": 0.8}),
    ]
    for record in records:
        production_version(
            repo, with_data(record), card=f"# churn v{record.version}\n\nCard text.\n"
        )
    return [first, second]


def production_version(repo: Path, record: production.Lineage, *, card: str | None = None) -> str:
    """A promotion by plumbing: a production commit with ``<model>/lineage.json`` (and
    ``MODEL_CARD.md``) and its annotated tag, as `mlgate promote` leaves them."""
    files = {production.LINEAGE_FILE: json.dumps(record.to_dict())}
    if card is not None:
        files[production.CARD_FILE] = card
    entries = "".join(
        f"100644 blob {git_input(repo, text, 'hash-object', '-w', '--stdin')}\t{name}\0"
        for name, text in sorted(files.items())
    )
    inner = git_input(repo, entries, "mktree", "-z")  # -z: a name is taken as it is
    tree = git_input(repo, f"040000 tree {inner}\t{record.model}\0", "mktree", "-z")
    tip = git(repo, "for-each-ref", "--format=%(objectname)", "refs/heads/production")
    commit = git(repo, "commit-tree", tree, *(["-p", tip] if tip else []), "-m", "promote")
    git(repo, "update-ref", "refs/heads/production", commit)
    tag = production.tag_name(production.DEFAULT_TAG, record.model, record.version)
    message = production.tag_message(record, ORDER)
    git_input(repo, message, "tag", "-a", "--cleanup=verbatim", "-F", "-", tag, commit)
    return commit


def with_data(record: production.Lineage) -> production.Lineage:
    return dataclasses.replace(
        record,
        data={"train": production.DataRef("train.csv", "a" * 64, 10)},
        config={"model": {"params": {"C": 0.5, "solver": {"name": "lbfgs"}}}},
    )


def read(site_dir: Path, rel: str) -> Page:
    return Page((site_dir / rel).read_text(encoding="utf-8"))


def version_rows(page: Page) -> list[dict[str, str | None]]:
    return [a for tag, a in page.tags if tag == "tr" and "data-version" in a]


# What a pull request's author or anyone who can push a note chooses: each would become
# markup, a script or a link if it reached a page unescaped.
HOSTILE_MODEL = "<script>alert('model')</script>"
HOSTILE_METRIC = '<img src=x onerror="alert(1)">'
HOSTILE_MESSAGE = '"><svg onload=alert(2)><a href="javascript:alert(3)">x</a>'
HOSTILE_CARD = "<script>alert(4)</script>\n<iframe src=https://evil.example></iframe>"
# A directory (and its tags) on the production branch: a ref may hold no space or backslash.
HOSTILE_DIR = "\"'><i>x<i>&amp;"


def hostile_project(repo: Path) -> dict[str, str]:
    """``small_project`` plus hostile values everywhere they can come from: a commit
    message, a note's model and metric names, a model card, a production directory."""
    shas = small_project(repo)
    (repo / "z.txt").write_text("z\n")
    evil = commit_all(repo, HOSTILE_MESSAGE)
    metrics = {"accuracy": 0.91, HOSTILE_METRIC: 1.0}
    document = {
        "mlgate": notes.FORMAT,
        "records": {
            "churn": run_record("churn", evil, metrics),
            HOSTILE_MODEL: run_record(HOSTILE_MODEL, evil, metrics),
        },
    }
    git_input(repo, json.dumps(document), "notes", "--ref", notes.NOTES_REF, "add", "-F", "-", evil)
    record = lineage(4, source=evil, metrics=metrics)
    production_version(repo, with_data(record), card=HOSTILE_CARD)
    production_version(repo, lineage(1, model=HOSTILE_DIR, metrics=metrics), card=HOSTILE_CARD)
    return {"first": shas[0], "second": shas[1], "evil": evil}
