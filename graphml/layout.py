"""Where every box of a nested graph goes: one function, :func:`place`, behind which
the layout engine sits.

The input is a graph of boxes: leaves of a fixed size, groups that hold boxes (with a
label bar on top and a size of their own when closed), and edges between any two
boxes. The output is a :class:`Placement`: the open bounds of every box (top-left
corner, y growing downwards, as yEd and SVG count), and for each edge the polyline it
follows, from the border of its source to the border of its target.

Engines (``method``):

* ``auto`` — each group laid out once, from the inside out: its children are fixed-size
  boxes (a child group at its laid-out size), edges between their descendants lifted to
  the children they leave and enter. :func:`_layered` places the children in ranks, in
  pure Python and linear time; the edges are routed straight down through the gaps
  between the boxes of each rank. Groups with the same inside (children of the same
  kinds, the same links) are laid out once and drawn alike; an edge that leaves a group
  runs to its group's way out on the bottom border and on in the groups around it, one
  that enters comes in through the top borders along the line to the box it goes to.
  One layout for every size.
* ``dot`` — the same, but Graphviz ``dot`` (through ``pygraphviz``, imported lazily)
  places each inside of up to :data:`DOT_MOST` children, from the links left after a
  transitive reduction; a fixed cost for loading Graphviz, and time that grows faster
  than the biggest module.
* ``outline`` — a cheap, linear placement in pure Python: inside each group its
  children are layered by the data flow between them (longest path over the edges
  that meet at that group) and each layer is a row; edges run through the gaps.

Deterministic: the same boxes in the same order give the same numbers.
"""

from __future__ import annotations

import bisect
import gc
import heapq
import io
import json
import math
import os
import sys
import tempfile
from array import array
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

#: Layout methods a caller may ask for; ``none`` means no geometry at all.
METHODS = ("auto", "dot", "outline", "none")

HEADER = 22.0  # height of a group's label bar
INSET = 15.0  # room between a group's border and its children
GAP_X = 20.0  # outline: horizontal gap between siblings
GAP_Y = 30.0  # outline: vertical gap between layers
MAX_ROW = 1600.0  # outline: a layer wider than this wraps into more rows

Point = tuple[float, float]
Rect = tuple[float, float, float, float]  # x, y (top-left), width, height


@dataclass(slots=True)
class Box:
    """A box to place: a leaf of a fixed size, or a group (``children`` is a list).

    For a group, ``width`` x ``height`` is its size when closed, and ``width`` is also
    the least width of its open bounds (room for its label). A leaf that is ``beside``
    and feeds one box (a reference box for a value made far above) is drawn in that
    box's rank, right beside it, its edge running across (``auto`` only).
    """

    id: str
    width: float
    height: float
    children: list[Box] | None = None
    beside: bool = False


@dataclass
class Placement:
    """Where the boxes went: open bounds by id, and one polyline per edge.

    ``paths[i]`` belongs to the i-th edge given to :func:`place`: its points from the
    source's border to the target's, or None for a straight line between the centres
    (and for an edge to a box that is not there). Each path is put together when it is
    read, and ``boxes`` reads flat arrays: held as tuples, 100,000 boxes and their edges'
    polylines would outweigh the rest of the layout.
    """

    method: str  # the engine that placed the boxes: "auto", "dot" or "outline"
    reason: str  # how it was placed, for the user
    boxes: Mapping[str, Rect] = field(default_factory=dict)
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
    with gc_paused():
        if method == "outline":
            return _outline(roots, edges, "outline (asked for)")
        return _by_module(roots, edges, method)


# -- auto: one module at a time ---------------------------------------------------------

_ENTRY, _EXIT = -1, -2  # a group's way in (on its top border) and way out (bottom border)
_BESIDE = -3  # the kind of a leaf drawn beside the box it feeds (a leaf's kind is -1)


@dataclass
class _Inside:
    """One group's inside, laid out once and reused by every group with the same inside.

    Coordinates are relative to the top-left of the children's area (below the label
    bar, inside the insets). ``routes`` holds one flat polyline (x0, y0, x1, y1, ...)
    per link between children; a link from ``_ENTRY`` starts on the group's top border
    at ``entry_x``, a link to ``_EXIT`` ends on its bottom border at ``exit_x``. The
    ranks (each child's, their tops and bottoms and free stretches) are kept to route an
    edge into the group straight to the box it goes to (:meth:`_ModuleRoutes._into`).
    """

    width: float
    height: float
    xy: array  # child j's top-left corner at xy[2j], xy[2j + 1]
    routes: dict[tuple[int, int], array]
    entry_x: float = 0.0
    exit_x: float = 0.0
    rank_of: array = field(default_factory=lambda: array("i"))  # children, way in, out
    tops: array = field(default_factory=lambda: array("d"))
    bottoms: array = field(default_factory=lambda: array("d"))
    gaps: list[list[tuple[float, float]]] = field(default_factory=list)
    crowded: bool = False  # whether boxes share the way in's rank


class _Tree:
    """The boxes as flat arrays, indexed in pre-order (a group before what it holds;
    index 0 is the invisible root holding ``roots``)."""

    def __init__(self, roots: list[Box]) -> None:
        self.ids: list[str] = [""]
        self.index: dict[str, int] = {}
        self.parent = array("i", [-1])
        self.pos = array("i", [0])  # place among its parent's children
        self.depth = array("i", [0])
        self.width = array("d", [0.0])  # the size given: a leaf's, a group's closed one
        self.height = array("d", [0.0])
        self.kids: list[list[int] | None] = [[]]
        self.beside = bytearray(1)
        stack = [(0, roots)]
        while stack:
            group, boxes = stack.pop()
            kids = self.kids[group]
            for j, box in enumerate(boxes):
                i = len(self.ids)
                self.ids.append(box.id)
                self.index[box.id] = i
                self.parent.append(group)
                self.pos.append(j)
                self.depth.append(self.depth[group] + 1)
                self.width.append(box.width)
                self.height.append(box.height)
                self.beside.append(box.beside)
                kids.append(i)
                if box.children is None:
                    self.kids.append(None)
                else:
                    self.kids.append([])
                    stack.append((i, box.children))

    def meet(self, s: int, t: int) -> tuple[int, int]:
        """The children of the group where the ancestor chains of ``s`` and ``t`` meet
        (equal when one holds the other)."""
        depth, parent = self.depth, self.parent
        while depth[s] > depth[t]:
            s = parent[s]
        while depth[t] > depth[s]:
            t = parent[t]
        while parent[s] != parent[t]:
            s, t = parent[s], parent[t]
        return s, t


def _by_module(roots: list[Box], edges: list[tuple[str, str]], method: str) -> Placement:
    tree = _Tree(roots)
    n = len(tree.ids)
    parent, pos, index = tree.parent, tree.pos, tree.index
    # Each edge lifted: to the two children of the group where its ends meet (routed
    # there), and out of / into every group between an end and those children.
    links: dict[int, set[tuple[int, int]]] = {}
    ends = array("i")  # per edge: source, target, the meet's two children (or -1s)
    targets: dict[int, dict[tuple[int, int], list[int]]] = {}  # group -> link -> leaves
    for source, target in edges:
        s, t = index.get(source, -1), index.get(target, -1)
        a = b = -1
        if s >= 0 and t >= 0:
            a, b = tree.meet(s, t)
        if a == b:
            ends.extend((-1, -1, -1, -1))
            continue
        ends.extend((s, t, a, b))
        x = s
        while x != a:
            links.setdefault(parent[x], set()).add((pos[x], _EXIT))
            x = parent[x]
        y = t
        while y != b:
            links.setdefault(parent[y], set()).add((_ENTRY, pos[y]))
            y = parent[y]
        links.setdefault(parent[a], set()).add((pos[a], pos[b]))
        if b != t:  # where in b it goes: a link meets b above what its edges go to
            targets.setdefault(parent[a], {}).setdefault((pos[a], pos[b]), []).append(t)

    # Inside out, a level at a time (a group's level is one more than its highest
    # child's): groups of a level with the same inside (children of the same kinds,
    # the same links between them) are one class, laid out once. A slot is as wide as
    # the class's widest box at that place (labels differ: MatMul_9, MatMul_10) and the
    # boxes there grow to it, so alike groups are drawn alike, box for box.
    level = array("i", bytes(4 * n))
    for g in range(n - 1, 0, -1):
        if level[g] + 1 > level[parent[g]]:
            level[parent[g]] = level[g] + 1
    by_level: dict[int, list[int]] = {}
    for g in range(n):
        if tree.kids[g]:
            by_level.setdefault(level[g], []).append(g)
    width, height = array("d", tree.width), array("d", tree.height)  # open sizes
    kind = array("i", [-1]) * n  # the class of a group's inside; -1: a leaf or empty
    insides: list[_Inside] = []
    for lv in sorted(by_level):
        classes: dict[tuple, list[int]] = {}
        for g in by_level[lv]:
            ordered = tuple(sorted(links.pop(g, ())))
            key = (g == 0, tuple([_BESIDE if tree.beside[k] and tree.kids[k] is None
                                  else kind[k] for k in tree.kids[g]]), ordered)
            classes.setdefault(key, []).append(g)
        for (root, kinds, ordered), members in classes.items():
            slots = []
            for j in range(len(kinds)):
                w = max(width[tree.kids[g][j]] for g in members)
                h = max(height[tree.kids[g][j]] for g in members)
                slots.append((w, h))
                for g in members:  # a leaf grows to its slot: alike layers, alike boxes
                    width[tree.kids[g][j]], height[tree.kids[g][j]] = w, h
            ports = []
            for (w, _h), k in zip(slots, kinds, strict=True):
                if k < 0:  # a leaf (or an empty group)
                    ports.append((w / 2, w / 2))
                else:
                    child = insides[k]
                    shift = (w - child.width) / 2
                    ports.append((shift + child.entry_x, shift + child.exit_x))
            aims = {}  # a link into a child group: the mean x it goes to, from its left
            for (a, b), leaves in targets.get(members[0], {}).items():
                top = tree.kids[members[0]][b]
                aims[(a, b)] = sum(_from_left(tree, width, kind, insides, leaf, top)
                                   for leaf in leaves) / len(leaves)
            for g in members:
                targets.pop(g, None)
            inside = _lay_out_inside(slots, ports, ordered, method == "dot", list(kinds),
                                     aims)
            insides.append(inside)
            if root:
                w, h = inside.width, inside.height
            else:
                w = max(max(tree.width[g] for g in members), inside.width + 2 * INSET)
                h = HEADER + inside.height + 2 * INSET
            for g in members:
                kind[g] = len(insides) - 1
                width[g], height[g] = w, h
        classes.clear()

    # Outside in: absolute positions (every box fills its slot).
    xs, ys = array("d", bytes(8 * n)), array("d", bytes(8 * n))
    for g in range(n):
        kids = tree.kids[g]
        if not kids:
            continue
        inside = insides[kind[g]]
        ox, oy = _origin(g, xs, ys, width, inside)
        xy = inside.xy
        for j, k in enumerate(kids):
            xs[k] = ox + xy[2 * j]
            ys[k] = oy + xy[2 * j + 1]
    tree.width, tree.height = width, height
    how = "by Graphviz dot" if method == "dot" else "in layers"
    reason = (f"{method} ({n - 1:,} boxes; each module laid out once {how}, "
              f"{len(insides):,} distinct insides)")
    placement = Placement(method, reason, _Bounds(index, xs, ys, width, height))
    placement.paths = _ModuleRoutes(tree, ends, kind, insides, xs, ys)
    return placement


def _from_left(tree: _Tree, width: array, kind: array, insides: list[_Inside], leaf: int,
               group: int) -> float:
    """How far right of ``group``'s left side the middle of ``leaf`` (inside it) is."""
    x = width[leaf] / 2
    k = leaf
    while k != group:
        g = tree.parent[k]
        inside = insides[kind[g]]
        x += (width[g] - inside.width) / 2 + inside.xy[2 * tree.pos[k]]
        k = g
    return x


def _origin(g: int, xs: array, ys: array, width: array, inside: _Inside) -> Point:
    """The absolute top-left of group ``g``'s children's area."""
    if g == 0:
        return 0.0, 0.0
    return xs[g] + (width[g] - inside.width) / 2, ys[g] + HEADER + INSET


_DOT_GRAPH = ("graph [rankdir=TB, splines=false, nodesep=0.25, ranksep=0.4, "
              "nslimit=2, nslimit1=2, mclimit=0.5];")
_SEP = 0.25 * 72  # nodesep in points: the room between two boxes of a rank


#: ``dot`` places an inside with more children than this by :func:`_layered` too: dot's
#: time grows faster than the group (measured here: a flat group of 1,408 boxes took dot
#: 0.6 s of CPU, one of 7,060 took 26 s; _layered 0.17 s).
DOT_MOST = 1500
_RANKSEP = 0.4 * 72  # room between two ranks, in points (dot's ranksep)


def _node(count: int, j: int) -> int:
    """A link end as a node number: the children, then the way in, then the way out."""
    return count if j == _ENTRY else count + 1 if j == _EXIT else j


def _walk_links(count: int, links: tuple[tuple[int, int], ...]
                ) -> tuple[list[list[int]], set[tuple[int, int]], list[int]]:
    """The links as successor lists over node numbers, the links that close a cycle
    (found depth first, the way in first, then in child order), and the nodes in the
    order the walk finished them (every node after all it reaches by other links)."""
    succ: list[list[int]] = [[] for _ in range(count + 2)]
    for a, b in links:
        succ[_node(count, a)].append(_node(count, b))
    state = bytearray(count + 2)  # 0 unseen, 1 on the walk's stack, 2 done
    back: set[tuple[int, int]] = set()
    finished: list[int] = []
    for root in [count, *range(count + 2)]:
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, 0)]
        while stack:
            u, i = stack[-1]
            if i < len(succ[u]):
                stack[-1] = (u, i + 1)
                v = succ[u][i]
                if state[v] == 1:
                    back.add((u, v))
                elif state[v] == 0:
                    state[v] = 1
                    stack.append((v, 0))
                continue
            stack.pop()
            state[u] = 2
            finished.append(u)
    return succ, back, finished


def _reduced(count: int, links: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """The links dot needs to place the boxes: each link whose target is also reached
    through another of its source's targets is left out (a constant feeding ten
    chained layers ranks them as well through the first one, and dot's time grows with
    the rank span of every link). Links that close a cycle are all kept."""
    succ, back, finished = _walk_links(count, links)
    desc = [0] * (count + 2)  # bit set of the nodes below each, over forward links
    for u in finished:
        below = 0
        for v in succ[u]:
            if (u, v) not in back:
                below |= desc[v] | (1 << v)
        desc[u] = below
    kept = []
    for a, b in links:
        u, v = _node(count, a), _node(count, b)
        if (u, v) in back:
            kept.append((a, b))
            continue
        through = 0
        for w in succ[u]:
            if w != v and (u, w) not in back:
                through |= desc[w]
        if not (through >> v) & 1:
            kept.append((a, b))
    return kept


def _dot_positions(sizes: list[tuple[float, float]], links: tuple[tuple[int, int], ...],
                   entry: bool, exit_: bool) -> tuple[array, float, float]:
    """dot's placement of the children and of the ways in and out (as points): top-left
    corners, and the width and height of the whole."""
    def name(j: int) -> str:
        return "in" if j == _ENTRY else "out" if j == _EXIT else f"n{j}"

    out = ["digraph G {", _DOT_GRAPH, 'node [shape=box, fixedsize=true, label=""];']
    for j, (w, h) in enumerate(sizes):
        out.append(f"n{j} [width={_inches(w)}, height={_inches(h)}];")
    if entry:
        out.append("subgraph { rank=source; in [shape=point, width=0.05, height=0.05]; }")
    if exit_:
        out.append("subgraph { rank=sink; out [shape=point, width=0.05, height=0.05]; }")
    for a, b in _reduced(len(sizes), links):
        out.append(f"{name(a)} -> {name(b)};")
    out.append("}")
    laid = json.loads(run_graphviz("\n".join(out), "dot", "json0"))
    x0, _y0, x1, y1 = (float(v) for v in laid["bb"].split(","))
    count = len(sizes)
    xy = array("d", bytes(16 * (count + 2)))
    for obj in laid.get("objects", ()):
        if "pos" not in obj:
            continue
        cx, cy = (float(v) for v in obj["pos"].split(","))
        nm = obj["name"]
        j = count if nm == "in" else count + 1 if nm == "out" else int(nm[1:])
        w, h = sizes[j] if j < count else (0.0, 0.0)
        xy[2 * j], xy[2 * j + 1] = cx - x0 - w / 2, y1 - cy - h / 2
    return xy, x1 - x0, y1 - _y0


def _layered(sizes: list[tuple[float, float]], links: tuple[tuple[int, int], ...],
             entry: bool, exit_: bool, ports: list[tuple[float, float]] | None = None,
             kinds: list[int] | None = None, aims: dict[tuple[int, int], float] | None = None
             ) -> tuple[array, float, float, list[int]]:
    """A layered placement in pure Python, linear in the group (the same result as
    :func:`_dot_positions`): ranks by longest path (a box that
    only feeds others sits just above the first it feeds), the order within each rank
    by barycentres (four sweeps), each box centred under the boxes feeding it as far as
    its neighbours allow, then every row moved as a whole to shorten its links sideways
    (:func:`_straighten_rows`; ``ports``: where links leave and enter each child, from
    its left side). A ``beside`` child that only feeds one child sits in that child's
    rank, right beside it (the first on its left, the second on its right; any more
    sit above it, as a constant does): the two move as one. Also returns each node's
    rank."""
    count = len(sizes)
    n = count + 2
    succ, back, finished = _walk_links(count, links)
    pred: list[list[int]] = [[] for _ in range(n)]
    for u in range(n):
        succ[u] = [v for v in succ[u] if (u, v) not in back]
        for v in succ[u]:
            pred[v].append(u)
    present = [True] * count + [entry, exit_]
    fed = [bool(pred[u]) for u in range(n)]
    # beside boxes: out of the rows and the links; each moves with the box it feeds
    sides: dict[int, list[int]] = {}  # a box -> the boxes beside it, left one first
    for u in range(count):
        if kinds and kinds[u] == _BESIDE and not pred[u] and len(succ[u]) == 1 \
                and succ[u][0] < count and len(sides.get(succ[u][0], ())) < 2:
            v = succ[u][0]
            sides.setdefault(v, []).append(u)
            present[u] = False
            succ[u] = []
            pred[v].remove(u)
    # boxes with no links at all (a constant's original, every reader given a box of it)
    # are packed in a block of rows left of the rest (see below), out of the ranks
    linked = {_node(count, j) for link in links for j in link}
    alone = [u for u in range(count) if present[u] and u not in linked]
    if len(alone) < 2 or len(alone) == count:
        alone = []
    for u in alone:
        present[u] = False
    order = [u for u in reversed(finished) if present[u]]  # every link runs forward
    first = 1 if entry else 0
    rank = [first] * n
    rank[count] = 0
    for u in order:  # a box nothing feeds (a constant) does not push what it feeds down
        step = rank[u] + 1 if u >= count or fed[u] else 1
        for v in succ[u]:
            if v != count + 1 and step > rank[v]:
                rank[v] = step
    for u in order:  # ... it sits just above the first box it feeds, by the way in if need be
        below = [rank[v] for v in succ[u] if v != count + 1]
        if u < count and not fed[u] and below:
            rank[u] = min(below) - 1
    for v, by in sides.items():
        for u in by:
            rank[u] = rank[v]
    last = max((rank[u] for u in range(count)), default=first)
    rank[count + 1] = last + 1
    rows: list[list[int]] = [[] for _ in range(last + 2)]
    for u in range(n):
        if present[u]:
            rows[rank[u]].append(u)
    place = [0.0] * n  # a node's place in its row, from 0 to 1
    for row in rows:
        for i, u in enumerate(row):
            place[u] = (i + 0.5) / len(row)
    for sweep in range(4):
        down = sweep % 2 == 0
        for row in rows if down else reversed(rows):
            near = pred if down else succ
            key = {}
            for u in row:
                others = near[u]
                key[u] = sum(place[v] for v in others) / len(others) if others else place[u]
            row.sort(key=lambda u: (key[u], place[u]))
            for i, u in enumerate(row):
                place[u] = (i + 0.5) / len(row)
    width = [w for w, _h in sizes] + [0.0, 0.0]
    # where links enter and leave each node, from its centre; a box with boxes beside
    # it is as wide as all of them, its own middle off the whole's
    in_at, out_at = [0.0] * n, [0.0] * n
    if ports is not None:
        for j in range(count):
            in_at[j] = ports[j][0] - width[j] / 2
            out_at[j] = ports[j][1] - width[j] / 2
    # groups alike (one class) whose ports are off their middles: a stack, one column
    grouped = [kinds[j] if kinds and j < count and kinds[j] >= 0 and
               (in_at[j] != 0.0 or out_at[j] != 0.0) else -1 for j in range(n)]
    own = [0.0] * n  # a box's own middle, from the middle of it and the boxes beside it
    for v, by in sides.items():
        wl = width[by[0]] + _SEP
        wr = width[by[1]] + _SEP if len(by) > 1 else 0.0
        own[v] = (wl - wr) / 2
        width[v] += wl + wr
        in_at[v] += own[v]
        out_at[v] += own[v]
    centre = [0.0] * n
    for row in rows:
        right = None
        shift, wanted = 0.0, 0
        for u in row:
            feeds = [v for v in pred[u] if v != count]  # the way in is placed last
            want = sum(centre[v] for v in feeds) / len(feeds) if feeds else None
            lowest = None if right is None else right + _SEP + width[u] / 2
            c = want if want is not None else (lowest if lowest is not None else 0.0)
            if lowest is not None and c < lowest:
                c = lowest
            if want is not None:
                shift += c - want
                wanted += 1
            centre[u] = c
            right = c + width[u] / 2
        if wanted:
            for u in row:
                centre[u] -= shift / wanted
    if entry:
        below = succ[count]
        centre[count] = sum(centre[v] for v in below) / len(below) if below else 0.0
    meets = {(_node(count, a), _node(count, b)): x - width[_node(count, b)] / 2
             for (a, b), x in (aims or {}).items()}
    _straighten_rows(rows, pred, succ, width, in_at, out_at, grouped, centre, meets)
    for v, by in sides.items():  # the whole apart again
        centre[v] += own[v]
        width[v] = sizes[v][0]
        for u, way in zip(by, (-1, 1), strict=False):
            centre[u] = centre[v] + way * (width[v] / 2 + _SEP + width[u] / 2)
            present[u] = True
    block = _packed(alone, width, sizes, centre, present)
    left = min(centre[u] - width[u] / 2 for u in range(n) if present[u])
    xy = array("d", bytes(16 * n))
    top = 0.0
    for row in rows:
        tall = max((max([sizes[u][1], *(sizes[b][1] for b in sides.get(u, ()))])
                    if u < count else 0.0) for u in row) if row else 0.0
        for u in row:
            h = sizes[u][1] if u < count else 0.0
            xy[2 * u] = centre[u] - width[u] / 2 - left
            # centred in its rank; a box that nothing feeds sits at the bottom, just
            # above what it feeds; boxes beside one, centred on it
            xy[2 * u + 1] = top + (tall - h if u < count and not fed[u] else (tall - h) / 2)
            for b in sides.get(u, ()):
                xy[2 * b] = centre[b] - width[b] / 2 - left
                xy[2 * b + 1] = xy[2 * u + 1] + (h - sizes[b][1]) / 2
        top += tall + _RANKSEP
    for u, y in block.items():
        xy[2 * u], xy[2 * u + 1] = centre[u] - width[u] / 2 - left, y
        rank[u] = -1  # in no rank: no link passes the block
    bottom = max([top - _RANKSEP, *(y + sizes[u][1] for u, y in block.items())])
    right = max(centre[u] + width[u] / 2 - left for u in range(n) if present[u])
    return xy, right, bottom, rank


#: The block of boxes with no links is at most the placed boxes' span over this wide.
_ALONE_SHARE = 8.0


def _packed(alone: list[int], width: list[float], sizes: list[tuple[float, float]],
            centre: list[float], present: list[bool]) -> dict[int, float]:
    """Pack the boxes ``alone`` (in this order) in rows left of the placed boxes, from
    the top, each row at most an eighth (:data:`_ALONE_SHARE`) as wide as the placed
    boxes span (one box at least): a long row of them would widen the group. Sets their
    centres; returns their tops."""
    if not alone:
        return {}
    lo = min(centre[u] - width[u] / 2 for u in range(len(centre)) if present[u])
    hi = max(centre[u] + width[u] / 2 for u in range(len(centre)) if present[u])
    most = max((hi - lo) / _ALONE_SHARE, max(width[u] for u in alone))
    rows: list[list[int]] = [[]]
    used = 0.0
    for u in alone:
        if rows[-1] and used + _SEP + width[u] > most:
            rows.append([])
            used = 0.0
        used += (_SEP if rows[-1] else 0.0) + width[u]
        rows[-1].append(u)
    tops: dict[int, float] = {}
    y = 0.0
    for row in rows:  # right-aligned, a room's width left of the placed boxes
        x = lo - _SEP
        for u in reversed(row):
            centre[u] = x - width[u] / 2
            x -= width[u] + _SEP
            tops[u] = y
            present[u] = True
        y += max(sizes[u][1] for u in row) + _SEP
    return tops


#: Sweeps of :func:`_straighten_rows` (down and up the rows, alternately).
_STRAIGHTEN_SWEEPS = 6  # an even number: the chains' sweep goes down
#: How much more lining up the middles of two linked groups weighs than their ports.
_STACKED = 8.0


def _straighten_rows(rows: list[list[int]], pred: list[list[int]], succ: list[list[int]],
                     width: list[float], in_at: list[float], out_at: list[float],
                     grouped: list[int], centre: list[float],
                     meets: dict[tuple[int, int], float] | None = None) -> None:
    """Move the boxes of each row sideways, keeping their order and the room between
    them, to where their links run straightest: each row in turn (down the rows, then
    up, :data:`_STRAIGHTEN_SWEEPS` times) goes where the sum of squared sideways offsets
    to every box it links to is least, given the other rows (an isotonic regression,
    solved exactly in linear time by pooling adjacent violators). A box with no links
    stays put. Links meet a child at ``in_at`` / ``out_at`` from its middle (a group at
    its ports; ``meets``: where a link meets the child it enters, when not at its way
    in); between two alike groups (one class in ``grouped``, -1 for none) the middles
    weigh more. The last sweep (down) lines up chains: a box fed by one box that feeds
    only it goes straight under that box's way out (two alike groups: middle under
    middle), so a stack of layers stays one column."""
    count = len(centre) - 2
    meets = meets or {}
    busy = [row for row in rows if len(row) > 0]
    if not busy:
        return
    for sweep in range(_STRAIGHTEN_SWEEPS + 1):
        last = sweep == _STRAIGHTEN_SWEEPS
        for row in busy if sweep % 2 == 0 else reversed(busy):
            wants, weights = [], []
            for u in row:
                feeds = [v for v in pred[u] if v != count]
                if last and len(feeds) == 1 and len(succ[feeds[0]]) == 1 and pred[feeds[0]]:
                    # the last sweep (down) lines up a chain: a box fed by one box that
                    # feeds only it goes straight under it
                    v = feeds[0]
                    alike = grouped[u] >= 0 and grouped[u] == grouped[v]  # middles: a column
                    wants.append(centre[v] if alike else
                                 centre[v] + out_at[v] - meets.get((v, u), in_at[u]))
                    weights.append(1.0)
                    continue
                total, weight = 0.0, 0.0
                for v in pred[u]:
                    if not pred[v] and v != count and len(pred[u]) > 1:
                        continue  # a constant follows what it feeds, not the other way
                    if grouped[u] >= 0 and grouped[u] == grouped[v]:  # one column
                        total += _STACKED * centre[v]
                        weight += _STACKED
                    else:
                        total += centre[v] + out_at[v] - meets.get((v, u), in_at[u])
                        weight += 1.0
                beside = 0.0
                if not pred[u] and len(succ[u]) == 1 and len(pred[succ[u][0]]) > 1:
                    # a box only feeding one that others feed too (a constant beside an
                    # op) keeps clear of the line the others come down
                    beside = width[u] / 2 + _SEP
                for v in succ[u]:
                    if grouped[u] >= 0 and grouped[u] == grouped[v]:
                        total += _STACKED * centre[v]
                        weight += _STACKED
                    else:
                        total += centre[v] + meets.get((u, v), in_at[v]) - out_at[u] + beside
                        weight += 1.0
                if weight:
                    wants.append(total / weight)
                    weights.append(weight)
                else:
                    wants.append(centre[u])
                    weights.append(1e-3)
            boxes = row
            if count in row:
                # the way in takes no room in its row (its links pass the boxes there)
                i = row.index(count)
                centre[count] = wants.pop(i)
                del weights[i]
                boxes = [u for u in row if u != count]
            placed = _pooled(wants, weights, [width[u] for u in boxes])
            for u, c in zip(boxes, placed, strict=True):
                centre[u] = c


def _pooled(wants: list[float], weights: list[float], widths: list[float]) -> list[float]:
    """Centres for boxes in a row, in this order and at least :data:`_SEP` apart, that
    minimise the weighted sum of squared distances to ``wants`` (pool adjacent
    violators on the centres less the room the boxes before each need)."""
    room = [0.0] * len(wants)  # the least distance from the first box's centre
    for i in range(1, len(wants)):
        room[i] = room[i - 1] + (widths[i - 1] + widths[i]) / 2 + _SEP
    blocks: list[list[float]] = []  # [weighted mean, weight, how many]
    for want, weight, r in zip(wants, weights, room, strict=True):
        mean, w, k = want - r, weight, 1
        while blocks and blocks[-1][0] >= mean:
            m2, w2, k2 = blocks.pop()
            mean = (m2 * w2 + mean * w) / (w2 + w)
            w += w2
            k += k2
        blocks.append([mean, w, k])
    out: list[float] = []
    for mean, _w, k in blocks:
        for _ in range(k):
            out.append(mean + room[len(out)])
    return out


def _lay_out_inside(sizes: list[tuple[float, float]], ports: list[tuple[float, float]],
                    links: tuple[tuple[int, int], ...], use_dot: bool = False,
                    kinds: list[int] | None = None,
                    aims: dict[tuple[int, int], float] | None = None) -> _Inside:
    """Place one group's children (fixed-size boxes) in layers (:func:`_layered`, or
    Graphviz dot when ``use_dot`` and the group has at most :data:`DOT_MOST` children),
    and route the links between them. ``ports``: where, from a child's left side, links
    enter its top and leave its bottom (a child group's own way in and out); ``kinds``:
    each child's class (groups with the same inside share one; -1 a leaf, ``_BESIDE`` a
    leaf drawn beside the one box it feeds, see :class:`Box`); ``aims``: where, from a
    child group's left side, a link into it goes (the mean of what its edges enter)."""
    used = {j for link in links for j in link}
    entry, exit_ = _ENTRY in used, _EXIT in used
    count = len(sizes)
    ranks = None
    if use_dot and count <= DOT_MOST:
        xy, width, height = _dot_positions(sizes, links, entry, exit_)
    else:
        xy, width, height, ranks = _layered(sizes, links, entry, exit_, ports, kinds, aims)
    inside = _Inside(width, height, xy[:2 * count], {},
                     xy[2 * count] if entry else width / 2,
                     xy[2 * count + 2] if exit_ else width / 2)
    _route_inside(inside, sizes, ports, links, xy, entry, exit_, ranks, aims)
    return inside


def _route_inside(inside: _Inside, sizes: list[tuple[float, float]],
                  ports: list[tuple[float, float]], links: tuple[tuple[int, int], ...],
                  xy: array, entry: bool, exit_: bool, ranks: list[int] | None = None,
                  aims: dict[tuple[int, int], float] | None = None) -> None:
    """Route every link as a polyline: straight down out of its source to the bottom of
    the source's rank, through each rank between at the point of its gaps nearest the
    straight line to its way in, and straight down into its target from the top of the
    target's rank (into a child group: above the mean of what its edges go to, ``aims``).
    A link that does not run downwards goes round the right of the boxes; one from a box
    beside its target runs straight across. ``ranks``: each node's rank (-1: in none, no
    link passes it); without it, the boxes whose centres share a line (as dot puts them)
    are a rank. The ranks are kept in ``inside`` for routing each edge on its own."""
    count = len(sizes)
    shown = [j for j in range(count + 2)  # (a box in no rank is passed by no link)
             if (j < count and (ranks is None or ranks[j] >= 0))
             or (j == count and entry) or (j == count + 1 and exit_)]
    by_rank: dict[float, list[int]] = {}
    for j in shown:
        if ranks is not None:
            by_rank.setdefault(ranks[j], []).append(j)
        else:
            h = sizes[j][1] if j < count else 0.0
            by_rank.setdefault(round(xy[2 * j + 1] + h / 2, 2), []).append(j)
    rank_of = [0] * (count + 2)
    tops, bottoms, gaps = [], [], []
    crowded = False  # whether boxes share the way in's rank
    for r, key in enumerate(sorted(by_rank)):
        members = sorted(by_rank[key], key=lambda j: xy[2 * j])
        if len(members) > 1 and count in members:  # the way in takes no room
            members.remove(count)
            rank_of[count] = r
            crowded = True
        top, bottom = math.inf, -math.inf
        free = []  # the free stretches of the rank, as (from, to), left to right
        left = -math.inf
        for j in members:
            rank_of[j] = r
            w, h = sizes[j] if j < count else (0.0, 0.0)
            x, y = xy[2 * j], xy[2 * j + 1]
            top, bottom = min(top, y), max(bottom, y + h)
            lo, hi = left + _SEP / 2, x - _SEP / 2
            if hi < lo:  # boxes closer than the room between them: the middle
                lo = hi = (left + x) / 2
            free.append((lo, hi))
            left = x + w
        free.append((left + _SEP / 2, math.inf))
        tops.append(top)
        bottoms.append(bottom)
        gaps.append(free)
    inside.rank_of = array("i", rank_of)
    inside.tops, inside.bottoms = array("d", tops), array("d", bottoms)
    inside.gaps, inside.crowded = gaps, crowded
    half = _RANKSEP / 2
    right = inside.width + INSET / 2

    def way_out(j: int) -> Point:
        if j == _ENTRY:
            return inside.entry_x, -(HEADER + INSET)
        return xy[2 * j] + ports[j][1], xy[2 * j + 1] + sizes[j][1]

    def way_in(j: int) -> Point:
        if j == _EXIT:
            return inside.exit_x, inside.height + INSET
        return xy[2 * j] + ports[j][0], xy[2 * j + 1]

    for a, b in links:
        ra = rank_of[count if a == _ENTRY else a]
        rb = rank_of[count + 1 if b == _EXIT else b]
        if ranks is not None and ra == rb and a >= 0 and b >= 0:
            # a box beside the one it feeds (_layered's only links within a rank): across
            ax, bx, y = xy[2 * a], xy[2 * b], xy[2 * b + 1] + sizes[b][1] / 2
            sx, tx = (ax + sizes[a][0], bx) if ax < bx else (ax, bx + sizes[b][0])
            inside.routes[(a, b)] = array("d", (sx, y, tx, y))
            continue
        (sx, sy), (tx, ty) = way_out(a), way_in(b)
        if aims and (a, b) in aims:  # above what its edges go to (each is led there)
            tx = xy[2 * b] + aims[(a, b)]
        if a == _ENTRY and crowded:  # past the boxes beside the way in, at the free point
            x = _nearest_free(gaps[ra], sx)
            flat = array("d", (sx, sy, x, tops[ra], x, bottoms[ra]))
            sx = x
        else:
            flat = array("d", (sx, sy, sx, bottoms[ra]))
        if rb > ra:
            x = sx
            for r in range(ra + 1, rb):
                want = x + (tx - x) / (rb - r + 1) if rb - ra <= _DIAGONAL_MOST else tx
                x = _nearest_free(gaps[r], want)
                flat.extend((x, tops[r], x, bottoms[r]))
        else:
            below, above = bottoms[ra] + half, tops[rb] - half
            flat.extend((sx, below, right, below, right, above, tx, above))
        flat.extend((tx, tops[rb], tx, ty))
        inside.routes[(a, b)] = _straightened(flat)


#: A link across more ranks than this goes across first, then down beside the boxes in
#: its way (links from far away run together instead of fanning out diagonally).
_DIAGONAL_MOST = 4


def _nearest_free(free: list[tuple[float, float]], want: float) -> float:
    """The point of a rank's free stretches (sorted, apart) nearest ``want``."""
    i = bisect.bisect_right(free, (want, math.inf))  # stretches starting at or left of it
    best, far = want, math.inf
    for lo, hi in free[max(i - 1, 0):i + 1]:
        x = min(max(want, lo), hi)
        if abs(x - want) < far:
            best, far = x, abs(x - want)
    return best


def _aimed(inside: _Inside, flat: array, a: int, b: int, line, tx: float) -> array:
    """Link (a, b)'s route (``flat``) led to x ``tx`` of ``b``'s top instead of its way
    in: the same way out of ``a``, then through the ranks between at the free points
    nearest ``line`` (its x at a height; for a link across many ranks, ``tx``: across
    first, as :func:`_route_inside` does)."""
    count = len(inside.rank_of) - 2
    ra = inside.rank_of[count if a == _ENTRY else a]
    rb = inside.rank_of[b]
    ty = inside.xy[2 * b + 1]
    if rb <= ra:  # round the right: only the last leg moves
        out = array("d", flat[:-4])
        out.extend((tx, flat[-3], tx, ty))
        return _straightened(out)
    x, y = flat[0], flat[1]  # a's way out
    out = array("d", (x, y))
    if a == _ENTRY and inside.crowded:  # past the boxes beside the way in
        x = _nearest_free(inside.gaps[ra], line(inside.tops[ra]))
        out.extend((x, inside.tops[ra]))
    out.extend((x, inside.bottoms[ra]))
    for r in range(ra + 1, rb):
        want = line(inside.tops[r]) if rb - ra <= _DIAGONAL_MOST else tx
        x = _nearest_free(inside.gaps[r], want)
        out.extend((x, inside.tops[r], x, inside.bottoms[r]))
    out.extend((tx, inside.tops[rb], tx, ty))
    return _straightened(out)


def _straightened(flat: array) -> array:
    """A polyline without repeated points or corners that do not turn."""
    out = array("d", flat[:2])
    for k in range(2, len(flat), 2):
        x, y = flat[k], flat[k + 1]
        if x == out[-2] and y == out[-1]:
            continue
        if len(out) >= 4:
            ax, ay, bx, by = out[-4], out[-3], out[-2], out[-1]
            if abs((bx - ax) * (y - ay) - (by - ay) * (x - ax)) < 1e-6:
                out[-2], out[-1] = x, y
                continue
        out.extend((x, y))
    return out


class _Bounds(Mapping):
    """Open bounds by box id, read from flat arrays (a dict of tuples would weigh
    several times more on 100,000 boxes)."""

    def __init__(self, index: dict[str, int], xs: array, ys: array, widths: array,
                 heights: array) -> None:
        self._index, self._x, self._y, self._w, self._h = index, xs, ys, widths, heights

    def __getitem__(self, key: str) -> Rect:
        i = self._index[key]
        return self._x[i], self._y[i], self._w[i], self._h[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


class _ModuleRoutes(Sequence):
    """Each edge's polyline, put together when it is asked for from the routes of the
    groups it passes: out of each group holding its source (to the bottom border), the
    route between the two children where its ends meet, into each group holding its
    target (from the top border)."""

    def __init__(self, tree: _Tree, ends: array, kind: array, insides: list[_Inside],
                 xs: array, ys: array) -> None:
        self._tree, self._ends, self._kind, self._insides = tree, ends, kind, insides
        self._xs, self._ys = xs, ys

    def __len__(self) -> int:
        return len(self._ends) // 4

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        s, t, a, b = self._ends[4 * (i % len(self)):4 * (i % len(self)) + 4]
        if a < 0:
            return None
        parent, pos = self._tree.parent, self._tree.pos
        points: list[Point] = []
        x = s
        while x != a:
            self._piece(parent[x], pos[x], _EXIT, points)
            x = parent[x]
        if b == t:
            self._piece(parent[a], pos[a], pos[b], points)
            return points
        # into the groups holding the target: along the line from where the edge leaves
        # its source's side to the target's top, past the boxes in the way
        xs, width = self._xs, self._tree.width
        if not points:
            g = parent[a]
            inside = self._insides[self._kind[g]]
            ox, oy = _origin(g, xs, self._ys, width, inside)
            flat = inside.routes[(pos[a], pos[b])]
            points.append((ox + flat[0], oy + flat[1]))
        (x0, y0), x1, y1 = points[-1], xs[t] + width[t] / 2, self._ys[t]

        def line(y: float, k: int) -> float:
            """The line's x at height y, kept inside box k (between its insets)."""
            x = x1 if y >= y1 or y1 <= y0 else x0 + (x1 - x0) * (y - y0) / (y1 - y0)
            lo, hi = xs[k] + INSET, xs[k] + width[k] - INSET
            return min(max(x, lo), hi) if lo < hi else xs[k] + width[k] / 2

        self._piece(parent[a], pos[a], pos[b], points, (line, b))
        down = []
        y = t
        while y != b:
            down.append(y)
            y = parent[y]
        for y in reversed(down):
            self._into(parent[y], pos[y], y, line, points)
        return points

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    def _piece(self, g: int, a: int, b: int, points: list[Point], aim=None) -> None:
        """Append the route of link (a, b) inside group ``g`` (each piece starts where
        the one before ended: on a border, at a group's way out or in). With ``aim``
        (a line, as ``line(y, box)`` gives its x, and the box ``b`` is), the route
        follows that line through the ranks between and meets ``b``'s top on it."""
        inside = self._insides[self._kind[g]]
        ox, oy = _origin(g, self._xs, self._ys, self._tree.width, inside)
        flat = inside.routes[(a, b)]
        if aim is not None:
            line, box = aim
            flat = _aimed(inside, flat, a, b, lambda y: line(oy + y, g) - ox,
                          line(oy + inside.xy[2 * b + 1], box) - ox)
        first = 2 if points else 0
        points.extend([(ox + flat[k], oy + flat[k + 1]) for k in range(first, len(flat), 2)])

    def _into(self, g: int, j: int, box: int, line, points: list[Point]) -> None:
        """Append the way from group ``g``'s top border down to the top of its child
        ``j`` (the box ``box``) along ``line`` (``line(y, box)``: its x at height y, kept
        inside a box), past the boxes of the ranks above ``j`` at the free points
        nearest it."""
        inside = self._insides[self._kind[g]]
        ox, oy = _origin(g, self._xs, self._ys, self._tree.width, inside)
        flat = array("d", (line(oy - HEADER - INSET, g) - ox, -(HEADER + INSET)))
        for r in range(0 if inside.crowded else 1, inside.rank_of[j]):
            top, bottom = inside.tops[r], inside.bottoms[r]
            free = _nearest_free(inside.gaps[r], line(oy + top, g) - ox)
            flat.extend((free, top, free, bottom))
        y = inside.xy[2 * j + 1]
        flat.extend((line(oy + y, box) - ox, y))
        flat = _straightened(flat)
        points.extend([(ox + flat[k], oy + flat[k + 1]) for k in range(2, len(flat), 2)])


# -- dot ------------------------------------------------------------------------------

def dot_quote(text: str) -> str:
    """``text`` as a quoted DOT string (ids and labels alike; a newline becomes ``\\n``)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _inches(px: float) -> str:
    return f"{px / 72.0:.4f}"


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


# -- outline --------------------------------------------------------------------------

@dataclass
class _OutlineRows:
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
    rows_of: dict[str, _OutlineRows] = {}
    for group in reversed(groups):  # children before their parents
        kids = group.children or []
        if not kids:
            boxes[group.id] = (0.0, 0.0, group.width, group.height)
            continue
        rows_of[group.id] = info = _OutlineRows()
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
        for r, (row, row_w, row_h) in enumerate(zip(rows, widths, heights, strict=True)):
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
                 parent: dict[str, str], rows_of: dict[str, _OutlineRows],
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
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))


def _through(info: _OutlineRows, first: int, last: int, x: float, points: list[Point]) -> float:
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
