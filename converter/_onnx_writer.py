"""Write a rebuilt ONNX model with its big tensors copied straight from the sidecar.

A ModelProto serializes its fields in field-number order, so the file is the model's
fields before ``graph`` (7), the graph (nodes and name, then each initializer, then
the rest), then the model's later fields. The bytes of each initializer's
``raw_data`` (field 9 of TensorProto) are copied from the sidecar into their place,
kernel to kernel: the parameters are never held in memory, let alone twice. The
result is byte-identical to ``model.SerializeToString()`` of the whole model.
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

from converter.decode import Deferred
from converter.sidecar import SidecarReader

_LEN = 2  # wire type of length-delimited fields
_MODEL_GRAPH, _GRAPH_INITIALIZER, _TENSOR_RAW_DATA = 7, 5, 9


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def split_before(data: bytes, number: int) -> int:
    """Offset of the first top-level field numbered ``number`` or more in ``data``."""
    pos = 0
    while pos < len(data):
        tag, after = _read_varint(data, pos)
        if tag >> 3 >= number:
            return pos
        wire = tag & 7
        if wire == 0:
            _, after = _read_varint(data, after)
        elif wire == 1:
            after += 8
        elif wire == 2:
            size, after = _read_varint(data, after)
            after += size
        elif wire == 5:
            after += 4
        else:
            raise ValueError(f"unexpected wire type {wire} in a serialized ONNX message")
        pos = after
    return pos


def _field(number: int, size: int) -> bytes:
    return varint(number << 3 | _LEN) + varint(size)


def _layout(header: Any, graph: Any, deferred: Deferred) -> tuple[list, int]:
    """The file as a list of pieces: bytes, or (sidecar ref, length) to copy."""
    inits: list[tuple[bytes, int, bytes, dict | None, int]] = []
    inits_size = 0
    for tensor, ref in zip(deferred.initializers.initializer, deferred.refs):
        data = tensor.SerializeToString(deterministic=True)
        if ref is None:
            size = len(data)
            inits.append((data, 0, b"", None, size))
        else:
            length = int(ref["length"])
            cut = split_before(data, _TENSOR_RAW_DATA + 1)
            field = _field(_TENSOR_RAW_DATA, length)
            size = len(data) + len(field) + length
            inits.append((data, cut, field, ref, size))
        inits_size += len(_field(_GRAPH_INITIALIZER, size)) + size
    g = graph.SerializeToString(deterministic=True)
    g_cut = split_before(g, _GRAPH_INITIALIZER)
    m = header.SerializeToString(deterministic=True)
    m_cut = split_before(m, _MODEL_GRAPH)
    graph_size = len(g) + inits_size
    pieces: list = [m[:m_cut], _field(_MODEL_GRAPH, graph_size), g[:g_cut]]
    for data, cut, field, ref, size in inits:
        pieces.append(_field(_GRAPH_INITIALIZER, size))
        if ref is None:
            pieces.append(data)
        else:
            pieces.extend((data[:cut], field, (ref, int(ref["length"])), data[cut:]))
    pieces.extend((g[g_cut:], m[m_cut:]))
    total = sum(p[1] if isinstance(p, tuple) else len(p) for p in pieces)
    return pieces, total


def model_size(header: Any, graph: Any, deferred: Deferred) -> int:
    """Bytes of the serialized model, computed without touching any tensor's bytes."""
    return _layout(header, graph, deferred)[1]


def write_model(file: BinaryIO, header: Any, graph: Any, deferred: Deferred,
                reader: SidecarReader) -> int:
    """Write the model (``header`` without graph, ``graph`` without initializers)."""
    pieces, total = _layout(header, graph, deferred)
    file.flush()
    fd = file.fileno()
    pending = bytearray()
    for piece in pieces:
        if isinstance(piece, tuple):
            if pending:
                _write_all(fd, pending)
                pending = bytearray()
            reader.copy_to(piece[0], fd)
        else:
            pending += piece
            if len(pending) > 1 << 20:
                _write_all(fd, pending)
                pending = bytearray()
    if pending:
        _write_all(fd, pending)
    return total


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
