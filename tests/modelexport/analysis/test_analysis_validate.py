"""validate_model and repair_tags: the tag rules, each failure naming its nodes."""

from __future__ import annotations

import onnx
import pytest
from analysis_models import set_tag

from modelexport.analysis import repair_tags, validate_model
from modelexport.converter.tags import TAG_KEY
from modelexport.errors import AnalysisError


def test_a_clean_tagged_model_is_valid_even_with_consistency_checks(net):
    report = validate_model(net, check_consistency=True)
    assert report.valid and report.checker_passed and report.issues == []
    assert report.tree_recorded and report.tagged_nodes == 12


def test_a_removed_tag_names_the_untagged_node(net):
    report = validate_model(set_tag(net, "L1/Relu", None))
    assert not report.valid
    assert [(i.kind, i.node) for i in report.issues] == [("untagged", "L1/Relu")]


def test_a_tag_outside_the_recorded_tree_is_an_unknown_module(net):
    report = validate_model(set_tag(net, "L0/MatMul", "/Net/Stack/Layer.7/Block"))
    assert [(i.kind, i.node, i.tag) for i in report.issues] == [
        ("unknown-module", "L0/MatMul", "/Net/Stack/Layer.7/Block")]


def test_a_tag_that_is_not_a_path_is_refused(net):
    report = validate_model(set_tag(net, "L0/MatMul", "Net/Stack"))
    assert [(i.kind, i.node) for i in report.issues] == [("bad-tag", "L0/MatMul")]


def test_a_node_tagged_with_the_sibling_layer_is_cross_layer(net):
    bad = set_tag(net, "L0/AddBias", "/Net/Stack/Layer.1/Block")
    assert validate_model(bad).valid  # only the deep check sees it
    report = validate_model(bad, check_consistency=True)
    assert [(i.kind, i.node) for i in report.issues] == [("cross-layer", "L0/AddBias")]
    assert "Layer.1" in report.issues[0].message and "Layer.0" in report.issues[0].message


def test_a_node_tagged_with_an_unrelated_module_is_reported(net):
    report = validate_model(set_tag(net, "L1/Relu", "/Net/Head"), check_consistency=True)
    assert [(i.kind, i.node) for i in report.issues] == [("unrelated-tag", "L1/Relu")]


def test_boundary_nodes_are_not_flagged(net):
    # L1/MatMul reads only Layer.0's output: data entering a module is not contamination.
    report = validate_model(net, check_consistency=True)
    assert not [i for i in report.issues if i.node == "L1/MatMul"]


def test_a_missing_module_tree_is_said_and_that_check_skipped(make_net):
    model = set_tag(make_net(with_tree=False), "L0/MatMul", "/Net/Anything")
    report = validate_model(model)
    assert report.valid and not report.tree_recorded
    assert "module tree not recorded" in report.notes[0]


def test_checker_failures_are_reported(net):
    broken = onnx.ModelProto()
    broken.CopyFrom(net)
    broken.graph.node[1].input[1] = "no_such_tensor"
    report = validate_model(broken)
    assert not report.checker_passed and report.issues[0].kind == "checker"


def test_repair_fills_missing_tags_from_neighbours(net):
    bad = set_tag(set_tag(net, "L1/Relu", None), "L0/Residual", None)
    repair = repair_tags(bad)
    assert repair.repaired == {"L1/Relu": "/Net/Stack/Layer.1", "L0/Residual": "/Net"}
    assert repair.root == "/Net"
    assert validate_model(repair.model, check_consistency=True).valid
    props = {p.key: p.value for p in repair.model.graph.node[7].metadata_props}
    assert props == {TAG_KEY: "/Net/Stack/Layer.1", "module_path": "stack.layers.1",
                     "module_class": "Layer"}
    assert validate_model(bad).issues  # the input is left alone


def test_repair_needs_something_to_start_from(make_net):
    with pytest.raises(AnalysisError, match="nothing to repair from"):
        repair_tags(make_net(tag_form="none", with_tree=False))


def test_all_nodes_on_one_tag_is_noted(net):
    model = net
    for node in model.graph.node:
        model = set_tag(model, node.name, "/Net") if node.name else model
    const = next(n for n in model.graph.node if not n.name)
    const.metadata_props[0].value = "/Net"
    report = validate_model(model)
    assert report.valid and "all 12 nodes carry the one tag /Net" in report.notes[0]
