"""The analyze, validate, compare and extract commands through typer's CliRunner."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import networkx
import onnx
import pytest
from analysis_models import set_tag
from typer.testing import CliRunner

from modelexport.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def save(tmp_path):
    def _save(model: onnx.ModelProto, name: str) -> Path:
        path = tmp_path / name
        onnx.save(model, path)
        return path
    return _save


def test_analyze_prints_a_plain_tree_on_a_pipe(net_file):
    result = invoke("analyze", net_file)
    assert result.exit_code == 0, result.output
    assert "/Net  ops 12 (own 0)" in result.output and "└── Head  ops 3" in result.output


@pytest.mark.parametrize("fmt", ["summary", "detailed", "json", "csv"])
def test_analyze_writes_every_format_to_a_file(net_file, tmp_path, fmt):
    out = tmp_path / f"report.{fmt}"
    result = invoke("analyze", net_file, "--output-format", fmt, "--output", out)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    if fmt == "json":
        assert json.loads(text)["node_count"] == 12
    elif fmt == "csv":
        assert len(list(csv.DictReader(io.StringIO(text)))) == 8
    else:
        assert text.splitlines()[1].startswith("/Net  ops 12")
    assert "Relu×1" in text or fmt != "detailed"


@pytest.mark.parametrize("name, check", [
    ("r.json", lambda text: json.loads(text)["node_count"] == 12),
    ("r.csv", lambda text: len(list(csv.DictReader(io.StringIO(text)))) == 8),
    ("r.txt", lambda text: text.splitlines()[1].startswith("/Net  ops 12")),
])
def test_analyze_output_takes_its_format_from_the_file_name(net_file, tmp_path, name, check):
    result = invoke("analyze", net_file, "-o", tmp_path / name)
    assert result.exit_code == 0, result.output
    assert check((tmp_path / name).read_text())


def test_analyze_still_accepts_the_former_output_file_name_without_showing_it(net_file,
                                                                            tmp_path):
    result = invoke("analyze", net_file, "--output-file", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r.json").read_text())["node_count"] == 12
    assert "--output-file" not in invoke("analyze", "--help").output


@pytest.mark.parametrize("command", ["analyze", "validate"])
def test_the_file_a_command_writes_is_named_with_output(command):
    help_text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "160"}).output
    assert "--output " in help_text and "-o " in help_text


def test_analyze_json_with_another_format_is_bad_usage(net_file):
    result = invoke("analyze", net_file, "--json", "-f", "csv")
    assert result.exit_code == 2
    assert "--json prints JSON; it cannot be combined with --output-format csv" in " ".join(
        line.strip("│ ") for line in result.output.splitlines())
    assert invoke("analyze", net_file, "--json", "-f", "json").exit_code == 0


def test_analyze_json_with_filter_tag(net_file):
    result = invoke("analyze", net_file, "--json", "--filter-tag", "/Net/Stack/Layer.0")
    data = json.loads(result.output)
    assert [m["tag"] for m in data["modules"]] == ["/Net/Stack/Layer.0",
                                                   "/Net/Stack/Layer.0/Block"]
    assert data["selected_nodes"] == 4


def test_analyze_with_filter_tag_counts_nodes_and_parameters_of_the_subtree_only(net_file):
    data = json.loads(invoke("analyze", net_file, "--json", "--filter-tag",
                             "/Net/Stack/Layer.0").output)
    layer = data["modules"][0]
    assert (data["node_count"], data["tagged_nodes"], data["untagged_nodes"]) == (4, 4, 0)
    assert data["parameters"] == layer["total_parameters"] == 16 + 4
    assert sum(data["op_types"].values()) == data["node_count"]
    headline = invoke("analyze", net_file, "--filter-tag", "/Net/Stack/Layer.0").output
    assert headline.startswith("/Net/Stack/Layer.0: 4 nodes, 4 tagged (100.0%), 0 untagged; "
                               "2 modules, 2 holding ops; 20 parameters\n"), headline


def test_validate_passes_with_exit_0(net_file):
    result = invoke("validate", net_file, "--check-consistency")
    assert result.exit_code == 0 and result.output.startswith("valid")


@pytest.mark.parametrize("node,tag,kind", [
    ("L1/Relu", None, "untagged"),
    ("L0/MatMul", "/Net/Stack/Layer.9", "unknown-module"),
    ("L0/AddBias", "/Net/Stack/Layer.1/Block", "cross-layer"),
])
def test_validate_fails_with_exit_1_naming_the_node(net, save, node, tag, kind):
    path = save(set_tag(net, node, tag), "bad.onnx")
    result = invoke("validate", path, "--check-consistency")
    assert result.exit_code == 1
    assert f"{kind} (1):" in result.output and repr(node) in result.output
    data = json.loads(invoke("validate", path, "--check-consistency", "--json").output)
    assert data["valid"] is False and [(i["kind"], i["node"]) for i in data["issues"]] == [
        (kind, node)]


def test_validate_repair_writes_a_valid_copy(net, save, tmp_path):
    path = save(set_tag(net, "L1/Relu", None), "bad.onnx")
    result = invoke("validate", path, "--repair")
    fixed = tmp_path / "bad_repaired.onnx"
    assert result.exit_code == 0, result.output
    assert f"repaired 1 untagged node; wrote {fixed}" in result.output
    assert invoke("validate", fixed).exit_code == 0
    out = tmp_path / "fixed.onnx"
    assert invoke("validate", path, "--repair", "--output", out).exit_code == 0 and out.exists()


def test_validate_repair_says_where_each_node_went_as_json_does(net, save):
    path = save(set_tag(net, "L1/Relu", None), "bad.onnx")
    text = invoke("validate", path, "--repair").output
    repaired = json.loads(invoke("validate", path, "--repair", "--json").output)["repair"]
    assert list(repaired["repaired"]) == ["L1/Relu"]
    assert f"  L1/Relu → {repaired['repaired']['L1/Relu']}\n" in text


def _error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_a_mistyped_tag_gets_a_suggestion(net_file, tmp_path):
    out = tmp_path / "layer.onnx"
    line = _error(invoke("extract", net_file, "--tag", "/Net/Stack/Layer0", out))
    assert "no module '/Net/Stack/Layer0' in the model; did you mean '/Net/Stack/Layer.0'" in line
    assert not out.exists()
    line = _error(invoke("analyze", net_file, "--filter-tag", "/Net/Stak"))
    assert "did you mean '/Net/Stack'" in line


def test_a_tag_without_its_root_is_taken_only_when_it_names_one_module(net_file, tmp_path):
    out = tmp_path / "layer.onnx"
    result = invoke("extract", net_file, "--tag", "Layer.0", out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tag"] == "/Net/Stack/Layer.0"
    as_json = json.loads(invoke("analyze", net_file, "--filter-tag", "Layer.1/Block",
                                "--json").output)
    assert as_json["filter_tag"] == "/Net/Stack/Layer.1/Block"
    line = _error(invoke("extract", net_file, "--tag", "Block", tmp_path / "b.onnx"))
    assert ("'Block' matches 2 modules (/Net/Stack/Layer.0/Block, /Net/Stack/Layer.1/Block); "
            "give the whole tag, from the root") in line
    assert not (tmp_path / "b.onnx").exists()


def test_compare_self_says_identical_and_the_old_option_name_still_writes_json(net_file,
                                                                              tmp_path):
    out = tmp_path / "diff.json"
    result = invoke("compare", net_file, net_file, "--output-file", out)
    assert result.exit_code == 0 and result.output.startswith("the two models are identical")
    assert json.loads(out.read_text())["identical"] is True


def test_compare_leads_with_the_module_summary(make_net, save):
    a, b = save(make_net(seed=0), "a.onnx"), save(make_net(seed=1, opset=18), "b.onnx")
    result = invoke("compare", a, b)
    assert result.exit_code == 0
    assert result.output.startswith("4 modules changed (4 same; ops 12 → 12); opsets differ")
    assert "params changed: W0, b0" in result.output
    data = json.loads(invoke("compare", a, b, "--json").output)
    assert data["identical"] is False and data["opsets"] == {"ai.onnx": [17, 18]}
    assert data["summary"] == {"same": 4, "changed": 4, "added": 0, "removed": 0}
    block = next(m for m in data["modules"] if m["tag"] == "/Net/Stack/Layer.0/Block")
    assert (block["status"], block["params_changed"]) == ("changed", ["W0", "b0"])


def _with_relu_replaced(net: onnx.ModelProto) -> onnx.ModelProto:
    other = onnx.ModelProto()
    other.CopyFrom(net)
    next(n for n in other.graph.node if n.name == "L1/Relu").op_type = "Sigmoid"
    return other


def test_compare_writes_both_models_as_one_graphml_with_a_diff_key(net, save, tmp_path):
    a, b = save(net, "a.onnx"), save(_with_relu_replaced(net), "b.onnx")
    out = tmp_path / "diff.graphml"
    result = invoke("compare", a, b, "--output", out)
    assert result.exit_code == 0 and f"wrote {out}" in result.output
    graph = networkx.read_graphml(out)
    status = {(d.get("op_type"), d.get("hierarchy_tag")): d.get("diff")
              for _n, d in graph.nodes(data=True) if d.get("kind") == "op"}
    block = "/Net/Stack/Layer.1/Block"
    assert status[("Relu", block)] == "removed" and status[("Sigmoid", block)] == "added"
    assert status[("MatMul", block)] == "same"
    modules = {d["hierarchy_tag"]: d["diff"] for _n, d in graph.nodes(data=True)
               if d.get("kind") == "module" and "hierarchy_tag" in d}
    assert modules[block] == "changed" and modules["/Net/Head"] == "same"
    # the removed op is drawn where it was: inside its module, fed by its neighbour
    removed = next(n for n, d in graph.nodes(data=True) if d.get("diff") == "removed"
                   and d.get("kind") == "op")
    assert graph.nodes[removed]["parent"] in {n for n, d in graph.nodes(data=True)
                                              if d.get("hierarchy_tag") == block}
    assert graph.in_degree(removed) == 1 and graph.out_degree(removed) == 1
    text = out.read_text()
    assert 'attr.name="diff"' in text and "#EF5350" in text and "#66BB6A" in text
    assert "#FFB300" in text  # the changed module's amber, and the legend


def test_compare_draws_the_diff_as_a_picture_with_a_legend(net, save, tmp_path):
    a, b = save(net, "a.onnx"), save(_with_relu_replaced(net), "b.onnx")
    out = tmp_path / "diff.svg"
    assert invoke("compare", a, b, "--output", out, "--depth", "1").exit_code == 0
    svg = out.read_text()
    assert svg.startswith("<?xml") and "legend" in svg
    assert all(colour in svg for colour in ("#ef5350", "#66bb6a", "#ffb300"))


def test_extract_writes_a_checked_model(net_file, tmp_path):
    out = tmp_path / "layer0.onnx"
    result = invoke("extract", net_file, "--tag", "/Net/Stack/Layer.0", out)
    assert result.exit_code == 0, result.output
    assert "4 nodes of /Net/Stack/Layer.0; 1 input, 1 output, 2 initializers" in result.output
    onnx.checker.check_model(onnx.load(out), full_check=True)


@pytest.mark.parametrize("args,message", [
    (["analyze", "{missing}"], "no such file"),
    (["analyze", "{text}"], "is not an ONNX model"),
    (["analyze", "{empty}"], "is not an ONNX model"),
    (["validate", "{net}", "--repair", "--output", "{nodir}/x.onnx"], "does not exist"),
    (["extract", "{net}", "--tag", "/Net/Nope", "{out}"], "no module '/Net/Nope'"),
    (["extract", "{net}", "--tag", "/Net", "{nodir}/x.onnx"], "does not exist"),
    (["analyze", "{net}", "--output", "{nodir}/r.json"], "does not exist"),
    (["compare", "{net}", "{text}"], "is not an ONNX model"),
    (["compare", "{net}", "{missing}"], "no such file"),
    (["compare", "{net}", "{net}", "--output", "{text}"], "cannot tell what to write"),
    (["compare", "{net}", "{net}", "--output", "{nodir}/d.svg"], "does not exist"),
    (["analyze", "{net}", "--filter-tag", "/Nope"], "no module '/Nope'"),
])
def test_bad_input_is_one_line_exit_1_and_nothing_written(net_file, tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("not a model\n")
    (tmp_path / "empty.onnx").write_bytes(b"")
    names = {"missing": tmp_path / "missing.onnx", "text": tmp_path / "notes.txt",
             "empty": tmp_path / "empty.onnx", "net": net_file, "out": tmp_path / "out.onnx",
             "nodir": tmp_path / "nodir"}
    before = sorted(p.name for p in tmp_path.iterdir())
    result = invoke(*[a.format(**names) for a in args])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_validate_output_without_repair_is_bad_usage(net_file, tmp_path):
    result = invoke("validate", net_file, "--output", tmp_path / "x.onnx")
    assert result.exit_code == 2 and not (tmp_path / "x.onnx").exists()


def test_every_command_has_help_with_examples():
    for command in ("analyze", "validate", "compare", "extract"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Examples" in result.output


def test_running_the_commands_loads_neither_torch_nor_transformers(net_file, tmp_path):
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from modelexport.cli import app\n"
        f"p, out = {net_file!r}, {str(tmp_path / 'part.onnx')!r}\n"
        "for args in (['analyze', p], ['validate', p, '--check-consistency'],\n"
        "             ['compare', p, p], ['extract', p, '--tag', '/Net/Head', out]):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_written_files_get_ordinary_permissions(net_file, tmp_path):
    import os

    invoke("analyze", net_file, "--output-format", "json", "--output", tmp_path / "r.json")
    invoke("extract", net_file, "--tag", "/Net/Stack/Layer.0", tmp_path / "layer.onnx")
    umask = os.umask(0)
    os.umask(umask)
    for name in ("r.json", "layer.onnx"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
