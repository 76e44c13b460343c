"""Synthetic tagged ONNX models built with onnx.helper: a two-layer MLP-like net.

    x ─ /Net/Proj MatMul ─ h0 ─┬─ /Net/Stack/Layer.0/Block  MatMul, Add, Relu ─ r0
                               └────────────── /Net/Stack/Layer.0 Add(r0, h0) ─ l0
    l0 ─ Layer.1 (same shape) ─ l1 ─ /Net/Head MatMul, Constant, Mul ─ y

Plus :func:`check_extraction`: run an extracted part on the full model's intermediate
values (read with onnxruntime, the needed tensors exposed as extra outputs) and compare.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from modelexport.converter.tags import MODULE_TREE_KEY, STRATEGY_KEY, TAG_KEY

TREE = [
    {"tag": "/Net", "path": "", "class": "Net", "parent": None},
    {"tag": "/Net/Proj", "path": "proj", "class": "Proj", "parent": "/Net"},
    {"tag": "/Net/Stack", "path": "stack", "class": "Stack", "parent": "/Net"},
    {"tag": "/Net/Stack/Layer.0", "path": "stack.layers.0", "class": "Layer",
     "parent": "/Net/Stack"},
    {"tag": "/Net/Stack/Layer.0/Block", "path": "stack.layers.0.block", "class": "Block",
     "parent": "/Net/Stack/Layer.0"},
    {"tag": "/Net/Stack/Layer.1", "path": "stack.layers.1", "class": "Layer",
     "parent": "/Net/Stack"},
    {"tag": "/Net/Stack/Layer.1/Block", "path": "stack.layers.1.block", "class": "Block",
     "parent": "/Net/Stack/Layer.1"},
    {"tag": "/Net/Head", "path": "head", "class": "Head", "parent": "/Net"},
]


def _layer(k: int, src: str) -> list[tuple[onnx.NodeProto, str]]:
    block, layer = f"/Net/Stack/Layer.{k}/Block", f"/Net/Stack/Layer.{k}"
    return [
        (helper.make_node("MatMul", [src, f"W{k}"], [f"a{k}"], name=f"L{k}/MatMul"), block),
        (helper.make_node("Add", [f"a{k}", f"b{k}"], [f"c{k}"], name=f"L{k}/AddBias"), block),
        (helper.make_node("Relu", [f"c{k}"], [f"r{k}"], name=f"L{k}/Relu"), block),
        (helper.make_node("Add", [f"r{k}", src], [f"l{k}"], name=f"L{k}/Residual"), layer),
    ]


def build_net(tag_form: str = "metadata", with_tree: bool = True, seed: int = 0,
              opset: int = 17) -> onnx.ModelProto:
    """The two-layer net, tagged in ``metadata_props`` or the older ``doc_string`` form."""
    rng = np.random.default_rng(seed)
    tagged = [(helper.make_node("MatMul", ["x", "W_in"], ["h0"], name="Proj/MatMul"),
               "/Net/Proj")]
    tagged += _layer(0, "h0") + _layer(1, "l0")
    tagged += [
        (helper.make_node("MatMul", ["l1", "W_out"], ["z"], name="Head/MatMul"), "/Net/Head"),
        (helper.make_node("Constant", [], ["scale"], value=numpy_helper.from_array(
            np.array(0.5, dtype=np.float32))), "/Net/Head"),  # unnamed on purpose
        (helper.make_node("Mul", ["z", "scale"], ["y"], name="Head/Mul"), "/Net/Head"),
    ]
    weights = {"W_in": (3, 4), "W0": (4, 4), "b0": (4,), "W1": (4, 4), "b1": (4,),
               "W_out": (4, 2)}
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
             for n, s in weights.items()]
    nodes = []
    for node, tag in tagged:
        if tag_form == "metadata":
            node.metadata_props.add(key=TAG_KEY, value=tag)
        elif tag_form == "doc_string":
            node.doc_string = json.dumps({TAG_KEY: tag})
        nodes.append(node)
    graph = helper.make_graph(
        nodes, "net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="tests")
    model.ir_version = 8
    if with_tree:
        model.metadata_props.add(key=MODULE_TREE_KEY, value=json.dumps(TREE))
        model.metadata_props.add(key=STRATEGY_KEY, value="synthetic")
    onnx.checker.check_model(model, full_check=True)
    return model


def set_tag(model: onnx.ModelProto, node_name: str, tag: str | None) -> onnx.ModelProto:
    """A copy of ``model`` with one node's tag replaced (or removed when ``tag`` is None)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    node = next(n for n in copy.graph.node if n.name == node_name)
    for j in reversed(range(len(node.metadata_props))):
        if node.metadata_props[j].key == TAG_KEY:
            del node.metadata_props[j]
    if tag is not None:
        node.metadata_props.add(key=TAG_KEY, value=tag)
    return copy




def run_with_intermediates(model: onnx.ModelProto, feeds: dict[str, np.ndarray],
                           names: list[str]) -> dict[str, np.ndarray]:
    """Run ``model`` in onnxruntime with the tensors ``names`` exposed as extra outputs."""
    import onnxruntime as ort

    from modelexport.analysis.extract import inferred_types

    types = inferred_types(model)
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    present = {o.name for o in exposed.graph.output}
    for name in names:
        if name not in present and name not in feeds:
            exposed.graph.output.append(types[name])
    session = ort.InferenceSession(exposed.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    wanted = [o.name for o in session.get_outputs()]
    return {**feeds, **dict(zip(wanted, session.run(wanted, feeds), strict=True))}


def check_extraction(full: onnx.ModelProto, part: onnx.ModelProto,
                     feeds: dict[str, np.ndarray], atol: float = 1e-5) -> float:
    """Feed ``part`` the full model's values at its inputs; return the max abs difference
    of its outputs from the full model's values there (asserting it is within ``atol``)."""
    import onnxruntime as ort

    onnx.checker.check_model(part, full_check=True)
    ins = [i.name for i in part.graph.input]
    outs = [o.name for o in part.graph.output]
    values = run_with_intermediates(full, feeds, ins + outs)
    session = ort.InferenceSession(part.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    got = session.run(outs, {n: values[n] for n in ins})
    worst = 0.0
    for name, value in zip(outs, got, strict=True):
        expected = values[name]
        assert value.shape == expected.shape, name
        if value.size:
            if value.dtype.kind in "fc":
                worst = max(worst, float(np.max(np.abs(value - expected))))
            else:
                assert np.array_equal(value, expected), name
    assert worst <= atol
    return worst
