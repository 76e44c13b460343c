"""diff_models names exactly what differs between two models."""

from __future__ import annotations

import pytest

from modelexport.converter.testing import assert_models_equal, diff_models


def test_identical_models_have_no_differences(tagged):
    assert diff_models(tagged, tagged) == []


def test_an_attribute_value_difference_is_named_by_path(with_subgraphs):
    from onnx import helper

    a, b = with_subgraphs, type(with_subgraphs)()
    b.CopyFrom(a)
    b.graph.node[0].attribute.append(helper.make_attribute("axis", 2))
    a.graph.node[0].attribute.append(helper.make_attribute("axis", 1))
    assert diff_models(a, b) == ["graph.node[0].attribute['axis'].i: 1 != 2"]


def test_presence_of_a_default_value_counts_as_a_difference(tagged):
    other = type(tagged)()
    other.CopyFrom(tagged)
    other.graph.node[0].domain = ""
    assert diff_models(tagged, other) == ["graph.node[0].domain: set in the second model only ('')"]


def test_tensor_bytes_differences_say_where(tagged):
    other = type(tagged)()
    other.CopyFrom(tagged)
    raw = bytearray(other.graph.initializer[0].raw_data)
    raw[7] ^= 1
    other.graph.initializer[0].raw_data = bytes(raw)
    assert diff_models(tagged, other) == [
        "graph.initializer[0].raw_data: bytes differ at byte 7 (128 bytes vs 128)"
    ]


def test_assert_models_equal_lists_the_differences(tagged):
    other = type(tagged)()
    other.CopyFrom(tagged)
    other.ir_version = 8
    with pytest.raises(AssertionError, match="ir_version: 9 != 8"):
        assert_models_equal(tagged, other)
