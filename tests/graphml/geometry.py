"""Reading the yEd geometry back out of a GraphML file, and the checks a picture must
pass: no overlapping leaves, children inside their group, few edges through nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from lxml import etree

G = "http://graphml.graphdrawing.org/xmlns"
Y = "http://www.yworks.com/xml/graphml"
NS = {"g": G, "y": Y}

Rect = tuple[float, float, float, float]


@dataclass
class Picture:
    leaves: dict[str, Rect] = field(default_factory=dict)
    groups: dict[str, Rect] = field(default_factory=dict)  # open realizer bounds
    closed: dict[str, Rect] = field(default_factory=dict)  # closed realizer bounds
    parent: dict[str, str | None] = field(default_factory=dict)
    edges: list[tuple[str, str, list[tuple[float, float]]]] = field(default_factory=list)
    layout: str | None = None

    def box(self, nid: str) -> Rect:
        return self.leaves.get(nid) or self.groups[nid]


def _rect(geometry) -> Rect:
    return tuple(float(geometry.get(k)) for k in ("x", "y", "width", "height"))  # type: ignore[return-value]


def read_picture(data: bytes) -> Picture:
    root = etree.fromstring(data)
    pic = Picture()
    for el in root.iter(f"{{{G}}}node"):
        nid = el.get("id")
        owner = el.getparent().getparent()
        pic.parent[nid] = owner.get("id") if owner.tag == f"{{{G}}}node" else None
        shape = el.find("g:data/y:ShapeNode/y:Geometry", NS)
        if shape is not None:
            pic.leaves[nid] = _rect(shape)
            continue
        open_, closed = el.findall("g:data/y:ProxyAutoBoundsNode/y:Realizers/y:GroupNode", NS)
        pic.groups[nid] = _rect(open_.find("y:Geometry", NS))
        pic.closed[nid] = _rect(closed.find("y:Geometry", NS))
    for data in root.findall("g:graph/g:data", NS):
        if data.get("key") == "layout":
            pic.layout = data.text
    for el in root.iter(f"{{{G}}}edge"):
        path = el.find("g:data/y:PolyLineEdge/y:Path", NS)
        s, t = el.get("source"), el.get("target")
        sx, sy, sw, sh = pic.box(s)
        tx, ty, tw, th = pic.box(t)
        points = [(sx + sw / 2 + float(path.get("sx")), sy + sh / 2 + float(path.get("sy")))]
        points += [(float(p.get("x")), float(p.get("y"))) for p in path.findall("y:Point", NS)]
        points.append((tx + tw / 2 + float(path.get("tx")), ty + th / 2 + float(path.get("ty"))))
        pic.edges.append((s, t, points))
    return pic


def overlapping_leaves(pic: Picture) -> list[tuple[str, str]]:
    """Pairs of leaves whose boxes overlap (sweep over x)."""
    items = sorted(pic.leaves.items(), key=lambda kv: kv[1][0])
    active: list[tuple[str, Rect]] = []
    pairs = []
    for nid, (x, y, w, h) in items:
        active = [(a, r) for a, r in active if r[0] + r[2] > x + 0.5]
        for other, (_ox, oy, _ow, oh) in active:
            if oy < y + h - 0.5 and y < oy + oh - 0.5:
                pairs.append((other, nid))
        active.append((nid, (x, y, w, h)))
    return pairs


def outside_parent(pic: Picture) -> list[str]:
    """Nodes not inside their parent group's open bounds."""
    bad = []
    for nid, owner in pic.parent.items():
        if owner is None:
            continue
        x, y, w, h = pic.box(nid)
        gx, gy, gw, gh = pic.groups[owner]
        if not (gx - 0.5 <= x and gy - 0.5 <= y and x + w <= gx + gw + 0.5
                and y + h <= gy + gh + 0.5):
            bad.append(nid)
    return bad


def _hits(p, q, rect: Rect) -> bool:
    """Whether segment p-q passes through the inside of ``rect`` (shrunk by 1 px)."""
    x, y, w, h = rect
    x0, y0, x1, y1 = x + 1, y + 1, x + w - 1, y + h - 1
    (px, py), (qx, qy) = p, q
    t0, t1 = 0.0, 1.0
    dx, dy = qx - px, qy - py
    for d, lo, hi, start in ((dx, x0, x1, px), (dy, y0, y1, py)):
        if abs(d) < 1e-9:
            if not lo < start < hi:
                return False
            continue
        a, b = (lo - start) / d, (hi - start) / d
        a, b = min(a, b), max(a, b)
        t0, t1 = max(t0, a), min(t1, b)
        if t0 >= t1:
            return False
    return True


def edges_through_nodes(pic: Picture) -> list[tuple[str, str]]:
    """Edges whose polyline passes through a leaf that is not one of their ends."""
    cell = 200.0
    grid: dict[tuple[int, int], list[str]] = {}
    for nid, (x, y, w, h) in pic.leaves.items():
        for i in range(int(x // cell), int((x + w) // cell) + 1):
            for j in range(int(y // cell), int((y + h) // cell) + 1):
                grid.setdefault((i, j), []).append(nid)
    bad = []
    for s, t, points in pic.edges:
        hit = False
        for p, q in pairwise(points):
            lo_i, hi_i = sorted((int(p[0] // cell), int(q[0] // cell)))
            lo_j, hi_j = sorted((int(p[1] // cell), int(q[1] // cell)))
            near = {n for i in range(lo_i, hi_i + 1) for j in range(lo_j, hi_j + 1)
                    for n in grid.get((i, j), ())}
            if any(n not in (s, t) and _hits(p, q, pic.leaves[n]) for n in near):
                hit = True
                break
        if hit:
            bad.append((s, t))
    return bad


def columns(pic: Picture) -> int:
    """How many distinct x positions (to 10 px) leaves start at."""
    return len({round(x / 10) for x, _y, _w, _h in pic.leaves.values()})
