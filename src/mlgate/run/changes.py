"""Where the model changed, the parent's side: core.changes on the two models' saved
predictions on the same test rows (the files run.noise reads for the intervals).

The result depends only on the two files (by sha256) and ``data.id``, so it is remembered
in the cache's memo under that key, like the intervals: a warm check finds it there and
imports no numpy. Without paired predictions the section is absent (None) and the flips
rule is skipped, with the reason.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from mlgate.core.config import Config
from mlgate.core.gate import RuleCheck, Verdict, flips_check
from mlgate.core.scorers import Memo
from mlgate.run import noise
from mlgate.run.noise import Kept


def compute(
    pair: tuple[Kept, Kept] | str, cfg: Config, memo: Memo
) -> tuple[dict[str, Any] | None, str]:
    """The changes document (``changes`` in the JSON report), or None and why there is none."""
    if isinstance(pair, str):
        return None, pair
    try:
        shas = [
            noise.fingerprint(kept, who) for kept, who in zip(pair, ("base", "head"), strict=True)
        ]
    except noise.NoPredictions as e:
        return None, str(e)
    from mlgate import __version__

    key_doc = {"mlgate": __version__, "predictions": shas, "id": cfg.data.id}
    name = "changes/" + hashlib.sha256(json.dumps(key_doc, sort_keys=True).encode()).hexdigest()
    known = memo.get(name)
    if known is not None:
        try:
            doc = json.loads(known)
            return doc.get("changes"), str(doc.get("why", ""))
        except (ValueError, AttributeError):
            pass  # damaged: computed again
    found, why = _compute(pair, shas, cfg.data.id)
    memo.put(name, json.dumps({"changes": found, "why": why}).encode())
    return found, why


def _compute(
    pair: tuple[Kept, Kept], shas: list[str], id_column: str | None
) -> tuple[dict[str, Any] | None, str]:
    from mlgate.core import changes  # numpy: only when computed, not remembered

    try:
        base, head = (noise.read(kept, sha) for kept, sha in zip(pair, shas, strict=True))
        return changes.compare(base, head, id_column=id_column), ""
    except noise.NoPredictions as e:
        return None, str(e)
    except (changes.NotComparable, ValueError, IndexError, TypeError) as e:
        return None, f"the saved predictions cannot be compared: {e}"


def gated(verdict: Verdict, cfg: Config, found: Mapping[str, Any] | None, why: str) -> Verdict:
    """``verdict`` with the flips rule's check, when head's gate has one."""
    if cfg.max_broken_pct is None:
        return verdict
    return Verdict((*verdict.checks, flips_rule(cfg.max_broken_pct, found, why)))


def flips_rule(limit: float, found: Mapping[str, Any] | None, why: str) -> RuleCheck:
    """The flips rule's check on a changes document (None: skipped because of ``why``)."""
    flips = None if found is None else found.get("flips")
    if found is not None and flips is None:
        why = "the changes are of a regression model; flips counts class predictions"
    rows = 0 if found is None else int(found["rows"])
    return flips_check(limit, flips, rows, why or "no paired predictions")
