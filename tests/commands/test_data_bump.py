"""``mlgate data bump``: pointers with a source get the source's newest bytes."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from ci_events import github_env, use_env
from conftest import FIXTURES, commit_all, git
from fakes import github as fake_github
from fakes.github import serve_github
from fakes.httpserver import Route, serve
from mlgate.cli import main
from mlgate.commands.data import Bumped, add, bump, bump_body
from mlgate.errors import ConfigError, DataError, UsageError
from mlgate.storage.objects import Cache
from mlgate.storage.pointers import Pointer, parse
from projects import base_project, classification_config, classification_frames, cli, push_to_origin

CSV = b"age,plan,label\n31,basic,1\n45,pro,0\n"
CSV_V2 = CSV + b"60,pro,0\n"
CSV_V3 = CSV_V2 + b"22,basic,1\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pointer(repo: Path, rel: str = "data/train.csv") -> Pointer:
    return parse((repo / f"{rel}.ptr").read_bytes(), where=f"{rel}.ptr")


def added(repo: Path, source: str | tuple[str, ...], data: bytes = CSV) -> Path:
    (repo / "data").mkdir(exist_ok=True)
    (repo / "data/train.csv").write_bytes(data)
    add(repo, ["data/train.csv"], url=None, storage=None, cache=Cache(), source=source)
    return repo / "data/train.csv.ptr"


def script(repo: Path, body: str) -> tuple[str, ...]:
    (repo / "build.py").write_text(body)
    return (sys.executable, "build.py")


# --- the pointer's source ------------------------------------------------------------------


def test_source_round_trips_as_url_or_argv() -> None:
    for source in ("https://example.com/a.csv", ("python", "make data.py", "--seed", "1")):
        ptr = Pointer("0" * 64, 3, source=source)
        assert parse(ptr.dump(), where="x.ptr") == ptr


def test_a_pointer_without_source_still_parses() -> None:
    assert parse(f"sha256: {'a' * 64}\nsize: 3\n", where="x.ptr").source is None


@pytest.mark.parametrize("value", ["''", "[]", "[1, 2]", "{a: b}", "['']"])
def test_a_bad_source_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^x\.ptr: source: expected a URL string or a command"):
        parse(f"sha256: {'a' * 64}\nsize: 3\nsource: {value}\n", where="x.ptr")


def test_add_records_the_source_and_a_later_add_keeps_it(repo: Path) -> None:
    added(repo, "https://example.com/train.csv")
    assert pointer(repo).source == "https://example.com/train.csv"
    (repo / "data/train.csv").write_bytes(CSV_V2)
    add(repo, ["data/train.csv"], url=None, storage=None, cache=Cache())
    assert pointer(repo).source == "https://example.com/train.csv"
    assert pointer(repo).sha256 == sha(CSV_V2)


# --- bump ----------------------------------------------------------------------------------


def test_bump_from_an_http_url(repo: Path) -> None:
    with serve({"/train.csv": Route(CSV_V2)}) as server:
        added(repo, server.url + "/train.csv")
        [b] = bump(repo, None, cache=Cache(), storage=None)
    assert b.changed and b.old.sha256 == sha(CSV) and b.new.sha256 == sha(CSV_V2)
    ptr = pointer(repo)
    assert (ptr.sha256, ptr.size, ptr.rows) == (sha(CSV_V2), len(CSV_V2), 3)
    assert ptr.source == server.url + "/train.csv"
    assert (repo / "data/train.csv").read_bytes() == CSV_V2
    assert Cache().has(sha(CSV_V2))


def test_bump_from_a_command_writing_stdout_or_its_output(repo: Path) -> None:
    argv = script(repo, f"import sys\nsys.stdout.buffer.write({CSV_V2!r})\n")
    added(repo, argv)
    [b] = bump(repo, ["data/train.csv"], cache=Cache(), storage=None)
    assert b.changed and pointer(repo).sha256 == sha(CSV_V2)
    out = "pathlib.Path(os.environ['MLGATE_OUTPUT'])"
    body = f"import os, pathlib\n{out}.write_bytes({CSV_V3!r})\n"
    script(repo, body)
    [b] = bump(repo, None, cache=Cache(), storage=None)
    assert pointer(repo).sha256 == sha(CSV_V3) and pointer(repo).source == argv


def test_a_command_runs_in_the_repo_root_without_a_shell(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = script(
        repo,
        "import os, sys\nassert os.getcwd() == os.path.realpath(os.environ['WANT'])\n"
        "sys.stdout.write(sys.argv[1] + '\\n1\\n')\n",
    )
    added(repo, (*argv, "a;$(echo b)"))
    monkeypatch.setenv("WANT", str(repo))
    bump(repo, None, cache=Cache(), storage=None)
    assert (repo / "data/train.csv").read_bytes() == b"a;$(echo b)\n1\n"


def test_unchanged_source_changes_nothing(repo: Path) -> None:
    added(repo, "file://" + str(repo / "upstream.csv"))
    (repo / "upstream.csv").write_bytes(CSV)
    before = (repo / "data/train.csv.ptr").read_bytes()
    [b] = bump(repo, None, cache=Cache(), storage=None)
    assert not b.changed and (repo / "data/train.csv.ptr").read_bytes() == before


def test_pointers_without_a_source_are_skipped_unless_named(repo: Path) -> None:
    (repo / "other.csv").write_bytes(CSV)
    add(repo, ["other.csv"], url=None, storage=None, cache=Cache())
    assert bump(repo, None, cache=Cache(), storage=None) == []
    with pytest.raises(UsageError, match=r"other\.csv\.ptr has no source"):
        bump(repo, ["other.csv"], cache=Cache(), storage=None)


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (Route(b"", status=500), "source http://127.0.0.1:.*/train.csv failed: HTTP 500"),
        (Route(b""), "gave an empty file"),
        (Route(b"a,b\n1,2\n3,4,5,6\n"), "gave a corrupt file: cannot read data/train.csv"),
    ],
)
def test_a_failing_or_corrupt_source_changes_nothing(
    repo: Path, route: Route, message: str
) -> None:
    with serve({"/train.csv": route}) as server:
        ptr_file = added(repo, server.url + "/train.csv")
        before = ptr_file.read_bytes()
        with pytest.raises(DataError, match=message) as e:
            bump(repo, None, cache=Cache(), storage=None)
    assert "\n" not in str(e.value)
    assert ptr_file.read_bytes() == before and (repo / "data/train.csv").read_bytes() == CSV


def test_a_failing_command_changes_nothing(repo: Path) -> None:
    added(repo, script(repo, "import sys\nsys.stderr.write('upstream down\\n')\nsys.exit(4)\n"))
    before = (repo / "data/train.csv.ptr").read_bytes()
    with pytest.raises(DataError, match=r"failed with exit code 4: upstream down$"):
        bump(repo, None, cache=Cache(), storage=None)
    assert (repo / "data/train.csv.ptr").read_bytes() == before


def test_a_slow_or_missing_command_is_a_data_error(repo: Path) -> None:
    added(repo, script(repo, "import time\ntime.sleep(30)\n"))
    with pytest.raises(DataError, match=r"did not finish within 0\.5 s"):
        bump(repo, None, cache=Cache(), storage=None, timeout=0.5)
    added(repo, ("no-such-program-mlgate",))
    with pytest.raises(DataError, match="no-such-program-mlgate not found"):
        bump(repo, None, cache=Cache(), storage=None)


def test_one_failing_source_stops_every_write(repo: Path) -> None:
    with serve({"/a.csv": Route(CSV_V2), "/b.csv": Route(b"", status=404)}) as server:
        for name in ("a", "b"):
            (repo / f"{name}.csv").write_bytes(CSV)
            source = f"{server.url}/{name}.csv"
            add(repo, [f"{name}.csv"], url=None, storage=None, cache=Cache(), source=source)
        with pytest.raises(DataError):
            bump(repo, None, cache=Cache(), storage=None)
    assert pointer(repo, "a.csv").sha256 == sha(CSV)


def test_bump_refuses_to_overwrite_unrecorded_edits(repo: Path) -> None:
    with serve({"/train.csv": Route(CSV_V2)}) as server:
        added(repo, server.url + "/train.csv")
        (repo / "data/train.csv").write_bytes(CSV_V3)
        with pytest.raises(DataError, match="has changes not recorded"):
            bump(repo, None, cache=Cache(), storage=None)
    assert pointer(repo).sha256 == sha(CSV)


# --- the command line ------------------------------------------------------------------------


def test_cli_add_source_command_then_bump(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "data").mkdir()
    (repo / "data/train.csv").write_bytes(CSV)
    script(repo, f"import sys\nsys.stdout.buffer.write({CSV_V2!r})\n")
    cmd = f"'{sys.executable}' build.py"
    assert main(["data", "add", "data/train.csv", "--source-command", cmd]) == 0
    assert pointer(repo).source == (sys.executable, "build.py")
    commit_all(repo, "data")
    capsys.readouterr()
    assert main(["data", "bump"]) == 0
    out = capsys.readouterr().out
    assert f"data/train.csv.ptr: {sha(CSV)[:12]} -> {sha(CSV_V2)[:12]}" in out
    assert main(["data", "bump"]) == 0
    assert "data/train.csv: unchanged" in capsys.readouterr().out
    assert git(repo, "status", "--porcelain") == "M data/train.csv.ptr"


def test_cli_failing_source_is_exit_3_in_one_line(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    added(repo, "file://" + str(repo / "gone.csv"))
    capsys.readouterr()
    assert main(["data", "bump"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("mlgate: error: source file://") and err.count("\n") == 1


# --- --pr: a branch, one pull request, a dispatched check ----------------------------------


def bump_project(repo: Path, tmp_path: Path, upstream: Path) -> Path:
    """The classification project with data/train.csv as a pointer whose source is a file
    URL, pushed to a bare origin; returns the bare repository."""
    base_project(repo, classification_config(), classification_frames())
    upstream.write_bytes((repo / "data/train.csv").read_bytes())
    main(["data", "add", "data/train.csv", "--source", upstream.as_uri()])
    commit_all(repo, "train.csv as a pointer")
    return push_to_origin(repo, tmp_path)


def dispatch_event(branch: str) -> dict[str, Any]:
    """GitHub's workflow_dispatch payload (its example: on master of a repository whose
    default branch is master), dispatched on ``branch``."""
    event = json.loads((FIXTURES / "events" / "github-workflow_dispatch.json").read_text())
    event["ref"] = f"refs/heads/{branch}"
    return dict(event)


def frames_csv(seed: int) -> bytes:
    return classification_frames(seed=seed)[0].to_csv(index=False).encode()


def test_bump_pr_end_to_end_one_pr_dispatch_and_ci_reports_on_it(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = tmp_path / "upstream.csv"
    bare = bump_project(repo, tmp_path, upstream)
    branch = "mlgate/data/churn"
    with serve_github() as gh:
        gh.branch_sha = lambda ref: git(bare, "rev-parse", f"refs/heads/{ref}")
        env = github_env(tmp_path, {}, token=fake_github.VALID_TOKEN)
        del env["GITHUB_ACTIONS"], env["GITHUB_EVENT_NAME"], env["GITHUB_EVENT_PATH"]
        env["GITHUB_API_URL"] = gh.url
        use_env(monkeypatch, env)

        upstream.write_bytes(frames_csv(1))
        code, out, err = cli(capsys, "data", "bump", "--pr")
        assert code == 0, err
        [number] = gh.opened
        assert f"opened pull request #{number}" in out
        first = git(bare, "rev-parse", branch)
        shown = git(bare, "show", f"{branch}:data/train.csv.ptr")
        assert parse(shown, where="x").sha256 == sha(frames_csv(1))
        assert git(bare, "rev-parse", f"{branch}~1") == git(bare, "rev-parse", "main")
        body = gh.opened[number]["body"]
        assert body.startswith("<!-- mlgate:data-bump -->\n") and "| data/train.csv |" in body
        assert sha(frames_csv(1))[:8] in body

        upstream.write_bytes(frames_csv(2))
        code, out, err = cli(capsys, "data", "bump", "--pr")
        assert code == 0, err
        assert f"updated pull request #{number}" in out
        assert list(gh.opened) == [number]  # never a second pull request
        assert git(bare, "rev-parse", branch) != first
        assert git(bare, "rev-list", "--count", f"main..{branch}") == "1"  # force-updated
        assert sha(frames_csv(2))[:8] in gh.opened[number]["body"]
        assert gh.dispatches == [("mlgate.yml", branch), ("mlgate.yml", branch)]
        creates = [r for r in gh.requests if r.method == "POST" and r.path.endswith("/pulls")]
        assert len(creates) == 1

        # The dispatched run: the workflow's checkout of the branch, a workflow_dispatch event.
        git(repo, "fetch", "-q", "origin", branch)
        git(repo, "checkout", "-q", "--force", "FETCH_HEAD")
        head = git(repo, "rev-parse", "HEAD")
        env = github_env(tmp_path, dispatch_event(branch), token=fake_github.VALID_TOKEN)
        env.update(GITHUB_EVENT_NAME="workflow_dispatch", GITHUB_API_URL=gh.url)
        use_env(monkeypatch, env)
        code, out, err = cli(capsys, "ci")
        assert code in (0, 1), err
        [report] = gh.bodies(number)
        assert report.startswith("<!-- mlgate:report model=churn -->\n")
        assert {s["context"] for s in gh.statuses[head]} == {"mlgate/churn"}
        assert gh.statuses[head][-1]["state"] == ("success" if code == 0 else "failure")


def test_bump_pr_with_nothing_new_opens_nothing(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bump_project(repo, tmp_path, tmp_path / "upstream.csv")
    with serve_github() as gh:
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITHUB_TOKEN", fake_github.VALID_TOKEN)
        monkeypatch.setenv("GITHUB_REPOSITORY", gh.repository)
        code, out, _ = cli(capsys, "data", "bump", "--pr")
    assert code == 0 and "data/train.csv: unchanged" in out
    assert gh.requests == [] and gh.opened == {}


def test_bump_pr_without_a_token_is_a_usage_error(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream = tmp_path / "upstream.csv"
    bump_project(repo, tmp_path, upstream)
    upstream.write_bytes(frames_csv(1))
    code, _, err = cli(capsys, "data", "bump", "--pr")
    assert code == 2 and "set GITHUB_TOKEN or MLGATE_TOKEN" in err


def test_ci_on_a_dispatch_without_a_pull_request_does_nothing(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_github() as gh:
        env = github_env(
            tmp_path, dispatch_event("mlgate/data/churn"), token=fake_github.VALID_TOKEN
        )
        env.update(GITHUB_EVENT_NAME="workflow_dispatch", GITHUB_API_URL=gh.url)
        use_env(monkeypatch, env)
        code, out, _ = cli(capsys, "ci")
    assert code == 0
    assert "nothing to check: no open pull request from mlgate/data/churn" in out


def test_ci_on_a_schedule_bumps_and_opens_the_pull_request(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = tmp_path / "upstream.csv"
    bare = bump_project(repo, tmp_path, upstream)
    upstream.write_bytes(frames_csv(3))
    with serve_github() as gh:
        gh.branch_sha = lambda ref: git(bare, "rev-parse", f"refs/heads/{ref}")
        env = github_env(tmp_path, {"schedule": "0 6 * * 1"}, token=fake_github.VALID_TOKEN)
        workflow_ref = f"{gh.repository}/.github/workflows/data.yml@refs/heads/main"
        env.update(
            GITHUB_EVENT_NAME="schedule", GITHUB_API_URL=gh.url, GITHUB_WORKFLOW_REF=workflow_ref
        )
        use_env(monkeypatch, env)
        code, out, err = cli(capsys, "ci")
        assert code == 0, err
        assert len(gh.opened) == 1 and "dispatched data.yml on mlgate/data/churn" in out
        assert gh.dispatches == [("data.yml", "mlgate/data/churn")]
    shown = git(bare, "show", "mlgate/data/churn:data/train.csv.ptr")
    assert parse(shown, where="x").sha256 == sha(frames_csv(3))


def test_a_dispatch_on_the_default_branch_runs_the_schedule_by_hand(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "Run workflow" button on main in the Actions tab does what the schedule does: the bump
    (into its pull request, dispatched), then the monitor."""
    upstream = tmp_path / "upstream.csv"
    bare = bump_project(repo, tmp_path, upstream)
    upstream.write_bytes(frames_csv(6))
    with serve_github() as gh:
        gh.branch_sha = lambda ref: git(bare, "rev-parse", f"refs/heads/{ref}")
        event = dispatch_event("main")
        event["repository"]["default_branch"] = "main"
        env = github_env(tmp_path, event, token=fake_github.VALID_TOKEN)
        env.update(GITHUB_EVENT_NAME="workflow_dispatch", GITHUB_API_URL=gh.url)
        use_env(monkeypatch, env)
        code, out, err = cli(capsys, "ci")
    assert code == 0, err
    assert len(gh.opened) == 1 and gh.dispatches == [("mlgate.yml", "mlgate/data/churn")]
    assert "nothing to monitor on a schedule: set monitor.data in mlgate.yaml" in out


def test_a_bump_whose_pull_request_failed_is_proposed_again(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = tmp_path / "upstream.csv"
    bare = bump_project(repo, tmp_path, upstream)
    upstream.write_bytes(frames_csv(4))
    with serve_github() as gh:
        gh.branch_sha = lambda ref: git(bare, "rev-parse", f"refs/heads/{ref}")
        for name, value in (
            ("GITHUB_API_URL", gh.url),
            ("GITHUB_TOKEN", fake_github.VALID_TOKEN),
            ("GITHUB_REPOSITORY", gh.repository),
        ):
            monkeypatch.setenv(name, value)
        denied = {"message": "Resource not accessible by integration", "documentation_url": "x"}
        gh.fail(403, method="POST", path=r"/repos/[^/]+/[^/]+/pulls", body=denied)
        code, _, err = cli(capsys, "data", "bump", "--pr")
        assert code == 3 and err.count("\n") == 1 and gh.opened == {}
        assert fake_github.VALID_TOKEN not in err
        code, out, err = cli(capsys, "data", "bump", "--pr")
        assert code == 0, err
        assert "data/train.csv: unchanged" in out and len(gh.opened) == 1


def test_a_command_does_not_see_the_forge_tokens(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_secret")
    monkeypatch.setenv("MLGATE_TOKEN", "mlgate_secret")
    monkeypatch.setenv("DATA_API_KEY", "kept")
    argv = script(
        repo,
        "import os, sys\nseen = [k for k in ('GITHUB_TOKEN', 'MLGATE_TOKEN') if k in os.environ]\n"
        "sys.stdout.write('seen,key\\n' + ' '.join(seen) + ',' + os.environ['DATA_API_KEY'])\n",
    )
    added(repo, argv)
    bump(repo, None, cache=Cache(), storage=None)
    assert (repo / "data/train.csv").read_bytes() == b"seen,key\n,kept"


def test_the_pull_request_body_is_the_data_diff_with_no_secret_in_it() -> None:
    source = "https://user:pass@example.com/t.csv?sig=s3cret"
    old = Pointer("a" * 64, 1000, 10, {"x": "int64", "y": "object"}, None, source)
    new = Pointer("b" * 64, 1200, 12, {"x": "float64", "z": "object"}, None, source)
    body = bump_body("churn", [Bumped("data/train.csv", old, new)])
    row = next(line for line in body.splitlines() if line.startswith("| data/train.csv |"))
    assert "`aaaaaaaa` 1000 B, 10 rows" in row and "`bbbbbbbb` 1.2 KiB, 12 rows" in row
    assert "| +2 |" in row and "+z, −y, x: int64 → float64" in row
    assert "pass" not in body and "s3cret" not in body


def test_a_workflow_without_workflow_dispatch_is_named(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = tmp_path / "upstream.csv"
    bump_project(repo, tmp_path, upstream)
    upstream.write_bytes(frames_csv(5))
    with serve_github() as gh:
        for name, value in (
            ("GITHUB_API_URL", gh.url),
            ("GITHUB_TOKEN", fake_github.VALID_TOKEN),
            ("GITHUB_REPOSITORY", gh.repository),
        ):
            monkeypatch.setenv(name, value)
        refused = {
            "message": "Workflow does not have 'workflow_dispatch' trigger",
            "documentation_url": "x",
        }
        gh.fail(422, method="POST", path=r".*/dispatches", body=refused)
        code, _, err = cli(capsys, "data", "bump", "--pr")
    assert code == 3 and err.count("\n") == 1 and len(gh.opened) == 1
    assert "does .github/workflows/mlgate.yml exist with `on: workflow_dispatch`?" in err


def test_a_source_that_is_no_url_is_refused(repo: Path) -> None:
    (repo / "a.csv").write_bytes(CSV)
    with pytest.raises(UsageError, match=r"--source-command"):
        add(repo, ["a.csv"], url=None, storage=None, cache=Cache(), source="python build.py")
    assert not (repo / "a.csv.ptr").exists()
