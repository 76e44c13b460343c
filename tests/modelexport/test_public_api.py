"""The public API resolves lazily, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import modelexport

ROOT = Path(__file__).resolve().parents[2]


def test_the_spec_entry_point_and_the_error_tree_are_exported():
    """SPEC §4's stable name; tests/test_public_names.py checks the rest of the list for leaks."""
    assert {"export_model", "ModelExportError", "AnalysisError"} <= set(modelexport.__all__)


def test_the_exporter_names_resolve_lazily_to_the_exporter_module():
    from modelexport import exporter

    assert modelexport.export_model is exporter.export_model
    assert modelexport.UnifiedExporter is exporter.UnifiedExporter


def test_unknown_names_raise_attribute_error():
    try:
        modelexport.no_such_name  # noqa: B018
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_package_and_its_exporter_loads_no_torch():
    code = ("import sys, modelexport, modelexport.exporter; modelexport.export_model; "
            "print([m for m in ('torch', 'transformers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
