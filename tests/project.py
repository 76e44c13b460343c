"""The packages pyproject.toml installs: the one list the guard-rail tests read.

The cycle test, the public-names test, the layering test and the wheel test all take
their packages from here, so a package added to ``[tool.setuptools] packages`` is
covered the day it is added.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def installed_packages() -> dict[str, Path]:
    """Every installed package's import name → its folder in the checkout (the real
    folder: ``src/modelexport/converter`` is a chain of links to ``converter/``)."""
    config = _setuptools()
    package_dir: dict[str, str] = config.get("package-dir", {})
    found: dict[str, Path] = {}
    for name in config["packages"]:
        parts = name.split(".")
        for i in range(len(parts), 0, -1):  # the longest mapped prefix decides
            prefix = ".".join(parts[:i])
            if prefix in package_dir:
                found[name] = (ROOT / package_dir[prefix] / Path(*parts[i:])).resolve()
                break
        else:
            found[name] = (ROOT / package_dir.get("", "") / Path(*parts)).resolve()
    return found


def top_folders() -> dict[str, str]:
    """The checkout's top-level package folders → their import names
    (``converter`` → ``modelexport.converter``)."""
    return {str(folder.relative_to(ROOT)): name for name, folder in installed_packages().items()
            if folder.parent == ROOT}


def project_modules() -> dict[str, Path]:
    """Every installed module's dotted name → its source file."""
    modules: dict[str, Path] = {}
    for name, folder in installed_packages().items():
        for path in sorted(folder.glob("*.py")):
            modules[name if path.stem == "__init__" else f"{name}.{path.stem}"] = path
    return modules
