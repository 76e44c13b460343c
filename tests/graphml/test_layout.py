"""graphml.layout: boxes in, positions out; dot and outline both give a readable picture."""

from __future__ import annotations

import pytest
from geometry import (
    NS,
    columns,
    edges_through_nodes,
    outside_parent,
    overlapping_leaves,
    read_picture,
)
from graphml_documents import build_document
from lxml import etree

from modelexport.graphml import format as fmt
from modelexport.graphml import generate_graphml, parse_graphml
from modelexport.graphml.errors import GraphMLFormatError
from modelexport.graphml.layout import DOT_LIMIT, Box, count_boxes, place


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


@pytest.mark.parametrize("method", ["dot", "outline"])
def test_every_box_is_placed_at_its_size_and_groups_hold_their_children(method):
    roots, edges = _blocks(3)
    placement = place(roots, edges, method)
    assert placement.method == method
    assert len(placement.boxes) == count_boxes(roots)
    for leaf in _leaves(roots):
        assert placement.boxes[leaf.id][2:] == (leaf.width, leaf.height)
    stack = list(roots)
    while stack:
        box = stack.pop()
        for child in box.children or []:
            assert _inside(placement.boxes[child.id], placement.boxes[box.id]), child.id
            stack.append(child)
        if box.children is not None:
            assert placement.boxes[box.id][2] >= box.width  # room for the label


@pytest.mark.parametrize("method", ["dot", "outline"])
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
    for method in ("dot", "outline"):
        assert place(roots, edges, method) == place(*_blocks(3), method)


def test_auto_takes_dot_for_small_graphs_and_the_outline_past_the_limit():
    small = place(*_blocks(2))
    assert small.method == "dot" and "auto uses dot" in small.reason
    roots, edges = _blocks(DOT_LIMIT // 7 + 1)
    assert count_boxes(roots) > DOT_LIMIT
    big = place(roots, edges)
    assert big.method == "outline" and "--layout dot" in big.reason


def test_an_empty_group_keeps_its_closed_size_and_edges_to_unknown_boxes_are_left_alone():
    roots = [Box("a", 40, 30), Box("g", 120, 40, []), Box("b", 40, 30)]
    edges = [("a", "g"), ("g", "b"), ("a", "nowhere")]
    for method in ("dot", "outline"):
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
    assert pic.layout == "dot"
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
