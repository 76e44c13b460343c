"""``modelexport fold`` / ``unfold`` through the CLI: files written, one-line refusals."""

from __future__ import annotations

import json

import onnx
import pytest
from fold_models import layers_model
from typer.testing import CliRunner

from modelexport.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "net.onnx"
    onnx.save_model(layers_model(), str(path))
    return path


def _refused(result, message, folder, before):
    assert result.exit_code == 1, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert sorted(p.name for p in folder.iterdir()) == before


def test_fold_and_unfold_commands_round_trip_a_model_to_its_bytes(model_file, tmp_path):
    folded = invoke("fold", model_file, tmp_path / "fn.onnx")
    assert folded.exit_code == 0, folded.output
    assert folded.output.startswith(f"wrote {tmp_path / 'fn.onnx'}: 13 modules folded into "
                                    "6 functions; main graph 5 nodes of 22 (23%)")
    back = invoke("unfold", tmp_path / "fn.onnx", tmp_path / "back.onnx")
    assert back.exit_code == 0, back.output
    assert "(byte-exact original)" in back.output
    assert (tmp_path / "back.onnx").read_bytes() == model_file.read_bytes()


def test_fold_json_lists_the_functions(model_file, tmp_path):
    result = invoke("fold", model_file, tmp_path / "fn.onnx", "--class", "Layer", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["functions"] == ["Layer", "Layer_1", "Layer_2"]
    assert payload["calls"] == 4 and payload["unfolded"] == []


def test_fold_refuses_an_unknown_class_suggesting_the_known_ones(model_file, tmp_path):
    before = sorted(p.name for p in tmp_path.iterdir())
    result = invoke("fold", model_file, tmp_path / "fn.onnx", "--class", "Layr")
    _refused(result, "class 'Layr' is not a module class of this model; known classes: Act, "
             "Head, Layer, Net, Proj", tmp_path, before)


def test_fold_refuses_a_model_without_tags(tmp_path):
    model = layers_model(1)
    for node in model.graph.node:
        del node.metadata_props[:]
    onnx.save_model(model, str(tmp_path / "plain.onnx"))
    before = sorted(p.name for p in tmp_path.iterdir())
    result = invoke("fold", tmp_path / "plain.onnx", tmp_path / "fn.onnx")
    _refused(result, "the model has no hierarchy tags", tmp_path, before)


def test_fold_and_unfold_refuse_a_file_that_is_not_onnx(tmp_path):
    (tmp_path / "notes.onnx").write_text("hello, not a model\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    for command in ("fold", "unfold"):
        result = invoke(command, tmp_path / "notes.onnx", tmp_path / "out.onnx")
        _refused(result, "is not an ONNX model", tmp_path, before)


def test_unfold_refuses_a_model_with_nothing_to_unfold(model_file, tmp_path):
    before = sorted(p.name for p in tmp_path.iterdir())
    result = invoke("unfold", model_file, tmp_path / "out.onnx")
    _refused(result, "nothing to unfold", tmp_path, before)


def test_fold_help_has_examples():
    result = invoke("fold", "--help")
    assert result.exit_code == 0
    assert "modelexport fold model.onnx model_fn.onnx" in result.output


def test_export_refuses_class_and_depth_without_fold(tmp_path):
    result = invoke("export", "samples/gpt2-tiny", tmp_path / "m.onnx", "--class", "GPT2Block")
    _refused(result, "--class and --depth choose what --fold folds; add --fold", tmp_path, [])
