"""Shared fixtures: every test runs in FAST mode with a private cache folder."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("ASTROLAB_FAST", "1")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.mktemp("astrolab-cache")
    monkeypatch.setenv("ASTROLAB_CACHE", str(cache))
    monkeypatch.setenv("ASTROLAB_OUTPUT_DIR", str(cache / "outputs"))
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
