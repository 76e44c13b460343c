"""Setting up from pyproject.toml is quiet: setuptools has nothing to warn about."""

from __future__ import annotations

import warnings

import pytest
from project import ROOT, installed_packages, top_folders


def test_reading_the_project_configuration_raises_no_license_warning():
    pyprojecttoml = pytest.importorskip("setuptools.config.pyprojecttoml")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = pyprojecttoml.read_configuration(ROOT / "pyproject.toml")
    assert config["project"]["license"] == "Apache-2.0"  # an SPDX expression, not a table
    assert [str(w.message) for w in caught if "license" in str(w.message).lower()] == []


def test_every_package_folder_in_the_checkout_is_installed():
    """A folder with an ``__init__.py`` under an installed folder is a package pyproject
    must list; otherwise the wheel silently leaves it out."""
    listed = {folder for folder in installed_packages().values()}
    found = {init.parent for top in top_folders() for init in (ROOT / top).rglob("__init__.py")}
    assert found == listed
