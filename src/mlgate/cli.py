"""Command line: argparse -> typed calls into the core -> exit code.

Only this module prints. Heavy modules (pandas, sklearn, even the core) are imported inside
the handlers so that ``mlgate --help`` and ``mlgate --version`` stay fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from mlgate import __version__
from mlgate.errors import ExitCode, MlgateError, UsageError

if TYPE_CHECKING:
    from mlgate.commands.site import Built
    from mlgate.core.results import Outcome
    from mlgate.render.report import Format
    from mlgate.storage.objects import Cache

FORMATS = ("text", "markdown", "json")


CONFIG_HELP = "the model's config, relative to where you stand (default: mlgate.yaml)"


def _config(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="mlgate.yaml", metavar="FILE", help=CONFIG_HELP)


def _format(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--format", choices=FORMATS, default="text", help=f"how to print {what} (default: text)"
    )


def _check_args(c: argparse.ArgumentParser) -> None:
    c.add_argument("--base", metavar="REV", help="default: merge-base with the default branch")
    c.add_argument("--head", metavar="REV", help="default: the working tree")
    _config(c)
    _format(c, "the report")
    c.add_argument("--output", metavar="FILE", help="write the report here instead of stdout")
    c.add_argument(
        "--no-cache", action="store_true", help="retrain both sides, even with unchanged inputs"
    )
    c.add_argument(
        "--pre-push",
        action="store_true",
        help="as a pre-push hook: check each pushed branch tip (git's pre-push lines on "
        "stdin, or pre-commit's PRE_COMMIT_* variables) against its merge-base with the "
        "remote's default branch; a failing gate blocks the push",
    )
    c.add_argument(
        "--remote",
        metavar="NAME",
        help="with --pre-push: the remote pushed to, the hook's first argument "
        "(default: pre-commit's PRE_COMMIT_REMOTE_NAME, else origin)",
    )
    c.add_argument(
        "--all",
        action="store_true",
        help="check every model (each tracked mlgate.yaml) and print a summary table; "
        "exit with the worst model's code",
    )


def _ci_args(ci: argparse.ArgumentParser) -> None:
    _config(ci)
    ci.add_argument(
        "--no-fail", action="store_true", help="exit 0 when the gate fails (the status is red)"
    )
    ci.add_argument(
        "--result",
        default="mlgate-result.json",
        metavar="PATH",
        help="where to save the result for `mlgate publish` (default: mlgate-result.json)",
    )
    ci.add_argument(
        "--no-comment",
        action="store_true",
        help="post no comment (a matrix job: `mlgate ci --gather` posts one for all models)",
    )
    many = ci.add_mutually_exclusive_group()
    many.add_argument(
        "--matrix",
        action="store_true",
        help="many models: write the models the change touches as a GitHub Actions job "
        "matrix (output `matrix`, `count`) and the plan to mlgate-plan.json; trains nothing",
    )
    many.add_argument(
        "--gather",
        metavar="DIR",
        help="many models: post one combined comment and each model's status from the "
        "matrix jobs' results in DIR (DIR/mlgate-result-<model>/mlgate-result.json)",
    )


def _publish_args(pub: argparse.ArgumentParser) -> None:
    pub.add_argument(
        "result", metavar="RESULT.json", help="the result file `mlgate ci` saved (an artifact)"
    )
    pub.add_argument(
        "-c",
        "--config",
        default="mlgate.yaml",
        metavar="FILE",
        help="the config whose gate judges the result, read from the default branch "
        "(default: mlgate.yaml)",
    )


def _promote_args(pr: argparse.ArgumentParser) -> None:
    pr.add_argument("--ref", default="HEAD", metavar="REV", help="the candidate (default HEAD)")
    _config(pr)
    pr.add_argument("--dry-run", action="store_true", help="compare and report, write nothing")
    pr.add_argument(
        "--no-push",
        action="store_true",
        help="commit and tag locally only (the next promote that reaches origin drops them)",
    )


def _rollback_args(rb: argparse.ArgumentParser) -> None:
    rb.add_argument(
        "--to", type=int, required=True, metavar="N", help="the version to make current again"
    )
    _config(rb)
    rb.add_argument(
        "--dry-run", action="store_true", help="say what would be written, write nothing"
    )
    rb.add_argument(
        "--no-push",
        action="store_true",
        help="commit and tag locally only (the next promote that reaches origin drops them)",
    )


def _history_args(hi: argparse.ArgumentParser) -> None:
    _config(hi)
    _format(hi, "the versions")


def _init_args(i: argparse.ArgumentParser) -> None:
    i.add_argument("--data", metavar="PATH", help="a training data file to read columns from")
    i.add_argument("--target", metavar="COLUMN", help="the column to predict")
    i.add_argument(
        "--task",
        choices=("classification", "regression"),
        help="what the model does (default: guessed from the target column)",
    )
    i.add_argument("--name", help="model name (default: the directory name)")
    i.add_argument("--force", action="store_true", help="overwrite existing files")
    i.add_argument(
        "--monorepo",
        action="store_true",
        help="write only the workflow for many models (one job per touched model and one "
        "combined comment); each model keeps its own mlgate.yaml",
    )
    i.add_argument(
        "--no-run",
        action="store_true",
        help="do not run a training command found (the config is then a guess to review)",
    )
    i.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="how long the command may run when init tries it (default: 3600)",
    )
    hooks = i.add_mutually_exclusive_group()
    hooks.add_argument(
        "--hooks",
        action="store_true",
        help="only add the hooks mlgate-validate (on commit) and mlgate-check (on push) for "
        "the mlgate.yaml here to .pre-commit-config.yaml, creating or extending it",
    )
    hooks.add_argument(
        "--git-hook",
        action="store_true",
        help="only install a plain git pre-push hook running `mlgate check --pre-push` for "
        "the mlgate.yaml here (without pre-commit)",
    )


def _positive_int(value: str) -> int:
    """An argparse type: a whole number of at least 1 (a bad one is exit 2, one line)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return number


def _data_args(d: argparse.ArgumentParser) -> None:
    dsub = d.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    add = dsub.add_parser("add", help="record data files as pointers and store their bytes")
    add.add_argument("paths", nargs="+", metavar="PATH", help="the data files to add")
    add.add_argument("--url", help="an explicit download URL to record in the pointer")
    src = add.add_mutually_exclusive_group()
    src.add_argument(
        "--source", metavar="URL", help="where `data bump` gets new bytes: an http(s) or file URL"
    )
    src.add_argument(
        "--source-command",
        metavar="CMD",
        help="a command that builds the file (split like a shell would, run without one) "
        "and writes it to $MLGATE_OUTPUT or stdout",
    )
    bump = dsub.add_parser("bump", help="refresh data from its pointers' sources")
    bump.add_argument(
        "paths", nargs="*", metavar="PATH", help="data files or pointers (default: all)"
    )
    bump.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="how long a source command may run (default: 3600)",
    )
    bump.add_argument(
        "--pr",
        action="store_true",
        help="commit the new pointers on mlgate/data/<model>, push it and open or update "
        "its pull request (GitHub: MLGATE_TOKEN or GITHUB_TOKEN) or merge request (GitLab, "
        "in GitLab CI or with CI_PROJECT_ID: MLGATE_TOKEN or GITLAB_TOKEN)",
    )
    bump.add_argument(
        "--workflow",
        metavar="FILE",
        help="the workflow to dispatch on the branch with --pr (default: the running one, "
        "else mlgate.yml)",
    )
    bump.add_argument(
        "--no-dispatch",
        action="store_true",
        help="with --pr, do not start the check (GitHub: dispatch the workflow; GitLab: a "
        "merge request pipeline): a token whose pushes start it",
    )
    dsub.add_parser("status", help="pointers vs working tree, cache and storage")
    for name, text in (("pull", "fetch data into the working tree"), ("push", "upload data")):
        sp = dsub.add_parser(name, help=text)
        sp.add_argument(
            "paths", nargs="*", metavar="PATH", help="data files or pointers (default: all)"
        )
        sp.add_argument(
            "-j",
            "--jobs",
            type=_positive_int,
            metavar="N",
            help="files transferred at once (default 8)",
        )


def _site_args(si: argparse.ArgumentParser) -> None:
    si.description = (
        "Build a static site of every model, production version (metrics, lineage, data "
        "files, params, model card) and evaluated commit (its run record from "
        "refs/notes/mlgate) from the repository alone: no server, no database, no script. "
        "Nothing is rewritten when no ref, the config and mlgate's version are unchanged."
    )
    si.add_argument(
        "--out", default="site", metavar="DIR", help="the site's directory (default: site)"
    )
    si.add_argument("--force", action="store_true", help="rebuild even when nothing changed")
    _config(si)


def _ui_args(ui: argparse.ArgumentParser) -> None:
    ui.description = (
        "Build the site (as mlgate site) into mlgate's cache and serve it on 127.0.0.1, "
        "rebuilt when the production branch, a tag or the notes change. Ctrl-C stops it."
    )
    ui.add_argument(
        "--port", type=int, default=5000, help="port on 127.0.0.1, 0 for any free (default 5000)"
    )
    ui.add_argument("--out", metavar="DIR", help="build the site here instead of the cache")
    _config(ui)


def _serve_args(sv: argparse.ArgumentParser) -> None:
    sv.description = (
        "Serve the production model over HTTP with MLflow's scoring protocol: GET /ping, "
        "/health, /version, /metadata; POST /invocations with JSON (exactly one of "
        'dataframe_split, dataframe_records, instances, inputs; params {"method": '
        '"predict_proba"}) or text/csv, answered with {"predictions": [...]}. The model '
        "is read from the production branch without a checkout, checked against the sha256 "
        "in lineage.json and loaded with vetted types only. Needs the serve extra: "
        "pip install 'mlgate[serve]'."
    )
    sv.epilog = (
        "Bad requests get a JSON error: 400 (columns, types, JSON), 413 (body over "
        "--max-body), 415 (content type), 500 (the model raised). Exit codes: 0 stopped "
        "(SIGTERM/SIGINT), 2 usage (no such model/version, port taken), 3 the model cannot "
        "be loaded (sha256 mismatch, untrusted types)."
    )
    sv.add_argument("name", nargs="?", metavar="NAME", help="the model (default: the only one)")
    which = sv.add_mutually_exclusive_group()
    which.add_argument(
        "--version", dest="model_version", type=int, metavar="N", help="serve version N (its tag)"
    )
    which.add_argument(
        "--ref",
        metavar="REV",
        help="read the model from this revision (default: the production branch, "
        "origin's when there is one)",
    )
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sv.add_argument(
        "--port", type=int, default=5000, help="port to listen on, 0 for any free (default 5000)"
    )
    sv.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="K",
        help="processes sharing the socket and the loaded model (default 1)",
    )
    sv.add_argument(
        "--follow",
        action="store_true",
        help="git fetch the production branch every --interval seconds and swap in a newly "
        "promoted version once it passes its smoke test",
    )
    sv.add_argument(
        "--interval",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds between fetches with --follow (default 30)",
    )
    sv.add_argument(
        "--log-dir",
        metavar="DIR",
        help="append inputs and predictions here in batches (Parquet with pyarrow, else CSV), "
        "each batch one file written atomically; what `mlgate monitor` reads",
    )
    sv.add_argument(
        "--log-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="a request-log batch closes after this many seconds (default 5) or --log-rows",
    )
    sv.add_argument(
        "--log-rows",
        type=int,
        default=50_000,
        metavar="N",
        help="…or after this many rows (default 50000)",
    )
    sv.add_argument(
        "--max-body",
        type=int,
        default=32 * 1024 * 1024,
        metavar="BYTES",
        help="larger request bodies get 413 (default 33554432, 32 MiB)",
    )
    _config(sv)


def _monitor_args(mo: argparse.ArgumentParser) -> None:
    mo.description = (
        "Compare a batch of production inputs (CSV/TSV/Parquet files, directories of them, "
        "or `mlgate serve --log-dir`'s request log) with the production model's training "
        "data, found through its lineage.json: drift per column (PSI, KS, JS: the statistics "
        "of the PR report's drift section), the drift of the model's predictions and, with "
        "--labels, the live metrics against those recorded at promotion. Rules in "
        "mlgate.yaml: monitor: {drift: {psi: {max: 0.25}}, metrics: {accuracy: "
        "{max_regression: 0.05}}}."
    )
    mo.epilog = (
        "Exit codes: 0 healthy (every rule holds), 1 a rule is broken, 2 usage or config "
        "(a missing path, a batch without the model's columns, no such model), 3 other "
        "(the training data or the model cannot be had)."
    )
    mo.add_argument("name", nargs="?", metavar="NAME", help="the model (default: the only one)")
    mo.add_argument(
        "--data",
        nargs="+",
        required=True,
        metavar="PATH",
        help="the batch: data files or directories (hidden files in them are skipped)",
    )
    mo.add_argument(
        "--labels", metavar="COLUMN", help="the batch's column of true labels: live metrics"
    )
    _config(mo)
    _format(mo, "the result")
    mo.add_argument("--output", metavar="FILE", help="write the result here instead of stdout")


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "check": ("train and compare base and head, apply the gate", _check_args),
    "ci": ("in GitHub Actions / GitLab CI: check, comment, set status", _ci_args),
    "publish": ("post a saved result (fork PRs, from workflow_run)", _publish_args),
    "promote": ("promote the model at a revision to the production branch", _promote_args),
    "rollback": ("make version N current again, as a new version", _rollback_args),
    "history": ("promoted versions with their metrics", _history_args),
    "validate": ("check mlgate.yaml and what it names, without training", _config),
    "init": ("write a starter mlgate.yaml and GitHub workflow", _init_args),
    "data": ("versioned data: pointers and storage", _data_args),
    "serve": ("serve the production model (MLflow's scoring protocol)", _serve_args),
    "monitor": ("production inputs vs the training data: drift, live metrics", _monitor_args),
    "site": ("a static site of every model, version and evaluated commit", _site_args),
    "ui": ("serve that site on 127.0.0.1, rebuilt as refs change", _ui_args),
}


def _parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line; given ``argv``, only the command it runs gets its options
    (building every one costs a few ms on each start, and only one can run)."""
    p = argparse.ArgumentParser(
        prog="mlgate",
        description="GitOps CI/CD for ML repositories: retrain, compare and gate models.",
        epilog="Exit codes: 0 ok, 1 gate failed, 2 usage/config error, 3 other failure.",
    )
    p.add_argument("--version", action="version", version=f"mlgate {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    p.add_argument("-C", dest="cwd", default=".", metavar="DIR", help="run as if in DIR")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = None if argv is None else _command_of(argv)
    for name, (text, arguments) in COMMANDS.items():
        parser = sub.add_parser(name, help=text)
        if chosen is None or name == chosen:
            arguments(parser)
    return p


def _command_of(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs: its first word that is not a global option (or -C's
    directory); None when that is no command, so every one is built for the error."""
    words = iter(argv)
    for word in words:
        if word == "-C":
            next(words, None)
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser(sys.argv[1:] if argv is None else argv).parse_args(argv)
    try:
        return int(_dispatch(args))
    except MlgateError as e:
        _fail(f"mlgate: error: {e}", debug=args.debug)
        return int(e.exit_code)
    except KeyboardInterrupt:
        _fail("mlgate: interrupted", debug=args.debug)
        return 130
    except Exception as e:  # a bug: say so in one line, keep the traceback for --debug
        hint = "report it" if args.debug else "rerun with --debug and report it"
        _fail(f"mlgate: internal error: {type(e).__name__}: {e} ({hint})", debug=args.debug)
        return int(ExitCode.FAILURE)


def _fail(line: str, *, debug: bool) -> None:
    """The error's one line on stderr, after the traceback with --debug: the exit code is
    the documented one either way. Whatever an exception carries, no token from the
    environment is shown."""
    import traceback

    from mlgate.forge.env import secrets  # only when something failed
    from mlgate.http import redact  # likewise

    text = f"{traceback.format_exc()}{line}" if debug else line
    print(redact(text, *secrets(os.environ)), file=sys.stderr)


def _dispatch(args: argparse.Namespace) -> int:
    cwd = Path(args.cwd)
    if args.command == "check" and (args.pre_push or args.remote):
        return _pre_push(cwd, args)
    if args.command == "check" and args.all:
        return _check_all(cwd, args)
    if args.command == "check":
        return _check(
            cwd, args.base, args.head, args.config, args.format, args.output, args.no_cache
        )
    if args.command == "validate":
        return _validate(cwd, args.config)
    if args.command == "promote":
        return _promote(cwd, args)
    if args.command == "rollback":
        return _rollback(cwd, args)
    if args.command == "history":
        return _history(cwd, args.config, args.format)
    if args.command == "ci" and (args.matrix or args.gather):
        return _ci_many(cwd, args.gather)
    if args.command == "ci":
        return _ci(
            cwd,
            args.config,
            fail_on_gate=not args.no_fail,
            result=args.result,
            comment=not args.no_comment,
        )
    if args.command == "publish":
        return _publish(cwd, args.result, args.config)
    if args.command == "init":
        return _init(cwd, args)
    if args.command == "serve":
        return _serve(cwd, args)
    if args.command == "monitor":
        return _monitor(cwd, args)
    if args.command == "site":
        return _site(cwd, args)
    if args.command == "ui":
        return _ui(cwd, args)
    return _data(cwd, args)


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _check(
    cwd: Path,
    base: str | None,
    head: str | None,
    config: str,
    fmt: str,
    output: str | None,
    no_cache: bool = False,
) -> int:
    from mlgate import progress  # threading: not on the --version path
    from mlgate.commands.check import run_check  # the core: keeps --help fast
    from mlgate.render.report import render  # jinja2
    from mlgate.storage.files import atomic_write  # with the core

    with progress.shown() as shown:
        result = run_check(
            cwd,
            base=base,
            head=head,
            config_path=_repo_config_path(cwd, config),
            use_cache=not no_cache,
            progress=shown,
        )
    text = render(result, cast("Format", fmt), color=_color() and output is None)
    if output:
        atomic_write(Path(output), text.encode("utf-8"))
        verdict = "passes" if result.passed else "fails"
        print(f"mlgate: {result.model} {verdict} the gate; report in {output}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if os.environ.get("MLFLOW_TRACKING_URI", "").strip():
        from mlgate.interop.mlflow import log_check  # only when asked to log

        for warning in log_check(result):
            print(f"mlgate: warning: {warning}", file=sys.stderr)
    return int(ExitCode.OK if result.passed else ExitCode.GATE_FAILED)


def _pre_push(cwd: Path, args: argparse.Namespace) -> int:
    from mlgate import progress  # threading: not on the --version path
    from mlgate.commands import prepush  # the core: keeps --help fast
    from mlgate.render.report import render  # jinja2

    if not args.pre_push:
        raise UsageError("--remote goes with --pre-push")
    if args.head or args.output:
        raise UsageError(
            "--pre-push checks the pushed commits and prints each report; drop "
            + ("--head" if args.head else "--output")
        )
    pushed = prepush.from_pre_commit(os.environ)
    if pushed is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError(
                "--pre-push reads git's pre-push lines on stdin; git's pre-push hook gives "
                "them (`mlgate init --git-hook` installs one; or `mlgate init --hooks`)"
            )
        pushed = prepush.parse_lines(sys.stdin.read())
    with progress.shown() as shown:
        found = prepush.pre_push(
            cwd,
            pushed,
            remote=prepush.remote_name(args.remote, os.environ),
            config_path=_repo_config_path(cwd, args.config),
            base=args.base,
            use_cache=not args.no_cache,
            progress=shown,
        )
    for line in found.notes:
        print(f"mlgate: note: {line}", file=sys.stderr)
    for line in found.skipped:
        print(f"mlgate: skipped {line}", file=sys.stderr)
    if not found.checked:
        print("mlgate: nothing to check in this push", file=sys.stderr)
    for tip in found.checked:
        text = render(tip.result, cast("Format", args.format), color=_color(), details=False)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
    failed = [tip for tip in found.checked if not tip.result.passed]
    for tip in failed:
        rules = "; ".join(c.message for c in tip.result.verdict.failed) or "see the report"
        print(
            f"mlgate: push blocked: {tip.result.model} fails the gate on {tip.branch} "
            f"({tip.sha[:7]}): {rules}",
            file=sys.stderr,
        )
    if failed:
        print(
            "mlgate: fix it and push again, or push anyway, deliberately: git push --no-verify",
            file=sys.stderr,
        )
    return int(ExitCode.GATE_FAILED if failed else ExitCode.OK)


def _promote(cwd: Path, args: argparse.Namespace) -> int:
    from mlgate.commands.promote import promote  # the core: keeps --help fast

    outcome = promote(
        cwd,
        ref=args.ref,
        config_path=_repo_config_path(cwd, args.config),
        dry_run=args.dry_run,
        push=not args.no_push,
    )
    _print_outcome(cwd, outcome)
    return int(ExitCode.GATE_FAILED if outcome.reasons else ExitCode.OK)


def _rollback(cwd: Path, args: argparse.Namespace) -> int:
    from mlgate.commands.promote import rollback  # the core: keeps --help fast

    outcome = rollback(
        cwd,
        to=args.to,
        config_path=_repo_config_path(cwd, args.config),
        dry_run=args.dry_run,
        push=not args.no_push,
    )
    _print_outcome(cwd, outcome)
    return int(ExitCode.OK)


def _print_outcome(cwd: Path, outcome: Outcome) -> None:
    """What a promotion or rollback did; logging it to MLflow (when asked) adds notes."""
    from dataclasses import replace

    from mlgate import git  # subprocess and tarfile: not on the --help path
    from mlgate.core.results import summary_lines  # with the core
    from mlgate.interop.mlflow import log_promotion  # a no-op unless MLFLOW_TRACKING_URI
    from mlgate.render.history import outcome_trend  # the renderers

    logged = log_promotion(git.toplevel(cwd), outcome)
    for line in summary_lines(replace(outcome, notes=(*outcome.notes, *logged))):
        print(line)
    if trend := outcome_trend(outcome, "text"):
        print(trend)


def _history(cwd: Path, config: str, fmt: str) -> int:
    from mlgate import git  # subprocess and tarfile: not on the --help path
    from mlgate.commands.history import list_versions  # with the core
    from mlgate.core import config as config_mod  # yaml
    from mlgate.render.history import render  # the renderers
    from mlgate.storage.layout import Layout  # with the core

    cfg = config_mod.load_path(cwd / config, memo=Layout.current().memo)
    root = git.root(git.open_repo(cwd))
    versions = list_versions(root, cfg.model.name, tag_template=cfg.promote.tag)
    sys.stdout.write(render(versions, cfg.model.name, cast("Format", fmt)))
    return int(ExitCode.OK)


def _check_all(cwd: Path, args: argparse.Namespace) -> int:
    from mlgate import progress  # threading: not on the --version path
    from mlgate.commands.matrix import check_all  # the core: keeps --help fast
    from mlgate.render.markup import plain  # with the renderers
    from mlgate.render.report import status_description  # likewise

    if args.config != "mlgate.yaml" or args.output or args.format != "text":
        raise UsageError(
            "--all prints a summary table of every model; for one model's report, "
            "check it alone with -c FILE (and --format, --output)"
        )
    with progress.shown() as shown:
        checked = check_all(
            cwd, base=args.base, head=args.head, use_cache=not args.no_cache, progress=shown
        )
    rows = [("model", "verdict", "details")]
    for c in checked:
        if c.result is None:
            rows.append(("?", "error", f"{c.config}: {c.error}"))
        else:
            verdict = "pass" if c.result.passed else "fail"
            details = f"{c.config}: {status_description(c.result.to_dict())}"
            rows.append((c.result.model, verdict, details))
    width = max(len(plain(name)) for name, _, _ in rows)
    for name, verdict, details in rows:
        print(f"{plain(name):<{width}}  {verdict:<7}  {plain(details)}")
    return max(c.exit_code for c in checked)


def _ci_many(cwd: Path, gather_dir: str | None) -> int:
    from mlgate.commands.matrix import gather, plan_matrix  # the core and the forges

    if gather_dir is not None:
        outcome = gather(cwd, os.environ, gather_dir)
        lines, code = outcome.lines, outcome.exit_code
    else:
        planned = plan_matrix(cwd, os.environ)
        lines, code = planned.lines, planned.exit_code
    for line in lines:
        print(line, flush=True)
    return code


def _ci(cwd: Path, config: str, *, fail_on_gate: bool, result: str, comment: bool = True) -> int:
    from mlgate import progress  # threading: not on the --version path
    from mlgate.commands.ci import run_ci  # the core and the forges: keeps --help fast
    from mlgate.forge.env import scheduled  # with run_ci

    bumped = int(ExitCode.OK)
    if scheduled(os.environ):
        # A schedule does both: new data as a pull (merge) request, then the production
        # model watched (run_ci's monitor); a failed bump does not skip the monitor.
        try:
            bumped = _scheduled_bump(cwd, config)
        except MlgateError as e:
            print(f"mlgate: error: {e}", file=sys.stderr, flush=True)
            bumped = int(e.exit_code)
    with progress.shown() as shown:
        outcome = run_ci(
            cwd,
            os.environ,
            config_path=config,
            fail_on_gate=fail_on_gate,
            result_path=result,
            progress=shown,
            comment=comment,
        )
    for line in outcome.lines:
        print(line, flush=True)
    return max(outcome.exit_code, bumped)


def _publish(cwd: Path, result: str, config: str) -> int:
    from mlgate.commands.publish import publish  # the forges: keeps --help fast

    done = publish(cwd / result, os.environ, cwd=cwd, config_path=config)
    if done.skipped:
        print(f"mlgate: nothing published: {done.skipped}")
        return int(ExitCode.OK)
    action = "posted" if done.comment_created else "updated"
    print(
        f"mlgate: {action} the report on pull request #{done.pull_request} "
        f"({done.verdict}, commit {done.head_sha[:12]})"
    )
    return int(ExitCode.OK)


def _repo_config_path(cwd: Path, config: str) -> str:
    from mlgate import git  # subprocess and tarfile: not on the --help path

    return git.config_path(cwd, config)


def _validate(cwd: Path, config: str) -> int:
    from mlgate.commands.validate import validate  # yaml, the config schema, the worker

    result = validate(cwd / config, shown=config)
    for problem in result.problems:
        _fail(f"mlgate: error: {problem}", debug=False)
    for note in result.notes:
        print(f"mlgate: note: {note}", file=sys.stderr)
    if result.problems:
        return int(ExitCode.USAGE)
    print(result.summary)
    return int(ExitCode.OK)


def _init(cwd: Path, args: argparse.Namespace) -> int:
    if args.hooks or args.git_hook:
        return _init_hooks(cwd, git_hook=args.git_hook)
    from mlgate.commands.init import init, init_monorepo  # pandas, jinja2: only for init

    if args.monorepo:
        done = init_monorepo(cwd, force=args.force)
        for line in done.found:
            print(line)
        for path in done.written:
            print(f"wrote {path}")
        print("next: commit it; `mlgate check --all` checks every model locally")
        return int(ExitCode.OK)
    result = init(
        cwd,
        data=args.data,
        target=args.target,
        task=args.task,
        name=args.name,
        force=args.force,
        run=not args.no_run,
        timeout=args.timeout,
    )
    for line in result.found:
        print(line)
    for path in result.written:
        print(f"wrote {path}")
    if result.review:
        print("review in mlgate.yaml:")
        for line in result.review:
            print(f"  - {line}")
    print("next: run `mlgate validate` and `mlgate check`")
    return int(ExitCode.OK)


def _init_hooks(cwd: Path, *, git_hook: bool) -> int:
    from mlgate.commands import hooks  # yaml, jinja2: only for init

    done = hooks.install_git_hook(cwd) if git_hook else hooks.install_pre_commit(cwd)
    what = "the pre-push hook" if git_hook else "mlgate-validate and mlgate-check"
    if done.action == "unchanged":
        print(f"{done.path} already runs {what} for {done.config}; nothing changed")
    else:
        print(f"{done.action} {done.path}: {what} for {done.config}")
    for line in done.next_steps:
        print(f"next: {line}")
    return int(ExitCode.OK)


def _serve(cwd: Path, args: argparse.Namespace) -> int:
    import importlib.util
    import logging

    missing = [m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f"mlgate: error: mlgate serve needs {' and '.join(missing)}: "
            "pip install 'mlgate[serve]'",
            file=sys.stderr,
        )
        return int(ExitCode.USAGE)
    from mlgate.commands.serve import serve  # starlette, uvicorn, the model: only to serve
    from mlgate.run.serving import Deployment, Options  # with it

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    def ready(deployment: Deployment, url: str) -> None:
        print(
            f"mlgate: serving {deployment.name} v{deployment.version} (tag {deployment.tag}, "
            f"production commit {deployment.commit[:7]}) on {url}",
            flush=True,
        )

    options = Options(
        workers=args.workers,
        max_body=args.max_body,
        log_dir=Path(cwd, args.log_dir) if args.log_dir else None,
        log_interval=args.log_interval,
        log_rows=args.log_rows,
        follow_interval=args.interval if args.follow else None,
    )
    serve(
        cwd,
        name=args.name,
        version=args.model_version,
        ref=args.ref,
        host=args.host,
        port=args.port,
        options=options,
        config_path=args.config,
        on_ready=ready,
    )
    return int(ExitCode.OK)


def _site(cwd: Path, args: argparse.Namespace) -> int:
    from mlgate.commands.site import build  # jinja2 and the notes' schema: only for a site

    built = build(cwd, args.out, config_path=args.config, force=args.force)
    print(_built_line(built))
    return int(ExitCode.OK)


def _built_line(built: Built) -> str:
    what = (
        f"{built.models} model{'s' if built.models != 1 else ''}, {built.versions:,} "
        f"version{'s' if built.versions != 1 else ''}, {built.evaluated:,} evaluated "
        f"commit{'s' if built.evaluated != 1 else ''}"
    )
    if not built.rebuilt:
        return f"mlgate: the site in {built.out} is up to date ({what})"
    return f"mlgate: built {built.pages:,} files in {built.out} ({what}) in {built.seconds:.2f} s"


def _ui(cwd: Path, args: argparse.Namespace) -> int:
    from mlgate.commands.site import ui_server  # jinja2, http.server: only for the ui

    server = ui_server(
        cwd,
        port=args.port,
        out=Path(cwd, args.out) if args.out else None,
        config_path=args.config,
        on_build=lambda built: print(_built_line(built), flush=True),
    )
    port = server.server_address[1]
    print(f"mlgate: serving the site on http://127.0.0.1:{port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return int(ExitCode.OK)


def _monitor(cwd: Path, args: argparse.Namespace) -> int:
    from mlgate.commands.monitor import monitor  # pandas, numpy, the model: only to monitor
    from mlgate.render.monitor import render  # jinja2
    from mlgate.storage.files import atomic_write  # with the core

    result = monitor(
        cwd, data=args.data, name=args.name, labels=args.labels, config_path=args.config
    )
    text = render(result, cast("Format", args.format), color=_color() and not args.output)
    if args.output:
        atomic_write(Path(args.output), text.encode("utf-8"))
        state = "healthy" if result.healthy else "unhealthy"
        print(
            f"mlgate: {result.model} v{result.version} is {state}; in {args.output}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return int(ExitCode.OK if result.healthy else ExitCode.GATE_FAILED)


def _data(cwd: Path, args: argparse.Namespace) -> int:
    from mlgate import git  # subprocess and tarfile: not on the --help path
    from mlgate.commands import data as data_mod  # storage: keeps --help fast
    from mlgate.core.units import fmt_size  # with the data commands
    from mlgate.storage.objects import Cache  # with the data commands

    root = git.toplevel(cwd)
    storage = _storage(root)
    cache = Cache()
    if args.data_command == "add":
        rel = [_rel(cwd, root, p) for p in args.paths]
        source = _source_arg(args.source, args.source_command)
        added = data_mod.add(root, rel, url=args.url, storage=storage, cache=cache, source=source)
        for path, ptr in added:
            rows = f", {ptr.rows} rows" if ptr.rows is not None else ""
            print(f"{path}.ptr: sha256 {ptr.sha256[:12]}, {ptr.size} bytes{rows}")
        _removed(cache.removed)
        return int(ExitCode.OK)
    if args.data_command == "status":
        entries = data_mod.status(root, cache=cache, storage=storage)
        if not entries:
            print("no data pointers (add some with `mlgate data add PATH`)")
        width = max((len(e.path) for e in entries), default=0)
        for e in entries:
            cached = "cached" if e.in_cache else "copy only" if e.copied else "not cached"
            print(
                f"{e.path:<{width}}  {e.sha256[:8]}  {fmt_size(e.size):>9}  file {e.data:<8}  "
                f"{cached:<10}  storage: {e.in_storage}"
            )
        return int(ExitCode.OK)
    paths = [_rel(cwd, root, p) for p in args.paths] or None
    if args.data_command == "bump":
        return _bump(root, paths, args, cache, storage)
    action = data_mod.pull if args.data_command == "pull" else data_mod.push
    done = action(root, paths, cache=cache, storage=storage, jobs=args.jobs)
    _removed(cache.removed)
    verb = "pulled" if args.data_command == "pull" else "pushed"
    if not done:
        where = "the working tree" if verb == "pulled" else "storage"
        print(f"nothing to do: {where} already has every object")
    else:
        print(f"{verb} {len(done)} file(s)" + "".join(f"\n  {p}" for p in done))
    return int(ExitCode.OK)


def _source_arg(url: str | None, command: str | None) -> str | tuple[str, ...] | None:
    import shlex

    if command is None:
        return url
    try:
        argv = tuple(shlex.split(command))
    except ValueError as e:
        raise UsageError(f"--source-command cannot be split into arguments: {e}") from e
    if not argv:
        raise UsageError("--source-command is empty; give the program and its arguments")
    return argv


def _bump(
    root: Path, paths: list[str] | None, args: argparse.Namespace, cache: Cache, storage: str | None
) -> int:
    return _bump_data(
        root,
        paths,
        cache,
        storage,
        timeout=args.timeout,
        pr=args.pr,
        dispatch=not args.no_dispatch,
        workflow=args.workflow,
    )


def _bump_data(
    root: Path,
    paths: list[str] | None,
    cache: Cache,
    storage: str | None,
    *,
    timeout: float,
    pr: bool,
    dispatch: bool = True,
    workflow: str | None = None,
    config: str = "mlgate.yaml",
) -> int:
    from mlgate.commands import data as data_mod  # storage: keeps --help fast

    bumped = data_mod.bump(root, paths, cache=cache, storage=storage, timeout=timeout)
    _removed(cache.removed)
    changed = [b for b in bumped if b.changed]
    if not bumped:
        print("nothing to bump: no pointer has a source (add one with `data add --source`)")
    for b in bumped:
        if b.changed:
            print(f"{b.path}.ptr: {b.old.sha256[:12]} -> {b.new.sha256[:12]}, {b.new.size} bytes")
        else:
            print(f"{b.path}: unchanged")
    if bumped and not changed:
        print("nothing to do: every source gives the data its pointer names")
    if pr:
        proposal = data_mod.propose(
            root,
            bumped,
            model=_model_name(root, config),
            environ=os.environ,
            dispatch=dispatch,
            workflow=workflow,
        )
        if proposal is None:
            print("nothing to propose: the committed pointers already name this data")
            return int(ExitCode.OK)
        verb = "opened" if proposal.created else "updated"
        print(f"pushed {proposal.branch}; {verb} {proposal.noun} {proposal.ref}")
        if proposal.workflow:
            print(f"dispatched {proposal.workflow} on {proposal.branch}")
        if proposal.pipeline is not None:
            print(f"started pipeline #{proposal.pipeline} for {proposal.noun} {proposal.ref}")
    return int(ExitCode.OK)


def _scheduled_bump(cwd: Path, config: str) -> int:
    """``mlgate ci`` on a schedule (GitHub or GitLab): ``mlgate data bump --pr`` for every
    pointer with a source, on the default branch the schedule runs on."""
    from mlgate import git  # subprocess: not on the --help path
    from mlgate.storage.objects import Cache  # with the data commands

    root = git.toplevel(cwd)
    return _bump_data(root, None, Cache(), _storage(root), timeout=3600.0, pr=True, config=config)


def _model_name(root: Path, config: str) -> str:
    from mlgate.core import config as config_mod  # yaml: only for the data commands
    from mlgate.storage.layout import Layout  # with them

    path = root / config
    if not path.exists():
        raise UsageError(f"data bump --pr names its branch after the model: no {path.name} here")
    return config_mod.load_path(path, memo=Layout.current().memo).model.name


def _removed(paths: list[Path]) -> None:
    for path in paths:
        print(f"mlgate: removed {path}, a temp file an interrupted run left", file=sys.stderr)


def _rel(cwd: Path, root: Path, path: str) -> str:
    full = (cwd / path).absolute()
    try:
        return full.relative_to(root.absolute()).as_posix()
    except ValueError:
        return path  # data.add refuses it with the repo-escape message


def _storage(root: Path) -> str | None:
    """Storage URL from the working tree's mlgate.yaml, if there is one."""
    from mlgate.core import config as config_mod  # yaml: only for the data commands
    from mlgate.storage.layout import Layout  # with them

    if not (root / config_mod.DEFAULT_CONFIG).exists():
        return None
    return config_mod.load_path(
        root / config_mod.DEFAULT_CONFIG, memo=Layout.current().memo
    ).storage
