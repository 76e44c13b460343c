"""Each package's public names are exactly its ``__all__``: nothing missing, nothing leaked.

A name is public when it does not start with ``_``; submodules (attributes that Python
adds as they are imported) and the ``from __future__`` feature are not names of the
package's API. A name imported for internal use must therefore be spelled private.
"""

from __future__ import annotations
import __future__

import importlib
import inspect

import pytest
from project import installed_packages

PACKAGES = sorted(installed_packages())  # every package pyproject installs


def leaked_names(module) -> list[str]:
    """Public attributes of ``module`` that its ``__all__`` does not list."""
    return sorted(
        name for name, value in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(value)
        and not isinstance(value, __future__._Feature) and name not in module.__all__)


def test_a_leaked_name_is_found():
    import types

    module = types.ModuleType("m")
    exec("from __future__ import annotations\nimport os\nfrom os import path, sep\n"
         "def api(): pass\n__all__ = ['api']", vars(module))
    assert leaked_names(module) == ["sep"]  # os and os.path are modules, api is listed


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_name_is_in_all_and_every_name_in_all_exists(name):
    module = importlib.import_module(name)
    for exported in module.__all__:
        getattr(module, exported)
    assert len(set(module.__all__)) == len(module.__all__)
    assert leaked_names(module) == []


def test_every_error_of_the_tree_is_exported():
    import modelexport
    from modelexport import errors

    tree = [n for n, v in vars(errors).items()
            if inspect.isclass(v) and issubclass(v, errors.ModelExportError)]
    assert set(tree) <= set(modelexport.__all__)
    assert "AnalysisError" in tree
