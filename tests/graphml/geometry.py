"""Reading the yEd geometry back out of a GraphML file, and the checks a picture must
pass (SPEC §10, issue 19): no overlapping leaves, children inside their group, few
edges through nodes, few edges pointing upward, few very long edges, repeated layers
stacked in index order, alike layers drawn alike, and no edge label over a node (in the
file, and in what ``render`` drew: :func:`labels_over_boxes`).

Everything here reads the file as written (the ``y:Geometry`` of every node, the
``y:Path`` of every edge) and knows nothing of model families: repeated layers are
sibling modules whose tags differ only in a trailing ``.N``, and "alike" means the
same kinds and op types in the same structure.

Used by the tests and by ``python -m bench.layout_quality``.
"""

from __future__ import annotations

import io
import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from lxml import etree

G = "http://graphml.graphdrawing.org/xmlns"
Y = "http://www.yworks.com/xml/graphml"
NS = {"g": G, "y": Y}

Rect = tuple[float, float, float, float]
Point = tuple[float, float]

#: Targets of issue 19 / SPEC §10, as fractions.
THROUGH_TARGET = 0.05  # edges through a node that is not their end: at most
UPWARD_TARGET = 0.05  # edges whose target sits above their source: at most
LONG_TARGET = 0.05  # edges longer than LONG_FACTOR x the median edge: at most
LONG_FACTOR = 5.0
STACKED_TARGET = 0.90  # consecutive repeated layers with the later one below: at least
ALIKE_TARGET = 0.80  # alike repeated layers drawn alike: at least
ALIKE_TOLERANCE = 1.0  # pt: "the same relative position"

#: Node kinds (and op types) whose out-edges carry constants: initializers, Constant
#: ops. The long-edge statistic is also reported without the edges leaving them. A
#: reference box (kind ``ref``) is judged as the node its ``ref`` data names: its edges
#: are real edges of the picture, and carry a constant when that node is one.
CONSTANT_KINDS = frozenset({"initializer"})
CONSTANT_OPS = frozenset({"Constant"})

_INDEXED = re.compile(r"^(.*)\.(\d+)$")


@dataclass
class Picture:
    """The geometry of a GraphML file, and the node data the checks need."""

    leaves: dict[str, Rect] = field(default_factory=dict)
    groups: dict[str, Rect] = field(default_factory=dict)  # open realizer bounds
    closed: dict[str, Rect] = field(default_factory=dict)  # closed realizer bounds
    parent: dict[str, str | None] = field(default_factory=dict)
    edges: list[tuple[str, str, list[Point]]] = field(default_factory=list)
    layout: str | None = None
    kind: dict[str, str] = field(default_factory=dict)
    op_type: dict[str, str] = field(default_factory=dict)
    tag: dict[str, str] = field(default_factory=dict)  # hierarchy_tag, where written
    label: dict[str, str] = field(default_factory=dict)
    ref: dict[str, str] = field(default_factory=dict)  # reference box -> the node it names
    order: list[str] = field(default_factory=list)  # every node id, in document order
    # edge labels placed on their path: (edge index, text, segment, ratio, distance of
    # the label's centre from the line), as yEd's smart edge label model holds them
    edge_labels: list[tuple[int, str, int, float, float]] = field(default_factory=list)

    def box(self, nid: str) -> Rect:
        return self.leaves.get(nid) or self.groups[nid]

    @property
    def boxes(self) -> int:
        return len(self.leaves) + len(self.groups)

    def children(self) -> dict[str | None, list[str]]:
        """Each node's children (None: the top level), in document order."""
        kids: dict[str | None, list[str]] = {}
        for nid in self.order:
            kids.setdefault(self.parent.get(nid), []).append(nid)
        return kids


def _rect(geometry) -> Rect:
    if geometry is None or geometry.get("x") is None:
        raise ValueError("the GraphML has no positions (written with --layout none?)")
    return tuple(float(geometry.get(k)) for k in ("x", "y", "width", "height"))  # type: ignore[return-value]


def read_picture(data: bytes) -> Picture:
    """The picture in GraphML ``data`` (bytes of a whole file)."""
    return _read(etree.iterparse(io.BytesIO(data), events=("end",), huge_tree=True))


def read_picture_file(path: str | Path) -> Picture:
    """The picture in the GraphML file at ``path``, streamed: files of 100,000 nodes
    are read without holding their whole XML tree."""
    return _read(etree.iterparse(str(path), events=("end",), huge_tree=True))


def _read(events: Iterable) -> Picture:
    pic = Picture()
    raw_edges: list[tuple[str, str, Point, list[Point], Point]] = []
    node_tag, edge_tag, data_tag = f"{{{G}}}node", f"{{{G}}}edge", f"{{{G}}}data"
    graph_tag = f"{{{G}}}graph"
    for _event, el in events:
        tag = el.tag
        if tag == node_tag:
            _read_node(pic, el)
            # keep the element (its <graph> child holds the nodes inside it, already
            # read) but free what was read from it
            for child in list(el):
                if child.tag == data_tag:
                    el.remove(child)
        elif tag == edge_tag:
            path = el.find("g:data/y:PolyLineEdge/y:Path", NS)
            start = (float(path.get("sx")), float(path.get("sy")))
            end = (float(path.get("tx")), float(path.get("ty")))
            bends = [(float(p.get("x")), float(p.get("y"))) for p in path.findall("y:Point", NS)]
            raw_edges.append((el.get("source"), el.get("target"), start, bends, end))
            label = el.find("g:data/y:PolyLineEdge/y:EdgeLabel", NS)
            spot = None if label is None else label.find(
                "y:ModelParameter/y:SmartEdgeLabelModelParameter", NS)
            if spot is not None:
                pic.edge_labels.append((len(raw_edges) - 1, label.text or "",
                                        int(spot.get("segment")), float(spot.get("ratio")),
                                        float(spot.get("distance"))))
            el.clear(keep_tail=False)
        elif tag == data_tag and el.get("key") == "layout":
            parent = el.getparent()
            if parent is not None and parent.tag == graph_tag and \
                    parent.getparent() is not None and parent.getparent().tag == f"{{{G}}}graphml":
                pic.layout = el.text
    for s, t, (sdx, sdy), bends, (tdx, tdy) in raw_edges:
        sx, sy, sw, sh = pic.box(s)
        tx, ty, tw, th = pic.box(t)
        points = [(sx + sw / 2 + sdx, sy + sh / 2 + sdy), *bends,
                  (tx + tw / 2 + tdx, ty + th / 2 + tdy)]
        pic.edges.append((s, t, points))
    return pic


def _read_node(pic: Picture, el) -> None:
    nid = el.get("id")
    pic.order.append(nid)
    owner = el.getparent().getparent()
    pic.parent[nid] = owner.get("id") if owner is not None and owner.tag == f"{{{G}}}node" else None
    for data in el.iterchildren(f"{{{G}}}data"):
        key = data.get("key")
        if key == "kind":
            pic.kind[nid] = data.text or ""
        elif key == "op_type":
            pic.op_type[nid] = data.text or ""
        elif key == "hierarchy_tag":
            pic.tag[nid] = data.text or ""
        elif key == "label":
            pic.label[nid] = data.text or ""
        elif key == "ref":
            pic.ref[nid] = data.text or ""
    shape = el.find("g:data/y:ShapeNode/y:Geometry", NS)
    if shape is not None:
        pic.leaves[nid] = _rect(shape)
        return
    open_, closed = el.findall("g:data/y:ProxyAutoBoundsNode/y:Realizers/y:GroupNode", NS)
    pic.groups[nid] = _rect(open_.find("y:Geometry", NS))
    pic.closed[nid] = _rect(closed.find("y:Geometry", NS))


# -- boxes -----------------------------------------------------------------------------

def _grid(rects: dict[str, Rect], cell: float) -> dict[tuple[int, int], list[str]]:
    grid: dict[tuple[int, int], list[str]] = {}
    for nid, (x, y, w, h) in rects.items():
        for i in range(int(x // cell), int((x + w) // cell) + 1):
            for j in range(int(y // cell), int((y + h) // cell) + 1):
                grid.setdefault((i, j), []).append(nid)
    return grid


def overlapping_leaves(pic: Picture) -> list[tuple[str, str]]:
    """Pairs of leaves whose boxes overlap (by more than half a point each way)."""
    pairs = set()
    for members in _grid(pic.leaves, 200.0).values():
        for k, a in enumerate(members):
            ax, ay, aw, ah = pic.leaves[a]
            for b in members[k + 1:]:
                bx, by, bw, bh = pic.leaves[b]
                if (bx < ax + aw - 0.5 and ax < bx + bw - 0.5
                        and by < ay + ah - 0.5 and ay < by + bh - 0.5):
                    pairs.add((a, b) if a < b else (b, a))
    return sorted(pairs)


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


def columns(pic: Picture) -> int:
    """How many distinct x positions (to 10 px) leaves start at."""
    return len({round(x / 10) for x, _y, _w, _h in pic.leaves.values()})


# -- edges -----------------------------------------------------------------------------

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
    grid = _grid(pic.leaves, cell)
    bad = []
    for s, t, points in pic.edges:
        for p, q in pairwise(points):
            if _segment_hits(p, q, s, t, grid, cell, pic.leaves):
                bad.append((s, t))
                break
    return bad


def _segment_hits(p: Point, q: Point, s: str, t: str, grid, cell: float, leaves) -> bool:
    """Whether segment p-q passes through a leaf other than s and t. Visits only the
    grid cells the segment crosses: it is cut into steps shorter than a cell, and each
    step can only cross into the cells beside and diagonal to where it starts."""
    steps = int(math.hypot(q[0] - p[0], q[1] - p[1]) / (0.9 * cell)) + 1
    cells: set[tuple[int, int]] = set()
    i0, j0 = int(p[0] // cell), int(p[1] // cell)
    cells.add((i0, j0))
    for k in range(1, steps + 1):
        f = k / steps
        i1 = int((p[0] + f * (q[0] - p[0])) // cell)
        j1 = int((p[1] + f * (q[1] - p[1])) // cell)
        cells.update(((i1, j1), (i0, j1), (i1, j0)))
        i0, j0 = i1, j1
    checked: set[str] = {s, t}
    for c in cells:
        for n in grid.get(c, ()):
            if n not in checked:
                checked.add(n)
                if _hits(p, q, leaves[n]):
                    return True
    return False


def upward_edges(pic: Picture) -> list[tuple[str, str]]:
    """Edges whose target sits above their source (centre above centre, by more than
    1 pt): data flows top to bottom, so these run against it."""
    bad = []
    for s, t, _points in pic.edges:
        _sx, sy, _sw, sh = pic.box(s)
        _tx, ty, _tw, th = pic.box(t)
        if ty + th / 2 < sy + sh / 2 - 1.0:
            bad.append((s, t))
    return bad


def edge_length(points: list[Point]) -> float:
    """The length of a polyline."""
    return sum(math.hypot(q[0] - p[0], q[1] - p[1]) for p, q in pairwise(points))


def leaves_constant(pic: Picture, source: str) -> bool:
    """Whether an edge from ``source`` carries a constant (an initializer, a Constant op;
    a reference box when the node it names is one)."""
    source = pic.ref.get(source, source)
    return (pic.kind.get(source) in CONSTANT_KINDS
            or pic.op_type.get(source) in CONSTANT_OPS)


@dataclass
class LongEdges:
    """Edges longer than ``LONG_FACTOR`` x the median edge length of their set."""

    edges: int
    median: float
    long: list[tuple[str, str]] = field(repr=False)

    @property
    def fraction(self) -> float:
        return len(self.long) / self.edges if self.edges else 0.0


def long_edges(pic: Picture, *, without_constants: bool = False) -> LongEdges:
    """The long-edge statistic over every edge, or over those not leaving a constant."""
    chosen = [(s, t, edge_length(points)) for s, t, points in pic.edges
              if not (without_constants and leaves_constant(pic, s))]
    if not chosen:
        return LongEdges(0, 0.0, [])
    median = statistics.median(length for _s, _t, length in chosen)
    long = [(s, t) for s, t, length in chosen if length > LONG_FACTOR * median]
    return LongEdges(len(chosen), median, long)


# -- repeated layers -------------------------------------------------------------------

def _name(pic: Picture, nid: str) -> str:
    """A node's own tag: the last part of its hierarchy tag, else its label."""
    tag = pic.tag.get(nid)
    if tag:
        return tag.rstrip("/").rsplit("/", 1)[-1]
    return pic.label.get(nid, nid)


def repeated_runs(pic: Picture) -> list[list[str]]:
    """Runs of repeated layers: groups of sibling groups whose tags differ only in a
    trailing ``.N`` (``Block.0``, ``Block.1``, ...), each run ordered by N; runs of one
    are left out."""
    runs = []
    for kids in pic.children().values():
        by_base: dict[str, list[tuple[int, str]]] = {}
        for kid in kids:
            if kid not in pic.groups:
                continue
            match = _INDEXED.match(_name(pic, kid))
            if match:
                by_base.setdefault(match.group(1), []).append((int(match.group(2)), kid))
        for members in by_base.values():
            if len(members) > 1:
                runs.append([kid for _n, kid in sorted(members)])
    return runs


@dataclass
class PairScore:
    """How many of the pairs judged passed."""

    passed: int
    pairs: int
    failed: list[tuple[str, str]] = field(default_factory=list, repr=False)

    @property
    def fraction(self) -> float:
        """The share that passed; 1.0 when there is nothing to judge."""
        return self.passed / self.pairs if self.pairs else 1.0


def stacked_in_order(pic: Picture) -> PairScore:
    """Consecutive repeated layers (by index) with the later one wholly below the
    earlier: its top at or below the earlier's bottom."""
    score = PairScore(0, 0)
    for run in repeated_runs(pic):
        for a, b in pairwise(run):
            _ax, ay, _aw, ah = pic.groups[a]
            _bx, by, _bw, _bh = pic.groups[b]
            score.pairs += 1
            if by >= ay + ah - 0.5:
                score.passed += 1
            else:
                score.failed.append((a, b))
    return score


def _descendants(pic: Picture, kids: dict[str | None, list[str]], nid: str) -> list[str]:
    """Every node inside ``nid``, in document (pre)order."""
    out: list[str] = []
    stack = list(reversed(kids.get(nid, [])))
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(kids.get(node, [])))
    return out


def _inside(pic: Picture, kids, out_edges, nid: str) -> tuple[list[str], tuple]:
    """The nodes inside ``nid`` and a signature of its inside up to names: each node's
    kind, op type and depth in preorder, and the edges between them by position."""
    inside = _descendants(pic, kids, nid)
    position = {node: k for k, node in enumerate(inside)}
    depth = {nid: 0}
    for node in inside:
        depth[node] = depth[pic.parent[node]] + 1
    nodes = tuple((pic.kind.get(n, ""), pic.op_type.get(n, ""), depth[n]) for n in inside)
    edges = tuple(sorted((position[s], position[t]) for s in inside
                         for t in out_edges.get(s, ()) if t in position))
    return inside, (nodes, edges)


def drawn_alike(pic: Picture, tolerance: float = ALIKE_TOLERANCE) -> PairScore:
    """Consecutive repeated layers with the same inside (same kinds and op types in the
    same structure), judged by whether every node inside sits at the same position
    relative to its layer's top-left corner, within ``tolerance`` points."""
    kids = pic.children()
    out_edges: dict[str, list[str]] = {}
    for s, t, _points in pic.edges:
        out_edges.setdefault(s, []).append(t)
    score = PairScore(0, 0)
    for run in repeated_runs(pic):
        insides = [_inside(pic, kids, out_edges, nid) for nid in run]
        for (a, (a_in, a_sig)), (b, (b_in, b_sig)) in pairwise(zip(run, insides, strict=True)):
            if a_sig != b_sig:
                continue
            score.pairs += 1
            ax, ay, _aw, _ah = pic.groups[a]
            bx, by, _bw, _bh = pic.groups[b]
            same = all(
                abs((pic.box(m)[0] - ax) - (pic.box(n)[0] - bx)) <= tolerance
                and abs((pic.box(m)[1] - ay) - (pic.box(n)[1] - by)) <= tolerance
                for m, n in zip(a_in, b_in, strict=True))
            if same:
                score.passed += 1
            else:
                score.failed.append((a, b))
    return score


# -- edge labels -----------------------------------------------------------------------

#: Edge label metrics, as the product estimates them (Dialog 10 pt, roughly).
LABEL_CHAR_W = 6.0
LABEL_H = 14.0


def label_rects(pic: Picture) -> list[Rect]:
    """Where each placed edge label of the file sits, on both sides of its segment (a
    viewer may draw it on either): two rectangles per label."""
    rects = []
    for index, text, segment, ratio, distance in pic.edge_labels:
        points = pic.edges[index][2]
        (ax, ay), (bx, by) = points[segment], points[segment + 1]
        length = math.hypot(bx - ax, by - ay)
        nx, ny = -(by - ay) / length, (bx - ax) / length
        px, py = ax + (bx - ax) * ratio, ay + (by - ay) * ratio
        w, h = len(text) * LABEL_CHAR_W + 4.0, LABEL_H
        for side in (1, -1):
            cx, cy = px + side * nx * distance, py + side * ny * distance
            rects.append((cx - w / 2, cy - h / 2, w, h))
    return rects


def labels_over_boxes(labels: Iterable[Rect], boxes: Iterable[Rect]) -> list[int]:
    """Indices of the labels that cover a box (by more than half a point each way):
    a label over a node hides it. ``boxes``: what is drawn solid (leaves, closed groups)."""
    rects = dict(enumerate(boxes))
    cell = 200.0
    grid = _grid({str(k): r for k, r in rects.items()}, cell)
    bad = []
    for i, (x, y, w, h) in enumerate(labels):
        near = {int(k) for ci in range(int(x // cell), int((x + w) // cell) + 1)
                for cj in range(int(y // cell), int((y + h) // cell) + 1)
                for k in grid.get((ci, cj), ())}
        if any(bx < x + w - 0.5 and x < bx + bw - 0.5 and by < y + h - 0.5 and y < by + bh - 0.5
               for bx, by, bw, bh in (rects[k] for k in near)):
            bad.append(i)
    return bad


# -- all of it -------------------------------------------------------------------------

@dataclass
class Quality:
    """Every measure of a picture, with the targets of issue 19."""

    boxes: int
    edges: int
    layout: str | None
    overlaps: int
    outside: int
    through: int
    upward: int
    long_all: LongEdges
    long_no_constants: LongEdges
    stacked: PairScore
    alike: PairScore
    labels: int = 0  # edge labels placed
    labels_on_boxes: int = 0  # of them, covering a leaf on either side of their edge

    @property
    def through_fraction(self) -> float:
        return self.through / self.edges if self.edges else 0.0

    @property
    def upward_fraction(self) -> float:
        return self.upward / self.edges if self.edges else 0.0

    def verdicts(self) -> list[tuple[str, str, str, bool]]:
        """(measure, value, target, met) for every target."""
        def pct(x: float) -> str:
            return f"{100 * x:.1f} %"

        def pairs(score: PairScore) -> str:
            return f"{pct(score.fraction)} ({score.passed}/{score.pairs})"

        return [
            ("overlapping leaves", str(self.overlaps), "0", self.overlaps == 0),
            ("boxes outside their group", str(self.outside), "0", self.outside == 0),
            ("edges through a node", pct(self.through_fraction), f"≤ {pct(THROUGH_TARGET)}",
             self.through_fraction <= THROUGH_TARGET),
            ("edges pointing upward", pct(self.upward_fraction), f"≤ {pct(UPWARD_TARGET)}",
             self.upward_fraction <= UPWARD_TARGET),
            (f"edges > {LONG_FACTOR:g} × median (all)",
             f"{pct(self.long_all.fraction)} (median {self.long_all.median:.0f} pt)",
             f"≤ {pct(LONG_TARGET)}", self.long_all.fraction <= LONG_TARGET),
            (f"edges > {LONG_FACTOR:g} × median (no constants)",
             f"{pct(self.long_no_constants.fraction)} "
             f"(median {self.long_no_constants.median:.0f} pt)",
             f"≤ {pct(LONG_TARGET)}", self.long_no_constants.fraction <= LONG_TARGET),
            ("repeated layers stacked in order", pairs(self.stacked), f"≥ {pct(STACKED_TARGET)}",
             self.stacked.fraction >= STACKED_TARGET),
            ("alike layers drawn alike", pairs(self.alike), f"≥ {pct(ALIKE_TARGET)}",
             self.alike.fraction >= ALIKE_TARGET),
            ("edge labels over a node", f"{self.labels_on_boxes} of {self.labels}", "0",
             self.labels_on_boxes == 0),
        ]


def quality(pic: Picture) -> Quality:
    """Every measure of ``pic``."""
    return Quality(
        boxes=pic.boxes, edges=len(pic.edges), layout=pic.layout,
        overlaps=len(overlapping_leaves(pic)), outside=len(outside_parent(pic)),
        through=len(edges_through_nodes(pic)), upward=len(upward_edges(pic)),
        long_all=long_edges(pic), long_no_constants=long_edges(pic, without_constants=True),
        stacked=stacked_in_order(pic), alike=drawn_alike(pic),
        labels=len(pic.edge_labels),
        labels_on_boxes=len({i // 2 for i in labels_over_boxes(label_rects(pic),
                                                              pic.leaves.values())}),
    )
