"""render and --layout end to end: pictures from ONNX and GraphML, refused input."""

from __future__ import annotations

import json

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
    assert "layout: dot (" in result.output
    result = invoke("export-graphml", tagged_file, tmp_path / "o.graphml", "--layout", "outline",
                    "--json")
    assert json.loads(result.output)["layout"] == "outline"
    assert '<data key="layout">outline</data>' in (tmp_path / "o.graphml").read_text()


def test_render_draws_onnx_and_graphml_alike(tmp_path, tagged_file):
    assert invoke("export-graphml", tagged_file, tmp_path / "net.graphml").exit_code == 0
    a = invoke("render", tagged_file, tmp_path / "a.svg")
    b = invoke("render", tmp_path / "net.graphml", tmp_path / "b.svg")
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    assert "dot layout" in a.output
    svg = (tmp_path / "a.svg").read_bytes()
    assert svg == (tmp_path / "b.svg").read_bytes()
    texts = {t.text for t in etree.fromstring(svg).iter(f"{SVG}text")}
    assert {"Block.0", "Head", "MatMul", "Relu", "x", "y"} <= texts  # modules, ops, tensors
    assert any(t and t.startswith("FLOAT[") for t in texts)  # dtype and shape on edges


def test_render_depth_closes_modules_and_module_draws_one_subtree(tmp_path, tagged_file):
    result = invoke("render", tagged_file, tmp_path / "d.svg", "--depth", "1", "--json")
    summary = json.loads(result.output)
    assert summary["closed_modules"] == 2  # Block.0 and Head, below the top module
    texts = {t.text for t in etree.parse(str(tmp_path / "d.svg")).iter(f"{SVG}text")}
    assert "Relu" not in texts and {"4 ops", "2 ops"} <= texts
    result = invoke("render", tagged_file, tmp_path / "m.svg", "--module", "/Net/Head", "--json")
    assert json.loads(result.output)["boxes"] == 4  # Head, its two ops, its weight
    result = invoke("render", tagged_file, tmp_path / "h.svg", "--module", "Head", "--json")
    assert json.loads(result.output)["boxes"] == 4  # a tag without its root, if unique


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
