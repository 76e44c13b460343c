"""``modelexport export`` through typer's CliRunner: success, and refused input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from modelexport.cli import app

runner = CliRunner()


def _export(*args):
    return runner.invoke(app, ["export", *map(str, args)])


def _one_line_error(result):
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


def test_help_lists_the_options_and_examples():
    result = runner.invoke(app, ["export", "--help"])
    assert result.exit_code == 0
    for option in ("--input-text", "--input-shape", "--strategy", "--opset-version",
                   "--temp-dir", "--with-graphml", "--with-report", "--verify", "--json"):
        assert option in result.output
    assert "modelexport export ./my-model out/model.onnx" in result.output


@pytest.mark.parametrize("option", ["--strategy", "--layout"])
def test_an_unknown_choice_is_bad_usage_naming_the_choices_and_writes_nothing(samples, tmp_path,
                                                                              option):
    result = _export(samples / "bert-tiny", tmp_path / "m.onnx", option, "magic")
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output
    assert "'magic' is not one of" in result.output
    assert list(tmp_path.iterdir()) == []


def test_the_strategy_choices_of_the_command_line_are_the_exporters():
    from modelexport.cli.export_cmd import Strategy
    from modelexport.exporter import STRATEGY_CHOICES

    assert tuple(s.value for s in Strategy) == STRATEGY_CHOICES


def test_help_shows_the_choices_of_strategy_and_layout():
    result = runner.invoke(app, ["export", "--help"], env={"COLUMNS": "200"})
    lines = result.output.splitlines()
    strategy = next(line for line in lines if "--strategy " in line and "<" in line)
    layout = next(line for line in lines if "--layout" in line)
    assert "<choice>" in strategy and "auto, htp, usage_based or fx:" in strategy
    assert "<choice>" in layout and "auto, dot, outline or none:" in layout


def test_a_missing_output_directory_is_one_line_and_writes_nothing(samples, tmp_path):
    result = _export(samples / "bert-tiny", tmp_path / "nope" / "m.onnx")
    assert result.exit_code == 1
    assert "output directory" in _one_line_error(result)
    assert list(tmp_path.iterdir()) == []


def test_a_directory_without_config_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    result = _export(tmp_path / "empty", tmp_path / "m.onnx")
    assert result.exit_code == 1
    assert "no config.json" in _one_line_error(result)
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]


def test_an_unknown_hub_id_is_one_line_and_writes_nothing(tmp_path):
    from modelexport.loading import hub_reachable

    result = _export("modelexport-tests/no-such-model", tmp_path / "m.onnx")
    assert result.exit_code == 1
    line = _one_line_error(result)
    if not hub_reachable():
        assert "hub is unreachable" in line and "local model directory" in line
    assert list(tmp_path.iterdir()) == []


def test_a_mistyped_local_path_is_no_such_directory_not_a_hub_problem(tmp_path, monkeypatch):
    (tmp_path / "models" / "bert-tiny").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    result = _export("models/bert-tny", "m.onnx")
    assert result.exit_code == 1
    assert _one_line_error(result) == ("error: models/bert-tny: no such directory (did you "
                                       "mean models/bert-tiny?); pass a model directory "
                                       "holding config.json")
    assert "hub" not in _one_line_error(_export("models/nosuch", "m.onnx"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]


def test_a_bad_input_shape_is_one_line(samples, tmp_path):
    result = _export(samples / "vit-tiny", tmp_path / "m.onnx", "--input-shape", "1,x")
    assert result.exit_code == 1
    assert "input shape" in _one_line_error(result)


@pytest.mark.slow
def test_export_writes_the_model_sidecar_and_report_and_prints_json(samples, tmp_path):
    import onnx

    from modelexport.converter.tags import node_tag

    result = _export(samples / "bert-tiny", tmp_path / "bert.onnx", "--input-text",
                     "the quick brown fox", "--with-report", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["coverage"] == 1.0 and report["strategy"] == "htp"
    assert report["verification"]["max_abs_diff"] <= 1e-4
    assert report["inputs"]["input_ids"] == [1, 6]
    assert "random-init BertModel" in report["notes"][0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bert.onnx", "bert_export_report.txt", "bert_metadata.json"]
    model = onnx.load(tmp_path / "bert.onnx")
    assert all(node_tag(n) for n in model.graph.node)
    text = (tmp_path / "bert_export_report.txt").read_text()
    assert "strategy:  htp" in text and "onnxruntime matches PyTorch" in text


@pytest.mark.slow
def test_export_with_graphml_writes_validates_and_names_the_graph(samples, tmp_path):
    result = _export(samples / "resnet-tiny", tmp_path / "cnn.onnx", "--with-graphml",
                     "--strategy", "usage_based", "--no-verify")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["cnn.onnx", "cnn_hierarchical_graph.graphml",
                     "cnn_hierarchical_graph.onnxdata", "cnn_metadata.json"]
    graphml = tmp_path / "cnn_hierarchical_graph.graphml"
    assert (f"wrote {graphml} (parameters in cnn_hierarchical_graph.onnxdata; open it in yEd)"
            in result.stdout.splitlines())
    assert f"wrote {tmp_path / 'cnn_metadata.json'} (" in result.stdout
    from modelexport.graphml import validate_graphml

    validate_graphml(str(tmp_path / "cnn_hierarchical_graph.graphml"))


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory, samples):
    """bert-tiny saved with weights: loading it draws transformers' "Loading weights" bar."""
    from transformers import AutoConfig, AutoModel

    target = tmp_path_factory.mktemp("with-weights")
    AutoModel.from_config(AutoConfig.from_pretrained(samples / "bert-tiny")).save_pretrained(
        target)
    return target


@pytest.mark.slow
def test_nothing_but_the_result_reaches_a_pipe_while_loading_weights(weights_dir, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    cli = Path(sys.executable).parent / "modelexport"
    result = subprocess.run([str(cli), "export", str(weights_dir), str(tmp_path / "m.onnx")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "Loading weights" not in result.stdout and "\r" not in result.stdout
    assert result.stdout.startswith("wrote ")


@pytest.mark.slow
def test_a_terminal_sees_progress_naming_each_step(weights_dir, tmp_path):
    import os
    import pty
    import subprocess
    import sys
    from pathlib import Path

    cli = Path(sys.executable).parent / "modelexport"
    leader, follower = pty.openpty()
    proc = subprocess.Popen([str(cli), "export", str(weights_dir), str(tmp_path / "m.onnx")],
                            stdin=follower, stdout=follower, stderr=follower, close_fds=True,
                            env={**os.environ, "TERM": "xterm", "COLUMNS": "120"})
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closes when the process ends
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=600) == 0
    seen = b"".join(chunks).decode(errors="replace")
    for step in ("loading", "capturing with htp", "checking the htp capture"):
        assert step in seen, seen[-2000:]
    assert "wrote " in seen


@pytest.mark.slow
def test_the_export_summary_analyze_and_metadata_count_modules_alike(samples, tmp_path,
                                                                     exported_sample):
    out = tmp_path / "bert.onnx"
    exported = _export(samples / "bert-tiny", out)  # the README's plain export
    assert exported.exit_code == 0, exported.output
    # the bytes of the test run's shared export, which tests/test_readme.py copies for
    # the README's plain `modelexport export samples/NAME OUT` lines
    assert out.read_bytes() == exported_sample("bert-tiny").read_bytes()
    assert "18 modules, 13 holding ops" in exported.stdout
    analyzed = runner.invoke(app, ["analyze", str(out)])
    assert "18 modules, 13 holding ops" in analyzed.stdout.splitlines()[0]
    as_json = json.loads(runner.invoke(app, ["analyze", str(out), "--json"]).stdout)
    assert (as_json["module_count"], as_json["modules_holding_ops"]) == (18, 13)
    stats = json.loads(out.with_name("bert_metadata.json").read_text())["statistics"]
    assert (stats["module_count"], stats["modules_holding_ops"]) == (18, 13)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["htp", "usage_based"])
@pytest.mark.parametrize("sample", ["bert-tiny", "gpt2-tiny"])
def test_a_dynamic_export_runs_at_another_batch_and_sequence_length(samples, tmp_path, sample,
                                                                    strategy):
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch

    from modelexport.inputs import build_inputs, flat_outputs
    from modelexport.loading import load_pretrained

    out = tmp_path / "m.onnx"
    result = _export(samples / sample, out, "--dynamic", "--strategy", strategy,
                     "--no-verify", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert "dynamic axes: input_ids [batch, sequence]" in " ".join(report["notes"])
    graph_inputs = onnx.load(out).graph.input
    assert all(d.dim_param and not d.dim_value
               for i in graph_inputs for d in i.type.tensor_type.shape.dim)
    model = load_pretrained(str(samples / sample)).model  # the same seeded weights
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (3, 5), generator=torch.Generator().manual_seed(0))
    feeds = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {i.name: feeds[i.name].numpy() for i in session.get_inputs()})
    constants = build_inputs(model, None).constants  # e.g. use_cache=False, as exported
    with torch.no_grad():
        want = flat_outputs(model(**feeds, **constants))
    assert len(got) == len(want)
    for actual, (_, expected) in zip(got, want, strict=True):
        assert actual.shape == tuple(expected.shape) and actual.shape[0] == 3
        np.testing.assert_allclose(actual, expected.numpy(), atol=1e-4, rtol=0)
