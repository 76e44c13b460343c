"""render and --layout end to end: pictures from ONNX and GraphML, refused input."""

from __future__ import annotations

import json
import re

from lxml import etree
from typer.testing import CliRunner

from modelexport.cli import app

runner = CliRunner()
SVG = "{http://www.w3.org/2000/svg}"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_export_graphml_says_how_it_laid_out_the_file(tmp_path, tagged_file):
    result = invoke("export-graphml", tagged_file, tmp_path / "net.graphml")
    assert result.exit_code == 0, result.output
    assert "layout: auto (" in result.output
    result = invoke("export-graphml", tagged_file, tmp_path / "o.graphml", "--layout", "outline",
                    "--json")
    assert json.loads(result.output)["layout"] == "outline"
    assert '<data key="layout">outline</data>' in (tmp_path / "o.graphml").read_text()


def test_render_draws_onnx_and_graphml_alike(tmp_path, tagged_file):
    assert invoke("export-graphml", tagged_file, tmp_path / "net.graphml").exit_code == 0
    a = invoke("render", tagged_file, tmp_path / "a.svg")
    # laid out again, as the ONNX is: the same bytes (the stored geometry is rounded)
    b = invoke("render", tmp_path / "net.graphml", tmp_path / "b.svg", "--layout", "auto")
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    assert "auto layout" in a.output
    svg = (tmp_path / "a.svg").read_bytes()
    assert svg == (tmp_path / "b.svg").read_bytes()
    texts = {t.text for t in etree.fromstring(svg).iter(f"{SVG}text")}
    assert {"Block.0", "Head", "MatMul", "Relu", "x", "y"} <= texts  # modules, ops, tensors
    assert any(t and t.startswith("FLOAT[") for t in texts)  # dtype and shape on edges


def test_render_depth_closes_modules_and_module_draws_one_subtree(tmp_path, tagged_file):
    # depth counts the model's own module (/Net) as 0, as analyze does
    result = invoke("render", tagged_file, tmp_path / "d.svg", "--depth", "0", "--json")
    summary = json.loads(result.output)
    assert summary["closed_modules"] == 2  # Block.0 and Head, below the top module
    texts = {t.text for t in etree.parse(str(tmp_path / "d.svg")).iter(f"{SVG}text")}
    assert "Relu" not in texts and {"Block.0", "4 ops", "Head", "2 ops"} <= texts
    result = invoke("render", tagged_file, tmp_path / "d1.svg", "--depth", "1", "--json")
    assert json.loads(result.output)["closed_modules"] == 2  # Proj and Act, at depth 2
    texts = {t.text for t in etree.parse(str(tmp_path / "d1.svg")).iter(f"{SVG}text")}
    assert {"Proj", "3 ops", "Act", "1 op"} <= texts and "Relu" not in texts
    result = invoke("render", tagged_file, tmp_path / "m.svg", "--module", "/Net/Head", "--json")
    assert json.loads(result.output)["boxes"] == 5  # Head, its two ops, its weight, a box
    result = invoke("render", tagged_file, tmp_path / "h.svg", "--module", "Head", "--json")
    assert json.loads(result.output)["boxes"] == 5  # a tag without its root, if unique


def test_render_refuses_what_it_cannot_draw_in_one_line(tmp_path, tagged_file):
    for args, message in [
        ((tagged_file, tmp_path / "x.gif"), "name the output *.svg, *.png or *.pdf"),
        ((tagged_file, tmp_path / "x.svg", "--module", "/Nope"), "no module '/Nope' in the model"),
        ((tmp_path / "missing.onnx", tmp_path / "x.svg"), "no such file"),
        ((tagged_file, tmp_path / "no" / "x.svg"), "does not exist"),
    ]:
        result = invoke("render", *args)
        assert result.exit_code == 1, result.output
        assert message in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx"]


def test_png_and_pdf_of_the_same_input_are_the_same_bytes(tmp_path, tagged_file):
    for suffix, magic in ((".png", b"\x89PNG"), (".pdf", b"%PDF-")):
        first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
        assert invoke("render", tagged_file, first).exit_code == 0
        assert invoke("render", tagged_file, second).exit_code == 0
        assert first.read_bytes().startswith(magic)
        assert first.read_bytes() == second.read_bytes()


def _drawn_centres(svg_path):
    """Centre of each node Graphviz drew, in the page's coordinates, by node id."""
    root = etree.parse(str(svg_path)).getroot()
    graph = root.find(f"{SVG}g")
    shift = float(graph.get("transform").rsplit("translate(0 ", 1)[1].rstrip(")"))
    centres = {}
    for g in graph.iter(f"{SVG}g"):
        if g.get("class") != "node":
            continue
        shape = next(el for el in g if el.tag in (f"{SVG}ellipse", f"{SVG}polygon", f"{SVG}path"))
        if shape.tag == f"{SVG}ellipse":
            x, y = float(shape.get("cx")), float(shape.get("cy"))
        else:
            numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?",
                                                    shape.get("points") or shape.get("d"))]
            xs, ys = numbers[0::2], numbers[1::2]
            x, y = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
        centres[g.find(f"{SVG}title").text] = (x, y + shift)
    return centres


def _stored_centres(graphml_path):
    """Centre of each node's open bounds as the file's yEd markup stores them."""
    ns = {"g": "http://graphml.graphdrawing.org/xmlns", "y": "http://www.yworks.com/xml/graphml"}
    root = etree.parse(str(graphml_path)).getroot()
    centres = {}
    for node in root.iter("{http://graphml.graphdrawing.org/xmlns}node"):
        geometry = node.xpath("g:data/y:ShapeNode/y:Geometry | g:data/y:ProxyAutoBoundsNode"
                              "/y:Realizers/y:GroupNode[y:State/@closed='false']/y:Geometry",
                              namespaces=ns)[0]
        x, y, w, h = (float(geometry.get(a)) for a in ("x", "y", "width", "height"))
        centres[node.get("id")] = (x + w / 2, y + h / 2)
    return centres


def test_render_of_a_graphml_draws_the_geometry_stored_in_it(tmp_path, tagged_file):
    graphml = tmp_path / "net.graphml"
    assert invoke("export-graphml", tagged_file, graphml).exit_code == 0
    result = invoke("render", graphml, tmp_path / "stored.svg", "--json")
    assert json.loads(result.output)["layout"] == "stored (auto)"
    stored, drawn = _stored_centres(graphml), _drawn_centres(tmp_path / "stored.svg")
    left = min(x for x, _ in stored.values()) - min(x for x, _ in drawn.values())
    top = min(y for _, y in stored.values()) - min(y for _, y in drawn.values())
    assert set(drawn) == set(stored)
    for nid, (x, y) in stored.items():
        assert abs(drawn[nid][0] + left - x) < 0.1 and abs(drawn[nid][1] + top - y) < 0.1, nid

    # a box moved in the file (as a yEd user would) is drawn where it was moved to
    text = graphml.read_text()
    box = re.search(r'<node id="i0">.*?<y:Geometry [^>]*x="([-\d.]+)"', text, re.S)
    moved = text[:box.start(1)] + f"{float(box.group(1)) - 40.0:.1f}" + text[box.end(1):]
    graphml.write_text(moved)
    invoke("render", graphml, tmp_path / "moved.svg")
    again = _drawn_centres(tmp_path / "moved.svg")
    others = [n for n in drawn if n != "i0"]
    shift = again[others[0]][0] - drawn[others[0]][0]  # the picture's left edge may move
    assert abs(again["i0"][0] - drawn["i0"][0] - shift + 40.0) < 0.1
    assert all(abs(again[n][0] - drawn[n][0] - shift) < 0.1 for n in others)


def test_a_file_without_a_layout_has_x_and_y_and_render_lays_it_out(tmp_path, tagged_file):
    graphml = tmp_path / "none.graphml"
    assert invoke("export-graphml", tagged_file, graphml, "--layout", "none").exit_code == 0
    root = etree.parse(str(graphml)).getroot()
    geometries = list(root.iter("{http://www.yworks.com/xml/graphml}Geometry"))
    assert geometries and all(g.get("x") == "0.0" and g.get("y") == "0.0" for g in geometries)
    result = invoke("render", graphml, tmp_path / "none.svg", "--json")
    assert json.loads(result.output)["layout"] == "auto"  # laid out: there was no geometry
