"""Model files: skops, never pickle. ``load_trusted`` is the one way mlgate loads a model
file (champion, candidate, command mode's model, run-cache models, rollback); ``save_model``
writes one atomically. skops is imported only when a model is loaded or saved.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.core import production
from mlgate.errors import DataError

if TYPE_CHECKING:
    from mlgate import git
    from mlgate.core.production import Lineage


class UntrustedModel(Exception):
    def __init__(self, types: list[str]) -> None:
        super().__init__(f"it contains types mlgate never loads: {', '.join(sorted(types))}")
        self.types = types


# Types outside scikit-learn that a model may hold, each reviewed: none so far. A name goes
# here only after reading what skops does with it on load (construct, call, setstate).
REVIEWED: frozenset[str] = frozenset()


def load_trusted(path: str) -> Any:
    """A skops file, loaded only if every type in it is one skops trusts by default, one on
    ``REVIEWED``, or a class *defined* in scikit-learn (skops' default list misses internals
    such as the HistGradientBoosting ``TreePredictor``).

    A name's ``sklearn.`` prefix proves nothing: skops resolves ``module.name`` and calls
    what it finds, and scikit-learn modules import plenty that is not theirs
    (``sklearn.utils._testing.check_output`` is ``subprocess.check_output``). So a name is
    trusted only if it resolves to a class whose own ``__module__`` is scikit-learn's and
    whose name is the one the file gives; functions, builtins and re-exported classes are
    refused, and so is anything else, e.g. a class from the user's repository."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(file=path)
    blocked = [name for name in untrusted if name not in REVIEWED and not _sklearn_class(name)]
    if blocked:
        raise UntrustedModel(blocked)
    return skops.io.load(path, trusted=untrusted or None)


def _sklearn_class(name: str) -> bool:
    """``name`` (``module.attr``, as skops resolves it) is a class defined in scikit-learn.
    Only modules inside scikit-learn are imported to find out, as skops itself would."""
    import importlib

    module_name, _, attr = name.rpartition(".")
    if module_name.split(".")[0] != "sklearn" or not attr.isidentifier():
        return False
    try:
        module = importlib.import_module(module_name)
    except Exception:  # no such module: skops could not load it either
        return False
    found = module.__dict__.get(attr)
    return (
        isinstance(found, type)
        and found.__module__.split(".")[0] == "sklearn"
        and found.__name__ == attr
    )


def save_model(est: Any, path: str) -> dict[str, Any]:
    """Save with skops (never pickle); a model skops cannot save still gets its metrics."""
    import skops.io

    tmp = f"{path}.tmp"
    try:
        skops.io.dump(est, tmp)
        os.replace(tmp, path)
    except Exception as e:
        Path(tmp).unlink(missing_ok=True)
        return {"model_size": None, "model_error": f"skops could not save the model: {e}"}
    return {"model_size": os.path.getsize(path), "model_path": path}


def verified_production_model(
    files: git.CommitFiles, lineage: Lineage, dest: Path, where: str
) -> Path:
    """A production version's ``<model>/model.skops``, written to ``dest`` only if its bytes
    are the ones ``lineage.json`` names (promotion's champion, ``serve``); DataError
    otherwise. ``where`` names the file in messages."""
    data = files.read(production.path(lineage.model, production.MODEL_FILE))
    if data is None:
        raise DataError(f"{where} is missing although lineage.json names v{lineage.version}")
    if hashlib.sha256(data).hexdigest() != lineage.model_sha256:
        raise DataError(
            f"{where} does not match the sha256 in lineage.json; refusing to load it "
            "(was the production branch edited by hand?)"
        )
    dest.write_bytes(data)
    return dest
