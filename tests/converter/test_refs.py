"""Reference boxes in real files: shared constants drawn beside their consumers, the
model still rebuilt exactly, the validator knowing the kind, --no-yed files direct."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from lxml import etree
from onnx import TensorProto, helper, numpy_helper

from modelexport.converter import graphml_to_onnx, model_to_document, onnx_to_graphml
from modelexport.converter.tags import TAG_KEY
from modelexport.graphml import (
    add_refs,
    generate_graphml,
    read_graphml,
    remove_refs,
    validate_graphml,
)
from modelexport.graphml import format as fmt


def tagged(node: onnx.NodeProto, tag: str) -> onnx.NodeProto:
    """``node`` tagged with module ``tag``, as the exporter tags it."""
    prop = node.metadata_props.add()
    prop.key, prop.value = TAG_KEY, tag
    return node


def constant_model() -> onnx.ModelProto:
    """A Constant op of /Net read by ops of /Net/A and /Net/B, and an initializer read by
    one op of its own module."""
    w = numpy_helper.from_array(np.ones(4, dtype=np.float32), "a.w")
    nodes = [
        tagged(helper.make_node("Constant", [], ["c"], name="/Constant",
                                value=numpy_helper.from_array(np.full(4, 2.0, np.float32))),
               "/Net"),
        tagged(helper.make_node("Mul", ["x", "a.w"], ["h0"], name="/a/Mul"), "/Net/A"),
        tagged(helper.make_node("Add", ["h0", "c"], ["h1"], name="/a/Add"), "/Net/A"),
        tagged(helper.make_node("Add", ["h1", "c"], ["y"], name="/b/Add"), "/Net/B"),
    ]
    graph = helper.make_graph(
        nodes, "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model


def _boxes(doc):
    return {n.id: n for n, _owner in doc.iter_nodes() if n.data.get("kind") == fmt.KIND_REF}


def test_a_constant_read_in_two_modules_gets_a_box_beside_each_consumer(tmp_path, tagged_file):
    result = onnx_to_graphml(tagged_file, tmp_path / "net.graphml")
    doc = read_graphml(tmp_path / "net.graphml")
    boxes = _boxes(doc)
    assert result.refs == len(boxes) == 2
    nodes = {n.id: n for n, _owner in doc.iter_nodes()}
    shared = next(n for n in nodes.values() if n.data.get("name") == "shared.scale")
    assert shared.data["kind"] == fmt.KIND_INITIALIZER
    edges = list(doc.iter_edges())
    assert not any(e.source == shared.id for e in edges)  # its edges leave the boxes
    for box in boxes.values():
        # a scalar the export recorded no parameter for: labelled with its value
        assert box.data["ref"] == shared.id and box.data["label"] == shared.data["label"] == "0.5"
        (edge,) = [e for e in edges if e.source == box.id]
        consumer = nodes[edge.target]
        assert consumer.data["op_type"] == "Mul"
        assert box.data["parent"] == consumer.data["parent"] != shared.data["parent"]
    # a weight read by one op of its own module stays a direct edge
    weight = next(n for n in nodes.values() if n.data.get("name") == "head.weight")
    assert [e.target for e in edges if e.source == weight.id]


def test_an_op_that_nothing_feeds_is_a_constant_too_and_one_consumer_gets_one_box():
    doc = model_to_document(constant_model())
    assert add_refs(doc) == 2  # the Constant, for /a/Add and /b/Add; a.w stays direct
    boxes = _boxes(doc).values()
    assert sorted(b.data["label"] for b in boxes) == ["c", "c"]
    nodes = {n.id: n for n, _owner in doc.iter_nodes()}
    const = next(n for n in nodes.values() if n.data.get("op_type") == "Constant")
    assert {b.data["ref"] for b in boxes} == {const.id}
    assert not any(e.source == const.id for e in doc.iter_edges())
    weight = next(n for n in nodes.values() if n.data.get("kind") == fmt.KIND_INITIALIZER)
    assert len([e for e in doc.iter_edges() if e.source == weight.id]) == 1


@pytest.mark.parametrize("source", ["tagged", "constant"])
def test_add_refs_then_remove_refs_gives_back_the_same_document(request, source):
    model = constant_model() if source == "constant" else request.getfixturevalue(source)
    doc = model_to_document(model)
    before = generate_graphml(doc, yed=False)
    assert add_refs(doc) >= 1
    assert add_refs(doc) == 0  # the constants' edges already leave boxes
    assert generate_graphml(doc, yed=False) != before
    assert remove_refs(doc) >= 1
    assert generate_graphml(doc, yed=False) == before


@pytest.mark.parametrize("source", ["tagged", "constant", "with_subgraphs"])
def test_the_default_file_validates_and_rebuilds_the_exact_model(tmp_path, request, source):
    model = constant_model() if source == "constant" else request.getfixturevalue(source)
    onnx.save(model, str(tmp_path / "m.onnx"))
    refs = onnx_to_graphml(tmp_path / "m.onnx", tmp_path / "m.graphml").refs
    assert refs == {"tagged": 2, "constant": 2, "with_subgraphs": 0}[source]
    report = validate_graphml(tmp_path / "m.graphml")
    assert report.ok, [str(f) for f in report.findings]
    graphml_to_onnx(tmp_path / "m.graphml", tmp_path / "back.onnx")
    assert (tmp_path / "back.onnx").read_bytes() == (tmp_path / "m.onnx").read_bytes()


def test_the_flat_no_yed_file_has_only_direct_edges_and_passes_the_official_schema(
        tmp_path, tagged_file):
    result = onnx_to_graphml(tagged_file, tmp_path / "flat.graphml", yed=False, flat=True)
    assert result.refs == 0
    doc = read_graphml(tmp_path / "flat.graphml")
    assert not _boxes(doc)
    shared = next(n.id for n, _ in doc.iter_nodes() if n.data.get("name") == "shared.scale")
    assert len([e for e in doc.iter_edges() if e.source == shared]) == 2
    assert validate_graphml(tmp_path / "flat.graphml", schema="official").ok
    # and the default file's data flow, boxes followed, is this one's
    onnx_to_graphml(tagged_file, tmp_path / "net.graphml")
    drawn = read_graphml(tmp_path / "net.graphml")
    points = {b.id: b.data["ref"] for b in _boxes(drawn).values()}
    flow = sorted((points.get(e.source, e.source), e.target, e.data["e_tensor"])
                  for e in drawn.iter_edges())
    assert flow == sorted((e.source, e.target, e.data["e_tensor"]) for e in doc.iter_edges())


def _mutated(path, pattern, replacement):
    text = path.read_text()
    changed, count = re.subn(pattern, replacement, text, count=1)
    assert count == 1, pattern
    path.write_text(changed)


@pytest.mark.parametrize("name, pattern, replacement, message", [
    ("names no node", r'<data key="ref">[^<]+</data>', '<data key="ref">nowhere</data>',
     "'ref' names 'nowhere', which is not a node"),
    ("names a module", r'<data key="ref">[^<]+</data>', '<data key="ref">m0</data>',
     "of kind 'module'; a reference box stands for"),
    ("has no ref", r'<data key="ref">[^<]+</data>', "", "has no 'ref' data"),
    ("is fed", r'(<edge id="e0" source="[^"]+" target=")[^"]+(")', r"\1t3.n2\2",
     "enters reference box 't3.n2'"),
])
def test_the_validator_refuses_a_broken_reference_box_by_name(tmp_path, tagged_file, name,
                                                              pattern, replacement, message):
    path = tmp_path / "net.graphml"
    onnx_to_graphml(tagged_file, path, layout="none")
    assert validate_graphml(path).ok
    _mutated(path, pattern, replacement)
    findings = [str(f) for f in validate_graphml(path).findings]
    assert any(message in f for f in findings), f"{name}: {findings}"


def test_a_box_is_drawn_dashed_beside_its_consumer_in_the_yed_markup(tmp_path, tagged_file):
    onnx_to_graphml(tagged_file, tmp_path / "net.graphml")
    root = etree.parse(str(tmp_path / "net.graphml")).getroot()
    ns = {"g": fmt.GRAPHML_NS, "y": fmt.YFILES_NS}
    box = root.xpath("//g:node[g:data[@key='kind']='ref']", namespaces=ns)[0]
    assert box.xpath(".//y:BorderStyle/@type", namespaces=ns) == ["dashed"]
    assert box.xpath(".//y:NodeLabel/text()", namespaces=ns) == ["0.5"]  # shared.scale's value


def test_a_picture_with_closed_modules_draws_a_constant_beside_each_box_that_uses_it():
    from modelexport.graphml.picture import draw

    doc = model_to_document(constant_model())
    add_refs(doc)  # the Constant's boxes sit inside /Net/A and /Net/B
    picture = draw(doc, "svg", depth=0)
    assert picture.closed == 2
    const = next(n.id for n, _ in doc.iter_nodes() if n.data.get("op_type") == "Constant")
    groups = {n.data["hierarchy_tag"]: n.id for n, _ in doc.iter_nodes()
              if n.data.get("kind") == fmt.KIND_MODULE}
    svg = etree.fromstring(picture.data)
    titles = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")}
    # a reference box of the constant feeds each closed box; no line from the constant
    for tag in ("/Net/A", "/Net/B"):
        assert f"{const}.{groups[tag]}->{groups[tag]}" in titles
        assert f"{const}->{groups[tag]}" not in titles


def shared_value_model() -> onnx.ModelProto:
    """A mask made in /Net read by three sibling layers (/Net/L.0, /Net/L.1, /Net/L.2),
    and a layer output read by a module and an op of the next level (a residual)."""
    nodes = [tagged(helper.make_node("Relu", ["m"], ["mask"], name="/mask"), "/Net")]
    h = "x"
    for i in range(3):
        nodes += [
            tagged(helper.make_node("Mul", [h, "mask"], [f"a{i}"], name=f"/l{i}/Mul"),
                   f"/Net/L.{i}/Attn"),
            tagged(helper.make_node("Add", [f"a{i}", h], [f"h{i}"], name=f"/l{i}/Add"),
                   f"/Net/L.{i}"),
        ]
        h = f"h{i}"
    info = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [4]) for n in ("x", "m")]
    graph = helper.make_graph(nodes, "net", info,
                              [helper.make_tensor_value_info(h, TensorProto.FLOAT, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model


def test_a_value_read_in_sibling_modules_gets_a_box_in_each_but_the_first():
    doc = model_to_document(shared_value_model())
    nodes = {n.id: n for n, _owner in doc.iter_nodes()}
    mask = next(n.id for n in nodes.values() if n.data.get("name") == "/mask")
    assert add_refs(doc) == 2
    boxes = _boxes(doc).values()
    assert {b.data["ref"] for b in boxes} == {mask}
    assert {b.data["label"] for b in boxes} == {"mask"}
    edges = list(doc.iter_edges())
    # the first layer still reads the mask directly: it is drawn flowing on
    (direct,) = [e for e in edges if e.source == mask]
    assert nodes[direct.target].data["name"] == "/l0/Mul"
    for box in boxes:
        (edge,) = [e for e in edges if e.source == box.id]
        assert nodes[edge.target].data["op_type"] == "Mul"
        assert box.data["parent"] == nodes[edge.target].data["parent"]
    # a layer's output read by the next layer's module and its op stays direct
    for i in range(2):
        add = next(n.id for n in nodes.values() if n.data.get("name") == f"/l{i}/Add")
        assert len([e for e in edges if e.source == add]) == 2


def assert_boxed_file_round_trips(tmp_path, model: onnx.ModelProto, boxes: int) -> None:
    """The default file of ``model`` has ``boxes`` reference boxes, validates and rebuilds
    the exact model; its ``--no-yed`` file has none; add_refs/remove_refs are inverses."""
    onnx.save(model, str(tmp_path / "m.onnx"))
    assert onnx_to_graphml(tmp_path / "m.onnx", tmp_path / "m.graphml").refs == boxes
    report = validate_graphml(tmp_path / "m.graphml")
    assert report.ok, [str(f) for f in report.findings]
    graphml_to_onnx(tmp_path / "m.graphml", tmp_path / "back.onnx")
    assert (tmp_path / "back.onnx").read_bytes() == (tmp_path / "m.onnx").read_bytes()
    onnx_to_graphml(tmp_path / "m.onnx", tmp_path / "flat.graphml", yed=False)
    assert 'key="ref"' not in (tmp_path / "flat.graphml").read_text()
    doc = model_to_document(model)
    before = generate_graphml(doc, yed=False)
    add_refs(doc)
    assert add_refs(doc) == 0
    assert remove_refs(doc) == boxes
    assert generate_graphml(doc, yed=False) == before


def test_a_file_with_boxes_for_shared_values_validates_and_rebuilds_the_exact_model(tmp_path):
    assert_boxed_file_round_trips(tmp_path, shared_value_model(), boxes=2)


def test_a_value_made_in_a_closed_module_and_read_by_its_siblings_gets_boxes_there():
    """The first layer's attention makes the mask every later layer reads (as a decoder's
    export tags it): at a depth that closes the attentions, the later layers get a box
    of the closed one, not one line from it down to each of them."""
    from modelexport.graphml.picture import draw

    model = shared_value_model()
    mask = next(n for n in model.graph.node if n.name == "/mask")
    mask.metadata_props[0].value = "/Net/L.0/Attn"
    doc = model_to_document(model)
    picture = draw(doc, "svg", depth=1)  # /Net/L.N open, /Net/L.N/Attn closed
    groups = {n.data["hierarchy_tag"]: n.id for n, _ in doc.iter_nodes()
              if n.data.get("kind") == fmt.KIND_MODULE}
    svg = etree.fromstring(picture.data)
    titles = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")}
    first = groups["/Net/L.0/Attn"]
    for i in (1, 2):
        attn = groups[f"/Net/L.{i}/Attn"]
        assert f"{first}->{attn}" not in titles
        assert f"{first}.{attn}->{attn}" in titles


def skip_model() -> onnx.ModelProto:
    """A value read far below where it is made: /Net/In's output runs through a chain of
    seven ops in /Net/Block and is added back after it (a residual round a deep block);
    one op of the chain also reads the block's input again three ops down (a short
    skip)."""
    nodes = [tagged(helper.make_node("Relu", ["x"], ["r"], name="/in"), "/Net/In")]
    h = "r"
    for i, op in enumerate(["Neg", "Abs", "Neg", "Abs", "Neg", "Abs", "Neg"]):
        ins = [h, "r"] if i == 2 else [h]
        nodes.append(tagged(helper.make_node("Add" if i == 2 else op, ins, [f"c{i}"],
                                             name=f"/block/{i}"), "/Net/Block"))
        h = f"c{i}"
    nodes.append(tagged(helper.make_node("Add", [h, "r"], ["y"], name="/residual"), "/Net"))
    graph = helper.make_graph(
        nodes, "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model


def test_a_value_read_far_below_where_it_is_made_gets_a_box_beside_its_reader():
    from modelexport.graphml import refs, yed

    doc = model_to_document(skip_model())
    nodes = {n.data.get("name"): n.id for n, _owner in doc.iter_nodes() if n.data.get("name")}
    assert add_refs(doc) == 1
    (box,) = _boxes(doc).values()
    assert box.data["ref"] == nodes["/in"]
    edges = list(doc.iter_edges())
    (edge,) = [e for e in edges if e.source == box.id]
    assert edge.target == nodes["/residual"]
    # the value still flows on from where it is made: into the block, and the short skip
    assert {e.target for e in edges if e.source == nodes["/in"]} == \
        {nodes["/block/0"], nodes["/block/2"]}
    assert refs.beside_boxes(doc) == {box.id}
    # drawn in its reader's rank, right beside it, its edge running straight across
    placement = yed.layout(doc)
    bx, by, bw, bh = placement.boxes[box.id]
    rx, ry, rw, rh = placement.boxes[nodes["/residual"]]
    assert by + bh / 2 == pytest.approx(ry + rh / 2)
    assert bx + bw < rx and rx - (bx + bw) < 30
    ids = [e.id for e in doc.iter_edges()]
    (path,) = [p for e, p in zip(ids, placement.paths, strict=True) if e == edge.id]
    assert len(path) == 2 and path[0][1] == path[1][1]
    assert path[0][0] == pytest.approx(bx + bw) and path[1][0] == pytest.approx(rx)


def test_a_file_with_a_box_for_a_far_read_validates_and_rebuilds_the_exact_model(tmp_path):
    assert_boxed_file_round_trips(tmp_path, skip_model(), boxes=1)


def test_a_value_read_one_op_down_but_drawn_far_below_gets_a_box_there():
    """/Net/After reads r directly (one op down the data flow) but also reads the deep
    block's output, so it is drawn below the whole block: its read of r gets a box; the
    block, the nearer reader, keeps r's direct edge."""
    model = skip_model()
    residual = next(n for n in model.graph.node if n.name == "/residual")
    model.graph.node.remove(residual)
    model.graph.node.extend([
        tagged(helper.make_node("Neg", ["r"], ["n"], name="/after/Neg"), "/Net/After"),
        tagged(helper.make_node("Abs", ["c6"], ["y"], name="/after/Abs"), "/Net/After"),
    ])
    model.graph.output.append(helper.make_tensor_value_info("n", TensorProto.FLOAT, [4]))
    doc = model_to_document(model)
    nodes = {n.data.get("name"): n.id for n, _owner in doc.iter_nodes() if n.data.get("name")}
    assert add_refs(doc) == 1
    (box,) = _boxes(doc).values()
    assert box.data["ref"] == nodes["/in"]
    (edge,) = [e for e in doc.iter_edges() if e.source == box.id]
    assert edge.target == nodes["/after/Neg"]
    assert {e.target for e in doc.iter_edges() if e.source == nodes["/in"]} == \
        {nodes["/block/0"], nodes["/block/2"]}


def test_a_graph_output_read_far_below_gets_a_box_and_the_closed_picture_still_draws():
    """r is also a graph output, drawn below the whole of /Net: the output reads a box
    of it (at the top level, beside the output). Drawing /Net's modules closed makes the
    boxes again for what is shown, where that box is not needed any more."""
    from modelexport.graphml.picture import draw

    model = skip_model()
    model.graph.output.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, [4]))
    doc = model_to_document(model)
    nodes = {n.data.get("name"): n.id for n, _owner in doc.iter_nodes() if n.data.get("name")}
    add_refs(doc)
    tops = {n.id: n for n in doc.graph.nodes}
    (box,) = [n for n in tops.values() if n.data.get("kind") == fmt.KIND_REF]
    assert box.data["ref"] == nodes["/in"]
    for depth in (0, 1):
        assert draw(doc, "svg", depth=depth).boxes > 0
