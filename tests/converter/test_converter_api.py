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


def test_onnx_document_reads_no_parameter_bytes_and_gives_the_exported_structure(
        tmp_path, tagged_file, monkeypatch):
    """``render`` of an ONNX file builds its Document this way: every node and edge as
    ``export-graphml`` writes them, tensors placed where the sidecar would hold them,
    and not one parameter byte read."""
    from modelexport.converter._onnx_reader import LazyModel
    from modelexport.graphml import read_graphml

    converter.onnx_to_graphml(tagged_file, tmp_path / "net.graphml", yed=False)
    exported = read_graphml(tmp_path / "net.graphml")

    def no_reading(*_args):
        raise AssertionError("a parameter byte was read")

    monkeypatch.setattr(LazyModel, "read", no_reading)
    monkeypatch.setattr(LazyModel, "copy_into", no_reading)
    doc = converter.onnx_document(tagged_file)

    def nodes(d):
        return {n.id: n.data for n, _owner in d.iter_nodes()}

    assert nodes(doc) == nodes(exported)
    assert [(e.source, e.target, e.data) for e in doc.iter_edges()] == \
        [(e.source, e.target, e.data) for e in exported.iter_edges()]
    assert doc.graph.data["sidecar_size"] == exported.graph.data["sidecar_size"] > 0
