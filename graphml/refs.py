"""Reference boxes: a shared constant (or a value read in several sibling modules) drawn
beside each op that reads it.

A weight shared by ten layers, or a shape constant read across the model, would draw
ten edges across the whole picture. :func:`add_refs` gives each of its consumers a
small node of kind ``ref`` (:data:`~modelexport.graphml.format.KIND_REF`) in the
consumer's own graph, just before it, whose ``ref`` data names the node it stands for;
the edges to that consumer then leave the reference box instead. The original node
stays where it was, once. :func:`remove_refs` is the inverse: every edge leaving a
reference box leaves the node it names again, and the boxes go, so the document is
exactly what it was (node order, edge ids and data included).

Which values get boxes is decided by structure alone: a *constant* is an initializer,
or an op (a leaf) that no edge enters; it gets boxes when it has two or more
consumers, or a consumer in another group than its own (``parent`` differs). Any
other value (an op's output, a graph input) read in several sibling modules (a mask
or a first stage's output read by every repeated layer) gets boxes in all of them but the first:
wherever its consumers sit in two or more child modules of one module, those in every
child module but the first (in document order) get boxes; the others, and those
directly in the group, keep their direct edges, so the value is still drawn flowing on
from where it is made. And any such value read more than :data:`FAR` ops below where it
is made gets a box beside that reader: on the longest chain of ops between (a residual
added back after a block, a norm's input read again by its last op), or as a layered
picture of nested modules draws them (one stage's output read by every layer of a later
stage drawn below it) while a nearer reader keeps a direct edge. A picture draws those boxes
(:func:`beside_boxes`) in the reader's row, right beside it.

The converter adds boxes to the files it draws (with yEd markup) and leaves them out of
``--no-yed`` files, whose every data-flow edge stays direct; the archive stores the
data flow without them. Reading the true data flow from a file that has them: follow
``ref`` (as :func:`remove_refs` does, or with networkx as the README shows).
"""

from __future__ import annotations

import heapq

from modelexport.graphml import format as fmt
from modelexport.graphml.errors import GraphMLFormatError
from modelexport.graphml.model import Document, Edge, Graph, Node


def _is_constant(node: Node, entered: set[str]) -> bool:
    kind = node.data.get("kind")
    if kind == fmt.KIND_INITIALIZER:
        return True
    return kind == fmt.KIND_OP and node.graph is None and node.id not in entered


def _ref_label(source: Node, edge: Edge) -> str:
    """What a box says: the initializer's label (its parameter's name where known), or
    the last part of the tensor's name for an op's output."""
    if source.data.get("kind") == fmt.KIND_INITIALIZER:
        return str(source.data.get("label") or source.data.get("name") or source.id)
    tensor = str(edge.data.get("e_tensor") or source.data.get("label") or source.id)
    return tensor.rsplit("/", 1)[-1] or tensor


def add_refs(doc: Document) -> int:
    """Give each consumer of a shared constant a reference box; return how many boxes.

    A document that already has boxes gains none for the constants they stand for
    (their edges leave the boxes already).
    """
    where: dict[str, Graph] = {}  # node id -> the graph holding it
    nodes: dict[str, Node] = {}
    for graph, node in _placed(doc):
        where[node.id] = graph
        nodes[node.id] = node
    edges = list(doc.iter_edges())
    entered = {e.target for e in edges}
    uses: dict[str, dict[str, list[Edge]]] = {}  # constant -> consumer -> its edges
    for edge in edges:
        source = nodes.get(edge.source)
        if source is not None and edge.target in nodes and _is_constant(source, entered):
            uses.setdefault(edge.source, {}).setdefault(edge.target, []).append(edge)
    taken = set(nodes)
    before: dict[str, list[Node]] = {}  # consumer id -> the boxes placed before it
    made = 0
    chosen: list[tuple[str, dict[str, list[Edge]]]] = []
    for source_id, consumers in uses.items():
        home = nodes[source_id].data.get("parent")
        if len(consumers) >= 2 or any(nodes[t].data.get("parent") != home for t in consumers):
            chosen.append((source_id, consumers))
    shared = _shared_values(doc, nodes, edges, set(uses))
    chosen.extend(shared)
    chosen.extend(_far_reads(doc, nodes, edges, entered, shared))
    for source_id, consumers in chosen:
        source = nodes[source_id]
        for target_id, feeding in consumers.items():
            target = nodes[target_id]
            rid = f"{source_id}.{target_id}"
            while rid in taken:
                rid += "_"
            taken.add(rid)
            data: dict = {"kind": fmt.KIND_REF, "label": _ref_label(source, feeding[0]),
                          "parent": target.data.get("parent", "")}
            data[fmt.REF_KEY] = source_id
            before.setdefault(target_id, []).append(Node(rid, data))
            for edge in feeding:
                edge.source = rid
            made += 1
    if before:
        for graph in {id(where[t]): where[t] for t in before}.values():
            placed: list[Node] = []
            for node in graph.nodes:
                placed.extend(before.get(node.id, ()))
                placed.append(node)
            graph.nodes = placed
    return made


def _shared_values(doc: Document, nodes: dict[str, Node], edges: list[Edge],
                   constants: set[str]) -> list[tuple[str, dict[str, list[Edge]]]]:
    """The values other than constants read in two or more sibling modules, each with
    the consumers that get boxes (those in every such module but the first, in
    document order, at any level) and their edges."""
    owner: dict[str, str | None] = {}  # node id -> the group holding it (None: the top)
    rank: dict[str, int] = {}  # document order
    for _graph, node in _placed(doc):
        rank[node.id] = len(rank)
        owner.setdefault(node.id, None)
        if node.graph is not None:
            for child in node.graph.nodes:
                owner[child.id] = node.id

    def chain(nid: str) -> list[str | None]:
        """The groups holding ``nid``, outermost first (None: the top)."""
        out: list[str | None] = []
        g = owner.get(nid)
        while g is not None:
            out.append(g)
            g = owner.get(g)
        out.append(None)
        out.reverse()
        return out

    reads: dict[str, dict[str, list[Edge]]] = {}
    for edge in edges:
        source = nodes.get(edge.source)
        if source is None or edge.source in constants or edge.target not in nodes:
            continue
        # an op or input; or a module drawn closed (render --depth), which stands for
        # the ops inside it
        if source.data.get("kind") not in (fmt.KIND_OP, fmt.KIND_INPUT, fmt.KIND_MODULE) \
                or source.graph is not None:
            continue
        reads.setdefault(edge.source, {}).setdefault(edge.target, []).append(edge)
    out = []
    for source_id, consumers in reads.items():
        if len(consumers) < 2:
            continue
        chains = {t: chain(t) for t in consumers}
        # only modules count: a value read inside an op's subgraphs keeps its edges there
        chains = {t: c for t, c in chains.items()
                  if all(nodes[g].data.get("kind") == fmt.KIND_MODULE for g in c[1:])}
        first: dict[tuple, str] = {}  # groups above -> the first child group with a consumer
        for c in chains.values():
            for d in range(1, len(c)):
                key = tuple(c[:d])
                here = str(c[d])
                if key not in first or rank[here] < rank[first[key]]:
                    first[key] = here
        far = {t: consumers[t] for t, c in chains.items()
               if any(first[tuple(c[:d])] != c[d] for d in range(1, len(c)))}
        if not far:
            continue
        out.append((source_id, far))
    return out


#: A value read more than this many ops below where it is made (on the longest chain of
#: ops between, constants not counted) gets a reference box beside the op reading it.
FAR = 5


def _far_reads(doc: Document, nodes: dict[str, Node], edges: list[Edge], entered: set[str],
               shared: list[tuple[str, dict[str, list[Edge]]]]
               ) -> list[tuple[str, dict[str, list[Edge]]]]:
    """The values other than constants read far below where they are made, each with
    those far consumers and their edges (consumers that already get boxes, ``shared``,
    left out). Far: more than :data:`FAR` ops further down the longest chain of ops
    between; or drawn more than :data:`FAR` ops further down (:func:`_drawn_depths`: a
    module below everything feeding it, what follows a module below all it holds) while
    another consumer keeps a direct edge (when all would go, the one drawn nearest
    keeps it, so the value is still drawn flowing on and its module stays where it is)."""
    def origin(nid: str) -> str:  # the node a reference box stands for
        node = nodes.get(nid)
        return str(node.data.get(fmt.REF_KEY, nid)) if node is not None and \
            node.data.get("kind") == fmt.KIND_REF else nid

    flow = [(origin(e.source), e.target) for e in edges]
    flow = [(s, t) for s, t in flow
            if s in nodes and t in nodes and not _is_constant(nodes[s], entered)]
    chain, drawn = _chain_depths(flow), _drawn_depths(doc, flow)
    boxed = {(s, t) for s, consumers in shared for t in consumers}
    under_modules = _under_modules(doc)
    reads: dict[str, dict[str, list[Edge]]] = {}  # value -> consumer -> its edges
    for edge in edges:
        s, t = edge.source, edge.target
        source = nodes.get(s)
        if source is None or (s, t) in boxed or s not in chain or t not in chain:
            continue
        if source.data.get("kind") not in (fmt.KIND_OP, fmt.KIND_INPUT, fmt.KIND_MODULE) \
                or source.graph is not None or _is_constant(source, entered):
            continue
        reads.setdefault(s, {}).setdefault(t, []).append(edge)
    out = []
    for s, consumers in reads.items():
        movable = [t for t in consumers if under_modules.get(t, False)]
        far = {t for t in movable if chain[t] - chain[s] > FAR}
        rest = [t for t in consumers if t not in far]
        seen = [t for t in rest if t in movable and drawn[t] - drawn[s] > FAR]
        if seen and len(seen) == len(rest):  # the nearest keeps its edge
            seen.remove(min(seen, key=lambda t: drawn[t]))
        far.update(seen)
        if far:
            out.append((s, {t: e for t, e in consumers.items() if t in far}))
    return out


def _chain_depths(flow: list[tuple[str, str]]) -> dict[str, int]:
    """Each node's place on the longest chain of ``flow`` above it (nodes on a cycle
    get none)."""
    succ: dict[str, list[str]] = {}
    waiting: dict[str, int] = {}  # node -> how many of its inputs are still to reach
    for s, t in flow:
        succ.setdefault(s, []).append(t)
        waiting[t] = waiting.get(t, 0) + 1
    depth = {nid: 0 for nid in succ if nid not in waiting}
    ready = list(depth)
    while ready:
        s = ready.pop()
        for t in succ.get(s, ()):
            depth[t] = max(depth.get(t, 0), depth[s] + 1)
            waiting[t] -= 1
            if waiting[t] == 0:
                ready.append(t)
    return {nid: d for nid, d in depth.items() if not waiting.get(nid)}


def _drawn_depths(doc: Document, flow: list[tuple[str, str]]) -> dict[str, int]:
    """How far down each node is drawn, counted in ops, as a layered picture of nested
    modules puts them: inside each group its children follow the data flow between them
    (``flow``, lifted to the children it leaves and enters; a cycle broken at the first
    child in document order), a child group below everything feeding it, and what
    follows it below all it holds."""
    kids: dict[str | None, list[str]] = {None: []}  # group id (None: the top) -> children
    owner: dict[str, str | None] = {}
    level: dict[str, int] = {}
    for node, group_node in doc.iter_nodes():  # a group comes before what it holds
        group = None if group_node is None else group_node.id
        kids[group].append(node.id)
        owner[node.id] = group
        level[node.id] = 0 if group is None else level[group] + 1
        if node.graph is not None:
            kids[node.id] = []
    preds: dict[str, set[str]] = {}  # child -> its siblings feeding it
    for s, t in flow:
        a, b = s, t
        while level[a] > level[b]:
            a = owner[a]  # type: ignore[assignment]
        while level[b] > level[a]:
            b = owner[b]  # type: ignore[assignment]
        while owner[a] != owner[b]:
            a, b = owner[a], owner[b]  # type: ignore[assignment]
        if a != b:
            preds.setdefault(b, set()).add(a)
    depth: dict[str, int] = {}
    _depths_below(None, 0, kids, preds, depth)
    return depth


def _depths_below(group: str | None, start: int, kids: dict[str | None, list[str]],
                  preds: dict[str, set[str]], depth: dict[str, int]) -> int:
    """Set the depths of ``group``'s children from ``start`` down (and of what they
    hold, recursively); return the lowest. (Not a closure: with the collector paused, a
    recursive closure's cycle would keep every dict it sees alive.)"""
    children = kids[group]
    rank = {c: i for i, c in enumerate(children)}
    waiting = {c: len(preds.get(c, ())) for c in children}
    after: dict[str, list[str]] = {}
    for c in children:
        for p in preds.get(c, ()):
            after.setdefault(p, []).append(c)
    ready = [(rank[c], c) for c in children if not waiting[c]]
    heapq.heapify(ready)
    end: dict[str, int] = {}
    lowest, first = start, 0
    while len(end) < len(children):
        if not ready:  # a cycle: release the first child still waiting
            while children[first] in end:
                first += 1
            heapq.heappush(ready, (first, children[first]))
        _rank, c = heapq.heappop(ready)
        if c in end:
            continue
        top = max([start, *(end[p] + 1 for p in preds.get(c, ()) if p in end)])
        depth[c] = top
        end[c] = _depths_below(c, top, kids, preds, depth) if kids.get(c) else top
        lowest = max(lowest, end[c])
        for d in after.get(c, ()):
            waiting[d] -= 1
            if waiting[d] == 0:
                heapq.heappush(ready, (rank[d], d))
    return lowest


def _under_modules(doc: Document) -> dict[str, bool]:
    """Whether each node sits in modules only (not in an op's subgraph)."""
    out: dict[str, bool] = {}
    for node, group in doc.iter_nodes():  # a group comes before what it holds
        out[node.id] = group is None or (out[group.id]
                                         and group.data.get("kind") == fmt.KIND_MODULE)
    return out


def beside_boxes(doc: Document) -> set[str]:
    """The reference boxes that stand for a value other than a constant: a picture draws
    each right beside the op reading it (a constant's box sits above its reader)."""
    nodes = {node.id: node for node, _group in doc.iter_nodes()}
    entered = {e.target for e in doc.iter_edges()}
    out = set()
    for nid, node in nodes.items():
        if node.data.get("kind") != fmt.KIND_REF:
            continue
        named = nodes.get(str(node.data.get(fmt.REF_KEY, "")))
        if named is not None and not _is_constant(named, entered):
            out.add(nid)
    return out


def remove_refs(doc: Document) -> int:
    """Undo :func:`add_refs`: edges leave the nodes the boxes name, the boxes go; return
    how many boxes were removed."""
    points: dict[str, str] = {}
    graphs: list[Graph] = []
    for graph, node in _placed(doc):
        if node.data.get("kind") == fmt.KIND_REF:
            points[node.id] = str(node.data.get(fmt.REF_KEY, ""))
            graphs.append(graph)
    if not points:
        return 0
    named = {node.id for _graph, node in _placed(doc)}
    for rid, target in points.items():
        if target not in named or target in points:
            raise GraphMLFormatError(f"node '{rid}': a reference box must name a node that "
                                     f"is not itself a box in its 'ref' data, not {target!r}")
    for edge in doc.iter_edges():
        if edge.source in points:
            edge.source = points[edge.source]
    for graph in {id(g): g for g in graphs}.values():
        graph.nodes = [n for n in graph.nodes if n.id not in points]
    return len(points)


def _placed(doc: Document):
    """(graph holding it, node) for every node, depth first in document order."""
    stack: list[tuple[Graph, int]] = [(doc.graph, 0)]
    while stack:
        graph, i = stack.pop()
        if i >= len(graph.nodes):
            continue
        node = graph.nodes[i]
        stack.append((graph, i + 1))
        yield graph, node
        if node.graph is not None:
            stack.append((node.graph, 0))


__all__ = ["add_refs", "beside_boxes", "remove_refs"]
