"""Load an ONNX file without reading its parameters: they are copied later, in place.

The file is mapped, and its protobuf wire format scanned two levels deep: the model's
fields, the graph's fields, and each initializer's fields. Everything but the
initializers' ``raw_data`` is parsed as usual (by protobuf, from the same bytes); for
``raw_data`` only the file range is kept, so the exporter can stream it into the
sidecar. Memory then holds the graph's structure, not the model's weights.

Anything unusual (a repeated ``graph`` or ``raw_data`` field, external data, a scan
that does not add up) returns None, and the caller loads the file with ``onnx.load``
instead, which also produces the errors for files that are not ONNX.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnx import ModelProto, TensorProto

from modelexport.converter._wire import GRAPH_INITIALIZER, MODEL_GRAPH, TENSOR_RAW_DATA, fields

_CHUNK = 1 << 22


@dataclass
class RawRange:
    """Where one initializer's ``raw_data`` lies in the ONNX file."""

    offset: int
    length: int


@dataclass
class LazyModel:
    """A model whose main-graph initializers miss the ``raw_data`` listed in ``raw``."""

    model: Any
    path: Path
    raw: dict[int, RawRange] = field(default_factory=dict)
    _file: Any = None

    def _fd(self) -> int:
        if self._file is None:
            self._file = open(self.path, "rb")  # closed by close() or with the object
        return self._file.fileno()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def read(self, index: int) -> bytes:
        r = self.raw[index]
        data = os.pread(self._fd(), r.length, r.offset) if r.length else b""
        if len(data) != r.length:
            raise OSError(f"{self.path} changed while it was being read")
        return data

    def copy_into(self, index: int, write: Any) -> None:
        """Pass the initializer's bytes to ``write`` in chunks, without holding them all."""
        r = self.raw[index]
        if r.length <= _CHUNK:
            write(self.read(index))
            return
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        fd = self._fd()
        done = 0
        while done < r.length:
            n = os.preadv(fd, [view[: min(len(buf), r.length - done)]], r.offset + done)
            if n <= 0:
                raise OSError(f"{self.path} changed while it was being read")
            write(view[:n])
            done += n


def load_lazily(path: str | os.PathLike) -> LazyModel | None:
    """The model in ``path`` with initializer bytes left in the file, or None (see above)."""
    path = Path(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return None
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            try:
                return _scan(mm, size, path)
            except (ValueError, RuntimeError):  # WireError is a ValueError
                return None
            except Exception as e:  # protobuf's DecodeError and friends
                if type(e).__name__ == "DecodeError":
                    return None
                raise


def _scan(mm: Any, size: int, path: Path) -> LazyModel | None:
    top = fields(mm, 0, size)
    graphs = [f for f in top if f[0] == MODEL_GRAPH]
    if len(graphs) != 1:
        return None
    model = ModelProto()
    model.ParseFromString(b"".join(mm[s:e] for num, s, _v, e in top if num != MODEL_GRAPH))
    _num, _s, g_start, g_end = graphs[0]
    gfields = fields(mm, g_start, g_end)
    graph = model.graph
    graph.SetInParent()
    graph.ParseFromString(b"".join(mm[s:e] for num, s, _v, e in gfields if num != GRAPH_INITIALIZER))
    lazy = LazyModel(model, path)
    for num, _s, t_start, t_end in gfields:
        if num != GRAPH_INITIALIZER:
            continue
        tfields = fields(mm, t_start, t_end)
        raws = [f for f in tfields if f[0] == TENSOR_RAW_DATA]
        if len(raws) > 1:
            return None
        tensor = graph.initializer.add()
        tensor.ParseFromString(b"".join(mm[s:e] for n, s, _v, e in tfields if n != TENSOR_RAW_DATA))
        if tensor.data_location == TensorProto.EXTERNAL:
            return None
        if raws:
            _n, _s2, value, end = raws[0]
            lazy.raw[len(graph.initializer) - 1] = RawRange(value, end - value)
    if not model.HasField("ir_version"):
        return None  # let onnx.load decide what this file is
    return lazy
