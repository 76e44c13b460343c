"""fold_modules / unfold_modules on small tagged models built with onnx.helper.

The models here have what real exports have, in miniature: repeated layers with nested
modules, a parameter shared by two layers, a value computed in one layer and read by
the next, an intermediate that is also a graph output, value_info, an If whose
branches read values from outside it, and a module whose ops straddle its parent's.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from fold_models import W, layers_model, tagged
from onnx import TensorProto, helper

from modelexport.converter import graphml_to_onnx, onnx_to_graphml
from modelexport.converter.errors import OnnxLoadError
from modelexport.converter.functions import (
    DOMAIN,
    RECORD_KEY,
    FoldError,
    fold_modules,
    unfold_modules,
)
from modelexport.converter.tags import metadata, node_tag


def _run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def _feeds(with_if: bool = False) -> dict[str, np.ndarray]:
    feeds = {"x": np.random.default_rng(1).standard_normal((3, W)).astype(np.float32)}
    if with_if:
        feeds["flag"] = np.array(True)
    return feeds


@pytest.fixture
def layers_file(tmp_path):
    path = tmp_path / "layers.onnx"
    onnx.save_model(layers_model(), str(path))
    return path


def test_fold_then_unfold_gives_back_the_original_bytes(layers_file, tmp_path):
    folded, back = tmp_path / "fn.onnx", tmp_path / "back.onnx"
    result = fold_modules(layers_file, folded)
    restored = unfold_modules(folded, back)
    assert result.calls == 4 + 4 * 2 + 1  # the layers, their Proj and Act, the head
    assert restored.exact
    assert back.read_bytes() == layers_file.read_bytes()


def test_the_folded_model_passes_the_full_checker_and_computes_the_same(layers_file, tmp_path):
    folded = tmp_path / "fn.onnx"
    fold_modules(layers_file, folded)
    model = onnx.load(folded)
    onnx.checker.check_model(model, full_check=True)
    original = _run(onnx.load(layers_file), _feeds())
    for a, b in zip(original, _run(model, _feeds()), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_identical_layers_share_one_function_and_the_first_its_own(layers_file, tmp_path):
    folded = tmp_path / "fn.onnx"
    result = fold_modules(layers_file, folded)
    model = onnx.load(folded)
    calls = [n for n in model.graph.node if n.domain == DOMAIN]
    # Layer.0 computes the scale the others read, Layer.1 also gives a graph output
    assert [n.op_type for n in calls] == ["Layer", "Layer_1", "Layer_2", "Layer_2", "Head"]
    assert set(result.functions) == {"Proj", "Act", "Layer", "Layer_1", "Layer_2", "Head"}
    assert len(model.graph.node) == 5 and result.nodes_before == 22
    layer = next(f for f in model.functions if f.name == "Layer_2")
    assert [n.op_type for n in layer.node] == ["Proj", "Act", "Mul", "Add"]  # nested calls
    assert len(layer.output) == 1 and len(calls[1].output) == 2  # o1, and r1
    # parameters stay graph initializers, passed to the calls: stored once
    assert len(model.graph.initializer) == 5
    assert "shared.bias" in calls[1].input and "l1.w" in calls[1].input


def test_calls_keep_the_module_tag_and_body_nodes_keep_theirs(layers_file, tmp_path):
    folded = tmp_path / "fn.onnx"
    fold_modules(layers_file, folded)
    model = onnx.load(folded)
    assert [node_tag(n) for n in model.graph.node] == [
        "/Net/Layer.0", "/Net/Layer.1", "/Net/Layer.2", "/Net/Layer.3", "/Net/Head"]
    proj = next(f for f in model.functions if f.name == "Proj")
    assert {node_tag(n) for n in proj.node} == {"/Net/Layer.0/Proj"}
    assert any(p.key == RECORD_KEY for p in model.metadata_props)
    assert (model.ir_version, model.opset_import[-1].domain) == (10, DOMAIN)


def test_class_folds_only_modules_of_that_class(layers_file, tmp_path):
    folded = tmp_path / "fn.onnx"
    result = fold_modules(layers_file, folded, classes=["Proj"])
    model = onnx.load(folded)
    assert result.functions == ["Proj"]
    assert {n.op_type for n in model.graph.node if n.domain == DOMAIN} == {"Proj"}
    assert sum(n.domain == DOMAIN for n in model.graph.node) == 4
    assert unfold_modules(folded, tmp_path / "back.onnx").exact
    assert (tmp_path / "back.onnx").read_bytes() == layers_file.read_bytes()


def test_depth_folds_only_modules_down_to_it(layers_file, tmp_path):
    result = fold_modules(layers_file, tmp_path / "fn.onnx", depth=2)
    assert set(result.functions) == {"Layer", "Layer_1", "Layer_2", "Head"}  # Proj, Act inlined
    layer = next(f for f in onnx.load(tmp_path / "fn.onnx").functions if f.name == "Layer_2")
    assert [n.op_type for n in layer.node] == ["MatMul", "Add", "Relu", "Mul", "Add"]


def test_the_folded_model_converts_to_graphml_and_back_exactly(layers_file, tmp_path):
    folded = tmp_path / "fn.onnx"
    fold_modules(layers_file, folded)
    onnx_to_graphml(folded, tmp_path / "fn.graphml")
    graphml_to_onnx(tmp_path / "fn.graphml", tmp_path / "again.onnx")
    assert (tmp_path / "again.onnx").read_bytes() == folded.read_bytes()


def test_if_branches_reading_outer_values_fold_and_unfold(tmp_path):
    source = tmp_path / "if.onnx"
    onnx.save_model(layers_model(3, with_if=True), str(source))
    folded = tmp_path / "fn.onnx"
    fold_modules(source, folded)
    model = onnx.load(folded)
    onnx.checker.check_model(model, full_check=True)
    head = next(f for f in model.functions if f.name == "Head")
    branch = next(n for n in head.node if n.op_type == "If")
    assert branch.attribute[0].g.node[0].input[0] in head.input  # renamed to the formal
    for a, b in zip(_run(onnx.load(source), _feeds(True)), _run(model, _feeds(True)),
                    strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert unfold_modules(folded, tmp_path / "back.onnx").exact
    assert (tmp_path / "back.onnx").read_bytes() == source.read_bytes()


def test_a_module_whose_collapse_makes_a_cycle_stays_unfolded(tmp_path):
    """A's Relu feeds the parent's Neg, which feeds A's Add: one call for A would be cycle."""
    nodes = [
        tagged(helper.make_node("Relu", ["x"], ["a1"], name="a_relu"), "/Net/Block/A"),
        tagged(helper.make_node("Neg", ["a1"], ["p1"], name="p_neg"), "/Net/Block"),
        tagged(helper.make_node("Add", ["p1", "a1"], ["a2"], name="a_add"), "/Net/Block/A"),
        tagged(helper.make_node("Abs", ["a2"], ["y"], name="p_abs"), "/Net/Block"),
    ]
    graph = helper.make_graph(nodes, "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    source = tmp_path / "cycle.onnx"
    onnx.save_model(model, str(source))
    result = fold_modules(source, tmp_path / "fn.onnx")
    assert len(result.unfolded) == 1 and result.unfolded[0].startswith("/Net/Block/A: ")
    assert "cycle" in result.unfolded[0]
    assert result.functions == ["Block"]  # A's ops went into its parent's body
    folded = onnx.load(tmp_path / "fn.onnx")
    onnx.checker.check_model(folded, full_check=True)
    x = {"x": np.array([1.0, -2.0], dtype=np.float32)}
    np.testing.assert_allclose(_run(folded, x)[0], _run(model, x)[0])
    assert unfold_modules(tmp_path / "fn.onnx", tmp_path / "back.onnx").exact
    assert (tmp_path / "back.onnx").read_bytes() == source.read_bytes()


def test_a_model_proto_folds_and_unfolds_in_memory():
    model = layers_model(2)
    result = fold_modules(model)
    assert result.output is None and result.model.functions
    back = unfold_modules(result.model)
    assert back.exact
    assert back.model.SerializeToString() == model.SerializeToString()
    assert not model.functions  # the input is left as it was


def test_unfold_of_a_function_model_fold_did_not_make_inlines_and_says_so(tmp_path):
    body = helper.make_function("custom", "Twice", ["a"], ["b"],
                                [helper.make_node("Add", ["a", "a"], ["b"])],
                                [helper.make_opsetid("", 18)])
    graph = helper.make_graph([helper.make_node("Twice", ["x"], ["y"], domain="custom")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, functions=[body], opset_imports=[
        helper.make_opsetid("", 18), helper.make_opsetid("custom", 1)])
    onnx.save_model(model, str(tmp_path / "f.onnx"))
    result = unfold_modules(tmp_path / "f.onnx", tmp_path / "inlined.onnx")
    assert not result.exact and "not byte-exact" in result.notes[0]
    inlined = onnx.load(tmp_path / "inlined.onnx")
    assert [n.op_type for n in inlined.graph.node] == ["Add"] and not inlined.functions


def test_unfold_says_when_the_folded_model_was_changed(layers_file, tmp_path):
    folded = tmp_path / "fn.onnx"
    fold_modules(layers_file, folded)
    model = onnx.load(folded)
    model.producer_name = "edited by hand"
    result = unfold_modules(model)
    assert not result.exact and "changed after fold" in result.notes[0]


def test_a_model_without_tags_is_refused_in_one_line(tmp_path):
    model = layers_model(1)
    for node in model.graph.node:
        del node.metadata_props[:]
    with pytest.raises(FoldError, match="no hierarchy tags") as caught:
        fold_modules(model)
    assert "\n" not in str(caught.value)


def test_an_unknown_class_is_refused_naming_the_known_ones(layers_file, tmp_path):
    with pytest.raises(FoldError, match=r"'Layr' is not a module class.*Act, Head, Layer, Net"):
        fold_modules(layers_file, tmp_path / "fn.onnx", classes=["Layr"])
    assert not (tmp_path / "fn.onnx").exists()


def test_a_file_that_is_not_onnx_is_refused(tmp_path):
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"not a model at all \x00\xff")
    with pytest.raises(OnnxLoadError, match="not an ONNX model"):
        fold_modules(bogus, tmp_path / "fn.onnx")
    assert not (tmp_path / "fn.onnx").exists()


def test_folding_a_folded_model_is_refused(layers_file, tmp_path):
    fold_modules(layers_file, tmp_path / "fn.onnx")
    with pytest.raises(FoldError, match="already folded"):
        fold_modules(tmp_path / "fn.onnx", tmp_path / "fn2.onnx")


def test_the_record_is_model_metadata_that_names_the_original_hash(layers_file, tmp_path):
    fold_modules(layers_file, tmp_path / "fn.onnx")
    record = json.loads(metadata(onnx.load(tmp_path / "fn.onnx"))[RECORD_KEY])
    assert record["format"] == 1 and len(record["sha256"]) == 64


def test_a_model_with_external_data_keeps_its_references(tmp_path):
    source = tmp_path / "ext.onnx"
    onnx.save_model(layers_model(), str(source), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="ext.data", size_threshold=0)
    data_before = (tmp_path / "ext.data").read_bytes()
    fold_modules(source, tmp_path / "fn.onnx")
    folded = onnx.load(tmp_path / "fn.onnx", load_external_data=False)
    locations = {e.value for t in folded.graph.initializer for e in t.external_data
                 if e.key == "location"}
    assert locations == {"ext.data"} and (tmp_path / "ext.data").read_bytes() == data_before
    for a, b in zip(_run(onnx.load(source), _feeds()),
                    _run(onnx.load(tmp_path / "fn.onnx"), _feeds()), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert unfold_modules(tmp_path / "fn.onnx", tmp_path / "back.onnx").exact
    assert (tmp_path / "back.onnx").read_bytes() == source.read_bytes()
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(FoldError, match="same directory"):
        fold_modules(source, tmp_path / "elsewhere" / "fn.onnx")


def test_a_call_is_an_op_in_its_module_group_drawn_apart_from_ops(layers_file, tmp_path):
    from modelexport.converter import onnx_document
    from modelexport.graphml import yed

    fold_modules(layers_file, tmp_path / "fn.onnx", classes=["Proj", "Act"])
    doc = onnx_document(tmp_path / "fn.onnx")
    calls = {n.data["hierarchy_tag"]: (n, owner) for n, owner in doc.iter_nodes()
             if n.data.get("domain") == DOMAIN}
    assert len(calls) == 8
    node, owner = calls["/Net/Layer.2/Proj"]
    assert owner.data.get("hierarchy_tag") == "/Net/Layer.2/Proj"  # the module's own group
    ops = [n for n, _ in doc.iter_nodes() if n.data.get("kind") == "op"
           and n.data.get("domain") != DOMAIN]
    assert {op.data["op_type"] for op in ops} == {"ReduceMean", "Mul", "Add", "Sigmoid"}
    assert yed.fill_of(node) not in {yed.fill_of(op) for op in ops}


def test_a_module_whose_subgraph_defines_a_body_name_stays_unfolded(tmp_path):
    then_g = helper.make_graph([helper.make_node("Neg", ["a"], ["t0"])], "then", [],
                               [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [2])])
    else_g = helper.make_graph([helper.make_node("Abs", ["a"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])
    nodes = [
        tagged(helper.make_node("Relu", ["x"], ["a"], name="relu"), "/Net/Pre"),
        tagged(helper.make_node("If", ["flag"], ["y"], name="if", then_branch=then_g,
                                else_branch=else_g), "/Net/Branch"),
    ]
    graph = helper.make_graph(nodes, "g", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
        helper.make_tensor_value_info("flag", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    source = tmp_path / "clash.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]),
                    str(source))
    result = fold_modules(source, tmp_path / "fn.onnx")
    assert result.functions == ["Pre"]
    assert result.unfolded[0].startswith("/Net/Branch: not folded, a subgraph")
    assert unfold_modules(tmp_path / "fn.onnx", tmp_path / "back.onnx").exact
    assert (tmp_path / "back.onnx").read_bytes() == source.read_bytes()
