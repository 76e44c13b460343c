"""fold / unfold on real exports: every sample, a 6-layer decoder and a 4+4-layer
encoder-decoder built from configs with tiny widths (SPEC §11).

On each: the folded model passes the full checker and gives the original's outputs in
onnxruntime; its main graph keeps at most a quarter of the nodes; identical layers
share a body; unfold gives back the original bytes; the folded model converts to
GraphML and back exactly; ``--class`` folds only that class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

SAMPLE_NAMES = ("bert-tiny", "gpt2-tiny", "t5-tiny", "vit-tiny", "resnet-tiny")

from modelexport.converter import graphml_to_onnx, onnx_to_graphml
from modelexport.converter.functions import DOMAIN, fold_modules, unfold_modules
from modelexport.converter.tags import module_tree

pytestmark = pytest.mark.slow

_BUILT: dict[str, Path] = {}


def _config_model(kind: str, folder: Path) -> Path:
    """A Llama decoder with 6 layers, or a Bart with 4 encoder and 4 decoder layers."""
    if kind not in _BUILT:
        import torch
        from transformers import BartConfig, BartModel, LlamaConfig, LlamaModel

        from modelexport.exporter import export_model

        torch.manual_seed(0)
        ids = torch.randint(3, 64, (1, 6))
        if kind == "llama":
            model = LlamaModel(LlamaConfig(
                vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=6,
                num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32))
            inputs = {"input_ids": ids, "use_cache": False}
        else:
            model = BartModel(BartConfig(
                vocab_size=64, d_model=16, encoder_layers=4, decoder_layers=4,
                encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                decoder_ffn_dim=32, max_position_embeddings=32))
            inputs = {"input_ids": ids, "decoder_input_ids": ids[:, :4], "use_cache": False}
        path = folder / f"{kind}.onnx"
        export_model(model.eval(), inputs, path)
        _BUILT[kind] = path
    return _BUILT[kind]


MODELS = [*SAMPLE_NAMES, "llama", "bart"]


@pytest.fixture(scope="session")
def exported_file(export_sample, tmp_path_factory):
    def get(name: str) -> Path:
        if name in SAMPLE_NAMES:
            return export_sample(name).path
        return _config_model(name, tmp_path_factory.mktemp(name))

    return get


def _feeds(session: ort.InferenceSession) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {}
    for arg in session.get_inputs():
        shape = [d if isinstance(d, int) else 4 for d in arg.shape]
        if "int" in arg.type:
            feeds[arg.name] = rng.integers(3, 30, shape).astype(np.int64)
        else:
            feeds[arg.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def _run(path: Path) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, _feeds(session))


def _layer_class(model: onnx.ModelProto) -> str:
    """The class of the model's repeated layers: the class with the most instances whose
    parent holds several of them (found from the module tree, not from a name)."""
    tree = module_tree(model) or []
    counts: dict[tuple[str, str], int] = {}
    for entry in tree:
        if entry["parent"] is not None:
            key = (entry["parent"], entry["class"])
            counts[key] = counts.get(key, 0) + 1
    (_, cls), _n = max(counts.items(), key=lambda item: (item[1], -len(item[0][0])))
    return cls


@pytest.mark.parametrize("name", MODELS)
def test_a_folded_export_checks_runs_the_same_and_unfolds_to_its_bytes(name, exported_file,
                                                                       tmp_path):
    source = exported_file(name)
    folded, back = tmp_path / "fn.onnx", tmp_path / "back.onnx"
    result = fold_modules(source, folded)
    model = onnx.load(folded)
    onnx.checker.check_model(model, full_check=True)
    for a, b in zip(_run(source), _run(folded), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert len(model.graph.node) <= 0.25 * result.nodes_before, result
    assert unfold_modules(folded, back).exact
    assert back.read_bytes() == source.read_bytes()
    onnx_to_graphml(folded, tmp_path / "fn.graphml")
    graphml_to_onnx(tmp_path / "fn.graphml", tmp_path / "again.onnx")
    assert (tmp_path / "again.onnx").read_bytes() == folded.read_bytes()


@pytest.mark.parametrize("name, bodies", [("llama", 2), ("bart", 4), ("gpt2-tiny", 2),
                                          ("bert-tiny", 2), ("t5-tiny", 4)])
def test_identical_layers_share_a_body_and_class_folds_only_them(name, bodies, exported_file,
                                                                 tmp_path):
    source = exported_file(name)
    cls = _layer_class(onnx.load(source, load_external_data=False))
    result = fold_modules(source, tmp_path / "layers.onnx", classes=[cls])
    model = onnx.load(tmp_path / "layers.onnx")
    calls = [n for n in model.graph.node if n.domain == DOMAIN]
    layers = sum(1 for e in module_tree(model) if e["class"] == cls)
    assert {n.op_type.split("_")[0] for n in calls} == {cls} and len(calls) == layers >= 2
    assert all(f.name.startswith(cls) for f in model.functions)
    assert len(result.functions) <= bodies, result.functions
    assert not any(n.domain == DOMAIN for f in model.functions for n in f.node)


def test_export_with_fold_writes_the_folded_model(tmp_path):
    from typer.testing import CliRunner

    from modelexport.cli import app

    out = tmp_path / "gpt2_fn.onnx"
    result = CliRunner().invoke(app, ["export", str(Path(__file__).parents[2] / "samples" /
                                                     "gpt2-tiny"), str(out), "--fold",
                                      "--class", "GPT2Block", "--no-verify"])
    assert result.exit_code == 0, result.output
    assert "note: folded 2 modules into 2 functions" in result.output
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    assert [f.name for f in model.functions] == ["GPT2Block", "GPT2Block_1"]
    assert unfold_modules(out, tmp_path / "unfolded.onnx").exact
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "gpt2_fn.onnx", "gpt2_fn_metadata.json", "unfolded.onnx"]
