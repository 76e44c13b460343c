"""Name a captured graph's inputs and outputs after the model's forward arguments and
output fields, whatever names the strategy's exporter chose.

The dynamo exporter names outputs after internal values (``layer_norm_4``, ``tanh``);
users and tools expect ``last_hidden_state``, ``pooler_output``. The wanted names come
from the model itself (its forward parameters, and the keys of its output structure,
see :func:`modelexport.inputs.flat_outputs`), never from knowledge of a model family.
"""

from __future__ import annotations

from typing import Any


def _graph_names(graph: Any) -> set[str]:
    """Every value name used in ``graph`` and the subgraphs of its nodes."""
    names = {v.name for v in (*graph.input, *graph.output, *graph.value_info)}
    names |= {t.name for t in graph.initializer}
    names |= {t.values.name for t in graph.sparse_initializer}
    for node in graph.node:
        names.update(node.input)
        names.update(node.output)
        for sub in _subgraphs(node):
            names |= _graph_names(sub)
    names.discard("")
    return names


def _subgraphs(node: Any) -> list[Any]:
    found = []
    for attr in node.attribute:
        if attr.HasField("g"):
            found.append(attr.g)
        found.extend(attr.graphs)
    return found


def _rename(graph: Any, old: str, new: str) -> None:
    """Rename value ``old`` to ``new`` in ``graph`` and in every subgraph that reads it.

    ONNX forbids a subgraph to redefine an outer name, so every occurrence is this value.
    """
    for value in (*graph.input, *graph.output, *graph.value_info):
        if value.name == old:
            value.name = new
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
        for sub in _subgraphs(node):
            _rename(sub, old, new)


def name_graph_io(model: Any, input_names: list[str], output_names: list[str]) -> list[str]:
    """Rename ``model``'s graph inputs and outputs, in order, to the given names.

    A side whose count differs from the graph's is left alone (the exporter dropped or
    added a value, so positions do not match). A value that is also a graph input or
    initializer, or appears twice among the outputs, keeps its name, as does one whose
    wanted name is already taken. Returns one line per value left unnamed.
    """
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    left: list[str] = []
    for side, values, wanted in (("input", graph.input, input_names),
                                 ("output", graph.output, output_names)):
        current = [v.name for v in values if v.name not in initializers or side == "output"]
        if len(current) != len(wanted):
            left.append(f"graph {side}s keep the exporter's names: the graph has "
                        f"{len(current)}, the model {len(wanted)}")
            continue
        taken = _graph_names(graph)
        graph_inputs = {v.name for v in graph.input}
        for old, new in zip(current, wanted, strict=True):
            if old == new:
                continue
            shared = side == "output" and (old in graph_inputs or old in initializers
                                            or [v.name for v in graph.output].count(old) > 1)
            if shared or new in taken:
                left.append(f"graph {side} {old!r} keeps its name ({new!r} "
                            f"{'is taken' if new in taken else 'would rename a shared value'})")
                continue
            _rename(graph, old, new)
            taken.add(new)
    return left
