"""The converter's public API is exactly what SPEC §4 and its __all__ promise."""

from __future__ import annotations

import inspect

from modelexport import converter


def test_the_public_api_is_exactly_the_curated_list():
    assert sorted(converter.__all__) == sorted([
        "onnx_to_graphml", "graphml_to_onnx", "load_onnx", "ExportResult", "ImportResult",
        "model_to_document", "document_to_model", "derive_hierarchy", "Hierarchy",
        "write_sidecar", "read_sidecar", "SidecarWriter", "SidecarReader",
        "diff_models", "assert_models_equal",
        "ConverterError", "OnnxLoadError", "SidecarError", "GraphMLToOnnxError",
    ])
    assert all(hasattr(converter, name) for name in converter.__all__)


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
