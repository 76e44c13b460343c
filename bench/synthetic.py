"""Synthetic tagged ONNX graphs of an exact node count, built with ``onnx.helper`` only.

The graph is a stack of residual blocks, each shaped like what a transformer exporter
emits (LayerNormalization, projections as MatMul + Add, a softmax mixer, an erf-GELU
feed-forward, shape plumbing with Shape/Constant/Reshape/Cast), in a deep module
hierarchy ``/SynthNet/Body/Stage.s/Block.b/{Norm,Mixer/Proj.q,...,Feed/Up,Feed/Down}``.
Every node carries the hierarchy tags of :mod:`modelexport.converter.tags`, and the model carries
the module tree, so the converters see what the exporter would give them. Initializers
are small (16×16 floats) so the benchmark measures per-node work, not bytes.

No torch here: building the 100,000-node graph takes seconds.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from modelexport.converter.tags import (
    MODULE_CLASS_KEY,
    MODULE_PATH_KEY,
    MODULE_TREE_KEY,
    STRATEGY_KEY,
    TAG_KEY,
)

HIDDEN = 16
SEQ = 8
FF = 32
OPSET = 18
BLOCKS_PER_STAGE = 8
ROOT_CLASS = "SynthNet"

#: Bump when the generated graph changes, so cached files are rebuilt.
GENERATOR_VERSION = 1


class _Builder:
    """Accumulates nodes, initializers and modules; hands out unique names."""

    def __init__(self, seed: int) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.modules: dict[str, dict] = {}
        self.rng = np.random.default_rng(seed)
        self._count = 0

    def module(self, tag: str, path: str, cls: str, parent: str | None) -> str:
        if tag not in self.modules:
            self.modules[tag] = {"tag": tag, "path": path, "class": cls, "parent": parent}
        return tag

    def node(self, tag: str, op: str, inputs: list[str], n_out: int = 1, **attrs) -> list[str]:
        self._count += 1
        name = f"{_scope(self.modules[tag]['path'])}/{op}_{self._count}"
        outputs = [f"{name}:out{k}" for k in range(n_out)]
        node = helper.make_node(op, inputs, outputs, name=name, **attrs)
        module = self.modules[tag]
        for key, value in (
            (TAG_KEY, tag),
            (MODULE_PATH_KEY, module["path"]),
            (MODULE_CLASS_KEY, module["class"]),
        ):
            prop = node.metadata_props.add()
            prop.key, prop.value = key, value
        self.nodes.append(node)
        return outputs

    def weight(self, name: str, shape: tuple[int, ...]) -> str:
        array = (self.rng.standard_normal(shape) * 0.1).astype(np.float32)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name


def _scope(path: str) -> str:
    return "/" + path.replace(".", "/") if path else ""


# Nodes one block adds; the generator fills what is left with a short head.
def _block(b: _Builder, x: str, stage_tag: str, stage_path: str, index: int) -> str:
    path = f"{stage_path}.blocks.{index}"
    tag = b.module(f"{stage_tag}/Block.{index}", path, "Block", stage_tag)
    norm = b.module(f"{tag}/Norm", f"{path}.norm", "Norm", tag)
    mixer = b.module(f"{tag}/Mixer", f"{path}.mixer", "Mixer", tag)
    feed = b.module(f"{tag}/Feed", f"{path}.feed", "Feed", tag)
    w = f"{path}."

    (h,) = b.node(norm, "LayerNormalization",
                  [x, b.weight(w + "norm.weight", (HIDDEN,)), b.weight(w + "norm.bias", (HIDDEN,))],
                  axis=-1, epsilon=1e-5)

    def proj(key: str, parent: str, inp: str, n_in: int, n_out: int) -> str:
        p = b.module(
            f"{parent}/Proj.{key}", f"{b.modules[parent]['path']}.proj.{key}", "Proj", parent
        )
        pp = b.modules[p]["path"]
        (y,) = b.node(p, "MatMul", [inp, b.weight(pp + ".weight", (n_in, n_out))])
        (y,) = b.node(p, "Add", [y, b.weight(pp + ".bias", (n_out,))])
        return y

    q = proj("q", mixer, h, HIDDEN, HIDDEN)
    k = proj("k", mixer, h, HIDDEN, HIDDEN)
    v = proj("v", mixer, h, HIDDEN, HIDDEN)
    (kt,) = b.node(mixer, "Transpose", [k], perm=[0, 2, 1])
    (s,) = b.node(mixer, "MatMul", [q, kt])
    (scale,) = b.node(
        mixer, "Constant", [], value=numpy_helper.from_array(np.array(0.25, np.float32))
    )
    (s,) = b.node(mixer, "Mul", [s, scale])
    (p,) = b.node(mixer, "Softmax", [s], axis=-1)
    (m,) = b.node(mixer, "MatMul", [p, v])
    o = proj("o", mixer, m, HIDDEN, HIDDEN)
    (x,) = b.node(tag, "Add", [x, o])

    # Shape plumbing as exporters emit it: split heads and merge them back.
    (shape,) = b.node(tag, "Shape", [x])
    (heads,) = b.node(
        tag, "Constant", [], value=numpy_helper.from_array(np.array([1, SEQ, 4, 4], np.int64))
    )
    (r,) = b.node(tag, "Reshape", [x, heads])
    (r,) = b.node(tag, "Reshape", [r, shape])
    (x,) = b.node(tag, "Cast", [r], to=TensorProto.FLOAT)

    u = proj("up", feed, x, HIDDEN, FF)
    (half,) = b.node(feed, "Constant", [], value_float=0.5)
    (root2,) = b.node(feed, "Constant", [], value_float=1.4142135)
    (g,) = b.node(feed, "Div", [u, root2])
    (g,) = b.node(feed, "Erf", [g])
    (one,) = b.node(feed, "Constant", [], value_float=1.0)
    (g,) = b.node(feed, "Add", [g, one])
    (g,) = b.node(feed, "Mul", [u, g])
    (g,) = b.node(feed, "Mul", [g, half])
    d = proj("down", feed, g, FF, HIDDEN)
    (x,) = b.node(tag, "Add", [x, d])
    return x


NODES_PER_BLOCK = 34


def make_synthetic_model(num_nodes: int, seed: int = 0) -> onnx.ModelProto:
    """A checker-valid tagged ONNX model with exactly ``num_nodes`` nodes."""
    if num_nodes < 1:
        raise ValueError("num_nodes must be at least 1")
    b = _Builder(seed)
    root = b.module(f"/{ROOT_CLASS}", "", ROOT_CLASS, None)
    body = b.module(f"{root}/Body", "body", "Body", root)
    head = b.module(f"{root}/Head", "head", "Head", root)

    x = "input"
    stage_tag = stage_path = None
    blocks = 0
    while len(b.nodes) + NODES_PER_BLOCK <= num_nodes:
        if blocks % BLOCKS_PER_STAGE == 0:
            s = blocks // BLOCKS_PER_STAGE
            stage_path = f"body.stages.{s}"
            stage_tag = b.module(f"{body}/Stage.{s}", stage_path, "Stage", body)
        x = _block(b, x, stage_tag, stage_path, blocks % BLOCKS_PER_STAGE)
        blocks += 1
    while len(b.nodes) < num_nodes:
        (x,) = b.node(head, "Relu" if len(b.nodes) % 2 else "Identity", [x])

    graph = helper.make_graph(
        b.nodes,
        "synthetic",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, SEQ, HIDDEN])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, SEQ, HIDDEN])],
        initializer=b.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="modelexport-bench")
    model.ir_version = 9
    helper.set_model_props(model, {
        MODULE_TREE_KEY: json.dumps(list(b.modules.values())),
        STRATEGY_KEY: "synthetic",
    })
    return model
