"""The yEd geometry a GraphML file holds, read back: where each node and edge was drawn.

:mod:`modelexport.graphml.yed` writes it (``y:Geometry`` of each node's open shape,
``y:Path`` ports and ``y:Point`` bends of each edge); :func:`read_geometry` gives it
back as a :class:`~modelexport.graphml.layout.Placement`, so ``render`` draws the file
as yEd shows it instead of laying it out again. The Document stays free of it: the
reader skips yFiles markup, and this is a second, separate pass over the file.

A file without geometry gives None: one written without yEd markup, with
``--layout none`` (its ``x``/``y`` are zeros, not a placement), or any node without a
position.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lxml import etree

from modelexport.graphml import format as fmt
from modelexport.graphml.errors import GraphMLParseError
from modelexport.graphml.layout import Placement, Point, Rect
from modelexport.graphml.reader import _PARSER_OPTIONS, _syntax_error, check_file

_G = f"{{{fmt.GRAPHML_NS}}}"
_Y = f"{{{fmt.YFILES_NS}}}"
_NODE, _EDGE, _DATA, _KEY, _GRAPH = (_G + t for t in ("node", "edge", "data", "key", "graph"))


@dataclass
class StoredGeometry:
    """Open bounds by node id and bend polylines by edge id, as the file holds them,
    and how they were placed (the root graph's ``layout`` data)."""

    method: str
    boxes: dict[str, Rect] = field(default_factory=dict)
    # edge id -> (source id, target id, source port offset, bends, target port offset)
    edges: dict[str, tuple[str, str, Point, list[Point], Point]] = field(default_factory=dict)

    def path(self, edge_id: str) -> list[Point] | None:
        """The polyline of an edge, from its source's border to its target's; None when
        the file gives none or an end has no box."""
        found = self.edges.get(edge_id)
        if found is None:
            return None
        source, target, (sx, sy), bends, (tx, ty) = found
        if source not in self.boxes or target not in self.boxes:
            return None
        (ax, ay), (bx, by) = _centre(self.boxes[source]), _centre(self.boxes[target])
        return [(ax + sx, ay + sy), *bends, (bx + tx, by + ty)]

    def placement(self, edge_ids: list[str]) -> Placement:
        """A Placement of the stored boxes, its paths those of ``edge_ids`` in order."""
        return Placement(f"stored ({self.method})", "the geometry stored in the file",
                         dict(self.boxes), [self.path(e) for e in edge_ids])


def _centre(box: Rect) -> Point:
    x, y, w, h = box
    return x + w / 2, y + h / 2


def _float(el: etree._Element, name: str) -> float | None:
    text = el.get(name)
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _node_box(data: etree._Element) -> Rect | None:
    """Open bounds from a node's graphics: a ShapeNode's geometry, or the open realizer
    of a group (the GroupNode whose state is not closed)."""
    shape = next(iter(data), None)
    if shape is None:
        return None
    geometry = None
    if shape.tag == _Y + "ProxyAutoBoundsNode":
        for group in shape.iter(_Y + "GroupNode"):
            state = group.find(_Y + "State")
            if state is None or state.get("closed") != "true":
                geometry = group.find(_Y + "Geometry")
                break
    else:
        geometry = shape.find(_Y + "Geometry")
    if geometry is None:
        return None
    values = [_float(geometry, a) for a in ("x", "y", "width", "height")]
    if any(v is None for v in values):
        return None
    return values[0], values[1], values[2], values[3]  # type: ignore[return-value]


def _edge_path(data: etree._Element) -> tuple[Point, list[Point], Point] | None:
    path = data.find(f".//{_Y}Path")
    if path is None:
        return None
    ends = [_float(path, a) or 0.0 for a in ("sx", "sy", "tx", "ty")]
    bends = []
    for point in path.iter(_Y + "Point"):
        x, y = _float(point, "x"), _float(point, "y")
        if x is None or y is None:
            return None
        bends.append((x, y))
    return (ends[0], ends[1]), bends, (ends[2], ends[3])


def read_geometry(path: str | os.PathLike) -> StoredGeometry | None:
    """The yEd geometry stored in the GraphML file at ``path``, or None if it has none.

    Streams the file (read as untrusted, as :func:`~modelexport.graphml.read_graphml`
    does); raises :class:`GraphMLParseError` for a file that is not well-formed XML.
    """
    check_file(path)
    graphics: dict[str, str] = {}  # key id -> "nodegraphics" | "edgegraphics"
    layout_keys: set[str] = set()
    stored = StoredGeometry("")
    positioned = True
    events = etree.iterparse(str(path), events=("end",), tag=(_KEY, _NODE, _EDGE, _GRAPH),
                             **_PARSER_OPTIONS)
    try:
        for _event, el in events:
            if el.tag == _KEY:
                kind = el.get("yfiles.type")
                if kind in ("nodegraphics", "edgegraphics"):
                    graphics[el.get("id", "")] = kind
                elif el.get("for") == "graph" and el.get("attr.name") == fmt.LAYOUT_KEY:
                    layout_keys.add(el.get("id", ""))
                continue
            if el.tag == _GRAPH:
                parent = el.getparent()
                if parent is not None and parent.tag == _G + "graphml":
                    for data in el.findall(_DATA):
                        if data.get("key") in layout_keys:
                            stored.method = (data.text or "").strip()
                continue
            for data in el.findall(_DATA):
                kind = graphics.get(data.get("key", ""))
                if kind == "nodegraphics" and el.tag == _NODE:
                    box = _node_box(data)
                    if box is None:
                        positioned = False
                    else:
                        stored.boxes[el.get("id", "")] = box
                elif kind == "edgegraphics" and el.tag == _EDGE:
                    found = _edge_path(data)
                    if found is not None:
                        stored.edges[el.get("id", "")] = (el.get("source", ""),
                                                          el.get("target", ""), *found)
            if el.tag == _EDGE:
                el.clear(keep_tail=False)
            else:  # a node: its graphics are read; its nested graph was read already
                for data in el.findall(_DATA):
                    el.remove(data)
    except etree.XMLSyntaxError as e:
        raise _syntax_error(e) from e
    except ValueError as e:
        raise GraphMLParseError(f"cannot parse GraphML: {e}") from e
    if not positioned or not stored.boxes or stored.method in ("", "none"):
        return None
    return stored


__all__ = ["StoredGeometry", "read_geometry"]
