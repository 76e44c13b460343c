"""analyze_model and its text forms on the synthetic two-layer net."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from modelexport.analysis import analyze_model
from modelexport.analysis.report import format_analysis
from modelexport.errors import AnalysisError


def test_counts_add_up_to_the_node_count(net):
    a = analyze_model(net)
    assert a.node_count == len(net.graph.node) == 12
    assert a.tagged_nodes == 12 and a.untagged_nodes == 0 and a.coverage == 1.0
    assert sum(m.own_ops for m in a.modules) == a.node_count
    root = a.modules[0]
    assert root.tag == "/Net" and root.total_ops == 12 and root.own_ops == 0


def test_modules_come_in_tree_order_with_own_and_total_ops(net):
    a = analyze_model(net)
    assert [m.tag for m in a.modules] == [
        "/Net", "/Net/Proj", "/Net/Stack", "/Net/Stack/Layer.0", "/Net/Stack/Layer.0/Block",
        "/Net/Stack/Layer.1", "/Net/Stack/Layer.1/Block", "/Net/Head"]
    layer0 = next(m for m in a.modules if m.tag == "/Net/Stack/Layer.0")
    assert (layer0.own_ops, layer0.total_ops) == (1, 4)
    assert layer0.op_types == {"Add": 1}
    assert layer0.total_op_types == {"Add": 2, "MatMul": 1, "Relu": 1}
    assert layer0.module_class == "Layer"


def test_parameters_belong_to_the_common_module_of_their_consumers(net):
    a = analyze_model(net)
    by_tag = {m.tag: m for m in a.modules}
    assert by_tag["/Net/Stack/Layer.0/Block"].own_parameters == 16 + 4
    assert by_tag["/Net/Stack/Layer.0"].total_parameters == 20
    assert by_tag["/Net/Proj"].own_parameters == 12
    assert by_tag["/Net"].total_parameters == a.parameters == 12 + 2 * 20 + 8
    assert a.unowned_parameters == 0


def test_integer_initializers_are_constants_not_parameters_without_the_exporters_record(net):
    from onnx import numpy_helper

    net.graph.initializer.append(numpy_helper.from_array(np.array([1, 2, -1], np.int64),
                                                         "shape"))
    net.graph.node[-1].input.append("shape")  # read by the head's Mul (never run here)
    a = analyze_model(net)
    assert a.parameters == 12 + 2 * 20 + 8 and a.constants == 3
    assert not a.parameters_recorded
    assert "60 parameters; 3 constants (initializer elements holding no parameter)" in (
        format_analysis(a, "summary").splitlines()[0])


def test_recorded_parameter_counts_are_the_parameters_and_the_rest_constants(net):
    from modelexport.analysis._graph import recorded_tree
    from modelexport.converter.tags import MODULE_TREE_KEY

    tree = recorded_tree(net)
    counts = {"/Net/Proj": 12, "/Net/Stack/Layer.0/Block": 20, "/Net/Stack/Layer.1/Block": 20,
              "/Net/Head": 8 + 100}  # 100 elements folded into another tensor at export
    for entry in tree:
        entry["parameters"] = counts.get(entry["tag"], 0)
    next(p for p in net.metadata_props if p.key == MODULE_TREE_KEY).value = json.dumps(tree)
    net.metadata_props.add(key="modelexport.parameter_owners", value=json.dumps(
        {"W_in": [["/Net/Proj", 12]], "W0": [["/Net/Stack/Layer.0/Block", 16]],
         "b0": [["/Net/Stack/Layer.0/Block", 4]], "W1": [["/Net/Stack/Layer.1/Block", 16]],
         "b1": [["/Net/Stack/Layer.1/Block", 4]]}))  # W_out: not found, so a constant
    a = analyze_model(net)
    assert a.parameters_recorded and a.parameters == 12 + 2 * 20 + 108
    assert a.modules[0].total_parameters == a.parameters
    assert {m.tag: m.own_parameters for m in a.modules if m.own_parameters} == counts
    assert a.constants == 8


def test_filter_tag_keeps_only_the_subtree(net):
    a = analyze_model(net, filter_tag="/Net/Stack/Layer.1/")
    assert [m.tag for m in a.modules] == ["/Net/Stack/Layer.1", "/Net/Stack/Layer.1/Block"]
    assert a.selected_nodes == 4 == a.modules[0].total_ops
    assert a.modules[0].parent is None and a.modules[0].depth == 0
    assert a.op_types == {"Add": 2, "MatMul": 1, "Relu": 1}


def test_filter_tag_matches_whole_segments_only(make_net):
    with pytest.raises(AnalysisError, match="no module '/Net/Stack/Layer'"):
        analyze_model(make_net(), filter_tag="/Net/Stack/Layer")


def test_older_doc_string_tags_are_read(make_net):
    a = analyze_model(make_net(tag_form="doc_string"))
    assert a.tagged_nodes == 12 and a.tag_sources == {"doc_string": 12}
    expected = analyze_model(make_net()).modules
    assert [m.total_ops for m in a.modules] == [m.total_ops for m in expected]


def test_untagged_model_is_analyzed_by_op_type(make_net):
    a = analyze_model(make_net(tag_form="none", with_tree=False))
    assert not a.tagged and a.modules == []
    assert a.op_types == {"MatMul": 4, "Add": 4, "Relu": 2, "Constant": 1, "Mul": 1}
    text = format_analysis(a, "summary")
    assert "no hierarchy tags found" in text and "MatMul×4" in text
    assert format_analysis(a, "csv").splitlines()[0] == "op_type,count"


def test_modules_come_from_tags_when_no_tree_is_recorded(make_net):
    a = analyze_model(make_net(with_tree=False))
    assert not a.tree_recorded and len(a.modules) == 8
    assert "module tree not recorded" in format_analysis(a, "summary")


def test_summary_is_a_tree_of_modules(net):
    text = format_analysis(analyze_model(net), "summary")
    lines = text.splitlines()
    assert lines[0].startswith("12 nodes, 12 tagged (100.0%)")
    assert lines[1].startswith("/Net  ops 12 (own 0)")
    assert any(line.startswith("│   ├── Layer.0  ops 4 (own 1)") for line in lines)


def test_detailed_adds_classes_and_op_types(net):
    text = format_analysis(analyze_model(net), "detailed")
    assert "Block  ops 3 (own 3)  params 20  [Block]  Add×1 MatMul×1 Relu×1" in text


def test_json_and_csv_carry_every_module(net):
    a = analyze_model(net)
    data = json.loads(format_analysis(a, "json"))
    assert data["node_count"] == 12 and len(data["modules"]) == 8
    assert sum(m["own_ops"] for m in data["modules"]) + data["untagged_nodes"] == 12
    rows = list(csv.DictReader(io.StringIO(format_analysis(a, "csv"))))
    assert [r["tag"] for r in rows] == [m.tag for m in a.modules]
    assert rows[4]["op_types"] == "Add:1;MatMul:1;Relu:1"
