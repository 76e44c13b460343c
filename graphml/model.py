"""The in-memory GraphML document: plain dataclasses, free of XML.

A :class:`Document` is what the writer serialises and the reader returns. Data values
are Python values (``str``, ``int``, ``float``, ``bool``) keyed by the key ids of
:mod:`modelexport.graphml.format`; the writer formats them by the key's declared type. Nesting is
expressed by ``Node.graph`` (a group node holds a nested :class:`Graph`); edges are
kept on the root graph, after all nodes, as the dialect requires.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

Value = str | int | float | bool


@dataclass
class Key:
    """A ``<key>`` declaration."""

    id: str
    domain: str  # "graph" | "node" | "edge" | "graphml"
    name: str
    type: str  # boolean | int | long | float | double | string, or format.INT64


@dataclass(slots=True)
class Node:
    id: str
    data: dict[str, Value] = field(default_factory=dict)
    graph: Graph | None = None  # set for group nodes

    @property
    def is_group(self) -> bool:
        return self.graph is not None


@dataclass(slots=True)
class Edge:
    id: str
    source: str
    target: str
    data: dict[str, Value] = field(default_factory=dict)


@dataclass
class Graph:
    id: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    data: dict[str, Value] = field(default_factory=dict)
    edgedefault: str = "directed"


@dataclass
class Document:
    """A GraphML document: key declarations and the root graph."""

    graph: Graph
    keys: list[Key] = field(default_factory=list)

    def iter_nodes(self) -> Iterator[tuple[Node, Node | None]]:
        """Every node, depth first in document order, with its enclosing group node."""
        stack: list[tuple[Graph, Node | None, int]] = [(self.graph, None, 0)]
        while stack:
            graph, owner, i = stack.pop()
            if i >= len(graph.nodes):
                continue
            node = graph.nodes[i]
            stack.append((graph, owner, i + 1))
            yield node, owner
            if node.graph is not None:
                stack.append((node.graph, node, 0))

    def iter_edges(self) -> Iterator[Edge]:
        """Every edge, wherever it sits (the dialect puts them all on the root graph)."""
        stack = [self.graph]
        while stack:
            graph = stack.pop()
            yield from graph.edges
            stack.extend(n.graph for n in reversed(graph.nodes) if n.graph is not None)
