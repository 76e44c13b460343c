"""Stepping over protobuf fields without decoding them."""

from __future__ import annotations

import numpy as np
import onnx
import onnx.numpy_helper
import pytest

from modelexport.converter._wire import (
    TENSOR_RAW_DATA,
    WireError,
    fields,
    read_varint,
    write_varint,
)


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


@pytest.mark.parametrize("window", [64, 97, 4096])
def test_fields_read_a_window_at_a_time_are_the_fields_of_the_whole_bytes(tmp_path, window,
                                                                          monkeypatch, tagged):
    """The lazy loader scans files through small windows; headers that straddle a
    window's edge, and fields far larger than a window, are found as in memory."""
    from modelexport.converter._onnx_reader import _FileBytes

    big = onnx.numpy_helper.from_array(np.arange(3000, dtype=np.float32), "big")
    tagged.graph.initializer.append(big)  # 12 KB of raw_data: many windows stepped over
    data = tagged.SerializeToString()
    path = tmp_path / "m.onnx"
    path.write_bytes(data)
    monkeypatch.setattr(_FileBytes, "WINDOW", window)
    with open(path, "rb") as f:
        mm = _FileBytes(f.fileno(), len(data))
        top = mm.fields(0, len(data))
        assert top == fields(data)
        graph = next(f for f in top if f[0] == 7)
        assert mm.fields(graph[2], graph[3]) == fields(data, graph[2], graph[3])
        with pytest.raises(WireError):
            mm.fields(graph[2], graph[3] - 1)  # the last field runs past the end
