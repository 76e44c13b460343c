"""yEd styling: the yFiles graphics the writer adds when ``yed=True``.

Everything here is derived from node and edge data (``kind``, ``label``, ``op_type``,
the edge's dtype and shape); nothing of it is stored in the :class:`~graphml.model.Document`.
Leaves become ``y:ShapeNode``s sized to their label; group nodes (modules, subgraphs)
become ``y:ProxyAutoBoundsNode``s with an open and a closed ``y:GroupNode`` realizer,
so yEd shows them as collapsible groups; edges become ``y:PolyLineEdge``s with an
arrow and a label giving the tensor's dtype and shape.

Geometry is a simple, deterministic initial placement: the children of each graph
stacked top to bottom in document order, groups sized to hold them. It gives yEd
consistent group bounds; users then apply yEd's hierarchical layout.
"""

from __future__ import annotations

import json
import zlib

from modelexport.graphml import format as fmt
from modelexport.graphml.model import Document, Edge, Graph, Node

#: Namespace prefixes declared on the root element when yEd markup is written.
NAMESPACES = {"y": fmt.YFILES_NS, "yed": fmt.YED_NS}

# Label metrics of yEd's default "Dialog" 12 pt font, roughly.
_CHAR_W = 7.0
_LINE_H = 18.0
_PAD = 10.0  # room around a label inside a shape
_GAP = 20.0  # vertical gap between siblings
_INSET = 15.0  # group insets
_HEADER = 22.0  # height of a group's label bar

_OP_FILLS = (
    "#FFCC80", "#A5D6A7", "#90CAF9", "#CE93D8", "#FFAB91", "#80CBC4", "#E6EE9C",
    "#B0BEC5", "#F48FB1", "#FFE082", "#9FA8DA", "#BCAAA4",
)
_KIND_STYLE = {  # kind -> (fill, shape)
    fmt.KIND_INPUT: ("#C8E6C9", "ellipse"),
    fmt.KIND_OUTPUT: ("#FFCDD2", "ellipse"),
    fmt.KIND_INITIALIZER: ("#EEEEEE", "rectangle"),
}
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
        try:
            dims = json.loads(shape)
            shape = "[" + ",".join(str(d) for d in dims) + "]"
        except (ValueError, TypeError):
            pass
    return f"{dtype}{shape}"


def _label_size(text: str) -> tuple[float, float]:
    lines = text.split("\n") or [""]
    width = max(len(line) for line in lines) * _CHAR_W
    return width, len(lines) * _LINE_H


def layout(doc: Document) -> dict[str, tuple[float, float, float, float]]:
    """Initial geometry (x, y, width, height) of every node, by id."""
    boxes: dict[str, tuple[float, float, float, float]] = {}

    def place(graph: Graph, x0: float, y0: float) -> tuple[float, float]:
        y = y0
        width = 0.0
        for node in graph.nodes:
            lw, lh = _label_size(node_text(node))
            if node.graph is not None:
                iw, ih = place(node.graph, x0 + _INSET, y + _HEADER + _INSET)
                w = max(iw + 2 * _INSET, lw + 2 * _PAD, 80.0)
                h = max(ih, 20.0) + _HEADER + 2 * _INSET
            else:
                w = max(lw + 2 * _PAD, 30.0)
                h = max(lh + _PAD, 30.0)
            boxes[node.id] = (x0, y, w, h)
            y += h + _GAP
            width = max(width, w)
        return width, max(y - y0 - _GAP, 0.0)

    place(doc.graph, 0.0, 0.0)
    return boxes


def _fill_of(node: Node) -> tuple[str, str]:
    kind = node.data.get("kind", fmt.KIND_OP)
    if kind in _KIND_STYLE:
        return _KIND_STYLE[kind]
    op_type = str(node.data.get("op_type", ""))
    return _OP_FILLS[zlib.crc32(op_type.encode()) % len(_OP_FILLS)], "roundrectangle"


def node_graphics(node: Node, box: tuple[float, float, float, float]) -> str:
    """The yFiles markup inside a node's ``y_node`` data."""
    x, y, w, h = box
    text = _esc(node_text(node))
    lw, lh = _label_size(node_text(node))
    if node.graph is None:
        fill, shape = _fill_of(node)
        return (
            f'<y:ShapeNode><y:Geometry height="{_f(h)}" width="{_f(w)}" x="{_f(x)}" y="{_f(y)}"/>'
            f'<y:Fill color="{fill}" transparent="false"/>'
            '<y:BorderStyle color="#000000" type="line" width="1.0"/>'
            '<y:NodeLabel alignment="center" autoSizePolicy="content" fontFamily="Dialog" '
            'fontSize="12" fontStyle="plain" modelName="internal" modelPosition="c" '
            f'textColor="#000000" visible="true">{text}</y:NodeLabel>'
            f'<y:Shape type="{shape}"/></y:ShapeNode>'
        )
    kind = node.data.get("kind", fmt.KIND_MODULE)
    if kind in _GROUP_STYLE:
        fill, label_fill, border = _GROUP_STYLE[kind]
    else:  # an op holding subgraphs (If, Loop, Scan): its op colour on the label bar
        fill, label_fill, border = "#FFFFFF", _fill_of(node)[0], "line"
    closed_w = max(lw + 2 * _PAD, 80.0)
    closed_h = max(lh + _PAD, 40.0)

    def realizer(closed: bool) -> str:
        gw, gh = (closed_w, closed_h) if closed else (w, h)
        return (
            f'<y:GroupNode><y:Geometry height="{_f(gh)}" width="{_f(gw)}" x="{_f(x)}" y="{_f(y)}"/>'
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


def edge_graphics(edge: Edge) -> str:
    """The yFiles markup inside an edge's ``y_edge`` data."""
    text = edge_text(edge)
    label = (
        '<y:EdgeLabel alignment="center" fontFamily="Dialog" fontSize="10" '
        'fontStyle="plain" modelName="six_pos" modelPosition="tail" '
        f'textColor="#333333" visible="true">{_esc(text)}</y:EdgeLabel>'
        if text else ""
    )
    return (
        '<y:PolyLineEdge><y:Path sx="0.0" sy="0.0" tx="0.0" ty="0.0"/>'
        '<y:LineStyle color="#000000" type="line" width="1.0"/>'
        f'<y:Arrows source="none" target="standard"/>{label}'
        '<y:BendStyle smoothed="false"/></y:PolyLineEdge>'
    )
