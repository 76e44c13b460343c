"""The public API of the graphml package is exactly the curated list, and lxml-only."""

from __future__ import annotations

import subprocess
import sys

from modelexport import graphml


def test_the_public_api_is_exactly_all() -> None:
    assert set(graphml.__all__) == {
        "Document", "Graph", "Node", "Edge", "Key",
        "generate_graphml", "write_graphml", "parse_graphml", "read_graphml",
        "validate_graphml", "ValidationReport", "Finding", "schema_path",
        "GraphMLError", "GraphMLParseError", "GraphMLFormatError", "GraphMLValidationError",
    }
    for name in graphml.__all__:
        assert getattr(graphml, name) is not None


def test_importing_graphml_loads_neither_onnx_nor_torch() -> None:
    code = ("import sys, graphml, graphml.validator, graphml.yed; "
            "print(sorted(m for m in ('onnx', 'torch', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
