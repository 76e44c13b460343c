"""Write hierarchy tags into an ONNX model (SPEC §5), with ``modelexport.converter.tags``' keys.

Input: the ModelProto a strategy captured and, per top-level node, the dotted module
path it recorded (or None). Every node ends with exactly one tag: recorded paths map
to the tag of their deepest kept module, the rest get ``fill_missing_tags`` (the
deepest module containing all neighbours' tags, or the root). Nodes of subgraphs
(If/Loop/Scan bodies) take the tag of the node that holds them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from modelexport.converter.tags import (
    MODULE_CLASS_KEY,
    MODULE_PATH_KEY,
    MODULE_TREE_KEY,
    PARAMETER_OWNERS_KEY,
    STRATEGY_KEY,
    TAG_KEY,
    TRANSPOSED,
    fill_missing_tags,
    graph_boundary,
)
from modelexport.hierarchy import ModuleTree

_OWN_KEYS = {TAG_KEY, MODULE_PATH_KEY, MODULE_CLASS_KEY}


@dataclass
class TaggingResult:
    """What tagging did: the tag of each top-level node, and how each was found."""

    node_tags: dict[str, str]
    total_nodes: int
    direct: int
    filled: int
    nodes_per_tag: dict[str, int] = field(default_factory=dict)
    # initializer -> [[module tag, parameter elements, parameter name(, TRANSPOSED)], ...]
    # (see parameter_owners)
    parameter_owners: dict[str, list[list]] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        return (self.direct + self.filled) / self.total_nodes if self.total_nodes else 1.0


def _set_props(proto: Any, values: dict[str, str]) -> None:
    keep = [(p.key, p.value) for p in proto.metadata_props if p.key not in values]
    del proto.metadata_props[:]
    for key, value in [*keep, *values.items()]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def _subgraph_nodes(node: Any) -> list[Any]:
    found = []
    for attr in node.attribute:
        graphs = [attr.g] if attr.HasField("g") else list(attr.graphs)
        for graph in graphs:
            for inner in graph.node:
                found.append(inner)
                found.extend(_subgraph_nodes(inner))
    return found


def tag_model(model: Any, node_paths: list[str | None], tree: ModuleTree,
              strategy: str) -> TaggingResult:
    """Tag every node of ``model`` in place; ``node_paths[i]`` belongs to ``graph.node[i]``."""
    nodes = list(model.graph.node)
    if len(node_paths) != len(nodes):
        raise ValueError(f"{len(node_paths)} module paths for {len(nodes)} nodes")
    known = [tree.tag_of(path) for path in node_paths]
    tags = fill_missing_tags(nodes, known, tree.root.tag, graph_boundary(model.graph))
    modules = tree.by_tag()

    for node, tag in zip(nodes, tags, strict=True):
        info = modules[tag]
        props = {TAG_KEY: tag, MODULE_PATH_KEY: info.path, MODULE_CLASS_KEY: info.class_name}
        _set_props(node, props)
        for inner in _subgraph_nodes(node):
            _set_props(inner, props)

    _set_props(model, {MODULE_TREE_KEY: json.dumps(tree.records(), separators=(",", ":")),
                       STRATEGY_KEY: strategy})
    direct = sum(t is not None for t in known)
    names = [node.name or f"{node.op_type}_{i}" for i, node in enumerate(nodes)]
    return TaggingResult(node_tags=dict(zip(names, tags, strict=True)), total_nodes=len(nodes),
                         direct=direct, filled=len(nodes) - direct,
                         nodes_per_tag=dict(Counter(tags)))


_HEAD = 16  # elements compared before whole tensors are


def _head(tensor: Any) -> tuple:
    """dtype, shape and the first elements of an initializer, read without copying it."""
    import numpy as np
    from onnx import helper, numpy_helper

    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type))
    count = min(_HEAD, int(np.prod(tensor.dims)))
    if tensor.raw_data:
        first = np.frombuffer(tensor.raw_data, dtype=dtype, count=count)
    else:
        first = numpy_helper.to_array(tensor).reshape(-1)[:count]
    return str(dtype), tuple(tensor.dims), first.astype(dtype.newbyteorder("<")).tobytes()


def _array_head(array: Any) -> tuple:
    import numpy as np

    first = np.asarray(array.flat[:_HEAD], dtype=array.dtype.newbyteorder("<"))
    return str(array.dtype), tuple(array.shape), first.tobytes()


def parameter_owners(model: Any, torch_model: Any, tree: ModuleTree) -> dict[str, list[list]]:
    """For each initializer holding parameters of ``torch_model``: the module tags owning
    them, their element counts and the parameters' names, found from the module tree,
    never from consumers. The names let a picture label ``val_63`` as the parameter it is.

    An initializer named after a parameter holds it. A parameter with no initializer of
    its name was merged or renamed by the exporter: it belongs to the one initializer
    of equal value (as is, or transposed for 2-D weights: the dynamo exporter folds a
    Linear's transpose into a new initializer such as ``val_63``; such an entry ends
    with :data:`TRANSPOSED`). Where several initializers hold that value, nothing is
    claimed and ``analyze`` falls back to consumers.
    """
    import numpy as np
    from onnx import TensorProto, numpy_helper

    initializers = {t.name: t for t in model.graph.initializer
                    if t.data_location != TensorProto.EXTERNAL}
    owners: dict[str, list[list]] = {}
    leftover = []
    for name, param in torch_model.named_parameters():
        module_tag = tree.tag_of(name.rpartition(".")[0])
        held = initializers.get(name)
        if held is not None and tuple(held.dims) == tuple(param.shape):
            owners.setdefault(name, []).append([module_tag, param.numel(), name])
        else:
            leftover.append((module_tag, name, param))
    if not leftover:
        return owners

    shapes = {tuple(p.shape) for _, _, p in leftover}
    shapes |= {tuple(reversed(p.shape)) for _, _, p in leftover if p.dim() == 2}
    by_head: dict[tuple, list[str]] = {}
    for name, tensor in initializers.items():
        if tuple(tensor.dims) in shapes:
            by_head.setdefault(_head(tensor), []).append(name)
    for module_tag, param_name, param in leftover:
        try:
            value = param.detach().cpu().numpy()
        except TypeError:  # a dtype numpy lacks (bfloat16): left to the consumers' rule
            continue
        forms = [(value, False), (value.T, True)] if value.ndim == 2 else [(value, False)]
        held_by = {(name, transposed) for form, transposed in forms
                   for name in by_head.get(_array_head(form), ())
                   if np.array_equal(numpy_helper.to_array(initializers[name]), form)}
        if len({name for name, _ in held_by}) == 1:
            name, transposed = min(held_by)  # as is, when a square one equals both
            entry = [module_tag, param.numel(), param_name]
            owners.setdefault(name, []).append([*entry, TRANSPOSED] if transposed else entry)
    return owners


def record_parameter_owners(model: Any, owners: dict[str, list[list]]) -> None:
    """Write ``owners`` into the model's metadata (key :data:`PARAMETER_OWNERS_KEY`)."""
    _set_props(model, {PARAMETER_OWNERS_KEY: json.dumps(owners, separators=(",", ":"),
                                                       sort_keys=True)})
