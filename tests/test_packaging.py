"""Setting up from pyproject.toml is quiet: setuptools has nothing to warn about."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_reading_the_project_configuration_raises_no_license_warning():
    pyprojecttoml = pytest.importorskip("setuptools.config.pyprojecttoml")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = pyprojecttoml.read_configuration(ROOT / "pyproject.toml")
    assert config["project"]["license"] == "Apache-2.0"  # an SPDX expression, not a table
    assert [str(w.message) for w in caught if "license" in str(w.message).lower()] == []
