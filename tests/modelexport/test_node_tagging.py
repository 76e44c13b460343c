"""Writing tags into ONNX: every node exactly one tag, in metadata_props, never attributes."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import TensorProto, helper

from modelexport.converter.tags import (
    MODULE_CLASS_KEY,
    MODULE_PATH_KEY,
    MODULE_TREE_KEY,
    STRATEGY_KEY,
    TAG_KEY,
    module_tree,
    node_tag,
)
from modelexport.hierarchy import build_module_tree
from modelexport.tagging import tag_model

pytest.importorskip("torch")


def _chain_model():
    """x → Relu(a) → Neg(b) → Abs(c) → If(d, both branches Identity) → y."""
    then_graph = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["t"], name="then_id")], "then", [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])])
    else_graph = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["e"], name="else_id")], "else", [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu"),
        helper.make_node("Neg", ["a"], ["b"], name="neg"),
        helper.make_node("Abs", ["b"], ["c"], name="abs"),
        helper.make_node("If", ["cond"], ["y"], name="if", then_branch=then_graph,
                         else_branch=else_graph),
    ]
    graph = helper.make_graph(
        nodes, "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def _props(proto):
    return [(p.key, p.value) for p in proto.metadata_props]


def test_every_node_gets_exactly_one_tag_with_path_and_class(blocks_net):
    model = _chain_model()
    tree = build_module_tree(blocks_net)
    result = tag_model(model, ["blocks.0.lin", None, "blocks.0.norm", "first.proj"], tree, "htp")

    for node in model.graph.node:
        keys = [k for k, _ in _props(node)]
        assert keys.count(TAG_KEY) == 1 and keys.count(MODULE_PATH_KEY) == 1
    assert [node_tag(n) for n in model.graph.node] == [
        "/BlocksNet/Block.0", "/BlocksNet/Block.0", "/BlocksNet/Block.0",
        "/BlocksNet/Head.first"]
    assert dict(_props(model.graph.node[3]))[MODULE_PATH_KEY] == "first"
    assert dict(_props(model.graph.node[3]))[MODULE_CLASS_KEY] == "Head"
    assert (result.direct, result.filled, result.coverage) == (3, 1, 1.0)


def test_a_node_without_module_context_takes_the_common_module_of_its_neighbours(blocks_net):
    model = _chain_model()
    tree = build_module_tree(blocks_net)
    tag_model(model, ["blocks.0", None, "blocks.1", None], tree, "htp")
    # neg sits between Block.0 and Block.1: the deepest module holding both is the root.
    assert node_tag(model.graph.node[1]) == "/BlocksNet"
    # The If reads only the graph input "cond": no tagged neighbour, so the root.
    assert node_tag(model.graph.node[3]) == "/BlocksNet"


def test_nodes_with_no_tagged_neighbour_get_the_root(blocks_net):
    model = _chain_model()
    tag_model(model, [None] * 4, build_module_tree(blocks_net), "fx")
    assert {node_tag(n) for n in model.graph.node} == {"/BlocksNet"}


def test_subgraph_nodes_take_the_tag_of_the_node_holding_them(blocks_net):
    model = _chain_model()
    tag_model(model, [None, None, None, "second"], build_module_tree(blocks_net), "htp")
    branches = [a.g for a in model.graph.node[3].attribute]
    assert {node_tag(n) for g in branches for n in g.node} == {"/BlocksNet/Head.second"}


def test_tags_are_metadata_not_attributes_and_the_model_passes_the_checker(blocks_net):
    model = _chain_model()
    tag_model(model, ["", "blocks.0", "blocks.1", "second"], build_module_tree(blocks_net), "htp")
    assert [a.name for a in model.graph.node[0].attribute] == []
    onnx.checker.check_model(model, full_check=True)


def test_the_model_records_its_module_tree_and_strategy(blocks_net):
    model = _chain_model()
    tree = build_module_tree(blocks_net)
    tag_model(model, [None] * 4, tree, "usage_based")
    props = dict(_props(model))
    assert props[STRATEGY_KEY] == "usage_based"
    assert module_tree(model) == tree.records() == json.loads(props[MODULE_TREE_KEY])
    assert module_tree(model)[0] == {"tag": "/BlocksNet", "path": "", "class": "BlocksNet",
                                     "parent": None, "parameters": 0}


def test_tagging_twice_replaces_the_tags_instead_of_adding(blocks_net):
    model = _chain_model()
    tree = build_module_tree(blocks_net)
    tag_model(model, ["blocks.0"] * 4, tree, "htp")
    tag_model(model, ["blocks.1"] * 4, tree, "htp")
    assert [k for k, _ in _props(model.graph.node[0])].count(TAG_KEY) == 1
    assert node_tag(model.graph.node[0]) == "/BlocksNet/Block.1"


def test_one_module_path_per_node_is_required(blocks_net):
    with pytest.raises(ValueError, match="4 nodes"):
        tag_model(_chain_model(), [None], build_module_tree(blocks_net), "htp")


def test_an_initializer_holding_a_weight_transposed_is_recorded_as_its_owner_marked_so():
    """The dynamo exporter folds a Linear's transpose into a new initializer (val_63):
    the owner is found by value, and the record says it is transposed."""
    import numpy as np
    import torch
    from onnx import numpy_helper

    from modelexport.converter.tags import TRANSPOSED, parameter_names
    from modelexport.tagging import parameter_owners

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.proj = torch.nn.Linear(4, 3)
            self.norm_a = torch.nn.LayerNorm(3)
            self.norm_b = torch.nn.LayerNorm(3)

    net = Net()
    weight = net.proj.weight.detach().numpy()
    inits = [numpy_helper.from_array(np.ascontiguousarray(weight.T), "val_63"),
             numpy_helper.from_array(net.proj.bias.detach().numpy(), "proj.bias"),
             numpy_helper.from_array(np.ones(3, np.float32), "norm_a.weight")]
    graph = helper.make_graph([], "g", [], [], initializer=inits)
    model = helper.make_model(graph)
    owners = parameter_owners(model, net, build_module_tree(net))
    assert owners["val_63"] == [["/Net", 12, "proj.weight", TRANSPOSED]]
    assert owners["proj.bias"] == [["/Net", 3, "proj.bias"]]
    # both norms' weights are ones: the exporter kept one initializer for the two
    assert [entry[2] for entry in owners["norm_a.weight"]] == ["norm_a.weight", "norm_b.weight"]
    names = parameter_names({"modelexport.parameter_owners": json.dumps(owners)})
    assert names["val_63"] == ["proj.weight\u1d40"]
