"""Where module tags come from: our tags, the dynamo exporter's stack, scoped names."""

from __future__ import annotations

import pytest
from onnx import TensorProto, helper

from modelexport.converter.hierarchy import derive_hierarchy
from modelexport.converter.tags import ROOT


def _model(nodes):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    return helper.make_model(graph)


def _with_props(node, **props):
    for key, value in props.items():
        p = node.metadata_props.add()
        p.key, p.value = key.replace("__", "."), value
    return node


def _dynamo(node, scopes, classes):
    p = node.metadata_props.add()
    p.key, p.value = "pkg.torch.onnx.name_scopes", repr(scopes)
    p = node.metadata_props.add()
    p.key, p.value = "pkg.torch.onnx.class_hierarchy", repr(classes)
    return node


def test_our_hierarchy_tags_win(tagged):
    h = derive_hierarchy(tagged)
    assert h.source == "tags"
    assert h.node_tags[0] == "/Net/Block.0/Proj"
    assert h.modules["/Net/Block.0"].cls == "Block"


def test_the_dynamo_module_stack_becomes_class_name_tags_with_container_keys():
    a = _dynamo(helper.make_node("Relu", ["x"], ["h"]), ["", "layers.0", "layers.0.mix", "relu"],
                ["pkg.Net", "pkg.Layer", "pkg.Mix", "aten.relu.default"])
    b = _dynamo(helper.make_node("Neg", ["h"], ["y"]), ["", "layers.1", "layers.1.lin", "neg"],
                ["pkg.Net", "pkg.Layer", "torch.nn.modules.linear.Linear", "aten.neg.default"])
    h = derive_hierarchy(_model([a, b]))
    assert h.source == "dynamo"
    assert h.node_tags == ["/Net/Layer.0/Mix", "/Net/Layer.1"]  # built-in Linear left out
    assert h.modules["/Net/Layer.0"].path == "layers.0"


def test_same_class_siblings_are_told_apart_by_attribute_name():
    a = _dynamo(
        helper.make_node("Relu", ["x"], ["h"]), ["", "first", "relu"], ["m.Net", "m.Stack", "r"]
    )
    b = _dynamo(
        helper.make_node("Neg", ["h"], ["y"]), ["", "second", "neg"], ["m.Net", "m.Stack", "n"]
    )
    assert derive_hierarchy(_model([a, b])).node_tags == ["/Net/Stack.first", "/Net/Stack.second"]



def test_container_children_of_the_same_class_in_different_containers_keep_distinct_tags():
    a = _dynamo(
        helper.make_node("Relu", ["x"], ["h"]), ["", "down.0", "relu"], ["m.Net", "m.Block", "r"]
    )
    b = _dynamo(
        helper.make_node("Neg", ["h"], ["y"]), ["", "up.0", "neg"], ["m.Net", "m.Block", "n"]
    )
    h = derive_hierarchy(_model([a, b]))
    assert h.node_tags == ["/Net/Block.down.0", "/Net/Block.up.0"]
    assert {h.modules[t].path for t in h.node_tags} == {"down.0", "up.0"}


@pytest.mark.slow
def test_tags_derived_from_a_plain_dynamo_export_equal_the_exporters_module_tags():
    torch = pytest.importorskip("torch")
    from torch import nn

    from modelexport.hierarchy import build_module_tree

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            return torch.relu(self.lin(x))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.down = nn.ModuleList([Block(), Block()])
            self.up = nn.ModuleList([Block()])

        def forward(self, x):
            return self.up[0](self.down[1](self.down[0](x)))

    net = Net().eval()
    with torch.no_grad():
        program = torch.onnx.export(net, (torch.ones(1, 4),), dynamo=True)
    derived = set(derive_hierarchy(program.model_proto).node_tags)
    exporter = {m.tag for m in build_module_tree(net).modules}
    assert derived - {"/Net"} == exporter - {"/Net"}
    assert len(derived - {"/Net"}) == 3

def test_the_dynamo_namespace_string_is_read_when_the_lists_are_missing():
    node = _with_props(helper.make_node("Relu", ["x"], ["y"]),
                       namespace=": pkg.Net/blocks.0: pkg.Block/relu: aten.relu.default")
    assert derive_hierarchy(_model([node])).node_tags == ["/Net/Block.0"]


def test_scoped_node_names_give_the_hierarchy_of_untagged_models():
    nodes = [helper.make_node("Relu", ["x"], ["h"], name="/stack/layer.0/mix/Relu"),
             helper.make_node("Neg", ["h"], ["y"], name="/Neg")]
    h = derive_hierarchy(_model(nodes))
    assert h.source == "scopes"
    assert h.node_tags == ["/stack/layer.0/mix", ROOT]
    assert h.modules["/stack/layer.0"].path == "stack.layer.0"


def test_untagged_nodes_get_the_common_module_of_their_neighbours(tagged):
    del tagged.graph.node[3].metadata_props[:]  # the Relu between Proj and Head
    h = derive_hierarchy(tagged)
    assert h.node_tags[3] == "/Net"


def test_a_model_without_any_hierarchy_is_flat():
    h = derive_hierarchy(_model([helper.make_node("Relu", ["x"], ["y"], name="relu")]))
    assert (h.source, h.node_tags) == ("none", [ROOT])
