"""Readable, exact JSON for any ONNX protobuf message, keyed by proto field names.

``encode_message`` walks ``ListFields()``, so it keeps proto2 field presence: a field
set to its default value stays in the JSON and comes back set. Values are written the
way a reader expects them: ints as JSON numbers (int64 too), enums by name, float32
as the shortest decimal that reads back to the same float, bytes as base64, and
non-finite floats as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
``decode_message`` is its inverse and is driven by the message descriptor.

What JSON cannot hold exactly (a NaN's payload, text that XML cannot carry) is caught
by the callers, which check every element they encode and fall back to
:func:`encode_opaque` (base64 of the serialized proto) for that element alone.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.unknown_fields import UnknownFieldSet

from modelexport.converter._wire import fields
from modelexport.converter.errors import ConverterError
from modelexport.graphml import format as fmt

_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_BYTES = FieldDescriptor.TYPE_BYTES
_STRING = FieldDescriptor.TYPE_STRING
_FLOAT = FieldDescriptor.TYPE_FLOAT
_DOUBLE = FieldDescriptor.TYPE_DOUBLE
_ENUM = FieldDescriptor.TYPE_ENUM

#: Characters XML 1.0 cannot carry, even escaped (and lone surrogates).
XML_ILLEGAL = fmt.XML_ILLEGAL_RE

#: The member that marks an element stored as base64 of its serialized proto.
OPAQUE = "b64"

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class Unencodable(ConverterError, ValueError):
    """A value that readable JSON inside XML cannot carry exactly."""


def check_text(text: str) -> str:
    """``text`` if XML can carry it, else :class:`Unencodable`."""
    if XML_ILLEGAL.search(text):
        raise Unencodable("text holds characters XML cannot carry")
    return text


def encode_float32(value: float) -> float | str:
    if math.isfinite(value):
        return float(str(np.float32(value)))
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def encode_double(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def decode_float(value: float | int | str) -> float:
    if isinstance(value, str):
        return _NONFINITE[value]
    return float(value)


def _encode_value(fd: FieldDescriptor, value: Any) -> Any:
    t = fd.type
    if t == _MESSAGE:
        return encode_message(value)
    if t == _STRING:
        return check_text(value)
    if t == _BYTES:
        return base64.b64encode(value).decode("ascii")
    if t == _FLOAT:
        return encode_float32(value)
    if t == _DOUBLE:
        return encode_double(value)
    if t == _ENUM:
        ev = fd.enum_type.values_by_number.get(value)
        return ev.name if ev is not None else value
    return value  # ints and bools


def encode_message(msg: Any) -> dict[str, Any]:
    """Every set field of ``msg`` as JSON-ready values, in field-number order."""
    out: dict[str, Any] = {}
    for fd, value in msg.ListFields():
        if fd.is_repeated:
            out[fd.name] = [_encode_value(fd, v) for v in value]
        else:
            out[fd.name] = _encode_value(fd, value)
    return out


def _decode_value(fd: FieldDescriptor, value: Any) -> Any:
    t = fd.type
    if t == _BYTES:
        return base64.b64decode(value, validate=True)
    if t in (_FLOAT, _DOUBLE):
        return decode_float(value)
    if t == _ENUM and isinstance(value, str):
        return fd.enum_type.values_by_name[value].number
    return value


def decode_message(obj: dict[str, Any], msg: Any) -> Any:
    """Fill ``msg`` from the output of :func:`encode_message`; returns ``msg``."""
    fields = msg.DESCRIPTOR.fields_by_name
    for name, value in obj.items():
        fd = fields.get(name)
        if fd is None:
            raise ValueError(f"{msg.DESCRIPTOR.name} has no field {name!r}")
        if fd.is_repeated:
            target = getattr(msg, name)
            if fd.type == _MESSAGE:
                for item in value:
                    decode_message(item, target.add())
            else:
                target.extend([_decode_value(fd, v) for v in value])
        elif fd.type == _MESSAGE:
            sub = getattr(msg, name)
            sub.SetInParent()
            decode_message(value, sub)
        else:
            setattr(msg, name, _decode_value(fd, value))
    return msg


def has_unknown(msg: Any) -> bool:
    """True if ``msg`` itself (not its submessages) holds fields this onnx does not know."""
    return len(UnknownFieldSet(msg)) > 0


def copy_without(msg: Any, skip: tuple[str, ...]) -> Any:
    """A new message of ``msg``'s type with every field but ``skip``, unknown fields kept.

    Unknown fields (from a newer ONNX) only survive a byte-level copy, which costs a
    serialization of ``msg``; that path is taken only when ``msg`` has some.
    """
    copy = type(msg)()
    if has_unknown(msg):
        numbers = {msg.DESCRIPTOR.fields_by_name[name].number for name in skip}
        data = msg.SerializeToString(deterministic=True)
        copy.ParseFromString(
            b"".join(data[s:e] for n, s, _v, e in fields(data) if n not in numbers)
        )
        return copy
    for fd, value in msg.ListFields():
        if fd.name in skip:
            continue
        if fd.is_repeated:
            getattr(copy, fd.name).extend(value)
        elif fd.type == _MESSAGE:
            getattr(copy, fd.name).CopyFrom(value)
        else:
            setattr(copy, fd.name, value)
    return copy


def encode_opaque(msg: Any) -> dict[str, str]:
    """The exact fallback: base64 of the deterministic serialization."""
    return {OPAQUE: base64.b64encode(msg.SerializeToString(deterministic=True)).decode("ascii")}


def decode_opaque(obj: dict[str, Any], msg: Any) -> Any:
    msg.ParseFromString(base64.b64decode(obj[OPAQUE], validate=True))
    return msg


def encode_exact(msg: Any) -> dict[str, Any]:
    """Readable JSON for ``msg`` when it decodes back to the same bytes, else opaque."""
    expected = msg.SerializeToString(deterministic=True)
    try:
        obj = encode_message(msg)
        if decode_message(obj, type(msg)()).SerializeToString(deterministic=True) == expected:
            return obj
    except (Unencodable, ValueError, UnicodeError):
        pass
    return encode_opaque(msg)


def decode_exact(obj: dict[str, Any], msg: Any) -> Any:
    """Inverse of :func:`encode_exact`: fills ``msg`` and returns it."""
    if OPAQUE in obj and len(obj) == 1:
        return decode_opaque(obj, msg)
    return decode_message(obj, msg)
