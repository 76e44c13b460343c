"""yEd styling: shape nodes with labels, collapsible groups, labelled edges; none with yed=False."""

from __future__ import annotations

import io

import networkx as nx
from geometry import label_rects, labels_over_boxes, read_picture
from graphml_documents import build_document
from lxml import etree

from modelexport.graphml import format as fmt
from modelexport.graphml import generate_graphml

NS = {"g": fmt.GRAPHML_NS, "y": fmt.YFILES_NS}


def _root(yed: bool = True) -> etree._Element:
    return etree.fromstring(generate_graphml(build_document(), yed=yed))


def test_every_leaf_is_a_shape_node_with_a_label_sized_geometry() -> None:
    root = _root()
    leaves = root.xpath("//g:node[not(g:graph)]", namespaces=NS)
    assert leaves
    for node in leaves:
        shape = node.find("g:data[@key='y_node']/y:ShapeNode", NS)
        assert shape is not None, node.get("id")
        label = shape.find("y:NodeLabel", NS)
        assert label.text and label.text.strip()
        label_text = node.find("g:data[@key='label']", NS).text
        assert label.text == label_text
        geometry = shape.find("y:Geometry", NS)
        longest = max(len(line) for line in label.text.split("\n"))
        assert float(geometry.get("width")) >= longest * 6
        assert shape.find("y:Fill", NS) is not None and shape.find("y:Shape", NS) is not None


def test_every_group_has_open_and_closed_realizers() -> None:
    root = _root()
    groups = root.xpath("//g:node[g:graph]", namespaces=NS)
    assert {g.get("id") for g in groups} == {"m_model", "m_layer0", "op_if", "sg_then"}
    for group in groups:
        assert group.get("yfiles.foldertype") == "group"
        proxy = group.find("g:data[@key='y_node']/y:ProxyAutoBoundsNode", NS)
        realizers = proxy.find("y:Realizers", NS)
        assert realizers.get("active") == "0"
        states = [g.find("y:State", NS).get("closed") for g in realizers.findall("y:GroupNode", NS)]
        assert states == ["false", "true"]
        for g in realizers.findall("y:GroupNode", NS):
            assert g.find("y:NodeLabel", NS).text


def test_groups_enclose_their_children() -> None:
    root = _root()
    def box(node):
        geo = node.find("g:data[@key='y_node']//y:Geometry", NS)
        return [float(geo.get(k)) for k in ("x", "y", "width", "height")]
    for group in root.xpath("//g:node[g:graph]", namespaces=NS):
        gx, gy, gw, gh = box(group)
        for child in group.findall("g:graph/g:node", NS):
            x, y, w, h = box(child)
            assert gx <= x and gy <= y and x + w <= gx + gw and y + h <= gy + gh


def test_edges_are_polylines_with_an_arrow_and_the_shape_as_label() -> None:
    root = _root()
    for edge in root.iter(f"{{{fmt.GRAPHML_NS}}}edge"):
        line = edge.find("g:data[@key='y_edge']/y:PolyLineEdge", NS)
        assert line.find("y:Arrows", NS).get("target") == "standard"
    e0 = root.xpath("//g:edge[@id='e0']//y:EdgeLabel", namespaces=NS)[0]
    assert e0.text == "FLOAT[1,4]"
    # on a segment of the edge's path, where it covers no node on either side
    spot = e0.find("y:ModelParameter/y:SmartEdgeLabelModelParameter", NS)
    assert e0.get("modelName") == "custom" and spot.get("distanceToCenter") == "true"
    pic = read_picture(generate_graphml(build_document(), yed=True))
    assert pic.edge_labels and labels_over_boxes(label_rects(pic), pic.leaves.values()) == []


def test_an_edge_label_goes_where_it_covers_no_box_shortened_or_left_out_when_none_fits():
    from modelexport.graphml.yed import LabelPlacer

    path = [(100.0, 0.0), (100.0, 100.0)]  # a vertical edge, 100 pt long
    wall = [(0.0, 0.0, 96.0, 60.0)]  # a box beside its upper part, up to 4 pt from it
    spot = LabelPlacer(wall).place("FLOAT[1,2,8,8]", path)
    assert spot is not None and spot.text == "FLOAT[1,2,8,8]"
    assert labels_over_boxes([spot.rect, spot.left], wall) == []
    assert spot.segment == 0 and spot.rect[1] >= 60.0  # below the box, not beside it
    # room for the shape alone: the dtype goes
    narrow = [(0.0, 0.0, 60.0, 100.0), (140.0, 0.0, 60.0, 100.0)]
    assert LabelPlacer(narrow).place("FLOAT[1,2]", path).text == "[1,2]"
    # no room at all: no label, never one over a node
    assert LabelPlacer([(0.0, 0.0, 97.0, 100.0)]).place("FLOAT[1,2]", path) is None
    # labels do not cover one another either
    placer = LabelPlacer([])
    first, second = placer.place("FLOAT[4]", path), placer.place("FLOAT[4]", path)
    assert labels_over_boxes([second.rect], [first.rect]) == []


def test_yed_keys_are_declared_for_yfiles_and_nothing_yfiles_without_yed() -> None:
    root = _root()
    keys = {k.get("id"): k for k in root.findall("g:key", NS)}
    assert keys["y_node"].get("yfiles.type") == "nodegraphics"
    assert keys["y_edge"].get("yfiles.type") == "edgegraphics"
    plain = generate_graphml(build_document(), yed=False)
    assert fmt.YFILES_NS.encode() not in plain and b"y_node" not in plain
    assert b"yfiles.type" not in plain


def test_networkx_reads_the_yed_output_with_tags_and_labels() -> None:
    graph = nx.read_graphml(io.BytesIO(generate_graphml(build_document())))
    ops = [n for n, d in graph.nodes(data=True) if d.get("kind") == "op"]
    assert sorted(ops) == ["op_add", "op_const", "op_if", "op_matmul", "op_relu", "op_then"]
    for n in ops:
        data = graph.nodes[n]
        assert data["hierarchy_tag"].startswith("/Model") and data["label"]
    assert graph.number_of_edges() == 8
