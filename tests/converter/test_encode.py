"""ONNX → Document: the hierarchy, nodes and edges the GraphML shows (issue 3)."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import onnx
from onnx import TensorProto, helper

from modelexport import graphml
from modelexport.converter import graphml_to_onnx, onnx_to_graphml
from modelexport.converter.encode import model_to_document
from modelexport.converter.sidecar import SidecarWriter
from modelexport.converter.tags import lineage, node_tag
from modelexport.graphml import format as fmt


def _nodes(doc):
    return {n.id: (n, owner) for n, owner in doc.iter_nodes()}


def _kind(doc, kind):
    return [n for n, _ in doc.iter_nodes() if n.data["kind"] == kind]


def test_one_group_per_distinct_module_tag_including_ancestors(tagged):
    doc = model_to_document(tagged)
    tags = {node_tag(n) for n in tagged.graph.node}
    expected = {a for t in tags for a in lineage(t)}
    modules = _kind(doc, fmt.KIND_MODULE)
    assert sorted(m.data["hierarchy_tag"] for m in modules) == sorted(expected)
    assert all(m.is_group for m in modules)


def test_every_op_sits_in_the_group_of_its_tag(tagged):
    doc = model_to_document(tagged)
    for op, owner in ((n, o) for n, o in doc.iter_nodes() if n.data["kind"] == fmt.KIND_OP):
        assert owner is not None
        assert owner.id == op.data["parent"]
        assert owner.data["hierarchy_tag"] == op.data["hierarchy_tag"]


def test_modules_carry_label_path_and_class(tagged):
    doc = model_to_document(tagged)
    block = next(m for m in _kind(doc, fmt.KIND_MODULE)
                 if m.data["hierarchy_tag"] == "/Net/Block.0")
    assert block.data["label"] == "Block.0"
    assert block.data["module_path"] == "block.0"
    assert block.data["module_class"] == "Block"


def test_an_initializer_sits_in_the_common_module_of_its_consumers(tagged):
    doc = model_to_document(tagged)
    nodes = _nodes(doc)
    inits = {n.data["name"]: n for n in _kind(doc, fmt.KIND_INITIALIZER)}
    home = lambda name: nodes[inits[name].data["parent"]][0].data["hierarchy_tag"]  # noqa: E731
    assert home("block.0.proj.weight") == "/Net/Block.0/Proj"
    assert home("head.weight") == "/Net/Head"
    assert home("shared.scale") == "/Net"  # read by Proj and by Head


def test_graph_inputs_and_outputs_sit_at_the_root(tagged):
    doc = model_to_document(tagged)
    ios = [n for n in doc.graph.nodes if n.data["kind"] in (fmt.KIND_INPUT, fmt.KIND_OUTPUT)]
    assert [n.data["name"] for n in ios] == ["x", "y"]
    assert all(n.data["parent"] == "" for n in ios)


def test_one_edge_per_producer_and_consumer_input(tagged):
    doc = model_to_document(tagged)
    pairs = sum(1 for n in tagged.graph.node for i in n.input if i) + len(tagged.graph.output)
    edges = list(doc.iter_edges())
    assert len(edges) == pairs
    assert doc.graph.edges == edges  # all on the root graph
    shared = [e for e in edges if e.data["e_tensor"] == "shared.scale"]
    assert [e.data["target_input"] for e in shared] == [1, 1]


def test_edges_carry_tensor_dtype_and_shape_when_known(tagged):
    doc = model_to_document(tagged)
    into_matmul = next(e for e in doc.iter_edges() if e.data["e_tensor"] == "x")
    assert into_matmul.data["e_dtype"] == "FLOAT"
    assert json.loads(into_matmul.data["e_shape"]) == ["batch", 4]


def test_node_ids_are_unique_nmtokens_and_names_are_kept_as_data(tagged):
    doc = model_to_document(tagged)
    ids = [n.id for n, _ in doc.iter_nodes()]
    assert len(ids) == len(set(ids))
    assert all(fmt.is_nmtoken(i) for i in ids)
    names = {n.data.get("name") for n in _kind(doc, fmt.KIND_OP)}
    assert "/block.0/proj/MatMul" in names


def test_every_node_has_kind_label_and_parent(tagged, with_subgraphs):
    for model in (tagged, with_subgraphs):
        for node, _ in model_to_document(model).iter_nodes():
            assert node.data["kind"] in fmt.NODE_KINDS
            assert node.data["label"]
            assert "parent" in node.data


def test_flat_output_has_no_groups_but_keeps_parents(tagged):
    nested = model_to_document(tagged)
    flat = model_to_document(tagged, flat=True)
    assert all(not n.is_group for n in flat.graph.nodes)
    assert {n.id: n.data["parent"] for n, _ in flat.iter_nodes()} == \
        {n.id: n.data["parent"] for n, _ in nested.iter_nodes()}


def test_subgraphs_are_containers_inside_their_op(with_subgraphs):
    doc = model_to_document(with_subgraphs)
    op = next(n for n in _kind(doc, fmt.KIND_OP) if n.data.get("op_type") == "If")
    assert op.is_group
    containers = op.graph.nodes
    assert [(c.data["kind"], c.data["attribute_name"]) for c in containers] == \
        [("subgraph", "else_branch"), ("subgraph", "then_branch")]  # helper sorts attributes
    attrs = json.loads(op.data["attributes"])
    assert [a["g"]["subgraph"] for a in attrs] == [c.id for c in containers]
    inner = list(containers[0].graph.nodes)  # else: Mul on its own initializer
    assert {n.data["kind"] for n in inner} == {"initializer", "op", "output"}
    assert all(n.data["parent"] == containers[0].id for n in inner)


def test_a_subgraph_op_reading_an_outer_tensor_gets_an_edge_from_its_producer(with_subgraphs):
    doc = model_to_document(with_subgraphs)
    nodes = _nodes(doc)
    into_inner = [e for e in doc.iter_edges() if e.data["e_tensor"] == "x"]
    assert len(into_inner) == 2  # then: Add, else: Mul
    assert {nodes[e.source][0].data["name"] for e in into_inner} == {"pre"}


def test_big_attribute_tensors_go_to_the_sidecar_and_small_ones_stay_inline():
    big = helper.make_tensor("v", TensorProto.FLOAT, [300], [1.0] * 300)
    small = helper.make_tensor("s", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    graph = helper.make_graph(
        [helper.make_node("Constant", [], ["a"], value=big),
         helper.make_node("Constant", [], ["b"], value=small)], "g", [],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [300]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [3])])
    doc = model_to_document(helper.make_model(graph))
    a, b = (json.loads(n.data["attributes"])[0]["t"] for n in _kind(doc, fmt.KIND_OP))
    assert a[fmt.SIDECAR_REF]["length"] == 1200 and a["data_field"] == "float_data"
    assert fmt.SIDECAR_REF not in b and b["float_data"] == [1.0, 2.0, 3.0]


def test_sidecar_offsets_are_aligned_and_lengths_match_dtype_and_dims(tagged):
    buf = io.BytesIO()
    doc = model_to_document(tagged, SidecarWriter(buf))
    for init in _kind(doc, fmt.KIND_INITIALIZER):
        ref = json.loads(init.data["tensor"])[fmt.SIDECAR_REF]
        assert ref["offset"] % fmt.SIDECAR_ALIGNMENT == 0
        assert ref["length"] == fmt.expected_nbytes(ref["dtype"], ref["dims"])
        assert (init.data["offset"], init.data["length"]) == (ref["offset"], ref["length"])
    assert doc.graph.data["sidecar_size"] == len(buf.getvalue())


def test_the_same_model_gives_the_same_graphml_and_sidecar_bytes(tagged, with_subgraphs):
    for model in (tagged, with_subgraphs):
        runs = []
        for _ in range(2):
            buf = io.BytesIO()
            doc = model_to_document(model, SidecarWriter(buf))
            runs.append((graphml.generate_graphml(doc), buf.getvalue()))
        assert runs[0] == runs[1]


def test_text_xml_cannot_carry_is_kept_exactly_in_base64(tagged):
    tagged.graph.node[0].doc_string = "bell\x07 and nul\x00"
    doc = model_to_document(tagged)
    data = graphml.generate_graphml(doc)  # the writer accepts it: nothing illegal is left
    op = next(n for n in _kind(doc, fmt.KIND_OP) if n.data.get("name") == "/block.0/proj/MatMul")
    assert "b64" in json.loads(op.data["node_extra"])
    assert b"\x07" not in data


def _leaky_relu_with_alpha_bits(bits: bytes) -> onnx.ModelProto:
    node = helper.make_node("LeakyRelu", ["x"], ["y"], alpha=1.0)
    node.attribute[0].f = struct.unpack("<f", bits)[0]
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    return helper.make_model(graph)


def test_a_plain_nan_float_attribute_is_written_readably():
    doc = model_to_document(_leaky_relu_with_alpha_bits(b"\x00\x00\xc0\x7f"))
    attrs = json.loads(_kind(doc, fmt.KIND_OP)[0].data["attributes"])
    assert attrs == [{"name": "alpha", "f": "NaN", "type": "FLOAT"}]


def test_a_nan_with_a_payload_falls_back_to_exact_base64(tmp_path):
    model = _leaky_relu_with_alpha_bits(b"\x01\x00\xc0\x7f")
    doc = model_to_document(model)
    attrs = json.loads(_kind(doc, fmt.KIND_OP)[0].data["attributes"])
    assert list(attrs[0]) == ["b64"]
    onnx_to_graphml(model, tmp_path / "m.graphml")
    graphml_to_onnx(tmp_path / "m.graphml", tmp_path / "m.onnx")
    alpha = onnx.load(str(tmp_path / "m.onnx")).graph.node[0].attribute[0].f
    assert struct.pack("<f", alpha) == b"\x01\x00\xc0\x7f"


def test_an_untagged_model_without_scopes_is_flat_at_the_root():
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    doc = model_to_document(helper.make_model(graph))
    assert not _kind(doc, fmt.KIND_MODULE)
    assert _kind(doc, fmt.KIND_OP)[0].data["parent"] == ""


def test_model_fields_go_to_the_root_graph(tagged):
    doc = model_to_document(tagged, source_onnx="net.onnx")
    data = doc.graph.data
    assert data["format"] == fmt.FORMAT_VERSION
    assert data["ir_version"] == 9
    assert json.loads(data["opset_import"]) == [["", 18]]
    assert data["producer_name"] == "tests"
    assert data["source_onnx"] == "net.onnx"


def test_the_document_holds_only_graphml_values_never_protobuf(tagged, with_subgraphs):
    for model in (tagged, with_subgraphs):
        doc = model_to_document(model)
        values = [*doc.graph.data.values()]
        for node, _ in doc.iter_nodes():
            values.extend(node.data.values())
        for edge in doc.iter_edges():
            values.extend(edge.data.values())
        assert {type(v) for v in values} <= {str, int, float, bool}


def test_an_initializer_is_labelled_with_the_parameters_the_export_recorded(tmp_path, tagged):
    from modelexport.converter.tags import PARAMETER_OWNERS_KEY

    owners = {"block.0.proj.weight": [["/Net/Block.0/Proj", 32, "block.0.proj.weight",
                                       "transposed"]],
              "block.0.proj.bias": [["/Net/Block.0/Proj", 8, "block.0.proj.bias"],
                                    ["/Net/Head", 8, "head.bias"]],
              "head.weight": [["/Net/Head", 24]]}  # an older record: no name, no label
    entry = tagged.metadata_props.add()
    entry.key, entry.value = PARAMETER_OWNERS_KEY, json.dumps(owners)
    doc = model_to_document(tagged)
    inits = {n.data["name"]: n.data for n, _ in doc.iter_nodes()
             if n.data.get("kind") == "initializer"}
    # held transposed (the exporter folded a Linear's transpose into the initializer)
    assert inits["block.0.proj.weight"]["label"] == "proj.weight\u1d40"
    # merged parameters of different names: the first, and how many in all
    assert inits["block.0.proj.bias"]["label"] == "proj.bias, \u2026 \u00d72"
    assert json.loads(inits["block.0.proj.bias"]["parameter"]) == ["block.0.proj.bias",
                                                                   "head.bias"]
    assert inits["head.weight"]["label"] == "head.weight"
    assert "parameter" not in inits["head.weight"]
    onnx.save(tagged, str(tmp_path / "m.onnx"))  # labels are display: the model is exact
    onnx_to_graphml(tmp_path / "m.onnx", tmp_path / "m.graphml")
    graphml_to_onnx(tmp_path / "m.graphml", tmp_path / "back.onnx")
    assert (tmp_path / "back.onnx").read_bytes() == (tmp_path / "m.onnx").read_bytes()


def _with_parameter_counts(model: onnx.ModelProto, counts: dict[str, int]) -> None:
    from modelexport.converter.tags import MODULE_TREE_KEY

    entry = next(p for p in model.metadata_props if p.key == MODULE_TREE_KEY)
    tree = json.loads(entry.value)
    for module in tree:
        if module["tag"] in counts:
            module["parameters"] = counts[module["tag"]]
    entry.value = json.dumps(tree)


def test_each_module_group_carries_the_parameters_the_export_counted(tmp_path, tagged):
    from modelexport.graphml import validate_graphml

    counts = {"/Net": 0, "/Net/Block.0": 0, "/Net/Block.0/Proj": 40, "/Net/Block.0/Act": 0,
              "/Net/Head": 24}
    _with_parameter_counts(tagged, counts)
    onnx.save(tagged, str(tmp_path / "m.onnx"))
    onnx_to_graphml(tmp_path / "m.onnx", tmp_path / "m.graphml")
    doc = graphml.read_graphml(tmp_path / "m.graphml")
    assert {n.data["hierarchy_tag"]: n.data["parameters"]
            for n in _kind(doc, fmt.KIND_MODULE)} == counts
    report = validate_graphml(tmp_path / "m.graphml")
    assert report.ok, [str(f) for f in report.findings]
    # derived from the module tree, like the layout: the model comes back exact
    graphml_to_onnx(tmp_path / "m.graphml", tmp_path / "back.onnx")
    assert (tmp_path / "back.onnx").read_bytes() == (tmp_path / "m.onnx").read_bytes()


def test_a_module_tree_counting_only_some_modules_gives_no_parameters(tagged):
    _with_parameter_counts(tagged, {"/Net/Head": 24})
    doc = model_to_document(tagged)
    assert not any("parameters" in m.data for m in _kind(doc, fmt.KIND_MODULE))


def test_the_validator_refuses_parameters_on_an_op_or_a_negative_count(tmp_path, tagged):
    from modelexport.graphml import validate_graphml

    doc = model_to_document(tagged)
    next(iter(_kind(doc, fmt.KIND_OP))).data["parameters"] = 5
    next(iter(_kind(doc, fmt.KIND_MODULE))).data["parameters"] = -1
    graphml.write_graphml(doc, tmp_path / "m.graphml")
    report = validate_graphml(tmp_path / "m.graphml", check_sidecar=False)
    messages = [str(f) for f in report.findings]
    assert any("'parameters' data but is of kind 'op'" in m for m in messages), messages
    assert any("'parameters' is -1" in m for m in messages), messages
def test_merged_parameters_of_one_name_say_how_many_and_small_constants_their_value():
    from onnx import TensorProto, helper, numpy_helper

    from modelexport.converter._tensors import value_text
    from modelexport.converter.encode import parameter_label

    assert parameter_label([f"layers.{i}.norm.weight" for i in range(32)]) == "norm.weight \u00d732"
    assert value_text(numpy_helper.from_array(np.array([1, 8, -1, 64], np.int64))) == \
        "[1, 8, -1, 64]"
    assert value_text(numpy_helper.from_array(np.array(0.35355339, np.float32))) == "0.3536"
    assert value_text(helper.make_tensor("b", TensorProto.BOOL, [1], [True])) == "[true]"
    assert value_text(helper.make_tensor("i", TensorProto.INT64, [2], [3, 4])) == "[3, 4]"
    # a weight, a matrix, a string: no value label (their names say more)
    assert value_text(numpy_helper.from_array(np.zeros(9, np.float32))) is None
    assert value_text(numpy_helper.from_array(np.zeros((1, 2), np.float32))) is None
    assert value_text(helper.make_tensor("s", TensorProto.STRING, [1], [b"x"])) is None
