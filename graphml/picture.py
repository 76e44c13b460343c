"""A picture of a Document (SVG, PNG or PDF), drawn with the yEd markup's styling and
placed by the same :func:`modelexport.graphml.layout.place`.

:func:`draw` picks what to show (``module``: one module's subtree; ``depth``: modules
deeper than that drawn closed, one box with the instance name and op count), sizes the
boxes as :mod:`modelexport.graphml.yed` does, places them, and hands Graphviz a graph
whose positions are all given (its ``nop2`` engine), so Graphviz only draws: cairo for
PNG and PDF, its own SVG writer for SVG. The same Document gives the same bytes.

Edge labels go where :class:`~modelexport.graphml.yed.LabelPlacer` finds room clear of
every box, as in the yEd markup. With ``depth``, closed modules are boxes of a copy of
the document on which reference boxes are made again, so a constant read by many
closed boxes is drawn beside each of them (no line across the picture to each).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from modelexport.graphml import format as fmt
from modelexport.graphml import refs, yed
from modelexport.graphml.errors import GraphMLError
from modelexport.graphml.geometry import StoredGeometry
from modelexport.graphml.layout import Box, Placement, Rect, dot_quote, place, run_graphviz
from modelexport.graphml.model import Document, Edge, Graph, Node

#: Picture formats by file suffix.
FORMATS = ("svg", "png", "pdf")

#: cairo's PDF creation time: replaced by one of the same length (the xref offsets hold).
_PDF_DATE = re.compile(rb"/CreationDate \(D:\d{14}Z\)")
#: Graphviz's cairo renderer cannot make a bitmap side longer than this (points).
_MAX_SIDE = 30000.0
_FONT = "Helvetica"


@dataclass
class Picture:
    """What :func:`draw` drew: the bytes and what they show."""

    data: bytes
    format: str
    boxes: int  # nodes drawn, groups included
    edges: int
    closed: int  # groups drawn closed
    layout: str  # how they were placed
    width: float  # points
    height: float
    # where leaves and closed groups were drawn, and the edge labels (points, y down,
    # 10 pt margin included): no label covers a box
    box_rects: list[Rect] = field(default_factory=list)
    label_rects: list[Rect] = field(default_factory=list)


@dataclass
class _Shown:
    """The part of the document to draw."""

    roots: list[Box]
    edges: list[tuple[str, str, str]]  # source, target, label
    nodes: dict[str, Node]
    closed: dict[str, str]  # group id -> its closed label
    edge_ids: list[str | None] = field(default_factory=list)  # None: lifted to a closed box


def _ops_below(node: Node) -> int:
    count, stack = 0, [node]
    while stack:
        n = stack.pop()
        if n.graph is None:
            count += n.data.get("kind", fmt.KIND_OP) == fmt.KIND_OP
        else:
            stack.extend(n.graph.nodes)
    return count


def _select(doc: Document, depth: int | None, module: str | None) -> _Shown:
    tops = doc.graph.nodes
    if module is not None:
        found = [n for n, _ in doc.iter_nodes() if n.graph is not None and n.id == module]
        if not found:
            tags = [str(n.data.get("hierarchy_tag")) for n, _ in doc.iter_nodes()
                    if n.graph is not None and n.data.get("kind") == fmt.KIND_MODULE]
            tag, why = fmt.resolve_tag(module, tags)
            if tag is None:
                raise GraphMLError(f"{why}; give a module's hierarchy tag")
            found = [n for n, _ in doc.iter_nodes()
                     if n.graph is not None and n.data.get("hierarchy_tag") == tag]
        tops = found[:1]
    # A module's depth counts the model's own module as 0 (as analyze does): the chosen
    # module starts at its own depth, so --depth means the same with or without --module.
    first = 0
    if module is not None:
        tag = tops[0].data.get("hierarchy_tag")
        first = max(str(tag).count("/") - 1, 0) if isinstance(tag, str) and tag else 0
    closed: dict[str, str] = {}
    lifted: set[str] = set()
    if depth is not None:
        doc, closed, lifted = _closed_view(doc, {n.id for n in tops}, first, depth)
        # the whole model: what is at the top of the view (its reference boxes are made
        # again, so they may differ); one module: that module in the view
        tops = doc.graph.nodes if module is None else [_find(doc, n.id) for n in tops]
    shown = _Shown([], [], {}, closed)

    def box(node: Node) -> Box:
        shown.nodes[node.id] = node
        if node.id in closed:
            lw, lh = yed.label_size(closed[node.id])  # bold: a little wider than plain
            return Box(node.id, max(lw * 1.2 + 20.0, 80.0), max(lh + 10.0, 40.0))
        if node.graph is None:
            return Box(node.id, *yed.leaf_size(node), beside=node.id in beside)
        return Box(node.id, *yed.closed_size(node), [box(c) for c in node.graph.nodes])

    beside = refs.beside_boxes(doc)
    shown.roots = [box(n) for n in tops]
    seen: set[tuple[str, str, str]] = set()
    for edge in doc.iter_edges():
        s, t = edge.source, edge.target
        if s not in shown.nodes or t not in shown.nodes:
            continue
        direct = edge.id not in lifted
        item = (s, t, yed.edge_text(edge) if direct else "")
        if item not in seen:
            seen.add(item)
            shown.edges.append(item)
            shown.edge_ids.append(edge.id if direct else None)
    return shown


def _find(doc: Document, node_id: str) -> Node:
    return next(n for n, _ in doc.iter_nodes() if n.id == node_id)


def _copy(graph: Graph) -> Graph:
    """The graph's structure copied (graphs, group nodes, edges), leaves and data shared:
    what :func:`~modelexport.graphml.refs.remove_refs` and ``add_refs`` change."""
    nodes = [n if n.graph is None else Node(n.id, n.data, _copy(n.graph)) for n in graph.nodes]
    edges = [Edge(e.id, e.source, e.target, e.data) for e in graph.edges]
    return Graph(graph.id, nodes, edges, graph.data, graph.edgedefault)


def _closed_view(doc: Document, tops: set[str], first: int,
                 depth: int) -> tuple[Document, dict[str, str], set[str]]:
    """A copy of ``doc`` in which each module below ``depth`` (inside ``tops``, the top
    level at ``first``) is one box: its label (instance name and op count), what it
    holds gone, edges into and out of it lifted to it (their ids: the lifted ones).

    Reference boxes are made again for what is left (:func:`refs.add_refs`): a constant
    that closed boxes read is drawn beside each of them, as it is beside each op that
    reads it, instead of one line from the constant to every closed box that uses it.
    """
    view = Document(_copy(doc.graph), doc.keys)
    refs.remove_refs(view)  # boxes hidden in a closed module give their edges back
    closed: dict[str, str] = {}
    owner: dict[str, str] = {}  # node below a closed module -> that module

    def hide(node: Node, by: str) -> None:
        owner[node.id] = by
        if node.graph is not None:
            for child in node.graph.nodes:
                hide(child, by)

    def close(graph: Graph, level: int | None) -> None:
        for i, node in enumerate(graph.nodes):
            here = first if node.id in tops else level
            if node.graph is None:
                continue
            if here is not None and here > depth:
                ops = _ops_below(node)
                closed[node.id] = f"{yed.node_text(node)}\n{ops} op{'' if ops == 1 else 's'}"
                for child in node.graph.nodes:
                    hide(child, node.id)
                graph.nodes[i] = Node(node.id, node.data)
            else:
                close(node.graph, None if here is None else here + 1)

    close(view.graph, None)
    lifted: set[str] = set()
    kept: set[tuple[str, str]] = set()
    for graph in _graphs(view.graph):
        edges = []
        for edge in graph.edges:
            s, t = owner.get(edge.source, edge.source), owner.get(edge.target, edge.target)
            if s == t or (s, t) in kept and (s, t) != (edge.source, edge.target):
                continue
            if (s, t) != (edge.source, edge.target):
                kept.add((s, t))
                lifted.add(edge.id)
            edges.append(Edge(edge.id, s, t, edge.data))
        graph.edges = edges
    refs.add_refs(view)
    return view, closed, lifted


def _graphs(graph: Graph):
    yield graph
    for node in graph.nodes:
        if node.graph is not None:
            yield from _graphs(node.graph)


def _n(x: float) -> str:
    return f"{x:.2f}"


def _bezier(points: list[tuple[float, float]], height: float) -> str:
    """A polyline as Graphviz's edge ``pos``: cubic pieces with control points on the
    lines, the last piece stopping short for the arrowhead."""
    pts = [(x, height - y) for x, y in points]
    (ax, ay), (bx, by) = pts[-2], pts[-1]
    length = max(((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5, 1e-6)
    cut = min(8.0, length / 2) / length
    stop = (bx - (bx - ax) * cut, by - (by - ay) * cut)
    body = pts[:-1] + [stop]
    spline = [body[0]]
    for p, q in zip(body, body[1:], strict=False):
        spline += [p, q, q]
    return f"e,{_n(bx)},{_n(by)} " + " ".join(f"{_n(x)},{_n(y)}" for x, y in spline)


def _straight(source: tuple, target: tuple) -> list[tuple[float, float]]:
    sx, sy, sw, sh = source
    tx, ty, tw, th = target
    if ty >= sy + sh:  # target below: bottom to top
        return [(sx + sw / 2, sy + sh), (tx + tw / 2, ty)]
    return [(sx + sw / 2, sy + sh / 2), (tx + tw / 2, ty + th / 2)]


@dataclass
class _Dot:
    """The DOT text of a picture, the boxes drawn solid (leaves, closed groups) and
    where the edge labels went, in the picture's points (y down)."""

    text: str
    boxes: list[Rect]
    labels: list[Rect]


def _dot_of(shown: _Shown, placement: Placement, zoom: float = 1.0) -> _Dot:
    width, height = placement.size
    width, height = width + 20, height + 20
    boxes = {k: (x + 10, y + 10, w, h) for k, (x, y, w, h) in placement.boxes.items()}
    scale = min(zoom, _MAX_SIDE / max(width, height))
    out = [
        "digraph G {",
        f'graph [bb="0,0,{_n(width)},{_n(height)}", dpi=72, pad=0, '
        f'size="{_n(width * scale / 72)},{_n(height * scale / 72)}", bgcolor=white, '
        "outputorder=nodesfirst];",
        f'node [fixedsize=true, fontname="{_FONT}", fontsize=12, penwidth=1];',
        f'edge [fontname="{_FONT}", fontsize=9, fontcolor="#333333", arrowsize=0.7];',
    ]
    order: list[str] = []  # groups before what they hold, so children are drawn on top
    stack = list(reversed(shown.roots))
    while stack:
        box = stack.pop()
        order.append(box.id)
        if box.children:
            stack.extend(reversed(box.children))
    for nid in order:
        node = shown.nodes[nid]
        x, y, w, h = boxes[nid]
        common = (f"pos=\"{_n(x + w / 2)},{_n(height - y - h / 2)}\", "
                  f"width={w / 72:.4f}, height={h / 72:.4f}")
        if node.graph is not None or nid in shown.closed:
            fill, _label_fill, border = yed.group_style(node)
            style = "rounded,filled" + (",dashed" if border == "dashed" else
                                        ",dotted" if border == "dotted" else "")
            if nid in shown.closed:
                label = shown.closed[nid]
                out.append(f'{dot_quote(nid)} [shape=box, style="{style}", fillcolor="{fill}", '
                           f'color="#666666", label={dot_quote(label)}, fontname="{_FONT} Bold", '
                           f"{common}];")
            else:
                out.append(f'{dot_quote(nid)} [shape=box, style="{style}", fillcolor="{fill}", '
                           f'color="#666666", label={dot_quote(yed.node_text(node))}, labelloc=t, '
                           f'labeljust=l, fontname="{_FONT} Bold", {common}];')
            continue
        fill, shape = yed.fill_of(node)
        dot_shape = {"ellipse": "ellipse", "rectangle": "box"}.get(shape, "box")
        style = "filled" if shape != "roundrectangle" else "rounded,filled"
        if yed.border_of(node) == "dashed":
            style += ",dashed"
        out.append(f'{dot_quote(nid)} [shape={dot_shape}, style="{style}", fillcolor="{fill}", '
                   f"label={dot_quote(yed.node_text(node))}, {common}];")
    paths = placement.paths
    solid = [boxes[nid] for nid in order if shown.nodes[nid].graph is None]  # closed too
    placer = yed.label_placer((shown.nodes[nid] for nid in order), boxes)
    labels: list[Rect] = []
    for i, (s, t, label) in enumerate(shown.edges):
        points = paths[i] if i < len(paths) else None
        if points is None:
            points = [(px, py) for px, py in _straight(placement.boxes[s], placement.boxes[t])]
        points = [(px + 10, py + 10) for px, py in points]
        attrs = [f'pos="{_bezier(points, height)}"']
        spot = placer.place(label, points)
        if spot is not None:  # else no room clear of the boxes: no label
            x, y, w, h = spot.rect
            labels.append(spot.rect)
            attrs.append(f"label={dot_quote(spot.text)}, "
                         f'lp="{_n(x + w / 2)},{_n(height - y - h / 2)}"')
        out.append(f"{dot_quote(s)} -> {dot_quote(t)} [{', '.join(attrs)}];")
    out.append("}")
    return _Dot("\n".join(out), solid, labels)


def _stored_placement(shown: _Shown, geometry: StoredGeometry) -> Placement | None:
    """The stored geometry of what is shown, moved to the origin; None when some shown
    box has no stored position."""
    boxes = {nid: geometry.boxes.get(nid) for nid in shown.nodes}
    if any(b is None for b in boxes.values()):
        return None
    left = min(b[0] for b in boxes.values())  # type: ignore[index]
    top = min(b[1] for b in boxes.values())  # type: ignore[index]
    placement = geometry.placement([e or "" for e in shown.edge_ids])
    placement.boxes = {nid: (x - left, y - top, w, h)
                       for nid, (x, y, w, h) in boxes.items()}  # type: ignore[misc]
    placement.paths = [None if p is None else [(x - left, y - top) for x, y in p]
                       for p in placement.paths]
    return placement


def draw(doc: Document, output_format: str, *, depth: int | None = None,
         module: str | None = None, layout: str = "auto",
         geometry: StoredGeometry | None = None, scale: float = 1.0,
         progress: Callable[[str], None] | None = None) -> Picture:
    """Draw ``doc`` as ``output_format`` (svg, png, pdf).

    ``depth``: modules deeper than this are drawn closed, each one box with its instance
    name and op count (the top-level module, the model itself, is at depth 0, as
    ``analyze`` counts); ``module``: draw only the module with this hierarchy tag (or
    node id) and what it holds. ``layout`` as for the GraphML (``auto``, ``dot``,
    ``outline``).

    ``geometry``: the geometry stored in the GraphML the Document was read from
    (:func:`~modelexport.graphml.geometry.read_geometry`); what is shown is drawn where
    it stands there, unless ``depth`` closes modules (closed boxes have no stored place:
    then it is laid out again, by ``layout``).

    ``scale``: draw at this fraction (0 < scale <= 1) of the natural size, one point
    per pixel in a PNG: a tall picture (a deep model) stays small on disk.
    """
    progress = progress or (lambda step: None)
    if output_format not in FORMATS:
        raise GraphMLError(f"cannot draw {output_format!r}; use one of {', '.join(FORMATS)}")
    if not 0.0 < scale <= 1.0:
        raise GraphMLError(f"scale {scale} is not in (0, 1]; give a fraction such as 0.5")
    if depth is not None and depth < 0:
        raise GraphMLError(f"depth {depth} is negative; give 0 or more")
    shown = _select(doc, depth, module)
    placement = None
    if geometry is not None and not shown.closed:
        placement = _stored_placement(shown, geometry)
    if placement is None:
        progress(f"laying out {len(shown.nodes):,} boxes")
        placement = place(shown.roots, [(s, t) for s, t, _ in shown.edges],
                          "auto" if layout == "none" else layout)
    progress(f"drawing {output_format.upper()}")
    dot = _dot_of(shown, placement, scale)
    try:
        data = run_graphviz(dot.text, "nop2", output_format)
    except ValueError as e:
        raise GraphMLError(f"Graphviz could not draw the picture: {e}") from e
    if output_format == "pdf":  # cairo stamps the time; the same input gives the same bytes
        data = _PDF_DATE.sub(b"/CreationDate (D:19700101000000Z)", data)
    width, height = placement.size
    return Picture(data, output_format, len(shown.nodes), len(shown.edges),
                   len(shown.closed), placement.method, width, height, dot.boxes, dot.labels)

