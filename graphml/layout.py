"""Where every box of a nested graph goes: one function, :func:`place`, behind which
the layout engine sits.

The input is a graph of boxes: leaves of a fixed size, groups that hold boxes (with a
label bar on top and a size of their own when closed), and edges between any two
boxes. The output is a :class:`Placement`: the open bounds of every box (top-left
corner, y growing downwards, as yEd and SVG count), and for each edge the polyline it
follows, from the border of its source to the border of its target.

Engines (``method``):

* ``dot`` — Graphviz ``dot`` through ``pygraphviz`` (imported lazily): a layered
  layout, data flowing top to bottom, groups as clusters, edges as polylines routed
  around the boxes (``splines=polyline``, whose points are exactly the bends).
* ``outline`` — a cheap, linear placement in pure Python: inside each group its
  children are layered by the data flow between them (longest path over the edges
  that meet at that group) and each layer is a row; edges are straight.
* ``auto`` — ``dot`` while the graph is small enough for dot to stay within the time
  budget of SPEC §8 (:data:`DOT_LIMIT` boxes), ``outline`` beyond.

Deterministic: the same boxes in the same order give the same numbers.
"""

from __future__ import annotations

import bisect
import gc
import heapq
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

#: Layout methods a caller may ask for; ``none`` means no geometry at all.
METHODS = ("auto", "dot", "outline", "none")

#: ``auto`` uses dot up to this many boxes (leaves and groups). dot's time grows
#: faster than linearly and depends on the graph's shape; measured here (2 cores):
#: 0.35-0.8 s for the 124M-parameter transformer of bench/ (702 boxes), about 1 s for
#: 1,700 boxes of bench/synthetic.py, 42 s for 8,552. Past this, the outline placement.
DOT_LIMIT = 2000

HEADER = 22.0  # height of a group's label bar
INSET = 15.0  # room between a group's border and its children
GAP_X = 20.0  # outline: horizontal gap between siblings
GAP_Y = 30.0  # outline: vertical gap between layers
MAX_ROW = 1600.0  # outline: a layer wider than this wraps into more rows

Point = tuple[float, float]
Rect = tuple[float, float, float, float]  # x, y (top-left), width, height


@dataclass
class Box:
    """A box to place: a leaf of a fixed size, or a group (``children`` is a list).

    For a group, ``width`` x ``height`` is its size when closed, and ``width`` is also
    the least width of its open bounds (room for its label).
    """

    id: str
    width: float
    height: float
    children: list[Box] | None = None


@dataclass
class Placement:
    """Where the boxes went: open bounds by id, and one polyline per edge.

    ``paths[i]`` belongs to the i-th edge given to :func:`place`: its points from the
    source's border to the target's, or None for a straight line between the centres
    (and for an edge to a box that is not there). The outline routes each path when it
    is read.
    """

    method: str  # the engine that placed the boxes: "dot" or "outline"
    reason: str  # why this engine (for auto), for the user
    boxes: dict[str, Rect] = field(default_factory=dict)
    paths: Sequence[list[Point] | None] = field(default_factory=list)

    @property
    def size(self) -> tuple[float, float]:
        """Width and height of the whole picture."""
        if not self.boxes:
            return 0.0, 0.0
        return (max(x + w for x, y, w, h in self.boxes.values()),
                max(y + h for x, y, w, h in self.boxes.values()))


def walk(roots: list[Box]) -> Iterator[Box]:
    """Every box, groups and what they hold alike (in no particular order)."""
    stack = list(roots)
    while stack:
        box = stack.pop()
        yield box
        if box.children:
            stack.extend(box.children)


def count_boxes(roots: list[Box]) -> int:
    return sum(1 for _ in walk(roots))


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic GC while building many small objects that hold no cycles (placing
    boxes, a Document, a model): the collector would only walk the caller's (often huge)
    Document again and again (on 100,000 nodes that triples the time). The converters
    use it too."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def place(roots: list[Box], edges: list[tuple[str, str]], method: str = "auto") -> Placement:
    """Place ``roots`` (and everything inside them) and route ``edges`` (source, target ids)."""
    if method not in ("auto", "dot", "outline"):
        raise ValueError(f"layout method {method!r} is not one of auto, dot, outline")
    if method == "auto":
        n = count_boxes(roots)
        if n <= DOT_LIMIT:
            method, reason = "dot", f"dot ({n:,} boxes; auto uses dot up to {DOT_LIMIT:,})"
        else:
            method, reason = "outline", (f"outline ({n:,} boxes: more than dot lays out in "
                                         f"the time budget, {DOT_LIMIT:,}; --layout dot "
                                         f"forces it)")
    else:
        reason = f"{method} (asked for)"
    with gc_paused():
        return (_dot if method == "dot" else _outline)(roots, edges, reason)


# -- dot ------------------------------------------------------------------------------

def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _inches(px: float) -> str:
    return f"{px / 72.0:.4f}"


def dot_source(roots: list[Box], edges: list[tuple[str, str]]) -> str:
    """The graph as DOT text for the layout: fixed-size, unlabelled boxes (no fonts are
    measured, so the result does not depend on the fonts installed)."""
    out = [
        "digraph G {",
        "graph [rankdir=TB, splines=polyline, compound=true, nodesep=0.25, ranksep=0.4, "
        "nslimit=0.5, nslimit1=0.5, mclimit=0.01, remincross=false];",
        'node [shape=box, fixedsize=true, label=""];',
    ]
    anchor: dict[str, tuple[str, str | None]] = {}  # box id -> (dot node, cluster or None)

    def emit(box: Box, indent: str) -> str | None:
        """Write ``box``; return the dot node that stands for it in edges."""
        if box.children is None:
            out.append(f"{indent}{_q(box.id)} [width={_inches(box.width)}, "
                       f"height={_inches(box.height)}];")
            anchor[box.id] = (box.id, None)
            return box.id
        cluster = "cluster_" + box.id
        out.append(f"{indent}subgraph {_q(cluster)} {{")
        out.append(f'{indent}  label=<<TABLE FIXEDSIZE="TRUE" WIDTH="{max(int(box.width), 1)}" '
                   f'HEIGHT="{int(HEADER)}" BORDER="0" CELLPADDING="0" CELLSPACING="0">'
                   f"<TR><TD></TD></TR></TABLE>>; margin={int(INSET)};")
        first = None
        for child in box.children:
            stand_in = emit(child, indent + "  ")
            first = first or stand_in
        if first is None:  # an empty group: a box of its closed size holds its place
            first = "#empty:" + box.id  # '#' is no NMTOKEN character: no clash
            out.append(f"{indent}  {_q(first)} [width={_inches(box.width)}, "
                       f"height={_inches(box.height)}];")
        out.append(f"{indent}}}")
        anchor[box.id] = (first, cluster)
        return first

    for box in roots:
        emit(box, "")
    for i, (source, target) in enumerate(edges):
        if source not in anchor or target not in anchor:
            continue  # an edge to nowhere is the writer's to refuse
        s, s_cluster = anchor[source]
        t, t_cluster = anchor[target]
        attrs = [f"id={i}"]
        if s_cluster:
            attrs.append(f"ltail={_q(s_cluster)}")
        if t_cluster:
            attrs.append(f"lhead={_q(t_cluster)}")
        out.append(f"{_q(s)} -> {_q(t)} [{', '.join(attrs)}];")
    out.append("}")
    return "\n".join(out)


def _points(pos: str) -> list[Point]:
    """A dot ``pos`` of a polyline edge as its corner points (source end to target end)."""
    spline = pos.split(";")[0].split()
    end = None
    coords = []
    for item in spline:
        if item.startswith("e,"):
            end = item[2:]
        elif not item.startswith("s,"):
            coords.append(item)
    pts = [tuple(float(v) for v in c.split(",")) for c in coords]
    corners = [pts[k] for k in range(0, len(pts), 3)]
    if end is not None:
        corners[-1] = tuple(float(v) for v in end.split(","))
    return corners  # type: ignore[return-value]


def run_graphviz(source: str, prog: str, output_format: str) -> bytes:
    """Lay out DOT ``source`` with Graphviz's ``prog`` (``dot``; ``nop2`` keeps given
    positions) and render it as ``output_format`` (json0, svg, png, pdf), in process."""
    import pygraphviz
    from pygraphviz import graphviz as gv

    with _stderr_caught() as caught:
        graph = pygraphviz.AGraph(string=source)
        context = gv.gvContextWithBuiltins()
        try:
            failed = gv.gvLayout(context, graph.handle, prog.encode()) != 0
            if not failed:
                try:
                    result = gv.gvRenderData(context, graph.handle, output_format.encode())
                finally:
                    gv.gvFreeLayout(context, graph.handle)
                failed = not isinstance(result, (list, tuple)) or bool(result[0])
                data = b"" if failed else result[1]
        finally:
            gv.gvFreeContext(context)
    if failed:
        said = caught.read().decode(errors="replace").strip().splitlines()
        raise ValueError(f"Graphviz ({prog}) could not lay out and render the "
                         f"graph as {output_format}" + (f": {said[-1]}" if said else ""))
    return data


@contextmanager
def _stderr_caught() -> Iterator[io.BytesIO]:
    """Graphviz and fontconfig write warnings straight to file descriptor 2 (labels a
    little wider than their box, a newer fontconfig file): hold them, to report only
    when Graphviz fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    caught = io.BytesIO()
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield caught
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            caught.write(held.read())
            caught.seek(0)


def _dot(roots: list[Box], edges: list[tuple[str, str]], reason: str) -> Placement:
    laid = json.loads(run_graphviz(dot_source(roots, edges), "dot", "json0"))
    top = float(laid["bb"].split(",")[3])
    placement = Placement("dot", reason)
    boxes = placement.boxes
    sizes = {box.id: (box.width, box.height) for box in walk(roots)}
    for obj in laid.get("objects", ()):
        name = obj["name"]
        if "bb" in obj and name.startswith("cluster_"):
            x0, y0, x1, y1 = (float(v) for v in obj["bb"].split(","))
            boxes[name[len("cluster_"):]] = (x0, top - y1, x1 - x0, y1 - y0)
        elif "pos" in obj and not name.startswith("#empty:") and name in sizes:
            cx, cy = (float(v) for v in obj["pos"].split(","))
            w, h = sizes[name]
            boxes[name] = (cx - w / 2, top - cy - h / 2, w, h)
    paths: list[list[Point] | None] = [None] * len(edges)
    for edge in laid.get("edges", ()):
        if "pos" in edge:
            paths[int(edge["id"])] = [(x, top - y) for x, y in _points(edge["pos"])]
    placement.paths = paths
    return placement


# -- outline --------------------------------------------------------------------------

@dataclass
class _Rows:
    """A group's children as rows, in the group's own coordinates."""

    x: float = 0.0  # the group's absolute position, once known
    y: float = 0.0
    bottom: float = 0.0  # where the group's border is, below its last row
    right: float = 0.0  # a free column right of every row
    tops: list[float] = field(default_factory=list)
    bottoms: list[float] = field(default_factory=list)
    gaps: list[list[float]] = field(default_factory=list)  # free x positions per row
    row_of: dict[str, int] = field(default_factory=dict)


def _outline(roots: list[Box], edges: list[tuple[str, str]], reason: str) -> Placement:
    root = Box("", 0.0, 0.0, list(roots))
    parent: dict[str, str] = {}  # box id -> the id of the group holding it
    depth: dict[str, int] = {}
    order: dict[str, int] = {}
    groups: list[Box] = []  # pre-order
    stack = [(root, 0)]
    while stack:
        box, d = stack.pop()
        if box.children is None:
            continue
        groups.append(box)
        for child in box.children:
            parent[child.id] = box.id
            depth[child.id] = d + 1
            order[child.id] = len(order)
        stack.extend((c, d + 1) for c in reversed(box.children))

    def meet(source: str, target: str) -> tuple[str, str] | None:
        """The two children of the group where the ends' ancestor chains meet (None for
        an edge to an unknown box)."""
        if source not in depth or target not in depth:
            return None
        a, b = source, target
        while depth[a] > depth[b]:
            a = parent[a]
        while depth[b] > depth[a]:
            b = parent[b]
        while parent[a] != parent[b]:
            a, b = parent[a], parent[b]
        return a, b

    links: dict[str, set[tuple[str, str]]] = {}
    meets = [meet(source, target) for source, target in edges]
    depth.clear()  # only meet() needed it
    for ab in meets:
        if ab is not None and ab[0] != ab[1]:
            links.setdefault(parent[ab[0]], set()).add(ab)

    # Each box's position inside its group, and its size; made absolute below.
    boxes: dict[str, Rect] = {}
    rows_of: dict[str, _Rows] = {}
    for group in reversed(groups):  # children before their parents
        kids = group.children or []
        if not kids:
            boxes[group.id] = (0.0, 0.0, group.width, group.height)
            continue
        rows_of[group.id] = info = _Rows()
        layer = _layers(kids, links.pop(group.id, ()), order)
        sizes = {c.id: (boxes[c.id][2:] if c.children is not None else (c.width, c.height))
                 for c in kids}
        rows: list[list[str]] = []
        widths: list[float] = []
        heights: list[float] = []
        last = None
        for child in sorted(kids, key=lambda c: (layer[c.id], order[c.id])):
            w, h = sizes[child.id]
            if rows and layer[child.id] == last and widths[-1] + GAP_X + w <= MAX_ROW:
                rows[-1].append(child.id)
                widths[-1] += GAP_X + w
                if h > heights[-1]:
                    heights[-1] = h
            else:
                rows.append([child.id])
                widths.append(w)
                heights.append(h)
            last = layer[child.id]
        inner_w = max(widths)
        side = INSET if group is not root else 0.0
        width = max(inner_w + 2 * side, group.width)
        left = (width - inner_w) / 2
        y = HEADER + INSET if group is not root else 0.0
        for r, (row, row_w, row_h) in enumerate(zip(rows, widths, heights)):
            x = left + (inner_w - row_w) / 2
            gaps = [x - GAP_X / 2]
            for c in row:
                w, h = sizes[c]
                boxes[c] = (x, y + (row_h - h) / 2, w, h)
                info.row_of[c] = r
                x += w + GAP_X
                gaps.append(x - GAP_X / 2)
            info.tops.append(y)
            info.bottoms.append(y + row_h)
            info.gaps.append(gaps)
            y += row_h + GAP_Y
        height = y - GAP_Y + side
        info.bottom, info.right = height, left + inner_w + side / 2 if side else inner_w + GAP_X
        boxes[group.id] = (0.0, 0.0, width, height)
    order.clear()

    for group in groups:  # parents before their children: theirs is already absolute
        gx, gy = (boxes[group.id][:2] if group is not root else (0.0, 0.0))
        if group.id in rows_of:
            rows_of[group.id].x, rows_of[group.id].y = gx, gy
        for child in group.children or []:
            x, y, w, h = boxes[child.id]
            boxes[child.id] = (gx + x, gy + y, w, h)
    del boxes[root.id]
    placement = Placement("outline", reason, boxes)
    placement.paths = _Routes(edges, meets, parent, rows_of, boxes)
    return placement


class _Routes(Sequence):
    """The outline's edge paths, each routed when it is asked for: held all at once,
    the polylines of 100,000 edges would outweigh the rest of the layout."""

    def __init__(self, edges: list[tuple[str, str]], meets: list[tuple[str, str] | None],
                 parent: dict[str, str], rows_of: dict[str, _Rows],
                 boxes: dict[str, Rect]) -> None:
        self._edges, self._meets = edges, meets
        self._parent, self._rows_of, self._boxes = parent, rows_of, boxes

    def __len__(self) -> int:
        return len(self._edges)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        meet = self._meets[i]
        if meet is None:
            return None
        source, target = self._edges[i]
        return _route(source, target, meet, self._parent, self._rows_of, self._boxes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))


def _through(info: _Rows, first: int, last: int, x: float, points: list[Point]) -> float:
    """Go down through rows ``first``..``last`` of a group by the free gaps nearest to
    ``x``; return the x the path leaves at."""
    ox, oy, half = info.x, info.y, GAP_Y / 2
    for r in range(first, last + 1):
        gaps = info.gaps[r]
        rx = x - ox
        i = bisect.bisect_left(gaps, rx)
        if i == 0:
            gap = gaps[0]
        elif i == len(gaps):
            gap = gaps[-1]
        else:
            gap = gaps[i - 1] if rx - gaps[i - 1] <= gaps[i] - rx else gaps[i]
        x = ox + gap
        points.append((x, oy + info.tops[r] - half))
        points.append((x, oy + info.bottoms[r] + half))
    return x


def _route(source: str, target: str, meet: tuple[str, str], parent, rows_of,
           boxes) -> list[Point] | None:
    """An edge of the outline: down out of the source's groups, through the free gaps
    of the rows between, and down into the target's groups. ``meet``: the children of
    the group where the two ends' ancestries meet."""
    a, b = meet
    if a == b:
        return None
    sx, sy, sw, sh = boxes[source]
    x = sx + sw / 2
    points = [(x, sy + sh)]
    node = source
    while node != a:  # out of each group holding the source, through the rows below
        info = rows_of[parent[node]]
        x = _through(info, info.row_of[node] + 1, len(info.tops) - 1, x, points)
        points.append((x, info.y + info.bottom))
        node = parent[node]
    info = rows_of[parent[a]]
    ra, rb = info.row_of[a], info.row_of[b]
    if rb > ra:
        x = _through(info, ra + 1, rb - 1, x, points)
    else:  # against the flow: round the right of every row
        below = info.y + info.bottoms[ra] + GAP_Y / 2
        x = info.x + info.right
        points += [(points[-1][0], below), (x, below), (x, info.y + info.tops[rb] - GAP_Y / 2)]
    down = []
    node = target
    while node != b:  # into each group holding the target, through the rows above it
        info = rows_of[parent[node]]
        down.append((info, info.row_of[node]))
        node = parent[node]
    for info, r in reversed(down):
        points.append((x, info.y))
        x = _through(info, 0, r - 1, x, points)
    tx, ty, tw, th = boxes[target]
    points.append((x, ty))
    points.append((tx + tw / 2, ty))
    return points


def _layers(kids: list[Box], links, order: dict[str, int]) -> dict[str, int]:
    """Longest-path layers of ``kids`` over ``links``; a cycle is broken at the child
    that comes first in document order."""
    if not links:
        return dict.fromkeys((c.id for c in kids), 0)
    succ: dict[str, list[str]] = {}
    indeg = {c.id: 0 for c in kids}
    for a, b in sorted(links, key=lambda ab: (order[ab[0]], order[ab[1]])):
        succ.setdefault(a, []).append(b)
        indeg[b] += 1
    layer = {c.id: 0 for c in kids}
    ready = [(order[c], c) for c, n in indeg.items() if n == 0]
    heapq.heapify(ready)
    done: set[str] = set()
    waiting = sorted(indeg, key=order.__getitem__)
    w = 0
    while len(done) < len(indeg):
        if not ready:  # a cycle: release the first child still waiting
            while waiting[w] in done:
                w += 1
            heapq.heappush(ready, (order[waiting[w]], waiting[w]))
        _, c = heapq.heappop(ready)
        if c in done:
            continue
        done.add(c)
        for d in succ.get(c, ()):
            if d in done:
                continue
            if layer[c] >= layer[d]:
                layer[d] = layer[c] + 1
            indeg[d] -= 1
            if indeg[d] == 0:
                heapq.heappush(ready, (order[d], d))
    return layer
