"""Stepping over protobuf fields without decoding them."""

from __future__ import annotations

import onnx
import pytest

from modelexport.converter._wire import TENSOR_RAW_DATA, WireError, fields, read_varint, write_varint


def test_varints_round_trip_across_byte_boundaries():
    for n in (0, 1, 127, 128, 300, 2**32, 2**63 - 1):
        assert read_varint(write_varint(n), 0) == (n, len(write_varint(n)))


def test_fields_locate_each_value_as_protobuf_serialised_it():
    t = onnx.TensorProto(name="w", dims=[2], data_type=1, raw_data=b"\x00" * 8)
    data = t.SerializeToString(deterministic=True)
    found = {num: data[value:end] for num, _start, value, end in fields(data)}
    assert found[TENSOR_RAW_DATA] == b"\x00" * 8 and found[8] == b"w"


def test_a_truncated_message_is_a_wire_error_not_an_index_error():
    data = onnx.TensorProto(name="w", raw_data=b"abcdef").SerializeToString()
    with pytest.raises(WireError):
        fields(data[:-2])
    with pytest.raises(WireError):
        read_varint(b"\x80\x80", 0)
