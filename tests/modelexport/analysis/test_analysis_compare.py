"""compare_models: the module-aware diff on the synthetic two-layer net (fast; the
GPT-2 cases the issue asks for are in test_compare_gpt2.py)."""

from __future__ import annotations

import json

import numpy as np
import onnx
from analysis_models import TREE
from onnx import numpy_helper

from modelexport import compare_models
from modelexport.analysis.report import format_comparison
from modelexport.converter.tags import MODULE_TREE_KEY, TAG_KEY


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    other = onnx.ModelProto()
    other.CopyFrom(model)
    return other


def _changed(diff) -> dict[str, str]:
    return {m.tag: m.status for m in diff.modules if m.status != "same"}


def test_a_model_compared_with_itself_has_every_module_same(net):
    diff = compare_models(net, net)
    assert diff.identical and {m.status for m in diff.modules} == {"same"}
    assert [m.tag for m in diff.modules] == [e["tag"] for e in TREE]
    assert format_comparison(diff).startswith("the two models are identical: 8 modules, 12 ops")


def test_renamed_ops_and_tensors_still_match_by_their_place_in_the_data_flow(net):
    renamed = _copy(net)
    outside = {v.name for v in net.graph.input} | {v.name for v in net.graph.output}
    rename = {}
    for node in renamed.graph.node:
        node.name = f"renamed_{node.name}"
        for k, name in enumerate(node.output):
            if name not in outside:
                rename[name] = f"val_{len(rename) + 63}"
                node.output[k] = rename[name]
    for node in renamed.graph.node:
        for k, name in enumerate(node.input):
            node.input[k] = rename.get(name, name)
    assert compare_models(net, renamed).identical


def test_other_weights_are_params_changed_in_the_module_owning_them(make_net):
    diff = compare_models(make_net(seed=0), make_net(seed=1))
    changed = {m.tag: m.params_changed for m in diff.modules if m.params_changed}
    assert changed == {"/Net/Proj": ["W_in"], "/Net/Stack/Layer.0/Block": ["W0", "b0"],
                       "/Net/Stack/Layer.1/Block": ["W1", "b1"], "/Net/Head": ["W_out"]}
    assert not any(m.ops_added or m.ops_removed for m in diff.modules)


def test_a_replaced_op_is_one_op_removed_and_one_added_in_its_module_only(net):
    other = _copy(net)
    relu = next(n for n in other.graph.node if n.name == "L0/Relu")
    relu.op_type = "Sigmoid"
    diff = compare_models(net, other)
    assert _changed(diff) == {"/Net/Stack/Layer.0/Block": "changed"}
    block = diff.module("/Net/Stack/Layer.0/Block")
    assert [(o.name, o.op_type) for o in block.ops_removed] == [("L0/Relu", "Relu")]
    assert [(o.name, o.op_type) for o in block.ops_added] == [("L0/Relu", "Sigmoid")]


def test_a_changed_constant_attribute_changes_its_op(net):
    other = _copy(net)
    const = next(n for n in other.graph.node if n.op_type == "Constant")
    const.attribute[0].t.CopyFrom(numpy_helper.from_array(np.array(2.0, np.float32)))
    diff = compare_models(net, other)
    assert _changed(diff) == {"/Net/Head": "changed"}
    assert [o.op_type for o in diff.module("/Net/Head").ops_removed] == ["Constant"]


def test_a_renamed_module_is_reported_as_moved_not_removed_and_added(net):
    other = _copy(net)
    for node in other.graph.node:
        for prop in node.metadata_props:
            if prop.key == TAG_KEY and prop.value == "/Net/Head":
                prop.value = "/Net/Output"
    tree = [dict(e, tag="/Net/Output") if e["tag"] == "/Net/Head" else e for e in TREE]
    next(p for p in other.metadata_props if p.key == MODULE_TREE_KEY).value = json.dumps(tree)
    diff = compare_models(net, other)
    moved = diff.module("/Net/Output")
    assert (moved.status, moved.moved_from) == ("same", "/Net/Head")
    assert {m.status for m in diff.modules} == {"same"} and not diff.identical
    assert "1 moved" in format_comparison(diff)


def test_added_and_removed_tensors_and_opsets_are_reported(net):
    other = _copy(net)
    other.graph.input[0].type.tensor_type.elem_type = onnx.TensorProto.DOUBLE
    other.opset_import[0].version = 18
    diff = compare_models(net, other)
    assert diff.opsets == {"ai.onnx": [17, 18]}
    assert diff.inputs == {"x": ["FLOAT[batch,3]", "DOUBLE[batch,3]"]}
    assert "opsets, graph inputs differ" in format_comparison(diff)


def test_depth_folds_deeper_modules_into_one_entry_each(make_net):
    diff = compare_models(make_net(seed=0), make_net(seed=1), depth=1)
    assert [(m.tag, m.status) for m in diff.modules] == [
        ("/Net", "same"), ("/Net/Proj", "changed"), ("/Net/Stack", "changed"),
        ("/Net/Head", "changed")]
    assert diff.module("/Net/Stack").params_changed == ["W0", "b0", "W1", "b1"]
    top = compare_models(make_net(seed=0), make_net(seed=1), depth=0).modules
    assert [(m.tag, m.status) for m in top] == [("/Net", "changed")]  # all inside, closed
