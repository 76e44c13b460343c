"""Small tagged models for the fold/unfold tests, built with onnx.helper.

They have what real exports have, in miniature: repeated layers with nested modules, a
parameter shared by every layer, a value computed in one layer and read by the next,
an intermediate that is also a graph output, value_info, and (optionally) an If whose
branches read values from outside it.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from modelexport.converter.tags import MODULE_TREE_KEY, TAG_KEY, node_tag

W = 8


def tagged(node: onnx.NodeProto, tag: str) -> onnx.NodeProto:
    for key, value in ((TAG_KEY, tag), ("module_class", tag.rsplit("/", 1)[-1].split(".")[0]),
                       ("trace", f"{tag} at line {len(tag)}")):
        prop = node.metadata_props.add()
        prop.key, prop.value = key, value
    return node


def layers_model(layers: int = 4, with_if: bool = False) -> onnx.ModelProto:
    """x → Layer.0 … Layer.{n-1} (each Proj: MatMul+Add, Act: Relu, a residual Add) → Head.

    Layer.0 also computes a scale every later layer reads; Layer.1's Relu output is a
    graph output too; all layers read one shared bias.
    """
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(W).astype(np.float32), "shared.bias")]
    nodes = []
    x = "x"
    for k in range(layers):
        tag = f"/Net/Layer.{k}"
        w = numpy_helper.from_array(rng.standard_normal((W, W)).astype(np.float32), f"l{k}.w")
        inits.append(w)
        if k == 0:
            nodes.append(tagged(helper.make_node("ReduceMean", ["x"], ["scale"], keepdims=1,
                                               name="/l0/scale"), tag))
        nodes += [
            tagged(helper.make_node("MatMul", [x, w.name], [f"h{k}"], name=f"/l{k}/proj/MatMul"),
                 f"{tag}/Proj"),
            tagged(helper.make_node("Add", [f"h{k}", "shared.bias"], [f"b{k}"],
                                  name=f"/l{k}/proj/Add"), f"{tag}/Proj"),
            tagged(helper.make_node("Relu", [f"b{k}"], [f"r{k}"], name=f"/l{k}/act/Relu"),
                 f"{tag}/Act"),
            tagged(helper.make_node("Mul", [f"r{k}", "scale"], [f"s{k}"], name=f"/l{k}/Mul"), tag),
            tagged(helper.make_node("Add", [f"s{k}", x], [f"o{k}"], name=f"/l{k}/Add"), tag),
        ]
        x = f"o{k}"
    if with_if:
        then_g = helper.make_graph(
            [helper.make_node("Neg", [x], ["t_out"])], "then", [],
            [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, None)])
        else_g = helper.make_graph(
            [helper.make_node("Identity", [x], ["e_out"])], "else", [],
            [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, None)])
        nodes.append(tagged(helper.make_node("If", ["flag"], ["branched"], name="/head/If",
                                           then_branch=then_g, else_branch=else_g), "/Net/Head"))
        x = "branched"
    nodes.append(tagged(helper.make_node("Sigmoid", [x], ["y"], name="/head/Sigmoid"),
                      "/Net/Head"))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", W])]
    if with_if:
        inputs.append(helper.make_tensor_value_info("flag", TensorProto.BOOL, []))
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", W])]
    if layers > 1:
        outputs.append(helper.make_tensor_value_info("r1", TensorProto.FLOAT, ["batch", W]))
    graph = helper.make_graph(nodes, "net", inputs, outputs, inits)
    graph.value_info.extend([helper.make_tensor_value_info(f"h{k}", TensorProto.FLOAT,
                                                           ["batch", W]) for k in range(layers)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                              producer_name="tests")
    model.ir_version = 9
    tags = sorted({node_tag(n) for n in nodes})
    tree = [{"tag": "/Net", "path": "", "class": "Net", "parent": None}] + [
        {"tag": t, "path": t, "class": t.rsplit("/", 1)[-1].split(".")[0],
         "parent": t.rsplit("/", 1)[0]} for t in tags if t != "/Net"]
    helper.set_model_props(model, {MODULE_TREE_KEY: json.dumps(tree)})
    onnx.checker.check_model(model, full_check=True)
    return model
