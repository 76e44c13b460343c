"""graphml.layout: boxes in, positions out; auto (dot per module), dot and outline all give a
readable picture."""

from __future__ import annotations

import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest
from geometry import (
    NS,
    columns,
    edge_length,
    edges_through_nodes,
    outside_parent,
    overlapping_leaves,
    read_picture,
)
from graphml_documents import build_document
from lxml import etree

from modelexport.graphml import format as fmt
from modelexport.graphml import generate_graphml, layout, parse_graphml, picture
from modelexport.graphml.errors import GraphMLFormatError
from modelexport.graphml.layout import Box, count_boxes, dot_quote, place


def _blocks(n: int) -> tuple[list[Box], list[tuple[str, str]]]:
    """``n`` groups of a 4-op chain with a side input each, chained one after another."""
    roots: list[Box] = [Box("in", 60, 30)]
    edges = []
    prev = "in"
    for b in range(n):
        kids = [Box(f"b{b}w", 90, 30)] + [Box(f"b{b}op{i}", 70 + 10 * i, 30) for i in range(4)]
        inner = Box(f"b{b}inner", 90, 40, [Box(f"b{b}deep", 50, 30)])
        roots.append(Box(f"b{b}", 100, 40, kids + [inner]))
        edges += [(prev, f"b{b}op0"), (f"b{b}w", f"b{b}op1"), (f"b{b}op0", f"b{b}op1"),
                  (f"b{b}op1", f"b{b}op2"), (f"b{b}op1", f"b{b}deep"), (f"b{b}deep", f"b{b}op3"),
                  (f"b{b}op2", f"b{b}op3"), ("in", f"b{b}op3")]
        prev = f"b{b}op3"
    roots.append(Box("out", 60, 30))
    edges.append((prev, "out"))
    return roots, edges


def _leaves(roots: list[Box]) -> list[Box]:
    out, stack = [], list(roots)
    while stack:
        box = stack.pop()
        if box.children is None:
            out.append(box)
        else:
            stack.extend(box.children)
    return out


def _inside(inner, outer) -> bool:
    x, y, w, h = inner
    gx, gy, gw, gh = outer
    return gx - 0.5 <= x and gy - 0.5 <= y and x + w <= gx + gw + 0.5 and y + h <= gy + gh + 0.5


@pytest.mark.parametrize("method", ["auto", "dot", "outline"])
def test_every_box_is_placed_at_its_size_and_groups_hold_their_children(method):
    roots, edges = _blocks(3)
    placement = place(roots, edges, method)
    assert placement.method == method
    assert len(placement.boxes) == count_boxes(roots)
    for leaf in _leaves(roots):  # auto grows a leaf to the widest of its alike places
        w, h = placement.boxes[leaf.id][2:]
        assert (w, h) == (leaf.width, leaf.height) or method == "auto" and w >= leaf.width
    stack = list(roots)
    while stack:
        box = stack.pop()
        for child in box.children or []:
            assert _inside(placement.boxes[child.id], placement.boxes[box.id]), child.id
            stack.append(child)
        if box.children is not None:
            assert placement.boxes[box.id][2] >= box.width  # room for the label


@pytest.mark.parametrize("method", ["auto", "dot", "outline"])
def test_edges_run_from_the_source_border_to_the_target_border_downwards(method):
    roots, edges = _blocks(2)
    placement = place(roots, edges, method)
    assert len(placement.paths) == len(edges)
    for (s, t), path in zip(edges, placement.paths, strict=True):
        assert path and len(path) >= 2
        sx, sy, sw, sh = placement.boxes[s]
        tx, ty, tw, th = placement.boxes[t]
        (x0, y0), (x1, y1) = path[0], path[-1]
        assert sx - 1 <= x0 <= sx + sw + 1 and sy - 1 <= y0 <= sy + sh + 1
        assert tx - 1 <= x1 <= tx + tw + 1 and ty - 1 <= y1 <= ty + th + 1
        assert y1 > y0  # data flows top to bottom


def test_the_same_boxes_give_the_same_placement():
    roots, edges = _blocks(3)
    for method in ("auto", "dot", "outline"):
        assert place(roots, edges, method) == place(*_blocks(3), method)


def _centres(placement, ids) -> list[tuple[float, float]]:
    return [(x + w / 2, y + h / 2) for x, y, w, h in (placement.boxes[i] for i in ids)]


def test_auto_lays_out_alike_modules_once_drawn_alike_and_stacked_in_order():
    roots, edges = _blocks(6)
    placement = place(roots, edges)
    assert placement.method == "auto" and "distinct insides" in placement.reason
    blocks = [box for box in roots if box.children]
    shapes = []
    for block in blocks[1:]:  # the first block's input comes from a box, not a block
        gx, gy, gw, gh = placement.boxes[block.id]
        shapes.append([(round(cx - gx, 1), round(cy - gy, 1))
                       for cx, cy in _centres(placement, [c.id for c in block.children])])
    assert all(shape == shapes[0] for shape in shapes)
    for upper, lower in pairwise(blocks):
        _, uy, _, uh = placement.boxes[upper.id]
        assert placement.boxes[lower.id][1] >= uy + uh  # below, in index order


def test_a_box_feeding_every_layer_of_a_deep_stack_leaves_them_stacked_and_routes_around():
    # like a shared constant: one box outside, an edge into every one of 40 chained layers
    layers, edges = [], []
    for i in range(40):
        layers.append(Box(f"L{i}", 80, 40, [Box(f"L{i}a", 60, 30), Box(f"L{i}b", 60, 30)]))
        edges += [(f"L{i}a", f"L{i}b"), ("shared", f"L{i}b")]
        if i:
            edges.append((f"L{i - 1}b", f"L{i}a"))
    roots = [Box("shared", 70, 30), Box("stack", 100, 40, layers)]
    placement = place(roots, edges)
    tops = [placement.boxes[f"L{i}"][1] for i in range(40)]
    assert tops == sorted(tops)  # one column, in index order (layer 0 has no layer above it)
    assert len({round(placement.boxes[f"L{i}"][0]) for i in range(1, 40)}) == 1
    leaves = {b.id: placement.boxes[b.id] for b in _leaves(roots)}
    for (s, t), path in zip(edges, placement.paths, strict=True):
        assert all(q[1] >= p[1] for p, q in pairwise(path)), (s, t)  # never back up
        for p, q in pairwise(path):
            for other, rect in leaves.items():
                assert other in (s, t) or not _crosses(p, q, rect), (s, t, other)


def _crosses(p, q, rect) -> bool:
    """Whether segment p-q passes through the inside of ``rect`` (1 px in from its border)."""
    x, y, w, h = rect
    lo, hi = [x + 1, y + 1], [x + w - 1, y + h - 1]
    t0, t1 = 0.0, 1.0
    for axis in (0, 1):
        d = q[axis] - p[axis]
        if abs(d) < 1e-9:
            if not lo[axis] < p[axis] < hi[axis]:
                return False
            continue
        a, b = sorted(((lo[axis] - p[axis]) / d, (hi[axis] - p[axis]) / d))
        t0, t1 = max(t0, a), min(t1, b)
        if t0 >= t1:
            return False
    return True


def test_an_edge_out_of_nested_groups_joins_its_pieces_at_the_group_borders():
    inner = Box("inner", 60, 40, [Box("src", 50, 30), Box("mid", 50, 30)])
    outer = Box("outer", 80, 40, [inner, Box("side", 50, 30)])
    deep = Box("deep", 60, 40, [Box("dst", 50, 30)])
    roots = [outer, Box("between", 50, 30), Box("into", 80, 40, [deep])]
    edges = [("src", "mid"), ("mid", "side"), ("src", "between"), ("between", "dst"),
             ("src", "dst")]
    placement = place(roots, edges)
    path = placement.paths[4]
    _, iy, _, ih = placement.boxes["inner"]
    _, oy, _, oh = placement.boxes["outer"]
    _, ty, _, _ = placement.boxes["into"]
    _, dy, _, _ = placement.boxes["deep"]
    ys = [y for _x, y in path]
    for border in (iy + ih, oy + oh, ty, dy):  # out through bottoms, in through tops
        assert any(abs(y - border) < 1e-6 for y in ys), border
    assert ys == sorted(ys)


def test_links_that_form_a_cycle_are_still_placed_and_routed():
    roots = [Box("a", 50, 30), Box("b", 50, 30), Box("c", 50, 30)]
    edges = [("a", "b"), ("b", "c"), ("c", "a")]
    placement = place(roots, edges)
    assert len(placement.boxes) == 3 and all(len(p) >= 2 for p in placement.paths)
    assert overlapping_boxes(placement) == []


def overlapping_boxes(placement, ids=None) -> list[tuple[str, str]]:
    """Pairs of boxes (of ``ids``, default all) that overlap."""
    items = [(i, placement.boxes[i]) for i in (placement.boxes if ids is None else ids)]
    return [(a, b) for i, (a, (ax, ay, aw, ah)) in enumerate(items)
            for b, (bx, by, bw, bh) in items[i + 1:]
            if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah]


def test_one_dot_quoting_for_layout_and_picture():
    assert dot_quote('a "b"\\\nc') == '"a \\"b\\"\\\\\\nc"'
    assert picture.dot_quote is dot_quote


def test_a_group_too_big_for_dot_is_layered_in_python_with_the_same_guarantees(monkeypatch):
    monkeypatch.setattr(layout, "DOT_MOST", 3)  # every group of _blocks has more
    roots, edges = _blocks(4)
    placement = place(roots, edges)
    assert overlapping_boxes(placement, [b.id for b in _leaves(roots)]) == []
    stack = list(roots)
    while stack:
        box = stack.pop()
        for child in box.children or []:
            assert _inside(placement.boxes[child.id], placement.boxes[box.id]), child.id
            stack.append(child)
    leaves = {b.id: placement.boxes[b.id] for b in _leaves(roots)}
    for (s, t), path in zip(edges, placement.paths, strict=True):
        assert path[-1][1] > path[0][1], (s, t)  # downwards
        for p, q in pairwise(path):
            for other, rect in leaves.items():
                assert other in (s, t) or not _crosses(p, q, rect), (s, t, other)
    assert place(*_blocks(4)) == placement


def test_auto_never_loads_graphviz_and_dot_places_each_module_with_it():
    # loading Graphviz alone costs more than exporting a small model (bench/)
    code = ("import sys; from modelexport.graphml import generate_graphml; "
            "sys.path.insert(0, sys.argv[1]); from graphml_documents import build_document; "
            "generate_graphml(build_document()); print('pygraphviz' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    placement = place(*_blocks(2), "dot")
    assert placement.method == "dot" and "Graphviz dot" in placement.reason


def test_an_empty_group_keeps_its_closed_size_and_edges_to_unknown_boxes_are_left_alone():
    roots = [Box("a", 40, 30), Box("g", 120, 40, []), Box("b", 40, 30)]
    edges = [("a", "g"), ("g", "b"), ("a", "nowhere")]
    for method in ("auto", "dot", "outline"):
        placement = place(roots, edges, method)
        assert placement.boxes["g"][2] >= 120 and placement.boxes["g"][3] >= 40
        assert placement.paths[2] is None


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="not one of auto, dot, outline"):
        place([Box("a", 10, 10)], [], "spring")


# -- in the GraphML ---------------------------------------------------------------------

def test_the_graphml_geometry_is_a_picture_with_bends_and_says_how_it_was_placed():
    data = generate_graphml(build_document())
    pic = read_picture(data)
    assert pic.layout == "auto"
    assert overlapping_leaves(pic) == []
    assert outside_parent(pic) == []
    assert edges_through_nodes(pic) == []
    assert columns(pic) >= 3
    root = etree.fromstring(data)
    assert root.xpath("//y:Path/y:Point", namespaces=NS)  # bends where edges turn


def test_layout_none_writes_sizes_only_and_outline_writes_positions():
    none = etree.fromstring(generate_graphml(build_document(), layout="none"))
    geometries = none.xpath("//y:Geometry", namespaces=NS)
    # sizes, and x and y at 0 (yEd's schema requires them; the layout key says none)
    assert geometries and all(g.get("x") == g.get("y") == "0.0" and g.get("width")
                              for g in geometries)
    assert none.xpath("string(/g:graphml/g:graph/g:data[@key='layout'])", namespaces=NS) == "none"
    pic = read_picture(generate_graphml(build_document(), layout="outline"))
    assert pic.layout == "outline" and overlapping_leaves(pic) == [] and outside_parent(pic) == []
    with pytest.raises(GraphMLFormatError, match="layout 'grid' is not one of"):
        generate_graphml(build_document(), layout="grid")


def test_the_layout_key_is_styling_the_reader_skips_and_pure_graphml_has_none():
    doc = build_document()
    assert fmt.LAYOUT_KEY not in parse_graphml(generate_graphml(doc)).graph.data
    assert b'key="layout"' not in generate_graphml(doc, yed=False)


def test_yed_graphics_keys_keep_attr_name_and_type_which_some_readers_require():
    # yEd itself leaves them out, but rustworkx and networkit then refuse even a --flat
    # file (issue 12, README "Reading the GraphML elsewhere"); igraph shows an empty
    # attribute instead, which is the lesser harm.
    root = etree.fromstring(generate_graphml(build_document()))
    keys = root.xpath("/g:graphml/g:key[@yfiles.type]", namespaces=NS)
    assert {k.get("attr.name") for k in keys} == {"nodegraphics", "edgegraphics"}
    assert {k.get("attr.type") for k in keys} == {"string"}


def test_a_constant_beside_an_op_keeps_clear_of_the_line_its_other_input_comes_down():
    # an edge from outside enters the group and goes to conv; a wide weight feeds only
    # conv, so it sits just above conv, beside the line coming in (no detour round it)
    inner = [Box("weight", 240, 30), Box("conv", 60, 30), Box("relu", 60, 30)]
    roots = [Box("x", 60, 30), Box("g", 80, 40, inner)]
    edges = [("x", "conv"), ("weight", "conv"), ("conv", "relu")]
    placement = place(roots, edges)
    boxes = placement.boxes
    _wx, wy, _ww, wh = boxes["weight"]
    _ox, oy, _ow, _oh = boxes["conv"]
    assert oy - (wy + wh) < 30  # the constant sits just above what it feeds
    for (s, t), path in zip(edges, placement.paths, strict=True):
        assert not any(_crosses(p, q, boxes["weight"]) for p, q in pairwise(path)), (s, t)
        # no detour round the constant: no longer than across and down
        (x0, y0), (x1, y1) = path[0], path[-1]
        assert edge_length(path) <= abs(x1 - x0) + abs(y1 - y0) + 1, (s, t, path)


def test_a_link_crosses_a_rank_at_the_nearest_free_point_not_the_middle_of_a_gap():
    # a -> c passes the rank of b and w; the free stretch left of w is wide
    kids = [Box("s", 60, 30), Box("a", 60, 30), Box("b", 60, 30), Box("w", 60, 30),
            Box("c", 60, 30)]
    edges = [("s", "b"), ("s", "w"), ("b", "c"), ("a", "c"), ("w", "c")]
    placement = place([Box("g", 80, 40, kids)], edges)
    for (s, t), path in zip(edges, placement.paths, strict=True):
        ys = [y for _x, y in path]
        assert ys == sorted(ys), (s, t)
        for other in ("s", "a", "b", "w", "c"):
            assert other in (s, t) or not any(
                _crosses(p, q, placement.boxes[other]) for p, q in pairwise(path)), (s, t)
    for path in placement.paths:  # no detour: no longer than across and down
        (x0, y0), (x1, y1) = path[0], path[-1]
        assert edge_length(path) <= abs(x1 - x0) + abs(y1 - y0) + 1, path


def test_a_constant_does_not_push_the_op_it_feeds_a_rank_down():
    # x enters the group and feeds op with a weight: the weight sits beside the way in,
    # so op is in the group's first row of boxes and the edge from x enters it directly
    roots = [Box("x", 60, 30), Box("g", 80, 40, [Box("weight", 90, 30), Box("op", 60, 30)])]
    edges = [("x", "op"), ("weight", "op")]
    placement = place(roots, edges)
    _gx, gy, _gw, _gh = placement.boxes["g"]
    _wx, wy, _ww, wh = placement.boxes["weight"]
    _ox, oy, _ow, _oh = placement.boxes["op"]
    assert wy == pytest.approx(gy + layout.HEADER + layout.INSET)  # the first row
    assert oy == pytest.approx(wy + wh + layout._RANKSEP)  # the next one
    path = placement.paths[0]  # x -> op: past the weight, not through it
    assert not any(_crosses(p, q, placement.boxes["weight"]) for p, q in pairwise(path)), path


def test_boxes_with_no_links_are_packed_in_a_narrow_block_beside_the_rest():
    # ten originals whose readers all have boxes of them: no links at all; a long row of
    # them would make the group three times as wide as its chain
    alone = [Box(f"c{i}", 100, 30) for i in range(10)]
    chain = [Box(f"op{i}", 60, 30) for i in range(6)]
    edges = [(f"op{i}", f"op{i + 1}") for i in range(5)]
    placement = place([Box("g", 80, 40, alone + chain)], edges)
    boxes = placement.boxes
    _gx, _gy, gw, _gh = boxes["g"]
    assert gw < 2 * 100 + 2 * layout.INSET + 60 + 3 * layout._SEP  # a column beside the chain
    chain_left = min(boxes[b.id][0] for b in chain)
    for b in alone:
        x, y, w, h = boxes[b.id]
        assert x + w < chain_left  # left of every op: no link passes them
    rects = [boxes[b.id] for b in alone + chain]
    for i, (x, y, w, h) in enumerate(rects):  # none overlaps another
        for x2, y2, w2, h2 in rects[i + 1:]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y
