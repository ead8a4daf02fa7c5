"""Model files: skops, never pickle. ``load_trusted`` is the one way mlgate loads a model
file (champion, candidate, command mode's model, run-cache models, rollback); ``save_model``
writes one atomically. skops is imported only when a model is loaded or saved.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class UntrustedModel(Exception):
    def __init__(self, types: list[str]) -> None:
        super().__init__(f"it contains types mlgate never loads: {', '.join(sorted(types))}")
        self.types = types


def load_trusted(path: str) -> Any:
    """A skops file, loaded only if every type in it is one skops trusts by default or one
    defined inside scikit-learn itself (skops' default list misses internals such as the
    HistGradientBoosting ``TreePredictor``). Anything else, e.g. a class from the user's
    repository, is refused: loading it would run code mlgate did not vet."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(file=path)
    blocked = [name for name in untrusted if not name.startswith("sklearn.")]
    if blocked:
        raise UntrustedModel(blocked)
    return skops.io.load(path, trusted=untrusted or None)


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
