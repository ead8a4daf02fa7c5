"""Promotion weighs noise the way a check does: the champion and the candidate are scored
on the same (the candidate's) test rows, so a drop from training randomness alone passes
within noise and a real regression is refused beyond noise."""

from __future__ import annotations

from pathlib import Path

from conftest import commit_all
from projects import (
    base_project,
    classification_frames,
    cli,
    forest_config,
    push_to_origin,
    set_params,
)


def test_promotion_passes_a_drop_within_noise_and_refuses_one_beyond(
    repo: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    base_project(repo, forest_config(), classification_frames(rows=400))
    push_to_origin(repo, tmp_path)
    code, _, err = cli(capsys, "promote")
    assert code == 0, err

    set_params(repo, random_state=7)  # 0.8833 -> 0.8667: only training randomness
    commit_all(repo, "another seed")
    code, out, err = cli(capsys, "promote", "--dry-run")
    assert code == 0, err
    assert (
        "note: accuracy dropped by 0.01667 (production v1 0.8833 → candidate 0.8667), more "
        "than the allowed 0.01, but within noise at 95% (± 0."
    ) in out

    set_params(repo, random_state=3, max_depth=1)  # 0.8833 -> 0.6083
    commit_all(repo, "max_depth 8 -> 1")
    code, out, _ = cli(capsys, "promote", "--dry-run")
    assert code == 1
    assert (
        "✗ accuracy dropped by 0.275 (production v1 0.8833 → candidate 0.6083), more than the "
        "allowed 0.01, beyond noise at 95% (± 0."
    ) in out
