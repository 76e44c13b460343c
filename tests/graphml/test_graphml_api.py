"""The public API of the graphml package: SPEC §4's names, and lxml-only."""

from __future__ import annotations

import subprocess
import sys

from modelexport import graphml


def test_the_spec_entry_points_are_exported() -> None:
    """SPEC §4's names; leaks are checked in tests/test_public_names.py."""
    assert {"validate_graphml", "read_graphml", "write_graphml", "GraphMLError"} <= set(
        graphml.__all__
    )


def test_importing_graphml_loads_neither_onnx_nor_torch() -> None:
    code = ("import sys, graphml, graphml.validator, graphml.yed; "
            "print(sorted(m for m in ('onnx', 'torch', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
