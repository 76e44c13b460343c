"""End to end on real exports of samples/bert-tiny and samples/vit-tiny (slow).

Each sample is exported once per test run (the session's shared exports, as
``modelexport export`` writes them with its defaults), then analyzed, validated,
compared and cut into every one of its modules.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from analysis_models import check_extraction
from typer.testing import CliRunner

from modelexport.analysis import analyze_model, compare_models, extract_module, validate_model
from modelexport.analysis._graph import GraphIndex, node_label
from modelexport.analysis.validate import repair_tags
from modelexport.cli import app
from modelexport.converter.tags import MODULE_CLASS_KEY, MODULE_PATH_KEY, TAG_KEY, node_tag, within

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
runner = CliRunner()


@pytest.fixture(scope="session")
def exports(exported_sample) -> dict[str, Path]:
    return {name: exported_sample(name) for name in ("bert-tiny", "vit-tiny", "gpt2-tiny")}


@pytest.fixture(scope="session")
def bert_usage_based(exported_sample) -> Path:
    return exported_sample("bert-tiny", "usage_based")


@pytest.fixture(scope="session")
def bert_opset17(exported_sample) -> Path:
    return exported_sample("bert-tiny", opset_version=17)


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def feeds_for(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Inputs for the exported graph: random floats, small non-negative integers."""
    rng = np.random.default_rng(0)
    feeds = {}
    for value in model.graph.input:
        t = value.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else 2 for d in t.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)
        if np.issubdtype(dtype, np.floating):
            feeds[value.name] = rng.standard_normal(shape).astype(dtype)
        else:  # ids, masks and type ids: 1 is valid for all of them
            feeds[value.name] = np.ones(shape, dtype=dtype)
    return feeds


@pytest.mark.parametrize("sample", ["bert-tiny", "vit-tiny"])
def test_analyze_json_counts_add_up_to_the_node_count(exports, sample):
    result = invoke("analyze", exports[sample], "--output-format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    nodes = len(onnx.load(exports[sample]).graph.node)
    assert data["node_count"] == nodes and data["untagged_nodes"] == 0
    assert sum(m["own_ops"] for m in data["modules"]) == nodes
    assert data["modules"][0]["total_ops"] == nodes
    assert data["parameters_recorded"]
    assert data["modules"][0]["total_parameters"] == data["parameters"]


@pytest.mark.parametrize("sample, expected", [("bert-tiny", 4_385_920), ("gpt2-tiny", 172_288)])
def test_analyze_counts_the_parameters_pytorch_counts_and_constants_apart(exports, sample,
                                                                          expected):
    from modelexport.hierarchy import build_module_tree
    from modelexport.loading import load_pretrained

    model = load_pretrained(str(SAMPLES / sample)).model
    assert model.num_parameters() == expected
    data = json.loads(invoke("analyze", exports[sample], "--json").output)
    assert data["parameters"] == expected == data["modules"][0]["total_parameters"]
    assert data["constants"] > 0  # shape constants, counted apart
    own = {m.tag: m.parameters for m in build_module_tree(model).modules}
    assert {m["tag"]: m["own_parameters"] for m in data["modules"]} == own
    assert f"{expected:,} parameters (as in PyTorch" in invoke("analyze", exports[sample]).output


@pytest.mark.parametrize("sample", ["bert-tiny", "vit-tiny"])
def test_filter_tag_returns_only_that_subtree(exports, sample):
    full = analyze_model(onnx.load(exports[sample]))
    layer = next(m for m in full.modules if m.tag.endswith(".0") and m.total_ops)
    data = json.loads(invoke("analyze", exports[sample], "--json", "--filter-tag",
                             layer.tag).output)
    tags = [m["tag"] for m in data["modules"]]
    assert tags[0] == layer.tag
    assert all(t == layer.tag or t.startswith(layer.tag + "/") for t in tags)
    assert tags == [m.tag for m in full.modules
                    if m.tag == layer.tag or m.tag.startswith(layer.tag + "/")]
    assert data["selected_nodes"] == layer.total_ops == sum(m["own_ops"] for m in data["modules"])


@pytest.mark.parametrize("sample", ["bert-tiny", "vit-tiny"])
def test_validate_passes_on_the_export(exports, sample):
    result = invoke("validate", exports[sample], "--check-consistency", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["valid"] and data["checker_passed"] and data["tree_recorded"]


def test_validate_names_the_nodes_broken_in_an_export(exports):
    model = onnx.load(exports["bert-tiny"])
    index = GraphIndex.of(model)
    # A node inside layer 0 whose producers and consumers are all in layer 0 too.
    inner = next(i for i, t in enumerate(index.tags) if ".0" in t and (
        index.producer_tags(i) and index.consumer_tags(i)
        and all(x.startswith(layer_of(t))
                for x in index.producer_tags(i) + index.consumer_tags(i))))
    layer = layer_of(index.tags[inner])
    moved = layer[:-1] + "1" + index.tags[inner][len(layer):]
    last, before_last = len(index.nodes) - 1, len(index.nodes) - 2
    for i, tag in ((last, None), (before_last, "/Nowhere/Module"), (inner, moved)):
        props = model.graph.node[i].metadata_props
        for j in reversed(range(len(props))):
            if props[j].key == "hierarchy_tag":
                del props[j]
        if tag:
            props.add(key="hierarchy_tag", value=tag)
    report = validate_model(model, check_consistency=True)
    found = {(i.kind, i.node) for i in report.issues}
    names = [n.name for n in model.graph.node]
    assert {("untagged", names[last]), ("unknown-module", names[before_last]),
            ("cross-layer", names[inner])} <= found
    assert not report.valid


def layer_of(tag: str) -> str:
    """``/A/B/Name.0/C`` → ``/A/B/Name.0``: the path up to the first container entry."""
    parts = tag.split("/")
    k = next(k for k, p in enumerate(parts) if p.endswith(".0"))
    return "/".join(parts[: k + 1])


@pytest.mark.parametrize("sample", ["bert-tiny", "vit-tiny"])
def test_compare_of_an_export_with_itself_finds_nothing(exports, sample):
    result = invoke("compare", exports[sample], exports[sample], "--json")
    assert result.exit_code == 0 and json.loads(result.output)["identical"] is True


def test_compare_of_two_strategies_reports_the_real_differences(exports, bert_usage_based):
    a, b = onnx.load(exports["bert-tiny"]), onnx.load(bert_usage_based)
    result = compare_models(a, b)
    assert not result.identical
    # the two strategies spread ops differently over the modules: some module differs,
    # and every op of either model is counted in exactly one module
    assert any(m.status != "same" for m in result.modules)
    assert sum(m.a_ops for m in result.modules) == len(a.graph.node)
    assert sum(m.b_ops for m in result.modules) == len(b.graph.node)
    for m in result.modules:
        assert m.b_ops - m.a_ops == len(m.ops_added) - len(m.ops_removed), m.tag


def test_compare_of_two_opsets_reports_the_opset_and_the_nodes(exports, bert_opset17, tmp_path):
    out = tmp_path / "diff.json"
    result = invoke("compare", exports["bert-tiny"], bert_opset17, "--output", out)
    assert result.exit_code == 0 and "opsets differ" in result.output.splitlines()[0]
    data = json.loads(out.read_text())
    a_version, b_version = data["opsets"]["ai.onnx"]
    assert b_version == 17 and a_version != 17
    assert any(m["ops_added"] or m["ops_removed"] for m in data["modules"])
    counted = (sum(m["a_ops"] for m in data["modules"]), sum(m["b_ops"] for m in data["modules"]))
    a_nodes = len(onnx.load(exports["bert-tiny"]).graph.node)
    assert counted == (a_nodes, len(onnx.load(bert_opset17).graph.node))


@pytest.mark.parametrize("sample", ["bert-tiny", "vit-tiny"])
def test_extract_of_every_module_runs_and_reproduces_the_intermediates(exports, sample):
    model = onnx.load(exports[sample])
    feeds = feeds_for(model)
    modules = [m for m in analyze_model(model).modules if m.total_ops]
    worst = {}
    for module in modules:
        part = extract_module(model, module.tag)
        worst[module.tag] = check_extraction(model, part.model, feeds, atol=1e-5)
    print(f"{sample}: {len(worst)} modules extracted, max abs difference "
          f"{max(worst.values()):.3g}")
    assert len(worst) == len(modules) >= 8


def _strip_tags(model: onnx.ModelProto, indices: set[int]) -> None:
    for i in indices:
        props = model.graph.node[i].metadata_props
        for j in reversed(range(len(props))):
            if props[j].key in (TAG_KEY, MODULE_PATH_KEY, MODULE_CLASS_KEY):
                del props[j]


@pytest.mark.parametrize("sample", ["bert-tiny", "vit-tiny"])
@pytest.mark.parametrize("pattern", ["scattered", "runs across module boundaries"])
def test_repair_gives_each_stripped_node_its_own_module_or_an_ancestor(exports, sample, pattern):
    model = onnx.load(exports[sample])
    original = [node_tag(n) for n in model.graph.node]
    count = len(original)
    if pattern == "scattered":
        stripped = set(range(1, count, 3))
    else:  # five nodes around every second place where the tag changes
        changes = [i for i in range(1, count) if original[i] != original[i - 1]]
        stripped = {j for b in changes[::2] for j in range(b - 2, b + 3) if 0 <= j < count}
    _strip_tags(model, stripped)
    repaired = repair_tags(model)
    names = [node_label(i, n) for i, n in enumerate(model.graph.node)]
    assert set(repaired.repaired) == {names[i] for i in stripped}
    wrong = {names[i]: (original[i], repaired.repaired[names[i]]) for i in sorted(stripped)
             if not within(original[i], repaired.repaired[names[i]])}
    assert wrong == {}, f"{len(wrong)} of {len(stripped)} repaired outside their module"
    report = validate_model(repaired.model, check_consistency=True)
    assert report.valid, [i.message for i in report.issues][:3]


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    """A tiny random-init Llama exported with htp: (the torch model, the ONNX path, the
    export report). Its rotary embedding leaves no op of its own (folded into constants)."""
    import torch
    from transformers import LlamaConfig, LlamaModel

    from modelexport.exporter import export_model

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=32)
    model = LlamaModel(config).eval()
    out = tmp_path_factory.mktemp("llama") / "llama.onnx"
    report = export_model(model, {"input_ids": torch.randint(0, 64, (1, 6)),
                                  "use_cache": False}, out, strategy="htp")
    return model, out, report


def test_modules_without_ops_count_alike_in_export_analyze_graphml_and_archive(llama,
                                                                               tmp_path):
    from modelexport.converter.tags import module_tree

    _model, out, report = llama
    tree = module_tree(onnx.load(out))
    analyzed = json.loads(runner.invoke(app, ["analyze", str(out), "--json"]).stdout)
    assert [m["tag"] for m in analyzed["modules"] if m["total_ops"] == 0], \
        "the premise: a module without ops"
    graphml = runner.invoke(app, ["export-graphml", str(out), str(tmp_path / "l.graphml"),
                                  "--json"])
    added = runner.invoke(app, ["archive", "add", str(tmp_path / "a.lbdb"), str(out)])
    assert added.exit_code == 0, added.output
    listed = json.loads(runner.invoke(app, ["archive", "list", str(tmp_path / "a.lbdb"),
                                            "--json"]).stdout)
    assert (report.module_count, analyzed["module_count"], json.loads(graphml.stdout)["modules"],
            listed["models"][0]["modules"]) == (len(tree),) * 4
    assert runner.invoke(app, ["validate-graphml", str(tmp_path / "l.graphml")]).exit_code == 0


def test_parameters_of_merged_initializers_belong_to_the_modules_owning_them(llama):
    """A Llama-shaped model with random init has equal all-ones RMSNorm weights; the
    exporter merges them into one initializer, which once went to the root."""
    model, out, _report = llama
    proto = onnx.load(out)
    norms = [name for name, m in model.named_modules() if type(m).__name__.endswith("RMSNorm")]
    held = [name for name in (f"{n}.weight" for n in norms)
            if name in {t.name for t in proto.graph.initializer}]
    assert len(norms) == 5 and len(held) < len(norms), "the premise: the exporter merges them"

    result = analyze_model(proto)
    norm_modules = [m for m in result.modules if m.module_class == "LlamaRMSNorm"]
    assert len(norm_modules) == 5
    assert all(m.own_parameters == 16 for m in norm_modules)
    (shared,) = result.shared_initializers
    assert shared["elements"] == 16
    assert result.shared_parameters == 4 * 16  # the same 16 counted in five modules
    assert shared["modules"] == sorted(m.tag for m in norm_modules)
    # Attention and MLP weights (stored transposed) count in their own modules too.
    for cls in ("LlamaAttention", "LlamaMLP"):
        want = [sum(p.numel() for p in mod.parameters()) for mod in model.modules()
                if type(mod).__name__ == cls]
        assert [m.own_parameters for m in result.modules if m.module_class == cls] == want
    text = runner.invoke(app, ["analyze", str(out)]).stdout
    assert "holds the equal parameters of 5 modules" in text
    meta = json.loads(out.with_name("llama_metadata.json").read_text())
    assert sum(len(v) for v in meta["parameter_owners"].values()) == len(
        list(model.parameters()))
