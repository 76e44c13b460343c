"""The tag vocabulary every package shares: paths, ancestry, torch's module stacks."""

from __future__ import annotations

import ast
import inspect

import pytest

import modelexport
from modelexport.converter.tags import (
    ROOT,
    fill_missing_tags,
    is_builtin_class,
    lineage,
    normalize_tag,
    parent_tag,
    related,
    torch_module_stack,
    within,
)


def test_a_tag_is_normalized_to_one_spelling():
    assert normalize_tag("/A/B/") == "/A/B"
    assert normalize_tag(" /A//B ") == "/A/B"
    assert normalize_tag("") == ROOT
    assert normalize_tag("/") == ROOT
    assert normalize_tag(None) is None


def test_the_lineage_runs_outermost_first_and_the_root_is_in_none():
    assert lineage("/A/B/C") == ["/A", "/A/B", "/A/B/C"]
    assert lineage(ROOT) == []
    assert parent_tag("/A/B") == "/A"
    assert parent_tag("/A") is None


def test_within_matches_whole_segments():
    assert within("/A/Layer.1/X", "/A/Layer.1")
    assert not within("/A/Layer.10", "/A/Layer.1")
    assert within("/A", ROOT)
    assert related("/A", "/A/B") and related("/A/B", "/A") and not related("/A/B", "/A/C")


def test_builtin_classes_are_those_torch_nn_defines():
    assert is_builtin_class("torch.nn.modules.linear.Linear")
    assert is_builtin_class("torch.nn.Linear")
    assert not is_builtin_class("torch.nnx.Block")
    assert not is_builtin_class("transformers.models.x.Block")


def test_the_module_stack_comes_from_name_scopes_with_classes():
    props = {"pkg.torch.onnx.name_scopes": "['', 'blocks.1', 'blocks.1.lin', 'linear']",
             "pkg.torch.onnx.class_hierarchy":
                 "['pkg.Net', 'pkg.Block', 'torch.nn.modules.linear.Linear', 'aten.linear']"}
    assert torch_module_stack(props) == [
        ("", "pkg.Net"),
        ("blocks.1", "pkg.Block"),
        ("blocks.1.lin", "torch.nn.modules.linear.Linear"),
    ]


def test_the_module_stack_falls_back_to_the_namespace_then_to_bare_scopes():
    namespace = ": pkg.Net/blocks.0: pkg.Block/add: aten.add.Tensor"
    assert torch_module_stack({"namespace": namespace}) == [
        ("", "pkg.Net"),
        ("blocks.0", "pkg.Block"),
    ]
    assert torch_module_stack({"pkg.torch.onnx.name_scopes": "['', 'add']"}) == [("", None)]
    assert torch_module_stack({"pkg.torch.onnx.name_scopes": "['add']"}) == []
    assert torch_module_stack({"pkg.torch.onnx.name_scopes": "not a list"}) is None
    assert torch_module_stack({}) is None


def _defined_functions(path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


@pytest.mark.parametrize("name", ["normalize_tag", "lineage", "ancestors", "within", "related",
                                  "parent_tag", "common_tag", "torch_module_stack",
                                  "is_builtin_class", "fill_missing_tags"])
def test_the_vocabulary_is_defined_once_in_the_project(name):
    """No module but converter/tags.py (and graphml/format.py's ``tag_within``) defines these."""
    from pathlib import Path

    root = Path(inspect.getfile(modelexport)).resolve().parents[1]
    owners = [p.relative_to(root).as_posix()
              for folder in ("modelexport", "converter", "graphml")
              for p in sorted((root / folder).rglob("*.py"))
              if name in _defined_functions(p)]
    assert owners in ([], ["converter/tags.py"])



def _chain(*ops: str):
    """x → ops[0] → ops[1] → … → y, one node per op, named n0, n1, …"""
    from onnx import helper

    names = ["x", *[f"t{i}" for i in range(len(ops) - 1)], "y"]
    return [helper.make_node(op, [names[i]], [names[i + 1]], name=f"n{i}")
            for i, op in enumerate(ops)]


def test_an_untagged_run_across_a_module_boundary_gets_a_module_containing_both_sides():
    nodes = _chain("Relu", "Relu", "Relu", "Relu", "Relu", "Relu")
    tags = ["/M/A/X", "/M/A/X", None, None, "/M/B/Y", "/M/B/Y"]
    # n2 lies in A, n3 in B: neither may be given the other side's module
    assert fill_missing_tags(nodes, tags, "/M")[2:4] == ["/M", "/M"]


def test_an_untagged_node_takes_its_producers_and_its_consumers():
    nodes = _chain("Relu", "Relu", "Relu")
    assert fill_missing_tags(nodes, ["/M/A/X", None, "/M/A/Y"], "/M") == [
        "/M/A/X", "/M/A", "/M/A/Y"]


def test_a_node_reading_a_graph_input_has_the_root_for_a_neighbour():
    nodes = _chain("Cast", "Relu")
    assert fill_missing_tags(nodes, [None, "/M/A"], "/M") == ["/M/A", "/M/A"]
    assert fill_missing_tags(nodes, [None, "/M/A"], "/M", boundary={"x", "y"}) == ["/M", "/M/A"]


def test_a_run_with_no_tagged_neighbour_goes_to_the_root():
    nodes = _chain("Relu", "Relu")
    assert fill_missing_tags(nodes, [None, None], "/M") == ["/M", "/M"]
