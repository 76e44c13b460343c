"""yEd styling: the yFiles graphics the writer adds when ``yed=True``.

Everything here is derived from node and edge data (``kind``, ``label``, ``op_type``,
the edge's dtype and shape); nothing of it is stored in the :class:`~graphml.model.Document`.
Leaves become ``y:ShapeNode``s sized to their label; group nodes (modules, subgraphs)
become ``y:ProxyAutoBoundsNode``s with an open and a closed ``y:GroupNode`` realizer,
so yEd shows them as collapsible groups; edges become ``y:PolyLineEdge``s with an
arrow and a label giving the tensor's dtype and shape.

Geometry comes from :func:`modelexport.graphml.layout.place` (by default each module
laid out once in layers, alike modules alike): every node's open bounds,
each group's closed size, and each edge's bend points (``y:Path`` / ``y:Point``), so
the file opens in yEd as a readable picture. ``render`` draws the same placement.
"""

from __future__ import annotations

import functools
import json
import zlib
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from modelexport.graphml import format as fmt
from modelexport.graphml import refs
from modelexport.graphml.layout import Box, Placement, Point, Rect, gc_paused, place
from modelexport.graphml.model import Document, Edge, Node

#: Namespace prefixes declared on the root element when yEd markup is written.
NAMESPACES = {"y": fmt.YFILES_NS, "yed": fmt.YED_NS}

# Label metrics of yEd's default "Dialog" 12 pt font, roughly.
_CHAR_W = 7.0
_LINE_H = 18.0
_PAD = 10.0  # room around a label inside a shape

_OP_FILLS = (
    "#FFCC80", "#A5D6A7", "#90CAF9", "#CE93D8", "#FFAB91", "#80CBC4", "#E6EE9C",
    "#B0BEC5", "#F48FB1", "#FFE082", "#9FA8DA", "#BCAAA4",
)
_KIND_STYLE = {  # kind -> (fill, shape)
    fmt.KIND_INPUT: ("#C8E6C9", "ellipse"),
    fmt.KIND_OUTPUT: ("#FFCDD2", "ellipse"),
    fmt.KIND_INITIALIZER: ("#EEEEEE", "rectangle"),
    fmt.KIND_REF: ("#EEEEEE", "rectangle"),  # drawn with a dashed border: see border_of
}
#: ``compare``'s colours by a node's ``diff`` data: (leaf fill, group fill, group label
#: bar). What is the same is grey, so that what differs stands out.
DIFF_COLOURS = {
    "same": ("#EEEEEE", "#F5F5F5", "#E0E0E0"),
    "added": ("#66BB6A", "#E8F5E9", "#66BB6A"),
    "removed": ("#EF5350", "#FFEBEE", "#EF5350"),
    "changed": ("#FFB300", "#FFF8E1", "#FFB300"),
}
#: A call of a folded module's function (domain FUNCTION_DOMAIN): drawn as the module's
#: box, in the module colour with a bold frame, not as one more op.
_CALL_STYLE = ("#E0E0E0", "rectangle")
_GROUP_STYLE = {  # kind -> (fill, label background, border type)
    fmt.KIND_MODULE: ("#F5F5F5", "#E0E0E0", "dashed"),
    fmt.KIND_SUBGRAPH: ("#FFF8E1", "#FFE082", "dotted"),
}


def _esc(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\r", "&#13;"))


def _f(x: float) -> str:
    return f"{x:.1f}"


def node_text(node: Node) -> str:
    """The text yEd shows for a node: its ``label`` data, else its name or id."""
    label = node.data.get("label") or node.data.get("name") or node.id
    return str(label)


def edge_text(edge: Edge) -> str:
    """The text yEd shows on an edge: ``e_label``, else dtype and shape (``FLOAT[1,3]``)."""
    label = edge.data.get("e_label")
    if label:
        return str(label)
    dtype = str(edge.data.get("e_dtype", ""))
    shape = edge.data.get("e_shape", "")
    if isinstance(shape, str) and shape.startswith("["):
        shape = _shape_text(shape)
    return f"{dtype}{shape}"


@functools.lru_cache(maxsize=4096)
def _shape_text(shape: str) -> str:
    """A JSON list of dims as ``[1,3,224]`` (shapes repeat: each is parsed once)."""
    try:
        dims = json.loads(shape)
        return "[" + ",".join(str(d) for d in dims) + "]"
    except (ValueError, TypeError):
        return shape


def label_size(text: str) -> tuple[float, float]:
    """Width and height of a label in yEd's default font, roughly."""
    if "\n" not in text:
        return len(text) * _CHAR_W, _LINE_H
    lines = text.split("\n")
    return max(len(line) for line in lines) * _CHAR_W, len(lines) * _LINE_H


def closed_size(node: Node) -> tuple[float, float]:
    """The size of a group node drawn closed: room for its label."""
    lw, lh = label_size(node_text(node))
    return max(lw + 2 * _PAD, 80.0), max(lh + _PAD, 40.0)


def leaf_size(node: Node) -> tuple[float, float]:
    """The size of a leaf node: its label and some padding."""
    lw, lh = label_size(node_text(node))
    return max(lw + 2 * _PAD, 30.0), max(lh + _PAD, 30.0)


def boxes_of(doc: Document) -> tuple[list[Box], list[Edge]]:
    """The document as boxes to place (sized by their labels), and its edges."""
    beside = refs.beside_boxes(doc)

    def box(node: Node) -> Box:
        if node.graph is None:
            return Box(node.id, *leaf_size(node), beside=node.id in beside)
        return Box(node.id, *closed_size(node), [box(child) for child in node.graph.nodes])

    return [box(node) for node in doc.graph.nodes], list(doc.iter_edges())


def layout(doc: Document, method: str = "auto") -> Placement:
    """The placement of every node and edge of ``doc`` (``method``: see layout.METHODS).

    ``none`` gives a Placement without boxes: the markup then carries sizes only.
    """
    if method == "none":
        return Placement("none", "none (asked for): sizes only, no positions")
    with gc_paused():
        roots, edges = boxes_of(doc)
        return place(roots, [(e.source, e.target) for e in edges], method)


def fill_of(node: Node) -> tuple[str, str]:
    """A leaf's fill colour (by kind, or by op type) and its shape."""
    kind = node.data.get("kind", fmt.KIND_OP)
    diff = DIFF_COLOURS.get(node.data.get("diff"))  # type: ignore[arg-type]
    if kind in _KIND_STYLE:
        return (diff[0], _KIND_STYLE[kind][1]) if diff else _KIND_STYLE[kind]
    if diff:
        return diff[0], "roundrectangle"
    if node.data.get("domain") == fmt.FUNCTION_DOMAIN:
        return _CALL_STYLE
    return _op_fill(str(node.data.get("op_type", ""))), "roundrectangle"


def border_of(node: Node) -> str:
    """A leaf's border type: dashed for a reference box (a constant drawn again beside
    its consumer), a plain line for everything else."""
    return "dashed" if node.data.get("kind") == fmt.KIND_REF else "line"


@functools.lru_cache(maxsize=1024)
def _op_fill(op_type: str) -> str:
    return _OP_FILLS[zlib.crc32(op_type.encode()) % len(_OP_FILLS)]


def _geometry(x: float | None, y: float | None, w: float, h: float) -> str:
    """A ``y:Geometry``; without a placement (``--layout none``) at 0, 0, as yEd's
    schema requires x and y (the root graph's ``layout`` data then says ``none``)."""
    return (f'<y:Geometry height="{h:.1f}" width="{w:.1f}" x="{x or 0.0:.1f}" '
            f'y="{y or 0.0:.1f}"/>')


def group_style(node: Node) -> tuple[str, str, str]:
    """A group node's fill, label-bar colour and border type (line, dashed, dotted)."""
    kind = node.data.get("kind", fmt.KIND_MODULE)
    diff = DIFF_COLOURS.get(node.data.get("diff"))  # type: ignore[arg-type]
    if diff:
        return diff[1], diff[2], _GROUP_STYLE.get(kind, ("", "", "line"))[2]
    if kind in _GROUP_STYLE:
        return _GROUP_STYLE[kind]
    # an op holding subgraphs (If, Loop, Scan): its op colour on the label bar
    return "#FFFFFF", fill_of(node)[0], "line"


def node_graphics(node: Node, box: tuple[float, float, float, float] | None) -> str:
    """The yFiles markup inside a node's ``y_node`` data; ``box``: its open bounds, or
    None to give sizes only (no placement)."""
    text = _esc(node_text(node))
    if node.graph is None:
        x, y, w, h = box if box is not None else (None, None, *leaf_size(node))
        fill, shape = fill_of(node)
        return (
            f'<y:ShapeNode>{_geometry(x, y, w, h)}'
            f'<y:Fill color="{fill}" transparent="false"/>'
            f'<y:BorderStyle color="#000000" type="{border_of(node)}" width="1.0"/>'
            '<y:NodeLabel alignment="center" autoSizePolicy="content" fontFamily="Dialog" '
            'fontSize="12" fontStyle="plain" modelName="internal" modelPosition="c" '
            f'textColor="#000000" visible="true">{text}</y:NodeLabel>'
            f'<y:Shape type="{shape}"/></y:ShapeNode>'
        )
    fill, label_fill, border = group_style(node)
    closed_w, closed_h = closed_size(node)
    x, y, w, h = box if box is not None else (None, None, closed_w, closed_h)

    def realizer(closed: bool) -> str:
        gw, gh = (closed_w, closed_h) if closed else (w, h)
        return (
            f'<y:GroupNode>{_geometry(x, y, gw, gh)}'
            f'<y:Fill color="{fill}" transparent="false"/>'
            f'<y:BorderStyle color="#666666" type="{border}" width="1.0"/>'
            '<y:NodeLabel alignment="left" autoSizePolicy="node_width" '
            f'backgroundColor="{label_fill}" fontFamily="Dialog" fontSize="12" '
            'fontStyle="bold" modelName="internal" modelPosition="t" textColor="#000000" '
            f'visible="true">{text}</y:NodeLabel>'
            '<y:Shape type="roundrectangle"/>'
            f'<y:State closed="{"true" if closed else "false"}" closedHeight="{_f(closed_h)}" '
            f'closedWidth="{_f(closed_w)}" innerGraphDisplayEnabled="false"/>'
            '<y:Insets bottom="15" bottomF="15.0" left="15" leftF="15.0" right="15" '
            'rightF="15.0" top="15" topF="15.0"/></y:GroupNode>'
        )

    return (
        '<y:ProxyAutoBoundsNode><y:Realizers active="0">'
        f"{realizer(False)}{realizer(True)}</y:Realizers></y:ProxyAutoBoundsNode>"
    )


def _centre(box: tuple[float, float, float, float]) -> tuple[float, float]:
    x, y, w, h = box
    return x + w / 2, y + h / 2


#: Edge label metrics (yEd's Dialog 10 pt; render's Helvetica 9 pt is narrower), the
#: gap between a label and its edge, and the grid cell of :class:`LabelPlacer`.
_EDGE_CHAR_W = 6.0
_EDGE_LINE_H = 14.0
_EDGE_GAP = 3.0
_GRID = 96.0
_CELL_ROW = 1 << 32  # a grid cell's key: column * _CELL_ROW + row (rows stay below 2**31)
_RATIOS = (0.5, 0.35, 0.65, 0.2, 0.8)


@dataclass(frozen=True)
class LabelSpot:
    """Where an edge's label sits: ``ratio`` of the way along segment ``segment`` of its
    path, its centre ``distance`` from the line; ``text`` is what fits there (the whole
    label, or its shape alone). ``rect``: the label's bounds, on the right of the line
    as it runs (``left``: the same distance on the other side, kept clear too, since a
    viewer may flip the label there)."""

    text: str
    segment: int
    ratio: float
    distance: float
    rect: Rect
    left: Rect


def edge_label_size(text: str) -> tuple[float, float]:
    """Width and height of an edge label, roughly (the same rule for yEd and render)."""
    return len(text) * _EDGE_CHAR_W + 4.0, _EDGE_LINE_H


class LabelPlacer:
    """Finds, for each edge label, a place on its path where it covers no box: the
    labels then never sit on a node. Boxes (leaves, closed groups) are held in a grid;
    each placed label is added, so labels do not cover one another either."""

    def __init__(self, boxes: Iterable[Rect]) -> None:
        # Compact, as the layout's own structures are (a 100k-node model has ~180k
        # boxes): each box's x, y, w, h in one array; a grid cell, keyed by one int,
        # holds the index of its one box, or a list of them.
        self._rects = array("d")
        self._grid: dict[int, int | list[int]] = {}
        for rect in boxes:
            self._add(rect)

    def _add(self, rect: Rect) -> None:
        x, y, w, h = rect
        index = len(self._rects) // 4
        self._rects.extend((x, y, w, h))
        grid = self._grid
        for i in range(int(x // _GRID), int((x + w) // _GRID) + 1):
            for j in range(int(y // _GRID), int((y + h) // _GRID) + 1):
                key = i * _CELL_ROW + j
                cell = grid.get(key)
                if cell is None:
                    grid[key] = index
                elif isinstance(cell, int):
                    grid[key] = [cell, index]
                else:
                    cell.append(index)

    def clear(self, rect: Rect) -> bool:
        """True when ``rect`` covers no box and no placed label."""
        x, y, w, h = rect
        right, bottom = x + w, y + h
        grid, rects = self._grid, self._rects
        for i in range(int(x // _GRID), int(right // _GRID) + 1):
            for j in range(int(y // _GRID), int(bottom // _GRID) + 1):
                cell = grid.get(i * _CELL_ROW + j)
                if cell is None:
                    continue
                for k in (cell,) if isinstance(cell, int) else cell:
                    ox, oy = rects[4 * k], rects[4 * k + 1]
                    if x < ox + rects[4 * k + 2] and ox < right and \
                            y < oy + rects[4 * k + 3] and oy < bottom:
                        return False
        return True

    def place(self, text: str, path: Sequence[Point] | None) -> LabelSpot | None:
        """The spot for ``text`` on ``path`` (source border to target border), clear
        of every box on both sides of the line; the label's shape alone when the whole
        text fits nowhere; None when neither fits (the label is then left out)."""
        if not text or not path or len(path) < 2:
            return None
        texts = [text]
        if "[" in text[1:]:
            texts.append(text[text.index("["):])
        last = len(path) - 1
        lengths = [_length(path[i], path[i + 1]) for i in range(last)]
        segments = (sorted(range(last), key=lambda i: (-lengths[i], abs(2 * i + 1 - last)))
                    if last > 1 else [0])
        for candidate in texts:
            w, h = edge_label_size(candidate)
            for i in segments:
                length = lengths[i]
                if length < 1.0:
                    continue
                (ax, ay), (bx, by) = path[i], path[i + 1]
                dx, dy = (bx - ax) / length, (by - ay) / length
                nx, ny = -dy, dx  # the right of the line as it runs, y pointing down
                reach = abs(nx) * w / 2 + abs(ny) * h / 2 + _EDGE_GAP
                # both sides at once: the box around the two places
                ux, uy = abs(nx) * reach + w / 2, abs(ny) * reach + h / 2
                for ratio in _RATIOS if length > 2 * h else _RATIOS[:1]:
                    px, py = ax + (bx - ax) * ratio, ay + (by - ay) * ratio
                    if self.clear((px - ux, py - uy, 2 * ux, 2 * uy)):
                        right = (px + nx * reach - w / 2, py + ny * reach - h / 2, w, h)
                        left = (px - nx * reach - w / 2, py - ny * reach - h / 2, w, h)
                        self._add(right)
                        return LabelSpot(candidate, i, ratio, reach, right, left)
        return None


def _length(a: Point, b: Point) -> float:
    return ((b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2) ** 0.5


#: The height of a group's title bar (its name, at the top of the open group).
TITLE_H = 20.0


def title_bar(node: Node, box: Rect) -> Rect:
    """Where an open group's name is written (top left of ``box``, in bold): labels
    keep off it too."""
    x, y, w, _h = box
    return x, y, min(w, label_size(node_text(node))[0] * 1.2 + 2 * _PAD), TITLE_H


def label_placer(nodes: Iterable[Node], boxes: Mapping[str, Rect]) -> LabelPlacer:
    """A :class:`LabelPlacer` for ``nodes`` placed at ``boxes``: clear of the leaves (a
    module drawn closed is one) and of the open groups' names."""
    return LabelPlacer(boxes[node.id] if node.graph is None
                       else title_bar(node, boxes[node.id])
                       for node in nodes if node.id in boxes)


def _edge_label(spot: LabelSpot | None) -> str:
    """An edge's label markup, at ``spot`` (None: no label).

    yEd's smart edge label model holds the spot as it is: a segment of the path, the
    ratio along it and the distance from it, so the label sits where
    :class:`LabelPlacer` found room, clear of every node, and follows the edge when a
    node is moved.
    """
    if spot is None:
        return ""
    return ('<y:EdgeLabel alignment="center" configuration="AutoFlippingLabel" '
            'distance="2.0" fontFamily="Dialog" fontSize="10" fontStyle="plain" '
            'hasBackgroundColor="false" hasLineColor="false" modelName="custom" '
            'preferredPlacement="anywhere" ratio="0.5" textColor="#333333" '
            f'visible="true">{_esc(spot.text)}<y:LabelModel><y:SmartEdgeLabelModel '
            'autoRotationEnabled="false" defaultAngle="0.0" defaultDistance="10.0"/>'
            '</y:LabelModel><y:ModelParameter><y:SmartEdgeLabelModelParameter angle="0.0" '
            f'distance="{spot.distance:.1f}" distanceToCenter="true" position="right" '
            f'ratio="{spot.ratio}" segment="{spot.segment}"/></y:ModelParameter>'
            '<y:PreferredPlacementDescriptor angle="0.0" angleOffsetOnRightSide="0" '
            'angleReference="absolute" angleRotationOnRightSide="co" distance="-1.0" '
            'frozen="true" placement="anywhere" side="anywhere" '
            'sideReference="relative_to_edge_flow"/></y:EdgeLabel>')


@functools.lru_cache(maxsize=4096)
def _unplaced_label(text: str) -> str:
    """An edge's label without a placement: yEd's side slider model, halfway along,
    to the right (a layout run in yEd places it)."""
    if not text:
        return ""
    return ('<y:EdgeLabel alignment="center" distance="2.0" fontFamily="Dialog" '
            'fontSize="10" fontStyle="plain" hasBackgroundColor="false" '
            'hasLineColor="false" modelName="side_slider" preferredPlacement="right" '
            f'ratio="0.5" textColor="#333333" visible="true">{_esc(text)}</y:EdgeLabel>')


def edge_graphics(edge: Edge, path: list[tuple[float, float]] | None = None,
                  source: tuple[float, float, float, float] | None = None,
                  target: tuple[float, float, float, float] | None = None,
                  labels: LabelPlacer | None = None) -> str:
    """The yFiles markup inside an edge's ``y_edge`` data.

    ``path`` (from the source's border to the target's) becomes the ports (offsets
    from the ends' centres, ``source`` and ``target`` bounds) and the bends between.
    ``labels`` places the edge's label on the path clear of every node; where there is
    no room (or no ``labels``) the edge has no label (its data still says dtype and
    shape). Without a path (``--layout none``) the label is left to yEd's layouter.
    """
    spot = None
    if path and source is not None and target is not None:
        (sx, sy), (tx, ty) = _centre(source), _centre(target)
        bends = "".join([f'<y:Point x="{x:.1f}" y="{y:.1f}"/>' for x, y in path[1:-1]])
        geometry = (f'<y:Path sx="{path[0][0] - sx:.1f}" sy="{path[0][1] - sy:.1f}" '
                    f'tx="{path[-1][0] - tx:.1f}" ty="{path[-1][1] - ty:.1f}">{bends}</y:Path>')
        if labels is not None:
            spot = labels.place(edge_text(edge), path)
        label = _edge_label(spot)
    else:
        geometry = '<y:Path sx="0.0" sy="0.0" tx="0.0" ty="0.0"/>'
        label = _unplaced_label(edge_text(edge))
    return (
        f'<y:PolyLineEdge>{geometry}'
        '<y:LineStyle color="#000000" type="line" width="1.0"/>'
        f'<y:Arrows source="none" target="standard"/>{label}'
        '<y:BendStyle smoothed="false"/></y:PolyLineEdge>'
    )
