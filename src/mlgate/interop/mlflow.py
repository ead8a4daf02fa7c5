"""MLflow interop (the ``mlgate[mlflow]`` extra): when ``MLFLOW_TRACKING_URI`` is set, and
only then, checks and promotions are also logged to MLflow. Git stays the source of truth:
MLflow gets a copy for people who browse experiments and the model registry there.

- ``log_check``: one run per evaluated side (base, head) in the experiment
  ``mlgate/<model>``, named ``<model>:<side>@<sha7>``, with the model params (flattened,
  dotted keys), the side's metrics and ``mlgate.*`` tags. A side whose run-cache digest was
  already logged (tag ``mlgate.digest``) is not logged again: the same inputs gave the same
  numbers, so a cached or re-run side finds its existing run instead of a duplicate (whose
  ``mlgate.verdict`` / ``mlgate.commit`` are those of the check that logged it first).
- ``log_promotion``: one run per promotion or rollback with the production files as
  artifacts (``model/model.skops``, ``lineage.json``, ``metrics.json``, ``MODEL_CARD.md``),
  a new version of the registered model named after the mlgate model, and the alias
  ``production`` moved to that version. A rollback is a new version too (it is one in git).
  ``mlgate.version`` is always mlgate's own version; the model's is ``mlgate.model_version``.
  With ``--no-push`` (and a remote) nothing is logged: the alias follows the remote branch.

With a local ``sqlite:///`` store, artifacts go to ``mlartifacts/`` beside the database
(MLflow's default, ``./mlruns``, would land in the user's working tree).

Logging never fails a check or a promotion: every problem becomes one warning line that
the caller prints. Credentials in the tracking URI never appear in those lines. mlflow is
imported only when the variable is set, so ``mlgate --help`` and cached checks stay fast.
For an unreachable server mlgate bounds MLflow's HTTP retries and timeout (2 retries,
30 s) unless ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` / ``MLFLOW_HTTP_REQUEST_TIMEOUT`` are set.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from mlgate import __version__, git
from mlgate.core import production
from mlgate.core.metrics import flatten as flatten_names
from mlgate.core.results import CheckResult, Outcome, SideResult
from mlgate.http import redact_url

ENV = "MLFLOW_TRACKING_URI"
ALIAS = "production"
INSTALL_HINT = "pip install 'mlgate[mlflow]'"
# Every MLflow server since 1.x accepts 500 characters per param value (newer ones more).
MAX_PARAM_LENGTH = 500
MAX_KEY_LENGTH = 250
BATCH = 100  # params per log_batch call (MLflow's limit)
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
_SECRET_VARS = ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")
_DIGEST = re.compile(r"^[0-9a-zA-Z_-]{1,128}$")


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    return bool((os.environ if environ is None else environ).get(ENV, "").strip())


def log_check(result: CheckResult, environ: Mapping[str, str] | None = None) -> list[str]:
    """Log each evaluated side of a finished check; warnings for the caller to print."""
    env = os.environ if environ is None else environ
    if not enabled(env):
        return []
    sides = [s for s in (result.base, result.head) if s is not None]
    return _guarded(env, "the check", lambda client: _log_sides(client, result, sides))


def log_promotion(
    root: Path,
    outcome: Outcome,
    *,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Log a promotion or rollback that was committed (``outcome.commit``) to MLflow and
    point the registered model's ``production`` alias at it; warnings for the caller."""
    env = os.environ if environ is None else environ
    if not enabled(env) or outcome.commit is None or outcome.dry_run:
        return []
    if outcome.kept_local:
        return [
            f"v{outcome.version} was not logged to MLflow: --no-push keeps it local, and "
            f"MLflow's {ALIAS!r} alias should follow the production branch on the remote"
        ]
    return _guarded(env, f"v{outcome.version}", lambda client: _log_version(client, root, outcome))


# --- the guard: lazy import, quiet mlflow, one redacted warning ------------------------------


def _guarded(env: Mapping[str, str], what: str, work: Callable[[Any], list[str]]) -> list[str]:
    uri = env[ENV].strip()
    shown = _shown(uri)
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from mlflow.tracking import MlflowClient
    except ImportError as e:
        return [
            f"{ENV} is set but mlflow is not installed ({e.name or 'mlflow'} is missing): "
            f"{INSTALL_HINT} to log {what} to MLflow"
        ]
    with _quiet():  # after the import: importing mlflow configures its logger
        try:
            return work(MlflowClient(tracking_uri=uri))
        except Exception as e:  # anything mlflow or the network raises: never fail the caller
            return [f"could not log {what} to MLflow at {shown}: {_scrub(_reason(e), uri, env)}"]


@contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's own log lines and warnings would repeat the URI (and clutter the report):
    silence them while mlgate talks to MLflow; the warning line says what went wrong."""
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic", "urllib3", "sqlalchemy")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.CRITICAL + 1)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def _shown(uri: str) -> str:
    return redact_url(uri) if "://" in uri else uri


def _secrets(uri: str, env: Mapping[str, str]) -> list[str]:
    found = [env.get(v, "") for v in _SECRET_VARS]
    netloc = urlsplit(uri).netloc if "://" in uri else ""
    if "@" in netloc:
        userinfo = netloc.rsplit("@", 1)[0]
        found += [userinfo, unquote(userinfo)]
        if ":" in userinfo:
            password = userinfo.split(":", 1)[1]
            found += [password, unquote(password)]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def _scrub(text: str, uri: str, env: Mapping[str, str]) -> str:
    if "://" in uri:
        text = text.replace(uri, _shown(uri))
    for secret in _secrets(uri, env):
        text = text.replace(secret, "***")
    return text


def _reason(e: BaseException) -> str:
    """One short clause: a connection failure in plain words, else the error's first line."""
    text = str(e)
    kinds = ("NewConnectionError", "NameResolutionError", "ConnectTimeout", "ReadTimeout")
    if any(kind in text for kind in kinds):
        why = "connection refused" if "refused" in text else "timed out"
        if "NameResolutionError" in text or "Failed to resolve" in text:
            why = "unknown host"
        return f"cannot connect to the tracking server ({why})"
    return f"{type(e).__name__}: {_first_line(text)}"


def _first_line(text: str, limit: int = 300) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "no details")
    return line if len(line) <= limit else line[: limit - 1] + "…"


# --- names and values MLflow accepts --------------------------------------------------------


def clean_key(name: str) -> str:
    """A param or metric name in MLflow's alphabet (letters, digits, ``_-. ``), ≤ 250 chars."""
    key = re.sub(r"[^A-Za-z0-9_\-. ]", "_", name)[:MAX_KEY_LENGTH]
    return "_" + key[: MAX_KEY_LENGTH - 1] if key in ("", ".") or key.startswith("..") else key


def flatten(params: Mapping[str, Any]) -> dict[str, str]:
    """Nested params as dotted keys, values as strings cut to MLflow's limit."""
    flat: dict[str, str] = {}
    for name, value in flatten_names(params).items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if len(text) > MAX_PARAM_LENGTH:
            text = text[: MAX_PARAM_LENGTH - 3] + "..."
        flat[clean_key(name)] = text
    return flat


def finite(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Only real, finite numbers: MLflow refuses the rest (and NaN means nothing here)."""
    found: dict[str, float] = {}
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            found[clean_key(name)] = float(value)
    return found


# --- logging ----------------------------------------------------------------------------------


def experiment_name(model: str) -> str:
    return f"mlgate/{model}"


def _experiment(client: Any, model: str) -> str:
    name = experiment_name(model)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location=_artifact_location(client)))
    except Exception as e:  # created meanwhile by a concurrent mlgate run
        if "RESOURCE_ALREADY_EXISTS" not in _error_code(e):
            raise
        return str(client.get_experiment_by_name(name).experiment_id)


def _artifact_location(client: Any) -> str | None:
    """With a local SQLite store MLflow would put artifacts in ``./mlruns`` — inside the
    user's repository, making its working tree dirty. Keep them beside the database."""
    uri = str(client.tracking_uri)
    if not uri.startswith("sqlite:///"):
        return None
    db = urlsplit(uri).path[1:]  # sqlite:///rel.db -> rel.db, sqlite:////abs.db -> /abs.db
    if not db or db == ":memory:":
        return None
    return (Path(db).resolve().parent / "mlartifacts").as_uri()


def _run(
    client: Any,
    experiment: str,
    name: str,
    tags: Mapping[str, str],
    params: Mapping[str, str],
    metrics: Mapping[str, float],
    artifacts: Callable[[str], None] | None = None,
) -> str:
    from mlflow.entities import Metric, Param

    run = client.create_run(experiment, run_name=name, tags=dict(tags))
    run_id = str(run.info.run_id)
    try:
        now = int(time.time() * 1000)
        batch = [Metric(k, v, now, 0) for k, v in metrics.items()]
        items = [Param(k, v) for k, v in params.items()]
        for start in range(0, max(len(items), 1), BATCH):
            client.log_batch(
                run_id, metrics=batch if start == 0 else [], params=items[start : start + BATCH]
            )
        if artifacts is not None:
            artifacts(run_id)
    except BaseException:
        with suppress(Exception):  # the first error is the one to report
            client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    return run_id


def _side_name(model: str, side: SideResult) -> str:
    where = side.sha[:7] if side.sha else "working-tree"
    return f"{model}:{side.label}@{where}{'+dirty' if side.dirty else ''}"


def _digest(side: SideResult) -> str | None:
    """The run-cache key of the side's inputs, when it looks like one."""
    digest = side.digest
    return digest if isinstance(digest, str) and _DIGEST.match(digest) else None


def _log_sides(client: Any, result: CheckResult, sides: list[SideResult]) -> list[str]:
    experiment = _experiment(client, result.model)
    verdict = "pass" if result.passed else "fail"
    for side in sides:
        digest = _digest(side)
        if digest is not None:
            query = f"tags.`mlgate.digest` = '{digest}'"
            if client.search_runs([experiment], filter_string=query, max_results=1):
                continue  # these inputs were logged before: same numbers, no duplicate run
        commit = side.ref if side.dirty or not side.sha else side.sha
        tags = {
            "mlgate.model": result.model,
            "mlgate.side": side.label,
            "mlgate.commit": commit,
            "mlgate.ref": side.ref,
            "mlgate.verdict": verdict,
            "mlgate.comparison": result.comparison,
            "mlgate.cached": "true" if side.cached else "false",
            "mlgate.version": __version__,
            "mlgate.estimator": side.estimator,
            **{f"mlgate.data.{role}.sha256": d.sha256 for role, d in side.data.items()},
        }
        if digest is not None:
            tags["mlgate.digest"] = digest
        if side.sha:
            tags["mlflow.source.git.commit"] = side.sha
        runtime = {
            "fit_time": side.fit_seconds,
            "predict_time": side.predict_seconds,
            "model_size": side.model_size,
        }
        metrics = {**finite(runtime), **finite(side.metrics)}
        _run(
            client,
            experiment,
            _side_name(result.model, side),
            tags,
            flatten(side.params),
            metrics,
        )
    return []


def _log_version(client: Any, root: Path, outcome: Outcome) -> list[str]:
    assert outcome.commit is not None
    model = outcome.model
    files = git.tree_files(root, outcome.commit, model)
    lineage = json.loads(files[production.path(model, production.LINEAGE_FILE)])
    experiment = _experiment(client, model)
    kind = str(lineage.get("kind", "promotion"))
    source = str(lineage.get("source_commit", ""))
    tag = outcome.tag or production.tag_name(production.DEFAULT_TAG, model, lineage["version"])
    tags = {
        "mlgate.model": model,
        "mlgate.kind": kind,
        "mlgate.tag": tag,
        "mlgate.model_version": str(lineage["version"]),
        "mlgate.commit": source,
        "mlgate.production_commit": outcome.commit,
        "mlgate.version": __version__,
        "mlflow.source.git.commit": source,
    }
    if lineage.get("rollback_of") is not None:
        tags["mlgate.rollback_of"] = str(lineage["rollback_of"])
    elif outcome.champion_version is not None:  # what the champion.* metrics are
        tags["mlgate.comparison"] = outcome.comparison
    if lineage.get("pull_request") is not None:
        tags["mlgate.pull_request"] = str(lineage["pull_request"])
    params = flatten(((lineage.get("config") or {}).get("model") or {}).get("params") or {})
    metrics = finite(lineage.get("metrics") or {})
    champion = finite(lineage.get("champion_metrics") or {})
    metrics.update({clean_key(f"champion.{k}"): v for k, v in champion.items()})
    what = f" (rollback of v{lineage['rollback_of']})" if kind == "rollback" else ""

    def artifacts(run_id: str) -> None:
        with tempfile.TemporaryDirectory(prefix="mlgate-mlflow-") as tmp:
            for path, data in sorted(files.items()):
                name = path.rsplit("/", 1)[-1]
                local = Path(tmp) / name
                local.write_bytes(data)
                into = "model" if name == production.MODEL_FILE else None
                client.log_artifact(run_id, str(local), into)

    run_id = _run(client, experiment, f"{tag}{what}", tags, params, metrics, artifacts)
    _registered_model(client, model)
    version_tags = {k: tags[k] for k in ("mlgate.tag", "mlgate.model_version", "mlgate.kind")}
    version = client.create_model_version(
        model,
        f"runs:/{run_id}/model",
        run_id=run_id,
        tags={**version_tags, "mlgate.version": __version__, "mlgate.commit": source},
        description=f"mlgate {tag}{what} from {source[:7]}",
    )
    client.set_registered_model_alias(model, ALIAS, str(version.version))
    client.set_tag(run_id, "mlgate.registered_version", str(version.version))
    return []


def _error_code(e: BaseException) -> str:
    return str(getattr(e, "error_code", ""))


def _registered_model(client: Any, model: str) -> None:
    """The registered model named after the mlgate model, created on first use (a racing
    promotion may create it first: that is fine)."""
    try:
        client.get_registered_model(model)
        return
    except Exception as e:
        if "RESOURCE_DOES_NOT_EXIST" not in _error_code(e):
            raise
    try:
        client.create_registered_model(
            model,
            tags={"mlgate.model": model},
            description=f"Versions promoted by mlgate; the alias {ALIAS!r} follows production.",
        )
    except Exception as e:
        if "RESOURCE_ALREADY_EXISTS" not in _error_code(e):
            raise
