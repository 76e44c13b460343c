"""The synthetic graph generator: exact node counts, valid ONNX, tags everywhere."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from bench.synthetic import NODES_PER_BLOCK, make_synthetic_model
from modelexport.converter.tags import MODULE_TREE_KEY, node_tag


@pytest.mark.parametrize(
    "count", [1, NODES_PER_BLOCK - 1, NODES_PER_BLOCK, NODES_PER_BLOCK + 1, 1_000]
)
def test_the_generator_makes_exactly_the_requested_number_of_nodes(count):
    assert len(make_synthetic_model(count).graph.node) == count


def test_the_generated_model_passes_the_full_onnx_checker_and_runs():
    model = make_synthetic_model(1_000)
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": np.ones((1, 8, 16), np.float32)})
    assert out.shape == (1, 8, 16)


def test_every_node_is_tagged_with_a_module_of_the_recorded_tree():
    model = make_synthetic_model(1_000)
    props = {p.key: p.value for p in model.metadata_props}
    tree = {m["tag"] for m in json.loads(props[MODULE_TREE_KEY])}
    tags = [node_tag(n) for n in model.graph.node]
    assert None not in tags and set(tags) <= tree
    assert max(t.count("/") for t in tags) >= 6  # a deep hierarchy, not a flat one


def test_the_op_mix_carries_attributes_and_initializers():
    model = make_synthetic_model(1_000)
    ops = {n.op_type for n in model.graph.node}
    assert {"MatMul", "Add", "LayerNormalization", "Softmax", "Constant", "Reshape", "Cast"} <= ops
    assert sum(len(n.attribute) for n in model.graph.node) > 100
    assert model.graph.initializer


def test_the_same_count_gives_the_same_bytes():
    assert (
        make_synthetic_model(200).SerializeToString()
        == make_synthetic_model(200).SerializeToString()
    )
