"""``mlgate site`` and ``mlgate ui``: real repositories (promotions made by plumbing, notes
written by run.notes), the pages read back as a reader would, the server on 127.0.0.1.
The browser's view (console, requests, charts, keyboard) is tests/render/test_site_browser.py."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_history import fast_import_versions

from conftest import commit_all, git
from mlgate.commands import site
from mlgate.run import notes
from projects import cli
from sites import (
    fast_import_commits,
    git_input,
    lineage,
    production_version,
    read,
    run_record,
    small_project,
    version_rows,
    with_data,
)

# --- mlgate site -----------------------------------------------------------------------------


def test_the_site_shows_every_version_commit_card_and_data_file(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = small_project(repo)
    code, out, err = cli(capsys, "site", "--out", "public")
    assert (code, err) == (0, "")
    assert "1 model, 3 versions, 2 evaluated commits" in out
    public = repo / "public"

    index = read(public, "index.html")
    assert "models/churn/index.html" in index.links()
    model = read(public, "models/churn/index.html")
    rows = version_rows(model)
    assert [r["data-version"] for r in rows] == ["3", "2", "1"]  # newest first
    assert rows[0].get("class") == "current" and "current" not in str(rows[1:])
    assert "rollback of v1" in "".join(model.text)
    assert ("svg", "v-0") in [(t, a.get("id")) for t, a in model.tags]  # accuracy, gated
    code, history_json, _ = cli(capsys, "history", "--format", "json")
    assert (public / "models/churn/history.json").read_text() == history_json
    shown = json.loads(history_json)["versions"]
    assert [r["data-commit"] for r in rows] == [v["commit"] for v in reversed(shown)]

    v2 = "".join(read(public, "models/churn/v2.html").text)
    assert "Card text." in v2 and "# churn v2" in v2
    assert "a" * 64 in v2 and "train.csv" in v2 and "120" in v2  # rows from the note
    assert "solver.name" in v2 and '"lbfgs"' in v2
    for sha in (first, second):
        assert f"commits/{sha[:2]}.html#c-{sha}" in "".join(model.links())
        bucket = read(public, f"commits/{sha[:2]}.html")
        assert ("section", f"c-{sha}") in [(t, a.get("id")) for t, a in bucket.tags]


def test_unchanged_inputs_rebuild_nothing_and_a_new_version_rebuilds(repo: Path) -> None:
    small_project(repo)
    built = site.build(repo, "public")
    assert built.rebuilt and built.versions == 3
    index = repo / "public" / "index.html"
    before = index.stat().st_mtime_ns
    again = site.build(repo, "public")
    assert not again.rebuilt and again.versions == 3
    assert index.stat().st_mtime_ns == before
    production_version(repo, with_data(lineage(4, metrics={"accuracy": 0.95})))
    third = site.build(repo, "public")
    assert third.rebuilt and third.versions == 4
    assert (repo / "public/models/churn/v4.html").is_file()
    assert index.stat().st_mtime_ns != before


def test_out_never_replaces_the_repository_or_a_directory_it_did_not_write(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small_project(repo)
    code, _, err = cli(capsys, "site", "--out", ".")
    assert code == 2 and "would replace the repository" in err
    (repo / "docs").mkdir()
    (repo / "docs" / "keep.md").write_text("mine\n")
    code, _, err = cli(capsys, "site", "--out", "docs")
    assert code == 2 and "did not write" in err and err.count("\n") == 1
    assert (repo / "docs" / "keep.md").read_text() == "mine\n"
    assert not (repo / "docs" / "index.html").exists()


def test_a_killed_builds_leftovers_are_removed_and_the_site_is_whole(repo: Path) -> None:
    small_project(repo)
    leftover = repo / ".public.0123456789ab.site-new"
    (leftover / "models").mkdir(parents=True)
    site.build(repo, "public")
    assert not leftover.exists()
    names = sorted(p.name for p in repo.iterdir() if p.name.startswith(".public"))
    assert names == [".public.lock"]  # the lock file only: no temp directory remains
    assert (repo / "public" / site.STAMP).is_file()


def test_invalid_notes_and_records_are_left_out(repo: Path) -> None:
    first, second = small_project(repo)
    (repo / "y.txt").write_text("y\n")
    third = commit_all(repo, "third")
    git_input(repo, "not json", "notes", "--ref", notes.NOTES_REF, "add", "-f", "-F", "-", third)
    bad = run_record("churn", second, {"accuracy": 0.9})
    bad["metrics"] = {"accuracy": "0.99"}
    doc = {"mlgate": notes.FORMAT, "records": {"churn": bad}}
    git_input(
        repo, json.dumps(doc), "notes", "--ref", notes.NOTES_REF, "add", "-f", "-F", "-", second
    )
    built = site.build(repo, "public")
    assert built.evaluated == 1
    model = read(repo / "public", "models/churn/index.html")
    commits = [
        a["data-commit"]
        for t, a in model.tags
        if t == "tr" and "data-commit" in a and "data-version" not in a
    ]
    assert commits == [first]


def test_a_repository_without_a_config_shows_what_its_refs_hold(repo: Path) -> None:
    git(repo, "commit", "-q", "--allow-empty", "-m", "init")
    production_version(repo, lineage(1, model="fraud"))
    built = site.build(repo, "public")
    assert (built.models, built.versions, built.evaluated) == (1, 1, 0)
    assert "models/fraud/index.html" in read(repo / "public", "index.html").links()


def test_a_thousand_versions_built_by_plumbing(repo: Path) -> None:
    fast_import_commits(repo, 300)
    fast_import_versions(repo, 1000)
    built = site.build(repo, "public")
    assert (built.versions, built.evaluated) == (1000, 300)
    model = read(repo / "public", "models/churn/index.html")
    assert len(version_rows(model)) == 1000
    charts = {a["id"]: a["data-points"] for t, a in model.tags if t == "svg"}
    assert charts["v-0"] == "1000" and charts["c-0"] == "300"
    circles = [a for t, a in model.tags if t == "circle"]
    assert len(circles) == 2 * (1000 + 300)  # accuracy and f1_macro: no config, every metric
    assert sum("rollback of" in text for text in model.text) == 100


# --- mlgate ui -------------------------------------------------------------------------------


@pytest.fixture
def ui(repo: Path) -> Iterator[str]:
    small_project(repo)
    server = site.ui_server(repo, port=0, out=repo / "served", interval=0.0)
    assert server.server_address[0] == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


def test_ui_serves_the_site_and_rebuilds_when_a_version_is_promoted(repo: Path, ui: str) -> None:
    status, body = get(ui)
    assert status == 200 and "models/churn/index.html" in body
    status, body = get(ui + "models/churn/index.html")
    assert status == 200 and 'data-version="3"' in body and 'data-version="4"' not in body
    production_version(repo, with_data(lineage(4, metrics={"accuracy": 0.95})))
    status, body = get(ui + "models/churn/index.html")
    assert status == 200 and 'data-version="4"' in body
    assert get(ui + "models/churn/v4.html")[0] == 200


def test_ui_serves_nothing_outside_the_site(repo: Path, ui: str) -> None:
    (repo / "secret.txt").write_text("token\n")
    for path in ("../secret.txt", "%2e%2e/secret.txt", "..%2fsecret.txt", "../mlgate.yaml"):
        status, body = get(ui + path)
        assert ("token" not in body and "churn" not in body) or status == 404, path


def test_a_new_note_rebuilds_the_site(repo: Path) -> None:
    small_project(repo)
    site.build(repo, "public")
    (repo / "w.txt").write_text("w\n")
    third = commit_all(repo, "third")
    notes.write(repo, third, "churn", run_record("churn", third, {"accuracy": 0.97}))
    built = site.build(repo, "public")
    assert built.rebuilt and built.evaluated == 3
    assert third in (repo / "public/models/churn/index.html").read_text()


def test_mlgate_ui_prints_its_address_serves_and_stops_on_ctrl_c(repo: Path) -> None:
    small_project(repo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlgate", "ui", "--port", "0", "--out", "served"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        built = proc.stdout.readline()
        assert built.startswith("mlgate: built ") and "3 versions" in built
        serving = proc.stdout.readline()
        match = re.fullmatch(
            r"mlgate: serving the site on (http://127\.0\.0\.1:\d+/) .*\n", serving
        )
        assert match, serving
        status, body = get(match[1] + "models/churn/index.html")
        assert status == 200 and 'data-version="3"' in body
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
