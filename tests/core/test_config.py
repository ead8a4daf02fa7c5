from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from conftest import commit_all
from mlgate.core import config, scorers
from mlgate.core.config import DataSpec, ModelSpec, PromoteSpec
from mlgate.core.gate import Rule
from mlgate.errors import ConfigError, ExitCode
from mlgate.git import CommitFiles, WorkingFiles, open_repo

# The example from DESIGN.md, verbatim: line numbers below refer to it.
VALID = """\
version: 1
model:
  name: churn                       # [a-z0-9][a-z0-9._-]*: used in tags, markers, paths
  task: classification              # classification | regression
  estimator: sklearn.ensemble.RandomForestClassifier  # "pkg.mod.Class" or "pkg.mod:factory"
  params: {n_estimators: 200, random_state: 0}
data:
  train: data/train.csv             # a file tracked by git, or by a pointer data/train.csv.ptr
  test: data/test.csv
  target: label
  features: [age, tenure, plan]     # optional: default every column but the target
metrics: [accuracy, f1_macro]       # sklearn scorer names, plus aliases rmse, mae, mse
gate:
  accuracy: {min: 0.85, max_regression: 0.01}   # absolute floor; allowed drop vs baseline
  f1_macro: {max_regression_pct: 2.0}           # allowed relative drop, percent
promote:
  branch: production                # default
  tag: "{name}@v{version}"          # default
storage: file:///srv/mlgate-store   # optional: file://, http(s):// (read), s3:// (later)
"""

MINIMAL = """\
version: 1
model:
  name: prices
  task: regression
  estimator: sklearn.linear_model.Ridge
data:
  train: ./data//train.csv
  test: data/test.csv
  target: price
metrics:
  - rmse
  - r2
"""


def edited(old: str, new: str, text: str = VALID) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def error_of(text: str, file: str = config.DEFAULT_CONFIG) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config.load(text, file=file)
    return info.value


def test_design_example_loads() -> None:
    cfg = config.load(VALID)
    assert cfg.model == ModelSpec(
        name="churn",
        task="classification",
        estimator="sklearn.ensemble.RandomForestClassifier",
        params={"n_estimators": 200, "random_state": 0},
    )
    assert cfg.data == DataSpec(
        train="data/train.csv",
        test="data/test.csv",
        target="label",
        features=("age", "tenure", "plan"),
    )
    assert cfg.metrics == ("accuracy", "f1_macro")
    assert cfg.gate == {
        "accuracy": Rule(min=0.85, max_regression=0.01),
        "f1_macro": Rule(max_regression_pct=2.0),
    }
    assert cfg.promote == PromoteSpec()
    assert cfg.storage == "file:///srv/mlgate-store"
    assert cfg.report_template is None
    assert cfg.file == "mlgate.yaml"
    assert cfg.raw == yaml.safe_load(VALID)
    assert cfg.evaluated_metrics == ("accuracy", "f1_macro")


def test_defaults_and_normalized_paths() -> None:
    cfg = config.load(MINIMAL.encode())
    assert cfg.model.params == {}
    assert cfg.data.train == "data/train.csv"
    assert cfg.data.features is None
    assert cfg.gate == {}
    assert cfg.promote == PromoteSpec(branch="production", tag="{name}@v{version}")
    assert cfg.storage is None
    assert cfg.report_template is None


def test_report_template_and_custom_promote() -> None:
    text = MINIMAL + "report: {template: ./ci/report.md.j2}\n"
    text += 'promote: {branch: prod, tag: "v{version}"}\n'
    cfg = config.load(text)
    assert cfg.report_template == "ci/report.md.j2"
    assert cfg.promote == PromoteSpec(branch="prod", tag="v{version}")


def test_params_are_not_shared_with_raw() -> None:
    cfg = config.load(VALID)
    cfg.model.params["n_estimators"] = 1
    assert cfg.raw["model"]["params"]["n_estimators"] == 200


def test_lines_and_line_of() -> None:
    cfg = config.load(VALID)
    assert cfg.lines["model"] == 2
    assert cfg.lines["model.estimator"] == 5
    assert cfg.lines["gate.accuracy.min"] == 14
    assert cfg.lines["metrics[1]"] == 12
    assert cfg.lines["data.features[2]"] == 11
    assert cfg.line_of("model.params.n_estimators.deep[3]") == 6
    assert cfg.line_of("promote.tag") == 18
    assert cfg.line_of("nowhere") == 1


def test_config_error_helper() -> None:
    cfg = config.load(VALID, file="conf/ml.yaml")
    err = cfg.error("cannot import 'sklearn.ensemble.RandomForestClassifier'", "model.estimator")
    assert str(err) == (
        "conf/ml.yaml:5: model.estimator: cannot import 'sklearn.ensemble.RandomForestClassifier'"
    )
    assert (err.file, err.line, err.key) == ("conf/ml.yaml", 5, "model.estimator")
    assert str(cfg.error("bad file", None)) == "conf/ml.yaml: bad file"


def test_evaluated_metrics_adds_gated_metrics_but_not_runtime_ones() -> None:
    text = edited(
        "  f1_macro: {max_regression_pct: 2.0}",
        "  f1_macro: {max_regression_pct: 2.0}\n  roc_auc: {min: 0.8}\n  fit_time: {max: 60}",
    )
    text = edited("[accuracy, f1_macro]", "[f1_macro]", text)
    cfg = config.load(text)
    assert cfg.evaluated_metrics == ("f1_macro", "accuracy", "roc_auc")
    assert cfg.gate["fit_time"] == Rule(max=60.0)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "  target: label",
            "  target: label\n   oops: x: y",
            "mlgate.yaml:11: invalid YAML: mapping values are not allowed here",
        ),
        (
            "version: 1\n",
            "version: 1\n---\n",
            "mlgate.yaml:2: invalid YAML: expected a single document in the stream "
            "but found another document",
        ),
        (
            "name: churn",
            "nme: churn",
            "mlgate.yaml:3: model.nme: unknown key; expected one of name, task, estimator, "
            "params, deps, repeats, backend, train",
        ),
        (
            "storage:",
            "stroage:",
            "mlgate.yaml:19: stroage: unknown key; expected one of version, model, data, "
            "metrics, gate, promote, storage, notes, report, drift, monitor",
        ),
        (
            "{min: 0.85,",
            "{minimum: 0.85,",
            "mlgate.yaml:14: gate.accuracy.minimum: unknown key; "
            "expected one of min, max, max_regression, max_regression_pct, confidence",
        ),
        (
            "task: classification",
            "task: clasification",
            "mlgate.yaml:4: model.task: 'clasification' is not one of classification, regression",
        ),
        (
            "min: 0.85",
            "min: high",
            "mlgate.yaml:14: gate.accuracy.min: expected a number, got 'high'",
        ),
        (
            "min: 0.85",
            "min: true",
            "mlgate.yaml:14: gate.accuracy.min: expected a number, got true",
        ),
        (
            "  estimator: sklearn.ensemble.RandomForestClassifier",
            "",
            "mlgate.yaml:2: model: missing 'estimator' (a scikit-learn estimator) or "
            "'train' (your own command)",
        ),
        (
            "version: 1\n",
            "",
            "mlgate.yaml:1: missing required key 'version'",
        ),
        ("version: 1", "version: 2", "mlgate.yaml:1: version: expected 1, got 2"),
        (
            "  params: {n_estimators: 200, random_state: 0}",
            "  params:",
            "mlgate.yaml:6: model.params: expected a mapping, got nothing",
        ),
        (
            "name: churn",
            "name: Churn",
            "mlgate.yaml:3: model.name: expected a name of lowercase letters, digits, '.', '_' "
            "or '-', starting with a letter or digit, at most 64 characters, got 'Churn'",
        ),
        (
            "RandomForestClassifier",
            "RandomForest()",
            'mlgate.yaml:5: model.estimator: expected an import path like "pkg.module.Class" '
            "or \"pkg.module:factory\", got 'sklearn.ensemble.RandomForest()'",
        ),
        (
            "file:///srv",
            "ftp://srv",
            "mlgate.yaml:19: storage: expected a URL starting with file://, http://, "
            "https://, s3://, gs:// or az://, got 'ftp://srv/mlgate-store'",
        ),
        (
            "[accuracy, f1_macro]",
            "[accuracy, accuracy]",
            "mlgate.yaml:12: metrics[1]: 'accuracy' is listed twice",
        ),
        (
            "[accuracy, f1_macro]",
            "[]",
            "mlgate.yaml:12: metrics: expected at least 1 entry, got an empty list",
        ),
        (
            "{max_regression_pct: 2.0}",
            "{max_regression_pct: -2.0}",
            "mlgate.yaml:15: gate.f1_macro.max_regression_pct: expected a number >= 0, got -2.0",
        ),
        (
            "{max_regression_pct: 2.0}",
            "{}",
            "mlgate.yaml:15: gate.f1_macro: expected at least one of min, max, max_regression, "
            "max_regression_pct, got an empty mapping",
        ),
        (
            "[accuracy, f1_macro]",
            "[rmse, f1_macro]",
            "mlgate.yaml:12: metrics[0]: 'rmse' is a regression metric but model.task is "
            "classification",
        ),
        (
            "  f1_macro: {max_regression_pct",
            "  r2: {max_regression_pct",
            "mlgate.yaml:15: gate.r2: 'r2' is a regression metric but model.task is classification",
        ),
        (
            "data/train.csv ",
            "../x.csv ",
            "mlgate.yaml:8: data.train: path '../x.csv' is outside the repository; use a path "
            "relative to the repo root",
        ),
        (
            "data/test.csv",
            "/abs/test.csv",
            "mlgate.yaml:9: data.test: path '/abs/test.csv' is outside the repository; use a "
            "path relative to the repo root",
        ),
        (
            "tenure, plan]",
            "tenure, label]",
            "mlgate.yaml:11: data.features[2]: 'label' is the target column; it cannot also be "
            "a feature",
        ),
        (
            "0.01}",
            "0.01, max: 0.5}",
            "mlgate.yaml:14: gate.accuracy: min 0.85 is greater than max 0.5; no value can pass",
        ),
        (
            "min: 0.85",
            "min: .nan",
            "mlgate.yaml:14: gate.accuracy.min: expected a finite number, got nan",
        ),
        (
            '"{name}@v{version}"',
            '"{name}-latest"',
            "mlgate.yaml:18: promote.tag: '{name}-latest' must contain {version}, so each "
            "promotion gets its own tag",
        ),
        (
            '"{name}@v{version}"',
            '"{model}@v{version}"',
            "mlgate.yaml:18: promote.tag: '{model}@v{version}' may only use the placeholders "
            "{name} and {version} (a width like {version:03d})",
        ),
        (
            "promote:\n",
            "gate: {}\npromote:\n",
            "mlgate.yaml:16: gate: duplicate key; it is already set on line 13",
        ),
        (
            "  train:",
            "  on: x\n  train:",
            "mlgate.yaml:8: data: key 'on' is read as true/false, not a string; quote it",
        ),
    ],
)
def test_error_messages(old: str, new: str, message: str) -> None:
    err = error_of(edited(old, new))
    assert str(err) == message
    assert err.exit_code == ExitCode.USAGE


def test_first_error_by_line_wins() -> None:
    text = edited("min: 0.85", "min: high", edited("task: classification", "task: x"))
    assert str(error_of(text)).startswith("mlgate.yaml:4: model.task: 'x' is not one of")


def test_unknown_metric_suggests_and_lists_choices() -> None:
    err = error_of(edited("[accuracy, f1_macro]", "[accuracy, acuracy]"))
    prefix = "mlgate.yaml:12: metrics[1]: unknown metric 'acuracy' (did you mean 'accuracy'?); "
    prefix += "expected one of accuracy, adjusted_mutual_info_score, "
    assert str(err).startswith(prefix)
    assert str(err).endswith(", ".join(config.known_metrics()))
    assert "\n" not in str(err)
    assert (err.line, err.key) == (12, "metrics[1]")


def test_unknown_metric_without_a_close_match() -> None:
    err = error_of(edited("[accuracy, f1_macro]", "[accuracy, zzzz]"))
    assert str(err).startswith("mlgate.yaml:12: metrics[1]: unknown metric 'zzzz'; expected one of")


def test_gate_unknown_metric_lists_runtime_metrics_too() -> None:
    err = error_of(edited("  accuracy: {min", "  acuracy: {min"))
    assert str(err).startswith(
        "mlgate.yaml:14: gate.acuracy: unknown metric 'acuracy' (did you mean 'accuracy'?); "
        "expected one of accuracy, "
    )
    for name in ("fit_time", "model_size", "rmse", "f1_macro"):
        assert f", {name}," in str(err) or str(err).endswith(f", {name}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "mlgate.yaml:1: expected a mapping, got nothing"),
        ("- a\n- b\n", "mlgate.yaml:1: expected a mapping, got a list"),
        ("a: b\nc: 'x\n", "mlgate.yaml:3: invalid YAML: found unexpected end of stream"),
        ("a: !!python/object:os.system x\n", None),
        ("a: &x [*x]\n", "mlgate.yaml:1: a[0]: an alias refers to its own parent; "),
        ("version: 1\n? [a, b]\n: c\n", "mlgate.yaml:2: a key must be a plain string"),
    ],
)
def test_odd_yaml(text: str, message: str | None) -> None:
    err = str(error_of(text))
    if message is None:
        assert err.startswith("mlgate.yaml:1: invalid YAML: could not determine a constructor")
    else:
        assert err.startswith(message)


def test_bytes_bom_and_bad_utf8() -> None:
    assert config.load(b"\xef\xbb\xbf" + VALID.encode()).model.name == "churn"
    err = error_of(b"version: 1\nmodel: \xff\n")  # type: ignore[arg-type]
    assert str(err) == "mlgate.yaml:2: not UTF-8 text; save the file as UTF-8"


def test_aliases_and_merge_keys_are_fine() -> None:
    text = edited(
        "  f1_macro: {max_regression_pct: 2.0}",
        "  f1_macro: &rule {max_regression_pct: 2.0}\n  roc_auc: *rule\n"
        "  balanced_accuracy: {<<: *rule, min: 0.5}",
    )
    cfg = config.load(text)
    assert cfg.gate["roc_auc"] == cfg.gate["f1_macro"] == Rule(max_regression_pct=2.0)
    assert cfg.gate["balanced_accuracy"] == Rule(min=0.5, max_regression_pct=2.0)
    assert cfg.line_of("gate.roc_auc.max_regression_pct") == 16


def test_load_path(tmp_path: Path) -> None:
    (tmp_path / "mlgate.yaml").write_text(VALID)
    assert config.load_path(tmp_path / "mlgate.yaml").model.name == "churn"
    (tmp_path / "bad.yaml").write_text(edited("version: 1", "version: one"))
    err = error_of_path(tmp_path / "bad.yaml")
    assert str(err) == f"{tmp_path / 'bad.yaml'}:1: version: expected 1, got 'one'"


def test_load_path_is_named_relative_to_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "ml.yaml").write_text(edited("version: 1", "version: one"))
    monkeypatch.chdir(tmp_path)
    err = error_of_path(tmp_path / "conf" / "ml.yaml")
    assert str(err) == "conf/ml.yaml:1: version: expected 1, got 'one'"


def test_load_path_missing(tmp_path: Path) -> None:
    err = error_of_path(tmp_path / "mlgate.yaml")
    assert str(err) == f"mlgate.yaml not found in {tmp_path}; run `mlgate init` to create one"
    assert err.exit_code == ExitCode.USAGE


def error_of_path(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config.load_path(path)
    return info.value


def test_load_at_commits_and_working_tree(repo: Path) -> None:
    (repo / "README.md").write_text("no config yet\n")
    before = commit_all(repo, "initial")
    (repo / "mlgate.yaml").write_text(VALID)
    good = commit_all(repo, "add config")
    (repo / "mlgate.yaml").write_text(edited("task: classification", "task: clasification"))
    bad = commit_all(repo, "break config")
    (repo / "mlgate.yaml").write_text(MINIMAL)

    git_repo = open_repo(repo)
    assert config.load_at(CommitFiles(git_repo, before)) is None
    cfg = config.load_at(CommitFiles(git_repo, good))
    assert cfg is not None
    assert cfg.file == f"mlgate.yaml@{good[:7]}"
    assert cfg.model.name == "churn"
    with pytest.raises(ConfigError) as info:
        config.load_at(CommitFiles(git_repo, bad))
    assert str(info.value) == (
        f"mlgate.yaml@{bad[:7]}:4: model.task: 'clasification' is not one of "
        "classification, regression"
    )
    worktree = config.load_at(WorkingFiles(git_repo))
    assert worktree is not None
    assert (worktree.file, worktree.model.name) == ("mlgate.yaml", "prices")


def test_load_at_other_path(repo: Path) -> None:
    (repo / "ml").mkdir()
    (repo / "ml" / "conf.yaml").write_text(MINIMAL)
    sha = commit_all(repo, "config elsewhere")
    files = CommitFiles(open_repo(repo), sha)
    assert config.load_at(files) is None
    cfg = config.load_at(files, "ml/conf.yaml")
    assert cfg is not None
    assert cfg.file == f"ml/conf.yaml@{sha[:7]}"


def test_known_metrics_and_tasks() -> None:
    names = config.known_metrics()
    assert list(names) == sorted(names)
    assert {"accuracy", "f1_macro", "roc_auc", "r2", "rmse", "mae", "mse"} <= set(names)
    assert config.metric_task("accuracy") == "classification"
    assert config.metric_task("roc_auc") == "classification"
    assert config.metric_task("neg_log_loss") == "classification"
    assert config.metric_task("positive_likelihood_ratio") == "classification"
    assert config.metric_task("r2") == "regression"
    assert config.metric_task("rmse") == "regression"
    assert config.metric_task("neg_mean_absolute_error") == "regression"
    assert config.metric_task("adjusted_rand_score") is None
    assert config.metric_task("fit_time") is None
    assert config.metric_task("nope") is None


def test_schema_is_valid_and_documented() -> None:
    schema = config.schema()
    Draft202012Validator.check_schema(schema)
    undocumented = [path for path, node in _properties(schema) if "description" not in node]
    assert undocumented == []
    packaged = Path(config.__file__).parents[1] / "schema" / "config.schema.json"
    assert json.loads(packaged.read_text()) == schema


def _properties(node: dict[str, object], path: str = "") -> list[tuple[str, dict[str, object]]]:
    found: list[tuple[str, dict[str, object]]] = []
    props = node.get("properties", {})
    assert isinstance(props, dict)
    for name, sub in props.items():
        found.append((f"{path}.{name}", sub))
        found.extend(_properties(sub, f"{path}.{name}"))
    return found


finite = st.floats(allow_nan=False, allow_infinity=False, width=32)
non_negative = st.floats(min_value=0, max_value=1e6, allow_nan=False)
rules = st.fixed_dictionaries(
    {},
    optional={
        "min": finite,
        "max": finite,
        "max_regression": non_negative,
        "max_regression_pct": non_negative | st.integers(0, 100),
    },
).filter(lambda r: r and not ("min" in r and "max" in r and r["min"] > r["max"]))


@settings(max_examples=50, deadline=None)
@given(rule=rules)
def test_any_valid_rule_round_trips(rule: dict[str, float]) -> None:
    text = MINIMAL + yaml.safe_dump({"gate": {"rmse": rule}})
    cfg = config.load(text)
    assert cfg.gate == {"rmse": Rule(**{k: float(v) for k, v in rule.items()})}
    assert cfg.line_of("gate.rmse") == MINIMAL.count("\n") + 2


@settings(max_examples=50, deadline=None)
@given(names=st.lists(st.sampled_from(["rmse", "mae", "mse", "r2", "max_error"]), unique=True))
def test_metric_lines_follow_the_file(names: list[str]) -> None:
    listed = [n for n in names if n in config.known_metrics()]
    unknown = [n for n in names if n not in config.known_metrics()]
    body = MINIMAL.split("metrics:")[0] + "metrics:\n" + "".join(f"  - {n}\n" for n in names)
    first = MINIMAL.split("metrics:")[0].count("\n") + 2
    if not names:
        assert str(error_of(body)).startswith("mlgate.yaml:10: metrics: expected a list, got")
    elif unknown:
        i = names.index(unknown[0])
        assert error_of(body).line == first + i
    else:
        cfg = config.load(body)
        assert cfg.metrics == tuple(listed)
        assert [cfg.line_of(f"metrics[{i}]") for i in range(len(names))] == list(
            range(first, first + len(names))
        )


def test_the_shipped_scorer_table_matches_the_installed_scikit_learn() -> None:
    """schema/scorers.json lets a fresh machine check a config without importing
    scikit-learn; its names and tasks must be the installed version's (refresh it with
    ``scorers._scorer_tasks_from_sklearn()`` when scikit-learn adds scorers)."""
    import sklearn

    shipped = json.loads((Path(config.__file__).parents[1] / "schema" / "scorers.json").read_text())
    live = scorers._scorer_tasks_from_sklearn()
    common = shipped["scorers"].keys() & live.keys()
    assert {n: shipped["scorers"][n] for n in common} == {n: live[n] for n in common}
    if shipped["scikit-learn"] == sklearn.__version__:
        assert shipped["scorers"] == live


def test_a_fresh_machine_checks_a_config_without_importing_scikit_learn(tmp_path: Path) -> None:
    import subprocess
    import sys

    text = yaml.safe_dump(
        {
            "version": 1,
            "model": {"name": "m", "task": "classification", "estimator": "a.B"},
            "data": {"train": "t.csv", "test": "s.csv", "target": "y"},
            "metrics": ["accuracy", "roc_auc", "f1_macro"],
            "gate": {"accuracy": {"min": 0.5}, "fit_time": {"max": 60}},
        }
    )
    code = (
        "import sys\n"
        "from mlgate.core import config\n"
        f"config.load({text!r})\n"
        "print('SKLEARN', 'sklearn' in sys.modules)\n"
    )
    env = {**__import__("os").environ, "MLGATE_CACHE_DIR": str(tmp_path / "empty-cache")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert "SKLEARN False" in proc.stdout, proc.stderr


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ", "expected an OpenSSH ed25519 public key line"),
        ("ssh-ed25519 AAAA", "not an ssh-ed25519 public key (its base64 does not hold one)"),
    ],
)
def test_a_notes_key_that_is_no_ed25519_key_is_named(key: str, message: str) -> None:
    text = VALID + f"notes:\n  public_key: {key}\n"
    with pytest.raises(ConfigError, match=r"notes\.public_key") as e:
        config.load(text)
    assert message in str(e.value)


def test_a_pinned_notes_key_is_read() -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICavL8p3X/MoHD6jS0XfJLqtrPyAGqPccnW4oS/1fJhR ci"
    assert config.load(VALID + f"notes:\n  public_key: {key}\n").notes_key == key
    assert config.load(VALID).notes_key is None
