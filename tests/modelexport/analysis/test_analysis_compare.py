"""compare_models: nodes, tags per module, initializers, opsets."""

from __future__ import annotations

import numpy as np
import onnx
from analysis_models import set_tag
from onnx import numpy_helper

from modelexport.analysis import compare_models
from modelexport.analysis.report import format_comparison


def test_a_model_compared_with_itself_has_no_differences(net):
    result = compare_models(net, net)
    assert result.identical
    assert format_comparison(result).startswith("no differences (12 nodes)")


def test_different_weights_are_initializer_differences_with_bytes_unequal(make_net):
    result = compare_models(make_net(seed=0), make_net(seed=1))
    assert {d.name for d in result.initializers} == {"W_in", "W0", "b0", "W1", "b1", "W_out"}
    assert all(d.status == "changed" and d.bytes_equal is False for d in result.initializers)
    assert not result.nodes_changed and not result.modules


def test_retagged_node_is_a_changed_node_and_a_module_difference(net):
    result = compare_models(net, set_tag(net, "L0/AddBias", "/Net/Stack/Layer.0"))
    assert [(c.node, c.fields) for c in result.nodes_changed] == [("L0/AddBias", ["tag"])]
    assert [(m.tag, m.a_ops, m.b_ops) for m in result.modules] == [
        ("/Net/Stack/Layer.0", 1, 2), ("/Net/Stack/Layer.0/Block", 3, 2)]


def test_added_removed_nodes_initializers_and_opsets(net):
    other = onnx.ModelProto()
    other.CopyFrom(net)
    del other.graph.node[-1]  # Head/Mul
    other.graph.node.append(onnx.helper.make_node("Relu", ["z"], ["y"], name="Head/Relu"))
    other.graph.initializer.append(numpy_helper.from_array(np.zeros(3, np.float32), "extra"))
    w0 = next(t for t in other.graph.initializer if t.name == "W0")
    w0.CopyFrom(numpy_helper.from_array(np.zeros((4, 4), np.float16), "W0"))
    other.opset_import[0].version = 18
    result = compare_models(net, other)
    assert result.nodes_removed == ["Head/Mul"] and result.nodes_added == ["Head/Relu"]
    assert result.opsets == {"ai.onnx": [17, 18]}
    diffs = {d.name: d for d in result.initializers}
    assert diffs["extra"].status == "added" and diffs["extra"].b_shape == [3]
    assert (diffs["W0"].a_dtype, diffs["W0"].b_dtype, diffs["W0"].bytes_equal) == (
        "FLOAT", "FLOAT16", False)
    text = format_comparison(result)
    assert "Head/Mul" in text and "FLOAT → FLOAT16" in text


def test_unnamed_nodes_match_by_op_type_tag_and_position(net):
    other = onnx.ModelProto()
    other.CopyFrom(net)
    const = next(n for n in other.graph.node if n.op_type == "Constant")
    const.attribute[0].t.CopyFrom(numpy_helper.from_array(np.array(2.0, np.float32)))
    result = compare_models(net, other)
    assert [(c.node, c.fields) for c in result.nodes_changed] == [
        ("<unnamed Constant /Net/Head> #0", ["attributes"])]
