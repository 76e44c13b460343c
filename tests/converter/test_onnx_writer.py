"""The streaming ONNX writer: the same bytes as SerializeToString, tensors from the sidecar."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

import modelexport.converter._files as io_layer
from modelexport.converter import graphml_to_onnx, onnx_to_graphml
from modelexport.converter._onnx_writer import split_before, varint


def test_varints_and_field_splits_follow_the_protobuf_wire_format():
    assert varint(1) == b"\x01" and varint(300) == b"\xac\x02"
    t = onnx.TensorProto(name="a", doc_string="d", raw_data=b"xyz", dims=[3], data_type=1)
    data = t.SerializeToString(deterministic=True)
    assert data[split_before(data, 9):].startswith(b"J\x03xyz")


def test_the_written_file_equals_serialize_to_string(tmp_path, tagged):
    tagged.graph.initializer[0].doc_string = "after raw_data in field order"
    tagged.graph.doc_string = "graph doc"
    onnx_to_graphml(tagged, tmp_path / "m.graphml")
    graphml_to_onnx(tmp_path / "m.graphml", tmp_path / "m.onnx")
    assert (tmp_path / "m.onnx").read_bytes() == tagged.SerializeToString()


def test_models_over_the_protobuf_limit_are_written_with_external_data(
    tmp_path, tagged, monkeypatch
):
    monkeypatch.setattr(io_layer, "PROTOBUF_LIMIT", 100)
    onnx_to_graphml(tagged, tmp_path / "m.graphml")
    result = graphml_to_onnx(tmp_path / "m.graphml", tmp_path / "m.onnx")
    assert result.external_data == tmp_path / "m.onnx.data"
    rebuilt = onnx.load(str(tmp_path / "m.onnx"))  # loads the external data too
    for a, b in zip(tagged.graph.initializer, rebuilt.graph.initializer, strict=True):
        assert np.array_equal(numpy_helper.to_array(a), numpy_helper.to_array(b))
    assert [n.name for n in rebuilt.graph.node] == [n.name for n in tagged.graph.node]


def test_unknown_fields_keep_their_place_in_the_written_file(tmp_path, tagged):
    extra = b"\xf8\x07\x05"
    model = type(tagged)()
    model.ParseFromString(tagged.SerializeToString() + extra)
    model.graph.MergeFromString(extra)
    model.graph.initializer[0].MergeFromString(extra)
    path = tmp_path / "src.onnx"
    path.write_bytes(model.SerializeToString())
    onnx_to_graphml(path, tmp_path / "m.graphml")  # the lazy reader keeps them too
    graphml_to_onnx(tmp_path / "m.graphml", tmp_path / "m.onnx")
    assert (tmp_path / "m.onnx").read_bytes() == model.SerializeToString()
