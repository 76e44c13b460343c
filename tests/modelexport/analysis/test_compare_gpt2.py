"""compare on tiny GPT-2s built from configs and exported with htp (slow: four exports,
once per session), through the CLI and the API, and archive diff giving the same answers
from a real LadybugDB archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gpt2_variants import CHANGED_WEIGHT, VARIANTS, export, parameter_names, with_one_weight_changed
from typer.testing import CliRunner

import modelexport
from modelexport.cli import app

pytestmark = pytest.mark.slow

runner = CliRunner()
BLOCK = "/GPT2Model/GPT2Block"


@pytest.fixture(scope="session")
def gpt2s(once_per_run) -> dict[str, Path]:
    """Every variant exported once per test run, plus the base with one weight changed."""

    def make(folder: Path) -> None:
        for name in VARIANTS:
            export(name, folder)
        with_one_weight_changed(folder / "base.onnx", folder / "one_weight.onnx")

    folder = once_per_run("gpt2s", make)
    return {name: folder / f"{name}.onnx" for name in (*VARIANTS, "one_weight")}


def cli_diff(a: Path, b: Path) -> dict:
    result = runner.invoke(app, ["compare", str(a), str(b), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def statuses(diff: dict) -> dict[str, str]:
    return {m["tag"]: m["status"] for m in diff["modules"]}


def structural(diff: dict) -> list[str]:
    return [m["tag"] for m in diff["modules"] if m["ops_added"] or m["ops_removed"]
            or m["status"] in ("added", "removed")]


def test_a_gpt2_against_itself_has_every_module_same(gpt2s):
    diff = cli_diff(gpt2s["base"], gpt2s["base"])
    assert diff["identical"] and set(statuses(diff).values()) == {"same"}
    assert len(diff["modules"]) == 17


def test_one_weight_changed_is_named_by_exactly_the_module_owning_it(gpt2s):
    diff = cli_diff(gpt2s["base"], gpt2s["one_weight"])
    changed = {m["tag"]: m["params_changed"] for m in diff["modules"] if m["status"] != "same"}
    assert changed == {f"{BLOCK}.1/GPT2Attention/Conv1D.c_attn": [CHANGED_WEIGHT]}
    assert structural(diff) == []


def test_a_third_layer_is_exactly_the_third_block_added(gpt2s):
    diff = cli_diff(gpt2s["base"], gpt2s["three_layers"])
    status = statuses(diff)
    added = sorted(t for t, s in status.items() if s == "added")
    assert added and all(t == f"{BLOCK}.2" or t.startswith(f"{BLOCK}.2/") for t in added)
    assert f"{BLOCK}.2/GPT2MLP/NewGELUActivation" in added
    assert not [t for t, s in status.items() if s != "same" and s != "added"]
    assert {s for t, s in status.items() if t.startswith(f"{BLOCK}.0")} == {"same"}
    back = cli_diff(gpt2s["three_layers"], gpt2s["base"])  # and the other way round
    assert sorted(t for t, s in statuses(back).items() if s == "removed") == added


def test_another_activation_changes_the_mlp_modules_in_structure_and_nothing_else(gpt2s):
    diff = cli_diff(gpt2s["base"], gpt2s["relu"])
    differing = {t for t, s in statuses(diff).items() if s != "same"}
    assert differing and all("/GPT2MLP" in t for t in differing)
    assert {t.split("/")[2] for t in differing} == {"GPT2Block.0", "GPT2Block.1"}
    for m in diff["modules"]:
        if m["tag"] in differing:
            assert m["ops_added"] or m["ops_removed"], m["tag"]
        assert not m["params_changed"], m["tag"]
    mlp = next(m for m in diff["modules"] if m["tag"] == f"{BLOCK}.0/GPT2MLP")
    assert [op["op_type"] for op in mlp["ops_added"]] == ["Relu"]


def test_a_second_seed_changes_the_parameters_of_every_module_holding_some(gpt2s):
    import onnx

    diff = modelexport.compare_models(gpt2s["base"], gpt2s["seed1"])
    params = parameter_names("base")
    model = onnx.load(gpt2s["base"], load_external_data=False)
    holding = set()
    for node in model.graph.node:
        tag = next(p.value for p in node.metadata_props if p.key == "hierarchy_tag")
        holding |= {tag for name in node.input if name in params}
    changed = {m.tag for m in diff.modules if m.params_changed}
    assert holding and holding <= changed
    assert not [m.tag for m in diff.modules if m.ops_added or m.ops_removed
                or m.status in ("added", "removed")]


def test_the_archive_gives_the_same_answers_as_the_files(gpt2s, tmp_path):
    db = tmp_path / "models.lbdb"
    for name, path in gpt2s.items():
        result = runner.invoke(app, ["archive", "add", str(db), str(path), "--name", name])
        assert result.exit_code == 0, result.output
    for other in ("base", "one_weight", "three_layers", "relu", "seed1"):
        result = runner.invoke(app, ["archive", "diff", str(db), "base", other, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == cli_diff(gpt2s["base"], gpt2s[other]), other
    result = runner.invoke(app, ["archive", "diff", str(db), "base", "nope"])
    assert result.exit_code == 1 and "no model named 'nope'" in result.output
    assert len(result.output.strip().splitlines()) == 1
