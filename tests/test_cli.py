"""The command line itself: fast start-up, version, help, exit codes of argparse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate import __version__
from projects import classification_config, classification_frames, cli, write_config, write_frames


def test_version(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        cli(capsys, "--version")
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"mlgate {__version__}\n"


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["check", "--help"], ["monitor", "--help"]]
)
def test_help_and_version_do_not_import_heavy_modules(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from mlgate.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('pandas', 'sklearn', 'numpy', 'git', 'jinja2', 'requests',"
        " 'mlflow', 'obstore', 'boto3') if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in proc.stderr


def test_usage_error_exit_code_is_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mlgate", "check", "--format", "html"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "invalid choice: 'html'" in proc.stderr


def test_data_add_status_pull_roundtrip(repo: Path, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    write_config(repo, classification_config())  # no storage yet: add only caches
    write_frames(repo, *classification_frames())
    code, out, err = cli(capsys, "data", "add", "data/train.csv", "data/test.csv")
    assert code == 0, err
    assert out.splitlines()[0].startswith("data/train.csv.ptr: sha256 ")
    assert "168 rows" in out.splitlines()[0]
    assert (repo / ".gitignore").read_text().count("/data/train.csv") == 1
    code, out, _ = cli(capsys, "data", "status")
    assert all(line.endswith("storage: unknown") for line in out.splitlines())
    write_config(repo, classification_config(storage=store.as_uri()))
    code, out, _ = cli(capsys, "data", "push")
    assert code == 0 and "pushed 2 file(s)" in out
    assert len([p for p in store.rglob("*") if p.is_file()]) == 2  # objects only, no locks
    code, out, _ = cli(capsys, "data", "status")
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("data/test.csv")
    assert all("file ok" in line and "storage: yes" in line for line in lines)
    (repo / "data" / "train.csv").write_text("f0,label\n1,0\n")
    code, out, _ = cli(capsys, "data", "status")
    assert "file modified" in out.splitlines()[1]
    (repo / "data" / "train.csv").unlink()
    code, out, _ = cli(capsys, "data", "pull")
    assert code == 0
    assert (repo / "data" / "train.csv").read_text().startswith("f0,f1,f2,f3,f4,label")


def test_text_report_is_coloured_on_a_terminal_only(repo: Path) -> None:
    import os
    import pty

    from projects import base_project

    base_project(repo, classification_config(), classification_frames())
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlgate", "check"], cwd=repo, stdout=terminal, stderr=terminal
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait() == 0
    os.close(controller)
    on_tty = b"".join(chunks).decode()
    assert "\x1b[32mPASS\x1b[0m" in on_tty
    assert "✓ training base and head (" in on_tty  # the live progress line, finished
    piped = subprocess.run(
        [sys.executable, "-m", "mlgate", "check"], cwd=repo, capture_output=True, text=True
    )
    assert piped.stdout.startswith("PASS mlgate: churn passes the gate")
    assert "\x1b[" not in piped.stdout


def test_progress_is_one_line_per_stage_in_ci_and_silent_elsewhere(repo: Path) -> None:
    from projects import base_project

    base_project(repo, classification_config(), classification_frames())
    run = [sys.executable, "-m", "mlgate", "check"]
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    quiet = subprocess.run(run, cwd=repo, env=env, capture_output=True, text=True)
    assert quiet.returncode == 0 and quiet.stderr == ""
    ci = subprocess.run(
        [*run, "--no-cache"], cwd=repo, env={**env, "CI": "true"}, capture_output=True, text=True
    )
    assert ci.returncode == 0
    assert ci.stderr.splitlines() == [
        "mlgate: fetching data and code",
        "mlgate: training base and head",
        "mlgate: comparing and applying the gate",
    ]
    again = subprocess.run(run, cwd=repo, env={**env, "CI": "true"}, capture_output=True, text=True)
    assert (
        again.stderr.splitlines()[0]
        == "mlgate: reusing the earlier run of base and head (same inputs)"
    )
    assert ci.stdout.splitlines()[0] == quiet.stdout.splitlines()[0]  # stdout: the report only


def test_every_option_and_argument_has_help_text() -> None:
    """Walk the parser (as GTO's tests do): `mlgate COMMAND --help` explains everything."""
    import argparse

    from mlgate.cli import _parser

    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, where: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    if not choice.help:
                        missing.append(f"{where} {choice.dest}")
                for name, sub in action.choices.items():
                    walk(sub, f"{where} {name}")
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{where} {'/'.join(action.option_strings) or action.dest}")

    walk(_parser(), "mlgate")
    assert missing == []


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],
        ["--debug", "check", "--base", "main", "--format", "json"],
        ["-C", "check", "validate", "-c", "sub/mlgate.yaml"],  # a directory named like a command
        ["-Ccheck", "history", "--format", "markdown"],
        ["data", "add", "a.csv", "--url", "https://example.com/a.csv"],
        ["rollback", "--to", "3", "--dry-run"],
        ["init", "--data", "check", "--target", "y"],
        ["monitor", "churn", "--data", "logs", "b.csv", "--labels", "y", "--format", "json"],
    ],
)
def test_a_parser_built_for_one_command_reads_it_as_the_whole_one_does(argv: list[str]) -> None:
    """Only the command being run gets its options (a faster start); what it parses must not
    change, whatever words the other arguments are."""
    from mlgate.cli import _parser

    assert vars(_parser(argv).parse_args(argv)) == vars(_parser().parse_args(argv))


def test_an_unknown_command_is_named_with_every_choice(capsys: pytest.CaptureFixture[str]) -> None:
    from mlgate.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["chekc"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'chekc'" in err and "'check'" in err and "'data'" in err
