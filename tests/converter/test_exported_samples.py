"""Real exports: every sample model, tagged by ``modelexport``, round-trips exactly.

Slow (torch exports). Each sample directory under ``samples/`` is exported with the
default strategy; the tagged ONNX then goes through export-graphml and import-onnx and
must come back byte-identical, with identical onnxruntime outputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from modelexport.converter import graphml_to_onnx, onnx_to_graphml
from modelexport.converter.testing import assert_models_equal
from modelexport.converter.verification import generated_input

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SAMPLE_DIRS = (
    sorted(p for p in SAMPLES.iterdir() if (p / "config.json").exists()) if SAMPLES.is_dir() else []
)


def _outputs(path: Path, feeds: dict) -> list:
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)


@pytest.mark.slow
@pytest.mark.parametrize("sample", SAMPLE_DIRS, ids=lambda p: p.name)
def test_an_exported_sample_round_trips_exactly(tmp_path, sample, exported_sample):
    import onnxruntime as ort

    exported = exported_sample(sample.name)
    onnx_to_graphml(exported, tmp_path / "model.graphml")
    graphml_to_onnx(tmp_path / "model.graphml", tmp_path / "back.onnx")
    original = onnx.load(str(exported))
    assert_models_equal(onnx.load(str(tmp_path / "back.onnx")), original)
    assert any(p.key == "hierarchy_tag" for n in original.graph.node for p in n.metadata_props)
    rng = np.random.default_rng(0)
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    feeds = {i.name: generated_input(i, rng) for i in session.get_inputs()}
    for a, b in zip(
        _outputs(exported, feeds), _outputs(tmp_path / "back.onnx", feeds), strict=True
    ):
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


@pytest.mark.slow
def test_a_dynamo_export_without_our_tags_gets_its_hierarchy_from_the_module_stack(tmp_path):
    torch = pytest.importorskip("torch")

    class Inner(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)

        def forward(self, x):
            return torch.relu(self.lin(x))

    class Outer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList([Inner(), Inner()])

        def forward(self, x):
            for b in self.blocks:
                x = b(x)
            return x

    torch.manual_seed(0)
    path = tmp_path / "plain.onnx"
    torch.onnx.export(Outer().eval(), (torch.randn(2, 4),), str(path), dynamo=True)
    onnx_to_graphml(path, tmp_path / "plain.graphml")
    graphml_to_onnx(tmp_path / "plain.graphml", tmp_path / "back.onnx")
    assert_models_equal(onnx.load(str(tmp_path / "back.onnx")), onnx.load(str(path)))
    from modelexport import graphml

    doc = graphml.read_graphml(tmp_path / "plain.graphml")
    tags = {n.data["hierarchy_tag"] for n, _ in doc.iter_nodes() if n.data["kind"] == "module"}
    assert {"/Outer", "/Outer/Inner.0", "/Outer/Inner.1"} <= tags
