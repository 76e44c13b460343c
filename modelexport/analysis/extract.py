"""``extract``: the ops of one module (and below) as a standalone ONNX model.

Inputs are the tensors entering the module (produced outside and consumed inside,
graph inputs included); initializers used inside stay initializers. Outputs are the
tensors produced inside and read outside, or graph outputs. Types come from the full
model's shape inference, so every input and output is typed. Opsets, IR version and
model-local functions are copied; the recorded module tree is cut to the subtree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import onnx

from modelexport.analysis._graph import (
    GraphIndex,
    modules_of,
    recorded_tree,
)
from modelexport.converter.tags import MODULE_TREE_KEY, normalize_tag, resolve_tag, within
from modelexport.errors import AnalysisError


@dataclass
class Extraction:
    model: onnx.ModelProto
    tag: str
    nodes: int
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    initializers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"tag": self.tag, "nodes": self.nodes, "inputs": self.inputs,
                "outputs": self.outputs, "initializers": self.initializers}


def inferred_types(model: onnx.ModelProto) -> dict[str, onnx.ValueInfoProto]:
    """Every typed tensor of the main graph: inputs, outputs, value_info, after inference."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # inference is best effort; the recorded value_info still helps
        inferred = model
    types: dict[str, onnx.ValueInfoProto] = {}
    for graph in (model.graph, inferred.graph):
        for value in list(graph.value_info) + list(graph.input) + list(graph.output):
            if value.type.WhichOneof("value") is not None:
                types[value.name] = value
    for tensor in model.graph.initializer:
        types.setdefault(tensor.name, onnx.helper.make_tensor_value_info(
            tensor.name, tensor.data_type, list(tensor.dims)))
    return types


def extract_module(model: onnx.ModelProto, tag: str) -> Extraction:
    """Cut the module ``tag`` and everything below it out of ``model``."""
    index = GraphIndex.of(model)
    resolved, why = resolve_tag(tag, [m.tag for m in modules_of(model, index.tags)])
    if resolved is None:
        raise AnalysisError(f"{why}; run 'modelexport analyze' to list them")
    tag = resolved
    inside = [i for i, t in enumerate(index.tags) if t is not None and within(t, tag)]
    if not inside:
        raise AnalysisError(f"module {tag!r} holds no ops; choose a module with ops "
                            "('modelexport analyze' lists op counts)")
    chosen = set(inside)
    produced = {n for i in inside for n in index.nodes[i].output if n}

    inputs: list[str] = []
    initializers: list[str] = []
    for i in inside:
        for name in index.inputs[i]:
            if name in produced or name in inputs or name in initializers:
                continue
            if name in index.initializers or name in index.sparse_initializers:
                initializers.append(name)
            else:
                inputs.append(name)
    graph_outputs = set(index.graph_outputs)
    outputs = [n for i in inside for n in index.nodes[i].output if n and (
        n in graph_outputs or any(c not in chosen for c in index.consumers.get(n, ())))]
    if not outputs:  # nothing read outside: the module's results are its dead ends
        outputs = [n for i in inside for n in index.nodes[i].output
                   if n and not index.consumers.get(n)]
    if not outputs:
        raise AnalysisError(f"module {tag!r} produces nothing read outside it; "
                            "extract its parent module instead")

    types = inferred_types(model)
    missing = [n for n in inputs + outputs if n not in types]
    if missing:
        raise AnalysisError(
            f"no type known for tensor {missing[0]!r} at the edge of {tag!r} (shape "
            "inference could not type it); extract an enclosing module instead")
    internal = [types[n] for n in sorted(produced) if n in types and n not in outputs]
    graph = onnx.helper.make_graph(
        nodes=[index.nodes[i] for i in inside],
        name=f"{model.graph.name or 'graph'} {tag}",
        inputs=[types[n] for n in inputs],
        outputs=[types[n] for n in outputs],
        initializer=[index.initializers[n] for n in initializers if n in index.initializers],
        value_info=internal,
        sparse_initializer=[index.sparse_initializers[n] for n in initializers
                            if n in index.sparse_initializers],
    )
    sub = onnx.helper.make_model(
        graph, opset_imports=list(model.opset_import), functions=list(model.functions),
        ir_version=model.ir_version, producer_name=model.producer_name,
        producer_version=model.producer_version, doc_string=f"module {tag} of {model.graph.name}")
    for prop in model.metadata_props:
        if prop.key != MODULE_TREE_KEY:
            sub.metadata_props.add(key=prop.key, value=prop.value)
    tree = recorded_tree(model)
    if tree is not None:
        kept = [dict(e, parent=None) if normalize_tag(str(e.get("tag", ""))) == tag else e
                for e in tree if within(normalize_tag(str(e.get("tag", ""))), tag)]
        sub.metadata_props.add(key=MODULE_TREE_KEY, value=json.dumps(kept))
    return Extraction(sub, tag, len(inside), inputs, outputs, initializers)
