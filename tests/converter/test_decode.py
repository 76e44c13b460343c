"""Document → ONNX: exact rebuilds, and documents that cannot be rebuilt."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from modelexport.converter.decode import document_to_model
from modelexport.converter.encode import model_to_document
from modelexport.converter.errors import GraphMLToOnnxError
from modelexport.converter.sidecar import SidecarWriter
from modelexport.converter.testing import assert_models_equal
from modelexport.graphml.model import Edge


def _round_trip(model):
    buf = io.BytesIO()
    doc = model_to_document(model, SidecarWriter(buf))
    data = buf.getvalue()
    return document_to_model(doc, lambda r: data[r["offset"]:r["offset"] + r["length"]])


def _doc(model):
    buf = io.BytesIO()
    doc = model_to_document(model, SidecarWriter(buf))
    data = buf.getvalue()
    return doc, lambda r: data[r["offset"]:r["offset"] + r["length"]]


def test_a_tagged_model_comes_back_byte_identical(tagged):
    assert_models_equal(_round_trip(tagged), tagged)


def test_a_model_with_subgraphs_and_sidecar_attribute_tensors_comes_back_byte_identical(
    with_subgraphs,
):
    assert_models_equal(_round_trip(with_subgraphs), with_subgraphs)


def test_fields_set_to_their_default_value_stay_set(tagged):
    tagged.graph.node[0].domain = ""
    tagged.graph.node[1].doc_string = ""
    tagged.model_version = 0
    rebuilt = _round_trip(tagged)
    assert rebuilt.graph.node[0].HasField("domain")
    assert rebuilt.graph.node[1].HasField("doc_string")
    assert rebuilt.HasField("model_version")
    assert_models_equal(rebuilt, tagged)


def test_every_attribute_type_comes_back_exactly():
    t = numpy_helper.from_array(np.arange(6, dtype=np.int64).reshape(2, 3), "t")
    sparse = helper.make_sparse_tensor(
        helper.make_tensor("v", TensorProto.FLOAT, [2], [1.5, -2.0]),
        helper.make_tensor("i", TensorProto.INT64, [2], [0, 3]), [4])
    sub = helper.make_graph([helper.make_node("Identity", ["a"], ["b"])], "sub",
                            [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1])],
                            [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1])])
    node = helper.make_node(
        "Custom",
        ["x", "", "x"],
        ["y"],
        domain="test.domain",
        name="every",
        f=0.1,
        i=-7,
        s=b"text",
        s_bin=b"\xff\x00",
        t=t,
        g=sub,
        floats=[1.0, float("inf")],
        ints=[1, 2**40],
        strings=[b"a", b"b"],
        tensors=[t, t],
        graphs=[sub, sub],
        sparse_tensor=sparse,
        sparse_tensors=[sparse],
        tp=helper.make_tensor_type_proto(TensorProto.FLOAT, [1, "n"]),
        type_protos=[
            helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.INT8, None))
        ],
        doc_string="node doc",
    )
    ref = helper.make_attribute_ref("alpha", AttributeProto.FLOAT)
    ref.ref_attr_name = "outer_alpha"
    ref.doc_string = "attr doc"
    node.attribute.append(ref)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18),
                                                   helper.make_opsetid("test.domain", 1)])
    assert_models_equal(_round_trip(model), model)


def test_model_local_functions_value_info_and_metadata_come_back(tagged):
    fn = helper.make_function("local", "Twice", ["a"], ["b"],
                              [helper.make_node("Add", ["a", "a"], ["b"])],
                              [helper.make_opsetid("", 18)])
    tagged.functions.append(fn)
    tagged.graph.value_info.append(
        helper.make_tensor_value_info("h0", TensorProto.FLOAT, ["batch", 8])
    )
    tagged.graph.value_info.append(
        helper.make_value_info(
            "seq",
            helper.make_optional_type_proto(
                helper.make_sequence_type_proto(
                    helper.make_map_type_proto(
                        TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [2])
                    )
                )
            ),
        )
    )
    tagged.doc_string = "model doc"
    tagged.graph.doc_string = "graph doc"
    helper.set_metadata_props(tagged.graph.node[0], {"extra": "1"})  # appended after the tags
    assert_models_equal(_round_trip(tagged), tagged)


def test_typed_tensor_fields_are_restored_to_the_same_field():
    t = helper.make_tensor(
        "w", TensorProto.FLOAT16, [600], np.arange(600, dtype=np.float16).view(np.uint16).tolist()
    )
    graph = helper.make_graph([helper.make_node("Identity", ["w"], ["y"])], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [600])], [t])
    model = helper.make_model(graph)
    rebuilt = _round_trip(model)
    assert len(rebuilt.graph.initializer[0].int32_data) == 600
    assert_models_equal(rebuilt, model)


def test_duplicate_node_ids_are_refused(tagged):
    doc, read = _doc(tagged)
    doc.graph.nodes[1].id = doc.graph.nodes[0].id
    with pytest.raises(GraphMLToOnnxError, match="used twice"):
        document_to_model(doc, read)


def test_dangling_edges_are_refused(tagged):
    doc, read = _doc(tagged)
    doc.graph.edges.append(Edge("e999", "n0", "nowhere"))
    with pytest.raises(GraphMLToOnnxError, match="does not exist"):
        document_to_model(doc, read)


def test_a_missing_index_is_refused(tagged):
    doc, read = _doc(tagged)
    op = next(n for n, _ in doc.iter_nodes() if n.data["kind"] == "op")
    del op.data["index"]
    with pytest.raises(GraphMLToOnnxError, match="index"):
        document_to_model(doc, read)


def test_broken_json_in_an_op_is_refused_naming_the_node(tagged):
    doc, read = _doc(tagged)
    op = next(n for n, _ in doc.iter_nodes() if n.data["kind"] == "op")
    op.data["inputs"] = "[not json"
    with pytest.raises(GraphMLToOnnxError, match=f"node '{op.id}'"):
        document_to_model(doc, read)


def test_a_document_not_written_by_export_graphml_is_refused(tagged):
    doc, read = _doc(tagged)
    doc.graph.data["format"] = "something-else"
    with pytest.raises(GraphMLToOnnxError, match="export-graphml"):
        document_to_model(doc, read)


def test_an_attribute_referring_to_a_missing_subgraph_is_refused(with_subgraphs):
    doc, read = _doc(with_subgraphs)
    op = next(n for n, _ in doc.iter_nodes() if n.data.get("op_type") == "If")
    attrs = json.loads(op.data["attributes"])
    attrs[0]["g"]["subgraph"] = "s99"
    op.data["attributes"] = json.dumps(attrs)
    with pytest.raises(GraphMLToOnnxError, match="s99"):
        document_to_model(doc, read)


def test_ops_forming_a_cycle_are_refused(tagged):
    doc, read = _doc(tagged)
    ops = [n for n, _ in doc.iter_nodes() if n.data["kind"] == "op"]
    first = next(n for n in ops if n.data["index"] == 0)
    first.data["inputs"] = json.dumps(["y", "block.0.proj.weight"])  # y is the last op's output
    with pytest.raises(GraphMLToOnnxError, match="cycle"):
        document_to_model(doc, read)


def test_ops_out_of_order_but_acyclic_come_back_as_they_were(tagged):
    nodes = list(tagged.graph.node)
    del tagged.graph.node[:]
    tagged.graph.node.extend(reversed(nodes))
    assert_models_equal(_round_trip(tagged), tagged)


def test_unknown_fields_from_a_newer_onnx_come_back_too(tagged):
    extra = b"\xf8\x07\x05"  # field 127, varint 5: unknown to this onnx
    model = type(tagged)()
    model.ParseFromString(tagged.SerializeToString() + extra)
    for msg in (model.graph, model.graph.node[0], model.graph.initializer[0],
                model.graph.node[0].metadata_props[0], model.graph.input[0]):
        msg.MergeFromString(extra)
    assert_models_equal(_round_trip(model), model)
