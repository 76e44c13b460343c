"""A small, valid modelexport GraphML document with a real sidecar, built by hand.

It exercises what the validator knows: nested modules, an op holding a subgraph
(whose op reads an outer-scope tensor), initializers in the sidecar, and a tensor
attribute whose bytes are in the sidecar.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from modelexport.graphml import Document, Edge, Graph, Node, write_graphml
from modelexport.graphml import format as fmt


def _op(nid, parent, tag, op_type, inputs, outputs, **extra):
    data = {"kind": "op", "label": f"{op_type}\n{nid}", "parent": parent,
            "hierarchy_tag": tag, "name": f"/{nid}", "op_type": op_type,
            "inputs": json.dumps(inputs), "outputs": json.dumps(outputs)}
    data.update(extra)
    return Node(nid, data)


def _tensor(nid, kind, parent, name, dtype, shape, **extra):
    data = {"kind": kind, "label": name, "parent": parent, "hierarchy_tag": "",
            "name": name, "dtype": dtype, "shape": json.dumps(shape)}
    data.update(extra)
    return Node(nid, data)


SIDECAR_LAYOUT = {  # name -> (offset, length)
    "w": (0, 64), "b": (64, 16), "c": (128, 1), "k": (192, 8),
}
SIDECAR_SIZE = 200


def sidecar_bytes() -> bytes:
    return bytes((i * 7 + 3) % 256 for i in range(SIDECAR_SIZE))


def build_document(sidecar: str = "model.onnxdata", payload: bytes | None = None) -> Document:
    payload = sidecar_bytes() if payload is None else payload
    k_attr = json.dumps(
        [
            {
                "name": "value",
                "type": "TENSOR",
                "t": {
                    "name": "k",
                    fmt.SIDECAR_REF: {"offset": 192, "length": 8, "dtype": "INT64", "dims": [1]},
                },
            }
        ]
    )
    then = Graph("sg_then:", nodes=[_op("op_then", "sg_then", "/Model", "Identity", ["z"], ["t"])])
    if_graph = Graph("op_if:", nodes=[Node("sg_then", {
        "kind": "subgraph", "label": "then_branch", "parent": "op_if",
        "hierarchy_tag": "/Model", "attribute_name": "then_branch"}, graph=then)])
    layer = Graph("m_layer0:", nodes=[
        _tensor("init_w", "initializer", "m_layer0", "w", "FLOAT", [4, 4], offset=0, length=64),
        _op("op_matmul", "m_layer0", "/Model/Layer.0", "MatMul", ["x", "w"], ["h"]),
        _op("op_relu", "m_layer0", "/Model/Layer.0", "Relu", ["h"], ["y"]),
    ])
    model = Graph("m_model:", nodes=[
        Node("m_layer0", {"kind": "module", "label": "Layer.0", "parent": "m_model",
                          "hierarchy_tag": "/Model/Layer.0", "module_class": "Layer"},
             graph=layer),
        _tensor("init_b", "initializer", "m_model", "b", "FLOAT", [4], offset=64, length=16),
        _tensor("init_c", "initializer", "m_model", "c", "BOOL", [], offset=128, length=1),
        _op("op_add", "m_model", "/Model", "Add", ["y", "b"], ["z"]),
        _op("op_const", "m_model", "/Model", "Constant", [], ["k"], attributes=k_attr),
        Node("op_if", {"kind": "op", "label": "If\nop_if", "parent": "m_model",
                       "hierarchy_tag": "/Model", "op_type": "If", "inputs": '["c"]',
                       "outputs": '["o"]'}, graph=if_graph),
    ])
    root = Graph("G", data={
        "format": fmt.FORMAT_VERSION, "ir_version": 10, "opset_import": '[["", 21]]',
        "graph_name": "tiny", "sidecar": sidecar, "sidecar_size": len(payload),
        "sidecar_sha256": hashlib.sha256(payload).hexdigest(),
    }, nodes=[
        _tensor("in_x", "input", "", "x", "FLOAT", [1, 4]),
        Node("m_model", {"kind": "module", "label": "Model", "parent": "",
                         "hierarchy_tag": "/Model", "module_class": "Model"}, graph=model),
        _tensor("out_o", "output", "", "o", "FLOAT", [1, 4]),
    ])

    def e(i, s, t, tensor, dtype="FLOAT", shape="[1,4]"):
        return Edge(f"e{i}", s, t, {"e_tensor": tensor, "e_dtype": dtype, "e_shape": shape})

    root.edges = [
        e(0, "in_x", "op_matmul", "x"), e(1, "init_w", "op_matmul", "w", shape="[4,4]"),
        e(2, "op_matmul", "op_relu", "h"), e(3, "op_relu", "op_add", "y"),
        e(4, "init_b", "op_add", "b", shape="[4]"), e(5, "init_c", "op_if", "c", "BOOL", "[]"),
        e(6, "op_add", "op_then", "z"), e(7, "op_if", "out_o", "o"),
    ]
    return Document(graph=root)


def write_valid(directory: Path, *, yed: bool = True, stem: str = "model") -> Path:
    """Write the valid document and its sidecar into ``directory``; return the GraphML path."""
    payload = sidecar_bytes()
    (directory / f"{stem}.onnxdata").write_bytes(payload)
    path = directory / f"{stem}.graphml"
    write_graphml(build_document(f"{stem}.onnxdata", payload), path, yed=yed)
    return path
