"""Errors keep their exit codes, and ``--debug`` shows no token (issue 11, item 10).

``--debug`` used to re-raise, so every error exited 1, which means "gate failed": a CI
step that tolerates a failed gate then passed on a broken config. And a malformed
``GITHUB_API_URL`` put the token into the exception, so the traceback (and even the
one-line internal error) printed it. Each case runs with and without ``--debug``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ci_events import github_env, pr_event
from conftest import commit_all, git
from fakes import github as fake_github
from fakes.github import serve_github
from fakes.gitlab import serve_gitlab
from projects import base_project, classification_config, classification_frames, cli, write_config

TOKEN = "ghp_SuperSecretToken1234567890abcdefXYZ"


def both(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """The exit code (the same with and without --debug) and what --debug printed."""
    code, _, plain_err = cli(capsys, *args)
    debug_code, out, err = cli(capsys, "--debug", *args)
    assert debug_code == code, (plain_err, err)
    if code not in (0, 1):
        assert "Traceback (most recent call last)" in err
        assert err.rstrip().endswith(plain_err.rstrip())  # the same line, after it
    return code, out + err


@pytest.fixture
def project(repo: Path) -> Path:
    base_project(repo, classification_config(), classification_frames())
    return repo


def test_usage_config_and_data_errors_keep_their_codes_under_debug(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert both(capsys, "check", "--base", "nope")[0] == 2  # usage

    (project / "mlgate.yaml").write_text("version: 1\nmodel: [\n")
    code, shown = both(capsys, "check")
    assert code == 2 and "mlgate.yaml:" in shown  # config
    git(project, "checkout", "mlgate.yaml")

    (project / "data" / "train.csv").write_bytes(b"\x00\xff\x00garbage\n\x01")
    code, shown = both(capsys, "check")
    assert code == 3 and "cannot read data/train.csv" in shown  # data
    git(project, "checkout", "data/train.csv")


def test_a_failed_gate_is_1_with_and_without_debug(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = classification_config(gate={"accuracy": {"min": 0.99}})
    base_project(repo, cfg, classification_frames())
    code, shown = both(capsys, "check")
    assert code == 1 and "Traceback" not in shown


@pytest.mark.parametrize(
    ("source", "line", "detail"),
    [
        ("ok\n\n{{ 1 / 0 }}\n", 3, "ZeroDivisionError: division by zero"),
        ("{{ report.model + 1 }}\n", 1, "TypeError"),
        ("{% macro f() %}{{ f() }}{% endmacro %}\n{{ f() }}\n", 1, "RecursionError"),
    ],
)
def test_template_errors_are_config_errors_at_their_line(
    repo: Path,
    capsys,
    source: str,
    line: int,
    detail: str,  # type: ignore[no-untyped-def]
) -> None:
    cfg = classification_config(report={"template": "ci/report.md.j2"})
    (repo / "ci").mkdir()
    (repo / "ci" / "report.md.j2").write_text(source)
    base_project(repo, cfg, classification_frames())
    code, shown = both(capsys, "check", "--format", "markdown")
    assert code == 2
    assert f"mlgate: error: ci/report.md.j2:{line}: report.template: the report" in shown
    assert detail in shown


# --- the token ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PullRequest:
    repo: Path
    tmp_path: Path  # the runner's files: event, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY
    env: dict[str, str]

    def assert_hidden(self, shown: str) -> None:
        """TOKEN (or a good part of it) is neither in ``shown`` nor in any file left."""
        files = [*self.tmp_path.glob("*.*"), *self.repo.glob("mlgate-*")]
        for text in (shown, *(p.read_text() for p in files)):
            for form in (TOKEN, TOKEN[4:20]):
                assert form not in text


@pytest.fixture
def pr(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PullRequest:
    """A pull request in GitHub Actions, with TOKEN as GITHUB_TOKEN."""
    base = base_project(repo, classification_config(), classification_frames())
    git(repo, "checkout", "-q", "-b", "feature")
    cfg = classification_config()
    cfg["model"]["params"]["C"] = 0.5
    write_config(repo, cfg)
    head = commit_all(repo, "C 0.5")
    env = github_env(tmp_path, pr_event(number=2, base__sha=base, head__sha=head), token=TOKEN)
    env["MLGATE_MAX_RATE_WAIT"] = "1"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return PullRequest(repo, tmp_path, env)


@pytest.mark.parametrize(
    "api_url",
    [
        f"https://x@[{TOKEN}]/",  # urlsplit's error quotes the "host"
        f"https://{TOKEN}@api.ex\uff03ample/",  # NFKC changes the host: quoted with the token
        f"https://x:{TOKEN}@127.0.0.1:1/",  # credentials in the URL
        f"https://[::1]:{TOKEN}/",  # a "port"
        "http://[::1",
    ],
)
def test_a_malformed_api_url_is_a_usage_error_that_shows_no_token(
    pr: PullRequest, api_url: str, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GITHUB_API_URL", api_url)
    code, shown = both(capsys, "ci")
    assert code == 2 and "GITHUB_API_URL" in shown
    pr.assert_hidden(shown)


def test_forge_errors_keep_code_3_and_show_no_token(pr: PullRequest, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with serve_github(repository="Codertocat/Hello-World") as gh:
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        code, shown = both(capsys, "ci")  # GitHub does not know the token: 401
        assert code == 3 and "401 Bad credentials" in shown
        pr.assert_hidden(shown)

        monkeypatch.setenv("GITHUB_TOKEN", f"{fake_github.VALID_TOKEN}\n")  # read from a file
        for _ in range(2):  # a 422 whose message quotes the token, once for each run
            gh.fail(422, body={"message": f"Validation Failed: {fake_github.VALID_TOKEN}"})
        code, shown = both(capsys, "ci")
        assert code == 3 and "Validation Failed: ***" in shown
        assert fake_github.VALID_TOKEN not in shown

        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_REPOSITORY", f"Codertocat/{TOKEN}")  # in every URL
        code, shown = both(capsys, "ci")
        assert code == 3
        pr.assert_hidden(shown)

    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:1")  # nothing listens
    code, shown = both(capsys, "ci")
    assert code == 3 and "cannot reach 127.0.0.1:1" in shown
    pr.assert_hidden(shown)

    monkeypatch.setenv("GITHUB_API_URL", f"http://{'a' * 70}.example")  # urllib3's own error
    code, shown = both(capsys, "ci")
    assert code == 3 and "cannot reach" in shown and "internal error" not in shown
    pr.assert_hidden(shown)


def test_gitlab_errors_show_no_token(pr: PullRequest, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for key in pr.env:
        monkeypatch.delenv(key)
    with serve_gitlab() as gl:
        env = {
            "GITLAB_CI": "true",
            "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_API_V4_URL": f"https://{TOKEN}@gitlab.ex\uff03ample/api/v4",
            "CI_PROJECT_ID": str(gl.project_id),
            "CI_MERGE_REQUEST_IID": str(gl.mr_iid),
            "CI_MERGE_REQUEST_DIFF_BASE_SHA": git(pr.repo, "rev-parse", "main"),
            "CI_COMMIT_SHA": git(pr.repo, "rev-parse", "HEAD"),
            "MLGATE_TOKEN": TOKEN,
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        code, shown = both(capsys, "ci")
        assert code == 2 and "CI_API_V4_URL" in shown
        pr.assert_hidden(shown)

        monkeypatch.setenv("CI_API_V4_URL", gl.api_url)
        code, shown = both(capsys, "ci")  # GitLab does not know the token: 401
        assert code == 3 and "401" in shown
        pr.assert_hidden(shown)
