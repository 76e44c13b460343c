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
from dataclasses import dataclass
from typing import Any, BinaryIO

from modelexport.converter._wire import GRAPH_INITIALIZER, LEN, MODEL_GRAPH, TENSOR_RAW_DATA, fields
from modelexport.converter._wire import write_varint as varint
from modelexport.converter.decode import Deferred
from modelexport.converter.sidecar import SidecarReader


def split_before(data: bytes, number: int) -> int:
    """Offset of the first top-level field numbered ``number`` or more in ``data``."""
    return next((start for num, start, _v, _e in fields(data) if num >= number), len(data))


def _field(number: int, size: int) -> bytes:
    return varint(number << 3 | LEN) + varint(size)


@dataclass
class Layout:
    """A model file as a list of pieces, bytes or (sidecar ref, length) to copy, and its size."""

    pieces: list
    size: int


def layout_model(header: Any, graph: Any, deferred: Deferred) -> Layout:
    """Lay out the model (``header`` without graph, ``graph`` without initializers),
    computed without touching any tensor's bytes."""
    inits: list[tuple[bytes, int, bytes, dict | None, int]] = []
    inits_size = 0
    for tensor, ref in zip(deferred.initializers.initializer, deferred.refs, strict=True):
        data = tensor.SerializeToString(deterministic=True)
        if ref is None:
            size = len(data)
            inits.append((data, 0, b"", None, size))
        else:
            length = int(ref["length"])
            cut = split_before(data, TENSOR_RAW_DATA + 1)
            field = _field(TENSOR_RAW_DATA, length)
            size = len(data) + len(field) + length
            inits.append((data, cut, field, ref, size))
        inits_size += len(_field(GRAPH_INITIALIZER, size)) + size
    g = graph.SerializeToString(deterministic=True)
    g_cut = split_before(g, GRAPH_INITIALIZER)
    m = header.SerializeToString(deterministic=True)
    m_cut = split_before(m, MODEL_GRAPH)
    graph_size = len(g) + inits_size
    pieces: list = [m[:m_cut], _field(MODEL_GRAPH, graph_size), g[:g_cut]]
    for data, cut, field, ref, size in inits:
        pieces.append(_field(GRAPH_INITIALIZER, size))
        if ref is None:
            pieces.append(data)
        else:
            pieces.extend((data[:cut], field, (ref, int(ref["length"])), data[cut:]))
    pieces.extend((g[g_cut:], m[m_cut:]))
    total = sum(p[1] if isinstance(p, tuple) else len(p) for p in pieces)
    return Layout(pieces, total)


def write_model(file: BinaryIO, layout: Layout, reader: SidecarReader) -> int:
    """Write a laid-out model, copying tensor bytes from the sidecar."""
    file.flush()
    fd = file.fileno()
    pending = bytearray()
    for piece in layout.pieces:
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
    return layout.size


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
