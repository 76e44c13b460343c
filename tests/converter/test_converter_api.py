"""The converter's public API keeps what SPEC §4 promises."""

from __future__ import annotations

import inspect

from modelexport import converter


def test_the_spec_entry_points_are_exported():
    """SPEC §4's names; leaks are checked in tests/test_public_names.py."""
    assert {"onnx_to_graphml", "graphml_to_onnx", "ConverterError"} <= set(converter.__all__)


def test_the_spec_entry_points_keep_their_signatures():
    export = inspect.signature(converter.onnx_to_graphml)
    assert list(export.parameters)[:2] == ["src", "dst"]
    assert export.parameters["yed"].default is True and export.parameters["flat"].default is False
    back = inspect.signature(converter.graphml_to_onnx)
    assert list(back.parameters)[:2] == ["src", "dst"]
    assert back.parameters["validate"].default is False
    assert back.parameters["reference"].default is None


def test_every_converter_error_is_a_converter_error():
    for name in ("OnnxLoadError", "SidecarError", "GraphMLToOnnxError"):
        assert issubclass(getattr(converter, name), converter.ConverterError)
