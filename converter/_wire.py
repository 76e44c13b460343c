"""Protobuf's wire format: just enough to step over a serialized message's fields.

The converters find fields without decoding them, to stream initializer bytes between
an ONNX file and the sidecar, and to set aside fields that are carried elsewhere.
Field numbers of ONNX messages that this needs are named here too.
"""

from __future__ import annotations

from typing import Any

from modelexport.converter.errors import ConverterError

LEN = 2  # wire type of length-delimited fields
MODEL_GRAPH, GRAPH_INITIALIZER, TENSOR_RAW_DATA = 7, 5, 9  # onnx.proto field numbers


class WireError(ConverterError, ValueError):
    """The bytes are not a well-formed serialized protobuf message."""


def read_varint(buf: Any, pos: int, end: int | None = None) -> tuple[int, int]:
    """The varint at ``buf[pos]`` and the position after it."""
    end = len(buf) if end is None else end
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise WireError("a varint runs past the end of the message")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def write_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


#: The most bytes a field's header takes: a tag and a length, each a varint of at most 10.
HEADER_MAX = 20


def field_at(buf: Any, pos: int, end: int) -> tuple[int, int, int]:
    """(field number, value start, entry end) of the field whose tag is at ``buf[pos]``,
    in a message that ends at ``end``.

    For length-delimited fields the value starts after the length; for the others it
    starts after the tag.
    """
    tag, value = read_varint(buf, pos, end)
    wire = tag & 7
    if wire == 0:
        _, after = read_varint(buf, value, end)
    elif wire == 1:
        after = value + 8
    elif wire == LEN:
        size, value = read_varint(buf, value, end)
        after = value + size
    elif wire == 5:
        after = value + 4
    else:
        raise WireError(f"unsupported protobuf wire type {wire}")
    if after > end:
        raise WireError("a field runs past the end of the message")
    return tag >> 3, value, after


def fields(buf: Any, start: int = 0, end: int | None = None) -> list[tuple[int, int, int, int]]:
    """(field number, entry start, value start, entry end) of each field in buf[start:end]
    (value start as in :func:`field_at`)."""
    end = len(buf) if end is None else end
    out = []
    pos = start
    while pos < end:
        number, value, after = field_at(buf, pos, end)
        out.append((number, pos, value, after))
        pos = after
    return out
