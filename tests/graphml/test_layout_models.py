"""The layout on real models: every sample's default GraphML, and a 5,000-node graph,
open as a readable picture; ``render`` draws them; a third-party renderer that reads
yEd geometry draws them too."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from geometry import columns, edges_through_nodes, outside_parent, overlapping_leaves, read_picture
from lxml import etree

from modelexport.converter import onnx_to_graphml

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted(p.name for p in (ROOT / "samples").iterdir() if (p / "config.json").exists())
SVG = "{http://www.w3.org/2000/svg}"


def assert_readable(graphml: Path, min_columns: int) -> None:
    pic = read_picture(graphml.read_bytes())
    assert overlapping_leaves(pic) == []
    assert outside_parent(pic) == []
    through = edges_through_nodes(pic)
    assert len(through) <= 0.10 * len(pic.edges), through[:5]
    # spread out, not one column: min_columns x positions, or a third of the leaves of a
    # small model (resnet-tiny has 25 leaves, whose widths follow their labels)
    assert columns(pic) >= min(min_columns, len(pic.leaves) // 3)


@pytest.mark.slow  # the layout of 5,000 nodes takes seconds
def test_a_5000_node_graph_opens_as_a_readable_picture(tmp_path):
    import onnx

    sys.path.insert(0, str(ROOT))
    from bench.synthetic import make_synthetic_model

    onnx.save(make_synthetic_model(5_000), str(tmp_path / "synth.onnx"))
    result = onnx_to_graphml(tmp_path / "synth.onnx", tmp_path / "synth.graphml")
    assert result.layout == "auto"  # one layout for every size: the output says how
    assert "distinct insides" in result.layout_reason
    assert_readable(tmp_path / "synth.graphml", min_columns=20)


@pytest.fixture(scope="session")
def graphml2svg(tmp_path_factory) -> Path:
    """A Python with PyPI's graphml2svg, in its own environment: it ships a top-level
    ``converter`` package, which must not meet ours."""
    where = tmp_path_factory.mktemp("graphml2svg-venv")
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "graphml2svg==0.0.4"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"graphml2svg cannot be installed here: {done.stderr.strip()[-200:]}")
    return python


def _count(svg: bytes) -> int:
    return sum(1 for el in etree.fromstring(svg).iter(f"{SVG}g"))


@pytest.mark.slow
@pytest.mark.parametrize("sample", SAMPLES)
def test_a_sample_opens_as_a_picture_and_renders(tmp_path, sample, graphml2svg,
                                                 exported_sample):
    from modelexport.picture import draw_file

    exported = tmp_path / "model.onnx"
    shutil.copyfile(exported_sample(sample), exported)
    graphml = tmp_path / "model.graphml"
    result = onnx_to_graphml(exported, graphml)
    assert result.layout == "auto"
    assert_readable(graphml, min_columns=10)

    # laid out again (layout="auto"; without it the stored geometry, rounded, is drawn)
    full = draw_file(graphml, tmp_path / "full.svg", layout="auto")
    svg = (tmp_path / "full.svg").read_bytes()
    assert _count(svg) >= full.boxes + full.edges  # one <g> per node and per edge
    draw_file(exported, tmp_path / "again.svg")
    assert (tmp_path / "again.svg").read_bytes() == svg  # from ONNX as from GraphML, same bytes
    draw_file(graphml, tmp_path / "full.svg", layout="auto")
    assert (tmp_path / "full.svg").read_bytes() == svg
    assert draw_file(graphml, tmp_path / "stored.svg").layout == "stored (auto)"
    shallow = draw_file(graphml, tmp_path / "shallow.svg", depth=1)
    assert shallow.closed >= 1 and shallow.boxes < full.boxes
    assert _count((tmp_path / "shallow.svg").read_bytes()) < _count(svg)
    draw_file(exported, tmp_path / "model.png")
    assert (tmp_path / "model.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    draw_file(exported, tmp_path / "model.pdf")
    assert (tmp_path / "model.pdf").read_bytes()[:5] == b"%PDF-"

    code = ("import sys; from graphml2svg import Graph; g = Graph(sys.argv[1], sys.argv[2]); "
            "g.run(); print(len(g.nodes), len(g.edges))")
    drawn = subprocess.run([str(graphml2svg), "-c", code, str(graphml), str(tmp_path / "g2s.svg")],
                           capture_output=True, text=True, cwd=tmp_path)
    assert drawn.returncode == 0, drawn.stderr
    assert drawn.stdout.split() == [str(result.nodes), str(result.edges)]
    assert etree.parse(str(tmp_path / "g2s.svg")).getroot().tag == f"{SVG}svg"
