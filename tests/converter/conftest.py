"""Small ONNX models for the converter tests, built with onnx.helper only."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelexport.converter.tags import MODULE_CLASS_KEY, MODULE_PATH_KEY, MODULE_TREE_KEY, TAG_KEY


def _tag(node: onnx.NodeProto, tag: str, path: str, cls: str) -> onnx.NodeProto:
    for key, value in ((TAG_KEY, tag), (MODULE_PATH_KEY, path), (MODULE_CLASS_KEY, cls)):
        prop = node.metadata_props.add()
        prop.key, prop.value = key, value
    return node


def tagged_model() -> onnx.ModelProto:
    """x → Net/Block.0/Proj (MatMul+Add) → Net/Block.0/Act (Relu) → Net/Head (MatMul) → y.

    Parameters are random (seeded); ``Net/Block.0`` has two child modules, so the
    hierarchy has an ancestor that no op is tagged with directly... except through
    its children; and one weight is read by ops of two modules (its home is their
    common module).
    """
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(
        rng.standard_normal((4, 8)).astype(np.float32), "block.0.proj.weight"
    )
    b1 = numpy_helper.from_array(rng.standard_normal((8,)).astype(np.float32), "block.0.proj.bias")
    w2 = numpy_helper.from_array(rng.standard_normal((8, 3)).astype(np.float32), "head.weight")
    shared = numpy_helper.from_array(np.float32(0.5).reshape(()), "shared.scale")
    nodes = [
        _tag(helper.make_node("MatMul", ["x", w1.name], ["h0"], name="/block.0/proj/MatMul"),
             "/Net/Block.0/Proj", "block.0.proj", "Proj"),
        _tag(helper.make_node("Add", ["h0", b1.name], ["h1"], name="/block.0/proj/Add"),
             "/Net/Block.0/Proj", "block.0.proj", "Proj"),
        _tag(helper.make_node("Mul", ["h1", shared.name], ["h2"], name="/block.0/proj/Mul"),
             "/Net/Block.0/Proj", "block.0.proj", "Proj"),
        _tag(helper.make_node("Relu", ["h2"], ["h3"], name="/block.0/act/Relu"),
             "/Net/Block.0/Act", "block.0.act", "Act"),
        _tag(helper.make_node("MatMul", ["h3", w2.name], ["h4"], name="/head/MatMul"),
             "/Net/Head", "head", "Head"),
        _tag(helper.make_node("Mul", ["h4", shared.name], ["y"], name="/head/Mul"),
             "/Net/Head", "head", "Head"),
    ]
    graph = helper.make_graph(
        nodes, "net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [w1, b1, w2, shared],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                              producer_name="tests")
    model.ir_version = 9
    tree = [
        {"tag": "/Net", "path": "", "class": "Net", "parent": None},
        {"tag": "/Net/Block.0", "path": "block.0", "class": "Block", "parent": "/Net"},
        {
            "tag": "/Net/Block.0/Proj",
            "path": "block.0.proj",
            "class": "Proj",
            "parent": "/Net/Block.0",
        },
        {
            "tag": "/Net/Block.0/Act",
            "path": "block.0.act",
            "class": "Act",
            "parent": "/Net/Block.0",
        },
        {"tag": "/Net/Head", "path": "head", "class": "Head", "parent": "/Net"},
    ]
    helper.set_model_props(model, {MODULE_TREE_KEY: json.dumps(tree)})
    onnx.checker.check_model(model, full_check=True)
    return model


def subgraph_model() -> onnx.ModelProto:
    """An If whose branches read an outer initializer and hold their own."""
    big = numpy_helper.from_array(np.arange(512, dtype=np.float32), "big")  # 2 KiB: sidecar
    then_const = helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(
        np.arange(512, dtype=np.float32), "cval"))
    then_add = helper.make_node("Add", ["x", "c"], ["t_out"])
    then_g = helper.make_graph([then_const, then_add], "then", [],
                               [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, [512])])
    else_init = numpy_helper.from_array(np.full(512, 2.0, dtype=np.float32), "two")
    else_mul = helper.make_node("Mul", ["x", "two"], ["e_out"])
    else_g = helper.make_graph([else_mul], "else", [],
                               [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, [512])],
                               [else_init])
    nodes = [
        helper.make_node("Add", ["x0", "big"], ["x"], name="pre"),
        helper.make_node(
            "If", ["cond"], ["y"], name="branch", then_branch=then_g, else_branch=else_g
        ),
    ]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x0", TensorProto.FLOAT, [512])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [512])], [big])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    return model


@pytest.fixture
def tagged() -> onnx.ModelProto:
    return tagged_model()


@pytest.fixture
def with_subgraphs() -> onnx.ModelProto:
    return subgraph_model()


@pytest.fixture
def tagged_file(tmp_path, tagged):
    path = tmp_path / "net.onnx"
    onnx.save_model(tagged, str(path))
    return path
