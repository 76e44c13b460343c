"""``compare``: structural and tag differences between two ONNX models.

Nodes are matched by name; unnamed nodes by (op type, tag, position among the unnamed
nodes of that op type and tag). Initializers are matched by name and compared by
shape, dtype and bytes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import onnx
from onnx import numpy_helper

from modelexport.analysis._graph import GraphIndex


@dataclass
class NodeChange:
    node: str
    fields: list[str]  # which of op_type, domain, inputs, outputs, attributes, tag differ
    a: dict
    b: dict


@dataclass
class ModuleDiff:
    tag: str
    a_ops: int
    b_ops: int


@dataclass
class InitializerDiff:
    name: str
    status: str  # added, removed, changed
    a_shape: list[int] | None = None
    b_shape: list[int] | None = None
    a_dtype: str | None = None
    b_dtype: str | None = None
    bytes_equal: bool | None = None


@dataclass
class Comparison:
    """What ``compare`` found between model A and model B; ``identical`` when nothing."""

    a_nodes: int
    b_nodes: int
    model: dict[str, list] = field(default_factory=dict)  # field → [a, b]
    opsets: dict[str, list] = field(default_factory=dict)  # domain → [a, b] versions
    inputs: dict[str, list] = field(default_factory=dict)  # graph input → [a, b] types
    outputs: dict[str, list] = field(default_factory=dict)
    nodes_added: list[str] = field(default_factory=list)
    nodes_removed: list[str] = field(default_factory=list)
    nodes_changed: list[NodeChange] = field(default_factory=list)
    modules: list[ModuleDiff] = field(default_factory=list)
    initializers: list[InitializerDiff] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not any((self.model, self.opsets, self.inputs, self.outputs, self.nodes_added,
                        self.nodes_removed, self.nodes_changed, self.modules,
                        self.initializers))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["identical"] = self.identical
        return data


def _node_keys(index: GraphIndex) -> dict[str, int]:
    """Match keys: the name, or ``op_type tag #k`` for unnamed nodes."""
    keys: dict[str, int] = {}
    seen: Counter[str] = Counter()
    for i, (node, tag) in enumerate(zip(index.nodes, index.tags)):
        base = node.name or f"<unnamed {node.op_type} {tag or 'untagged'}>"
        seen[base] += 1
        keys[base if seen[base] == 1 and node.name else f"{base} #{seen[base] - 1}"] = i
    return keys


def _node_summary(node: onnx.NodeProto, tag: str | None) -> dict:
    return {"op_type": node.op_type, "domain": node.domain, "inputs": list(node.input),
            "outputs": list(node.output), "attributes": sorted(a.name for a in node.attribute),
            "tag": tag}


def _node_fields(a: onnx.NodeProto, ta: str | None, b: onnx.NodeProto, tb: str | None) -> list[str]:
    changed = [f for f in ("op_type", "domain") if getattr(a, f) != getattr(b, f)]
    if list(a.input) != list(b.input):
        changed.append("inputs")
    if list(a.output) != list(b.output):
        changed.append("outputs")
    if {x.name: x for x in a.attribute} != {x.name: x for x in b.attribute}:
        changed.append("attributes")
    if ta != tb:
        changed.append("tag")
    return changed


def _value_types(values: list[onnx.ValueInfoProto]) -> dict[str, str]:
    return {v.name: _type_text(v.type) for v in values}


def _type_text(t: onnx.TypeProto) -> str:
    if t.HasField("tensor_type"):
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.tensor_type.elem_type) \
            if t.tensor_type.elem_type else "?"
        dims = [d.dim_param or (str(d.dim_value) if d.HasField("dim_value") else "?")
                for d in t.tensor_type.shape.dim]
        shape = f"[{','.join(dims)}]" if t.tensor_type.HasField("shape") else ""
        return f"{dtype}{shape}"
    return str(t.WhichOneof("value"))


def _dict_diff(a: dict, b: dict) -> dict[str, list]:
    return {k: [a.get(k), b.get(k)] for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)}


def _tensor_bytes(t: onnx.TensorProto) -> bytes:
    """The tensor's little-endian bytes, without decoding when they are stored raw."""
    return t.raw_data if t.HasField("raw_data") else numpy_helper.to_array(t).tobytes()


def _dtype_name(t: onnx.TensorProto) -> str:
    return onnx.TensorProto.DataType.Name(t.data_type)


def compare_models(a: onnx.ModelProto, b: onnx.ModelProto) -> Comparison:
    """Every difference between ``a`` and ``b`` that matters to a reader of the graph."""
    ia, ib = GraphIndex.of(a), GraphIndex.of(b)
    result = Comparison(a_nodes=len(ia.nodes), b_nodes=len(ib.nodes))
    result.model = _dict_diff(
        {"ir_version": a.ir_version, "producer": f"{a.producer_name} {a.producer_version}"},
        {"ir_version": b.ir_version, "producer": f"{b.producer_name} {b.producer_version}"})
    result.opsets = _dict_diff({o.domain or "ai.onnx": o.version for o in a.opset_import},
                               {o.domain or "ai.onnx": o.version for o in b.opset_import})
    result.inputs = _dict_diff(_value_types(list(a.graph.input)),
                               _value_types(list(b.graph.input)))
    result.outputs = _dict_diff(_value_types(list(a.graph.output)),
                                _value_types(list(b.graph.output)))

    ka, kb = _node_keys(ia), _node_keys(ib)
    result.nodes_removed = [k for k in ka if k not in kb]
    result.nodes_added = [k for k in kb if k not in ka]
    for key, i in ka.items():
        if key not in kb:
            continue
        j = kb[key]
        fields = _node_fields(ia.nodes[i], ia.tags[i], ib.nodes[j], ib.tags[j])
        if fields:
            result.nodes_changed.append(NodeChange(
                key, fields, _node_summary(ia.nodes[i], ia.tags[i]),
                _node_summary(ib.nodes[j], ib.tags[j])))

    ca = Counter(t or "(untagged)" for t in ia.tags)
    cb = Counter(t or "(untagged)" for t in ib.tags)
    result.modules = [ModuleDiff(t, ca[t], cb[t]) for t in sorted(ca.keys() | cb.keys())
                      if ca[t] != cb[t]]

    for name, ta in ia.initializers.items():
        tb = ib.initializers.get(name)
        if tb is None:
            result.initializers.append(InitializerDiff(
                name, "removed", list(ta.dims), None, _dtype_name(ta), None))
            continue
        same_bytes = (ta.data_type == tb.data_type and list(ta.dims) == list(tb.dims)
                      and _tensor_bytes(ta) == _tensor_bytes(tb))
        if list(ta.dims) != list(tb.dims) or ta.data_type != tb.data_type or not same_bytes:
            result.initializers.append(InitializerDiff(
                name, "changed", list(ta.dims), list(tb.dims), _dtype_name(ta),
                _dtype_name(tb), same_bytes))
    for name, tb in ib.initializers.items():
        if name not in ia.initializers:
            result.initializers.append(InitializerDiff(
                name, "added", None, list(tb.dims), None, _dtype_name(tb)))
    return result
