"""Reading the hierarchy out of one ONNX graph: tags, data flow, modules, parameters.

A tag is a module path (``/Model/Stack/Layer.0``). A module's subtree is its own tag
and every tag below it, matched by whole path segments, so ``/Model/Stack/Layer.1``
does not contain ``/Model/Stack/Layer.10``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import onnx

from modelexport.converter.tags import (
    MODULE_TREE_KEY,
    ROOT,
    common_tag,
    lineage,
    module_tree,
    node_tag,
    normalize_tag,
    parent_tag,
    within,
)
from modelexport.errors import AnalysisError


def node_label(index: int, node: onnx.NodeProto) -> str:
    """A node's name, or a stable description of an unnamed one."""
    return node.name or f"<unnamed {node.op_type} #{index}>"


def subgraph_references(node: onnx.NodeProto) -> list[str]:
    """Outer-scope tensor names read inside the subgraphs (If/Loop/Scan bodies) of a node."""
    refs: set[str] = set()
    for attr in node.attribute:
        graphs = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)
        for graph in graphs:
            refs |= _free_names(graph)
    return sorted(refs)


def _free_names(graph: onnx.GraphProto) -> set[str]:
    defined = {v.name for v in graph.input}
    defined |= {t.name for t in graph.initializer}
    defined |= {t.values.name for t in graph.sparse_initializer}
    used: set[str] = set()
    for node in graph.node:
        used |= {n for n in node.input if n}
        used |= set(subgraph_references(node))
        defined |= {n for n in node.output if n}
    used |= {v.name for v in graph.output}
    return used - defined


def tensor_size(tensor: onnx.TensorProto) -> int:
    return math.prod(tensor.dims)


@dataclass
class GraphIndex:
    """Who produces and who consumes each tensor of a graph, and each node's tag."""

    nodes: list[onnx.NodeProto]
    tags: list[str | None]
    inputs: list[list[str]]  # per node: explicit inputs, then subgraph references
    producer: dict[str, int] = field(default_factory=dict)
    consumers: dict[str, list[int]] = field(default_factory=dict)
    initializers: dict[str, onnx.TensorProto] = field(default_factory=dict)
    sparse_initializers: dict[str, onnx.SparseTensorProto] = field(default_factory=dict)
    graph_inputs: list[str] = field(default_factory=list)
    graph_outputs: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, model: onnx.ModelProto) -> GraphIndex:
        graph = model.graph
        nodes = list(graph.node)
        tags = [node_tag(n) for n in nodes]
        tags = [normalize_tag(t) if t is not None else None for t in tags]
        index = cls(
            nodes=nodes,
            tags=tags,
            inputs=[[n for n in node.input if n] + subgraph_references(node) for node in nodes],
            initializers={t.name: t for t in graph.initializer},
            sparse_initializers={t.values.name: t for t in graph.sparse_initializer},
            graph_inputs=[v.name for v in graph.input],
            graph_outputs=[v.name for v in graph.output],
        )
        for i, node in enumerate(nodes):
            for name in node.output:
                if name:
                    index.producer[name] = i
            for name in dict.fromkeys(index.inputs[i]):
                index.consumers.setdefault(name, []).append(i)
        return index

    def producer_tags(self, i: int) -> list[str]:
        """Tags of the nodes producing node ``i``'s inputs (tagged producers only)."""
        found = {self.tags[self.producer[n]] for n in self.inputs[i] if n in self.producer}
        return sorted(t for t in found if t is not None)

    def consumer_tags(self, i: int) -> list[str]:
        """Tags of the nodes consuming node ``i``'s outputs (tagged consumers only)."""
        found = {self.tags[c] for n in self.nodes[i].output for c in self.consumers.get(n, ())}
        return sorted(t for t in found if t is not None)

    def initializer_owner(self, name: str) -> str | None:
        """The module owning an initializer: the common module of its tagged consumers."""
        tags = sorted({self.tags[c] for c in self.consumers.get(name, ()) if self.tags[c]})
        return common_tag(tags) if tags else None


@dataclass
class Module:
    tag: str
    parent: str | None
    module_class: str | None = None
    recorded: bool = False  # listed in the model's recorded module tree


def modules_of(model: onnx.ModelProto, tags: list[str | None]) -> list[Module]:
    """Every module: the recorded tree's entries plus every tag and its ancestors.

    Pre-order, children in recorded order, then in order of first appearance.
    """
    found: dict[str, Module] = {}
    for entry in recorded_tree(model) or []:
        tag = normalize_tag(str(entry.get("tag", "")))
        if tag not in found:
            found[tag] = Module(tag, parent_tag(tag), entry.get("class"), recorded=True)
    # Above a recorded root (a module cut out by extract) there is nothing to list.
    roots = [m.tag for m in found.values() if m.parent is None or m.parent not in found]
    for tag in tags:
        for step in (lineage(tag) or [ROOT]) if tag else []:
            if step not in found and not any(within(r, step) for r in roots):
                found[step] = Module(step, parent_tag(step))
    children: dict[str | None, list[str]] = {}
    for tag, module in found.items():
        parent = module.parent if module.parent in found else None
        module.parent = parent
        children.setdefault(parent, []).append(tag)
    ordered: list[Module] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        tag = stack.pop()
        ordered.append(found[tag])
        stack.extend(reversed(children.get(tag, [])))
    return ordered


def recorded_tree(model: onnx.ModelProto) -> list[dict] | None:
    """The module tree recorded in the model's metadata, or None."""
    try:
        return module_tree(model)
    except ValueError as e:
        raise AnalysisError(
            f"model metadata {MODULE_TREE_KEY!r} is not valid JSON ({e}); "
            "re-export the model or remove that entry"
        ) from e
