"""TensorProto ↔ (readable header JSON, raw bytes for the sidecar), exactly.

A tensor whose bytes go to the sidecar is written as its header (every field but the
data) plus a :data:`modelexport.graphml.format.SIDECAR_REF` member. Bytes held in ``raw_data`` are
copied as they are; bytes held in a typed field (``float_data``, ``int32_data``, ...)
are converted to the raw little-endian layout, and ``data_field`` names the field to
restore them into. Each conversion is checked to give back the same proto; a tensor
that would not is kept inline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from onnx import TensorProto

from modelexport.converter import _protojson as pj
from modelexport.graphml import format as fmt

DATA_FIELDS = ("float_data", "int32_data", "string_data", "int64_data", "raw_data",
               "double_data", "uint64_data")
DATA_FIELD = "data_field"

#: data_type number → dtype name of graphml.format.DTYPES.
DTYPE_NAMES: dict[int, str] = {num: name for name, (num, _bits) in fmt.DTYPES.items()}

_T = TensorProto
#: typed field → numpy type of its elements, and per data_type the raw layout's type.
_FIELD_NP = {"float_data": np.float32, "int32_data": np.int32, "int64_data": np.int64,
             "double_data": np.float64, "uint64_data": np.uint64}
_RAW_NP: dict[tuple[str, int], Any] = {
    ("float_data", _T.FLOAT): "<f4", ("float_data", _T.COMPLEX64): "<f4",
    ("int32_data", _T.INT32): "<i4", ("int32_data", _T.INT16): "<i2",
    ("int32_data", _T.INT8): "<i1", ("int32_data", _T.UINT16): "<u2",
    ("int32_data", _T.UINT8): "<u1", ("int32_data", _T.BOOL): "<u1",
    ("int32_data", _T.FLOAT16): "<u2", ("int32_data", _T.BFLOAT16): "<u2",
    ("int32_data", _T.FLOAT8E4M3FN): "<u1", ("int32_data", _T.FLOAT8E4M3FNUZ): "<u1",
    ("int32_data", _T.FLOAT8E5M2): "<u1", ("int32_data", _T.FLOAT8E5M2FNUZ): "<u1",
    ("int64_data", _T.INT64): "<i8",
    ("double_data", _T.DOUBLE): "<f8", ("double_data", _T.COMPLEX128): "<f8",
    ("uint64_data", _T.UINT32): "<u4", ("uint64_data", _T.UINT64): "<u8",
}
_COMPLEX = {_T.COMPLEX64, _T.COMPLEX128}

#: (offset, length) of bytes placed in the sidecar; assigned by the caller.
Place = Callable[[bytes], tuple[int, int]]


@dataclass
class LazyRaw:
    """A tensor's ``raw_data`` still in its source file: its length, and how to get it."""

    length: int
    place: Callable[[], tuple[int, int]]  # stream it to the sidecar: (offset, length)
    read: Callable[[], bytes]  # or read it, to keep it inline
    data: bytes | None = None  # the bytes, when they are in memory already (tiny ones)


def dtype_name(data_type: int) -> str:
    return DTYPE_NAMES.get(data_type, str(data_type))


def _header(tensor: Any, skip: str) -> Any:
    """A new TensorProto with every set field of ``tensor`` but ``skip``."""
    return pj.copy_without(tensor, (skip,))


def _raw_bytes(tensor: Any, field: str) -> bytes | None:
    """The tensor's data in raw little-endian layout, or None if it has no exact one."""
    if field == "raw_data":
        return tensor.raw_data
    layout = _RAW_NP.get((field, tensor.data_type))
    if layout is None:
        return None
    values = np.asarray(getattr(tensor, field), dtype=_FIELD_NP[field])
    return values.astype(layout).tobytes()


def restore_field(tensor: Any, field: str, raw: bytes) -> None:
    """Put ``raw`` bytes back into ``tensor`` as its ``field``."""
    if field == "raw_data":
        tensor.raw_data = raw
        return
    layout = _RAW_NP[(field, tensor.data_type)]
    values = np.frombuffer(raw, dtype=layout).astype(_FIELD_NP[field])
    getattr(tensor, field).extend(values.tolist())


def encode_tensor(tensor: Any, place: Place, *, min_bytes: int = 0,
                  lazy: LazyRaw | None = None) -> dict[str, Any]:
    """The tensor as JSON; its data goes to the sidecar (via ``place``) when it can.

    ``min_bytes``: data smaller than this stays inline (initializers use 0: always
    the sidecar). STRING tensors, external-data references and tensors whose data does
    not match dtype × dims stay inline. ``lazy``: the tensor's ``raw_data`` was left in
    the source file; it is streamed to the sidecar from there (or read, if it must
    stay inline).
    """
    if lazy is not None:
        dtype = DTYPE_NAMES.get(tensor.data_type)
        expected = fmt.expected_nbytes(dtype, list(tensor.dims)) if dtype else None
        has_data = any(fd.name in DATA_FIELDS for fd, _ in tensor.ListFields())
        if (expected == lazy.length and not has_data and expected >= min_bytes
                and tensor.data_location != TensorProto.EXTERNAL):
            obj = _encode_header(tensor, "raw_data")
            offset, length = lazy.place()
            obj[fmt.SIDECAR_REF] = {"offset": offset, "length": length, "dtype": dtype,
                                    "dims": list(tensor.dims)}
            return obj
        tensor.raw_data = lazy.read()
    fields = [fd.name for fd, _ in tensor.ListFields() if fd.name in DATA_FIELDS]
    if len(fields) == 1 and tensor.data_location != TensorProto.EXTERNAL:
        field = fields[0]
        dtype = DTYPE_NAMES.get(tensor.data_type)
        dims = list(tensor.dims)
        expected = fmt.expected_nbytes(dtype, dims) if dtype else None
        if expected is not None and expected >= min_bytes:
            raw = _raw_bytes(tensor, field)
            if raw is not None and len(raw) == expected:
                obj = _encode_header(tensor, field)
                if field != "raw_data" and not _restores_exactly(tensor, field, raw):
                    return pj.encode_exact(tensor)
                offset, length = place(raw)
                if field != "raw_data":
                    obj[DATA_FIELD] = field
                obj[fmt.SIDECAR_REF] = {"offset": offset, "length": length,
                                        "dtype": dtype, "dims": dims}
                return obj
    return pj.encode_exact(tensor)


_PLAIN_HEADER = {"dims", "data_type", "name"}


def encode_plain_header(tensor: Any, skip: str) -> dict[str, Any] | None:
    """The header of the usual tensor (dims, data_type, name) as JSON, or None.

    Exact by construction (ints, and a name XML can carry), so no round trip check is
    needed: this is the fast path for the many small initializers of big graphs.
    """
    obj: dict[str, Any] = {}
    for fd, value in tensor.ListFields():
        if fd.name == skip:
            continue
        if fd.name not in _PLAIN_HEADER:
            return None
        obj[fd.name] = list(value) if fd.name == "dims" else value
    name = obj.get("name")
    if name is not None and pj.XML_ILLEGAL.search(name) or pj.has_unknown(tensor):
        return None
    return obj


def _encode_header(tensor: Any, field: str) -> dict[str, Any]:
    plain = encode_plain_header(tensor, field)
    return plain if plain is not None else pj.encode_exact(_header(tensor, field))


def _restores_exactly(tensor: Any, field: str, raw: bytes) -> bool:
    rebuilt = _header(tensor, field)
    restore_field(rebuilt, field, raw)
    same = rebuilt.SerializeToString(deterministic=True)
    return same == tensor.SerializeToString(deterministic=True)


def decode_tensor(obj: dict[str, Any], read: Callable[[dict[str, Any]], bytes],
                  tensor: Any = None) -> Any:
    """Inverse of :func:`encode_tensor`; ``read(ref)`` returns a sidecar ref's bytes."""
    tensor = TensorProto() if tensor is None else tensor
    ref = obj.get(fmt.SIDECAR_REF)
    if ref is None:
        return pj.decode_exact(obj, tensor)
    header = {k: v for k, v in obj.items() if k not in (fmt.SIDECAR_REF, DATA_FIELD)}
    pj.decode_exact(header, tensor)
    restore_field(tensor, obj.get(DATA_FIELD, "raw_data"), read(ref))
    return tensor


#: A tensor of at most this many elements is labelled by its value (a shape constant,
#: a scale) instead of a name the exporter made up (``val_68``).
VALUE_LABEL_MOST = 8
_VALUE_NP = {_T.FLOAT: "<f4", _T.DOUBLE: "<f8", _T.FLOAT16: "<f2", _T.INT8: "<i1",
             _T.INT16: "<i2", _T.INT32: "<i4", _T.INT64: "<i8", _T.UINT8: "<u1",
             _T.UINT16: "<u2", _T.UINT32: "<u4", _T.UINT64: "<u8", _T.BOOL: "?"}


def value_text(tensor: Any, lazy: LazyRaw | None = None) -> str | None:
    """A small tensor's value as display text: ``-1``, ``0.1768``, ``[1, 16, 2, 16]``;
    None for a tensor of more than :data:`VALUE_LABEL_MOST` elements, of rank above 1,
    of a dtype without a plain numeric layout, or whose data is not in memory (it is
    never read for a label: ``render`` reads no parameter bytes)."""
    layout = _VALUE_NP.get(tensor.data_type)
    dims = list(tensor.dims)
    if layout is None or len(dims) > 1 or tensor.data_location == TensorProto.EXTERNAL:
        return None
    count = dims[0] if dims else 1
    if count > VALUE_LABEL_MOST:
        return None
    fields = [fd.name for fd, _ in tensor.ListFields() if fd.name in DATA_FIELDS]
    raw = _raw_bytes(tensor, fields[0]) if len(fields) == 1 else None
    if not fields and lazy is not None:
        raw = lazy.data
    values = np.frombuffer(raw, dtype=layout) if raw is not None else None
    if values is None or values.size != count:
        return None
    texts = [_number(v) for v in values.tolist()]
    return texts[0] if not dims else "[" + ", ".join(texts) + "]"


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
