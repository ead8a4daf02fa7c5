"""`mlgate ci` on a schedule: the monitor runs on `monitor.data`, and one alert issue per
model is kept on the loopback GitHub and GitLab (replies checked against their documented
shapes): created on the first unhealthy run, edited on the next, closed with a final
comment when the batch is healthy again."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_events import github_env, use_env
from fakes.github import VALID_TOKEN, serve_github
from fakes.gitlab import VALID_TOKEN as GITLAB_TOKEN
from fakes.gitlab import serve_gitlab
from projects import base_project, classification_config, classification_frames, cli, push_to_origin

MARKER = "<!-- mlgate:monitor model=churn -->"
MONITOR = {"data": ["batches"], "drift": {"psi": {"max": 0.25}}}


@pytest.fixture
def promoted(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    base_project(repo, classification_config(monitor=MONITOR), classification_frames(rows=600))
    push_to_origin(repo, tmp_path)
    code, _, err = cli(capsys, "promote")
    assert code == 0, err
    return repo


def live_batch(repo: Path, shift: float) -> None:
    live = classification_frames(rows=600)[1].drop(columns=["label"])
    live["f0"] = live["f0"] + shift
    (repo / "batches").mkdir(exist_ok=True)
    live.to_csv(repo / "batches" / "today.csv", index=False)


def scheduled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api_url: str) -> None:
    env = github_env(tmp_path, {"schedule": "17 6 * * *"}, token=VALID_TOKEN)
    env |= {"GITHUB_EVENT_NAME": "schedule", "GITHUB_API_URL": api_url}
    use_env(monkeypatch, env)


def test_three_scheduled_runs_open_edit_and_close_one_alert_issue(
    promoted: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with serve_github() as gh:
        scheduled(monkeypatch, tmp_path, gh.url)
        live_batch(promoted, shift=3.0)
        code, out, err = cli(capsys, "ci")
        assert code == 1, err
        assert "mlgate: churn in production is unhealthy" in out
        (issue,) = gh.issues.values()
        assert f"mlgate: alert issue #{issue['number']} created" in out
        assert issue["body"].startswith(MARKER + "\n") and "f0" in issue["body"]
        assert "is unhealthy" in (tmp_path / "summary.md").read_text()

        live_batch(promoted, shift=4.0)
        code, out, _ = cli(capsys, "ci")
        assert code == 1 and f"#{issue['number']} updated" in out
        assert len(gh.issues) == 1 and issue["state"] == "open"

        live_batch(promoted, shift=0.0)
        code, out, err = cli(capsys, "ci")
        assert code == 0, err
        assert "churn in production is healthy" in out and f"#{issue['number']} closed" in out
        assert issue["state"] == "closed"
        (closing,) = gh.bodies(issue["number"])
        assert closing.startswith("✅ churn is healthy again: every monitor rule holds")

        code, out, _ = cli(capsys, "ci")  # still healthy: nothing to open or close
        assert code == 0 and "alert issue" not in out and len(gh.issues) == 1
        assert gh.violations == []


def test_a_scheduled_gitlab_pipeline_keeps_the_issue_through_the_issues_api(
    promoted: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_gitlab() as gl:
        env = {
            "GITLAB_CI": "true",
            "CI_PIPELINE_SOURCE": "schedule",
            "CI_API_V4_URL": gl.api_url,
            "CI_PROJECT_ID": str(gl.project_id),
            "GITLAB_TOKEN": GITLAB_TOKEN,
        }
        use_env(monkeypatch, env)
        live_batch(promoted, shift=3.0)
        code, out, _ = cli(capsys, "ci")
        (issue,) = gl.issues.values()
        assert code == 1 and f"alert issue #{issue['iid']} created" in out
        assert issue["description"].startswith(MARKER + "\n") and "f0" in issue["description"]
        first = issue["description"]

        live_batch(promoted, shift=4.0)
        code, out, _ = cli(capsys, "ci")
        assert code == 1 and f"#{issue['iid']} updated" in out
        assert len(gl.issues) == 1 and issue["state"] == "opened"
        assert issue["description"] != first  # edited with this run's numbers

        live_batch(promoted, shift=0.0)
        code, out, err = cli(capsys, "ci")
        assert code == 0, err
        assert f"#{issue['iid']} closed" in out and issue["state"] == "closed"
        (closing,) = (n["body"] for n in gl.issue_notes[issue["iid"]])
        assert closing.startswith("✅ churn is healthy again")
        assert gl.violations == []


def test_without_monitor_data_a_schedule_says_what_to_set(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_project(repo, classification_config(), classification_frames())
    with serve_github() as gh:
        scheduled(monkeypatch, tmp_path, gh.url)
        code, out, _ = cli(capsys, "ci")
    assert code == 0
    assert "nothing to monitor on a schedule: set monitor.data in mlgate.yaml" in out
    assert not gh.issues
