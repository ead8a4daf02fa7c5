"""Installed versions without importlib.metadata: the same answers, names compared as
PEP 503 does."""

from __future__ import annotations

from importlib import metadata

import pytest

from mlgate.storage.versions import version_of


@pytest.mark.parametrize("name", ["pandas", "scikit-learn", "scikit_learn", "PyYAML", "skops"])
def test_versions_are_what_importlib_metadata_says(name: str) -> None:
    assert version_of(name) == metadata.version(name)


def test_a_distribution_that_is_not_installed_has_no_version() -> None:
    assert version_of("mlgate-no-such-distribution") is None
