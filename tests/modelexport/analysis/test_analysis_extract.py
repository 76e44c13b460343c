"""extract_module: standalone, valid, and reproducing the full model's intermediates."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from modelexport.analysis import analyze_model, extract_module, validate_model
from modelexport.errors import AnalysisError

FEEDS = {"x": np.random.default_rng(7).standard_normal((5, 3)).astype(np.float32)}


def test_a_layer_becomes_a_model_with_the_tensors_crossing_its_boundary(net):
    part = extract_module(net, "/Net/Stack/Layer.0")
    assert part.nodes == 4
    assert part.inputs == ["h0"] and part.outputs == ["l0"]
    assert sorted(part.initializers) == ["W0", "b0"]
    assert [i.name for i in part.model.graph.input] == ["h0"]  # weights are not inputs
    onnx.checker.check_model(part.model, full_check=True)


def test_every_module_reproduces_the_full_models_intermediates(net, extraction_checker):
    for module in analyze_model(net).modules:
        part = extract_module(net, module.tag)
        assert extraction_checker(net, part.model, FEEDS) <= 1e-5, module.tag


def test_the_root_module_is_the_whole_model(net, extraction_checker):
    part = extract_module(net, "/Net")
    assert part.inputs == ["x"] and part.outputs == ["y"] and part.nodes == 12
    extraction_checker(net, part.model, FEEDS)


def test_the_extracted_model_keeps_tags_opsets_and_the_subtree(net):
    part = extract_module(net, "/Net/Stack/Layer.1").model
    assert list(part.opset_import) == list(net.opset_import)
    report = validate_model(part, check_consistency=True)
    assert report.valid and report.tree_recorded
    assert [m.tag for m in analyze_model(part).modules] == [
        "/Net/Stack/Layer.1", "/Net/Stack/Layer.1/Block"]


def test_a_module_producing_a_graph_output_exports_it(net, extraction_checker):
    part = extract_module(net, "/Net/Head")
    assert part.inputs == ["l1"] and part.outputs == ["y"]
    extraction_checker(net, part.model, FEEDS)


def test_an_unknown_tag_is_refused_with_the_known_modules(net):
    with pytest.raises(AnalysisError, match=r"no module '/Net/Nope' in the model"):
        extract_module(net, "/Net/Nope")


def test_the_equivalence_check_catches_a_wrong_part(net, extraction_checker):
    part = extract_module(net, "/Net/Stack/Layer.0").model
    weight = next(t for t in part.graph.initializer if t.name == "b0")
    weight.CopyFrom(onnx.numpy_helper.from_array(np.full(4, 1e-3, np.float32), "b0"))
    with pytest.raises(AssertionError):
        extraction_checker(net, part, FEEDS)
