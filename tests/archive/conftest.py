"""Fixtures of the archive tests (the models themselves are in archive_models.py, a
module name no other test folder uses)."""

from __future__ import annotations

from pathlib import Path

import pytest
from archive_models import chain_model, random_weights, save


@pytest.fixture
def small(tmp_path) -> Path:
    """A 3-layer tagged model on disk."""
    return save(chain_model(random_weights(3, 16)), tmp_path / "small.onnx")
