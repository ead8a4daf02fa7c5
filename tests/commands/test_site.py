"""``mlgate site`` and ``mlgate ui``: real repositories (promotions made by plumbing, notes
written by run.notes), the pages read back as a reader would, the server on 127.0.0.1.
The browser's view (console, requests, charts, keyboard) is tests/render/test_site_browser.py."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from test_history import BOT, lineage, promote

from conftest import commit_all
from mlgate.core import production
from mlgate.run import notes
from projects import classification_config, write_config


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

    def rows(self, cls: str) -> list[dict[str, str | None]]:
        return [
            a
            for tag, a in self.tags
            if tag == "tr" and "data-commit" in a and cls in a.get("data-kind", cls)
        ]


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
        promote(repo, with_data(record))
    return [first, second]


def with_data(record: production.Lineage) -> production.Lineage:
    import dataclasses

    return dataclasses.replace(
        record,
        data={"train": production.DataRef("train.csv", "a" * 64, 10)},
        config={"model": {"params": {"C": 0.5, "solver": {"name": "lbfgs"}}}},
    )
