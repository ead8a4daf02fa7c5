"""Model files load only vetted types (issue 11, item 1).

A skops file names its types as ``module.name`` and skops calls what that resolves to. A
crafted file (a champion planted on the production branch, a command's model file, a
run-cache entry) must not reach anything but classes scikit-learn defines: these files
are the attacker's, and every load path goes through ``load_trusted``.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import skops.io
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from mlgate.storage.models import UntrustedModel, load_trusted


def _forged(tmp_path: Path, marker: Path, module: str, name: str) -> Path:
    """A skops dump of ``["sh", "-c", "touch MARKER"]`` whose outer node claims to be
    ``module.name``: skops calls that with the list's items."""
    data = skops.io.dumps(["sh", "-c", f"touch {marker}"])
    schema: dict[str, Any] = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("schema.json"))
    schema["__module__"], schema["__class__"] = module, name
    path = tmp_path / "model.skops"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("schema.json", json.dumps(schema))
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("sklearn.utils._testing", "check_output"),  # subprocess.check_output, re-exported
        ("sklearn.utils._testing", "CalledProcessError"),  # a class, but subprocess's
        ("sklearn.base", "defaultdict"),  # collections' class under a sklearn name
        ("sklearn", "__import__"),  # a builtin reachable from a sklearn module
        ("sklearn.utils", "_testing"),  # a module, not a class
        ("sklearn.no_such_module", "Thing"),
        ("subprocess", "check_output"),
        ("builtins", "exec"),
        ("os", "system"),
    ],
)
def test_a_forged_type_is_refused_and_nothing_runs(tmp_path: Path, module: str, name: str) -> None:
    marker = tmp_path / "pwned"
    path = _forged(tmp_path, marker, module, name)
    with pytest.raises(UntrustedModel) as e:
        load_trusted(str(path))
    assert str(e.value) == f"it contains types mlgate never loads: {module}.{name}"
    assert "\n" not in str(e.value)
    assert not marker.exists()


def test_a_class_from_the_repository_is_refused(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "evilmod.py").write_text(
        f"class Payload:\n    def __setstate__(self, state):\n"
        f"        open({str(tmp_path / 'pwned')!r}, 'w').close()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import evilmod  # type: ignore[import-not-found]

    skops.io.dump(evilmod.Payload(), tmp_path / "evil.skops")
    with pytest.raises(UntrustedModel, match=r"evilmod\.Payload"):
        load_trusted(str(tmp_path / "evil.skops"))
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "model", [LogisticRegression(max_iter=200), HistGradientBoostingClassifier(max_iter=5)]
)
def test_real_scikit_learn_models_still_load(tmp_path: Path, model: Any) -> None:
    """Including internals skops' default list misses (the TreePredictor of HGB)."""
    model.fit([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.9, 0.1]] * 5, [0, 1, 0, 1] * 5)
    skops.io.dump(model, tmp_path / "m.skops")
    loaded = load_trusted(str(tmp_path / "m.skops"))
    assert list(loaded.predict([[0.0, 1.0], [1.0, 0.0]])) == list(
        model.predict([[0.0, 1.0], [1.0, 0.0]])
    )
