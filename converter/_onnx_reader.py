"""Load an ONNX file without reading its parameters: they are copied later, in place.

The file's protobuf wire format is scanned two levels deep: the model's
fields, the graph's fields, and each initializer's fields. Everything but the
initializers' ``raw_data`` is parsed as usual (by protobuf, from the same bytes); for
``raw_data`` only the file range is kept, so the exporter can stream it into the
sidecar. Memory then holds the graph's structure, not the model's weights.

Initializers held as external data are read the same way: each keeps the range of
its external file (ONNX's ``location``, ``offset``, ``length``), checked to lie in the
model's directory and inside the file, and becomes an ordinary tensor whose bytes are
streamed from there, as ``onnx.load`` would have filled ``raw_data``. Other tensors
with external data (in attributes or subgraphs; small in practice) are loaded inline.

Anything unusual (a repeated ``graph`` or ``raw_data`` field, a scan that does not add
up) returns None, and the caller loads the file with ``onnx.load`` instead, which also
produces the errors for files that are not ONNX.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from onnx import ModelProto, TensorProto

from modelexport.converter._wire import (
    GRAPH_INITIALIZER,
    HEADER_MAX,
    MODEL_GRAPH,
    TENSOR_RAW_DATA,
    field_at,
    fields,
)
from modelexport.converter.errors import OnnxLoadError

_CHUNK = 1 << 22
#: Initializers with at most this many bytes of ``raw_data`` also keep them in
#: memory (``LazyModel.tiny``).
INLINE_RAW_MOST = 64


@dataclass
class RawRange:
    """Where one initializer's bytes lie: in the ONNX file, or in an external data ``file``."""

    offset: int
    length: int
    file: Path | None = None


@dataclass
class LazyModel:
    """A model whose main-graph initializers miss the ``raw_data`` listed in ``raw``."""

    model: Any
    path: Path
    raw: dict[int, RawRange] = field(default_factory=dict)
    # initializer index -> its raw_data, for tiny ones (at most INLINE_RAW_MOST bytes)
    # whose bytes were read with the tensor's other fields anyway: a label shows them
    tiny: dict[int, bytes] = field(default_factory=dict)
    _files: dict[Path | None, Any] = field(default_factory=dict)

    def _fd(self, file: Path | None = None) -> int:
        f = self._files.get(file)
        if f is None:  # closed by close() or with the object
            f = self._files[file] = open(self.path if file is None else file, "rb")
        return f.fileno()

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def read(self, index: int) -> bytes:
        r = self.raw[index]
        data = os.pread(self._fd(r.file), r.length, r.offset) if r.length else b""
        if len(data) != r.length:
            raise OSError(f"{r.file or self.path} changed while it was being read")
        return data

    def copy_into(self, index: int, write: Any) -> None:
        """Pass the initializer's bytes to ``write`` in chunks, without holding them all."""
        r = self.raw[index]
        if r.length <= _CHUNK:
            write(self.read(index))
            return
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        fd = self._fd(r.file)
        done = 0
        while done < r.length:
            n = os.preadv(fd, [view[: min(len(buf), r.length - done)]], r.offset + done)
            if n <= 0:
                raise OSError(f"{r.file or self.path} changed while it was being read")
            write(view[:n])
            done += n


def load_lazily(path: str | os.PathLike) -> LazyModel | None:
    """The model in ``path`` with initializer bytes left in the file, or None (see above)."""
    path = Path(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return None
        try:
            return _scan(_FileBytes(f.fileno(), size), size, path)
        except (ValueError, RuntimeError):  # WireError is a ValueError
            return None
        except Exception as e:  # protobuf's DecodeError and friends
            if type(e).__name__ == "DecodeError":
                return None
            raise


class _FileBytes:
    """A file's bytes by index and slice, read through a small window with ``pread``.

    Not ``mmap``: stepping over the initializers of a mapped file faults in the pages
    around each field it reads, and they count as the process's memory while mapped
    (100 MB for a 124M-parameter model), though the scan needs a few bytes of each.
    """

    WINDOW = 1 << 16

    def __init__(self, fd: int, size: int) -> None:
        self._fd, self._size = fd, size
        self._start, self._buf = 0, b""

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, key: int | slice) -> int | bytes:
        if isinstance(key, slice):
            start, stop = key.start, min(key.stop, self._size)
            if self._start <= start and stop <= self._start + len(self._buf):
                return self._buf[start - self._start:stop - self._start]
            data = os.pread(self._fd, stop - start, start) if stop > start else b""
            if len(data) != max(0, stop - start):
                raise OSError("the ONNX file changed while it was being read")
            return data
        offset = key - self._start
        if not 0 <= offset < len(self._buf):
            if not 0 <= key < self._size:
                raise IndexError(key)
            self._start, self._buf = key, os.pread(self._fd, self.WINDOW, key)
            offset = 0
        return self._buf[offset]

    def fields(self, start: int, end: int) -> list[tuple[int, int, int, int]]:
        """``_wire.fields`` of the file's bytes [start, end), read a window at a time
        (fields much larger than a window are stepped over, not read)."""
        out = []
        pos = start
        while pos < end:
            base = pos
            window = self[base:min(base + self.WINDOW, end)]
            # a header that starts before `safe` lies wholly inside the window
            safe = len(window) if base + len(window) == end else len(window) - HEADER_MAX
            while pos < end and pos - base < safe:
                number, value, after = field_at(window, pos - base, end - base)
                out.append((number, pos, base + value, base + after))
                pos = base + after
        return out


def _scan(mm: Any, size: int, path: Path) -> LazyModel | None:
    top = mm.fields(0, size)
    graphs = [f for f in top if f[0] == MODEL_GRAPH]
    if len(graphs) != 1:
        return None
    model = ModelProto()
    model.ParseFromString(b"".join(mm[s:e] for num, s, _v, e in top if num != MODEL_GRAPH))
    _num, _s, g_start, g_end = graphs[0]
    gfields = mm.fields(g_start, g_end)
    graph = model.graph
    graph.SetInParent()
    graph.ParseFromString(
        b"".join(mm[s:e] for num, s, _v, e in gfields if num != GRAPH_INITIALIZER)
    )
    lazy = LazyModel(model, path)
    for num, _s, t_start, t_end in gfields:
        if num != GRAPH_INITIALIZER:
            continue
        if t_end - t_start <= mm.WINDOW:  # a small tensor: read it whole, once
            data, base = mm[t_start:t_end], t_start
            tfields = fields(data)
        else:
            data, base = mm, 0
            tfields = mm.fields(t_start, t_end)
        raws = [f for f in tfields if f[0] == TENSOR_RAW_DATA]
        if len(raws) > 1:
            return None
        tensor = graph.initializer.add()
        tensor.ParseFromString(
            b"".join(data[s:e] for n, s, _v, e in tfields if n != TENSOR_RAW_DATA)
        )
        if tensor.data_location == TensorProto.EXTERNAL:
            if raws:
                return None  # both in the file and outside it: let onnx.load decide
            lazy.raw[len(graph.initializer) - 1] = external_range(tensor, path)
            tensor.data_location = TensorProto.DEFAULT  # as onnx.load leaves it
            del tensor.external_data[:]
        elif raws:
            _n, _s2, value, end = raws[0]
            lazy.raw[len(graph.initializer) - 1] = RawRange(base + value, end - value)
            if data is not mm and end - value <= INLINE_RAW_MOST:
                lazy.tiny[len(graph.initializer) - 1] = bytes(data[value:end])
    if not model.HasField("ir_version"):
        return None  # let onnx.load decide what this file is
    _load_other_external_data(model, path)
    return lazy


def external_range(tensor: Any, model_path: Path) -> RawRange:
    """The file range holding an external-data tensor's bytes, checked (OnnxLoadError).

    ONNX's rules: ``location`` is a path relative to the model's directory (refused if
    absolute, climbing out with ``..``, or a link leading out of it); ``offset``
    defaults to 0 and ``length`` to the rest of the file.
    """
    info = {entry.key: entry.value for entry in tensor.external_data}
    where = f"the external data of tensor {tensor.name!r} in {str(model_path)!r}"
    location = info.get("location", "")
    folder = model_path.parent.resolve()
    if not location or PurePosixPath(location).is_absolute() \
            or PureWindowsPath(location).is_absolute() or PureWindowsPath(location).drive:
        raise OnnxLoadError(f"{where} cannot be loaded: location {location!r} must be a path "
                            "relative to the model's directory")
    if ".." in PurePosixPath(location.replace("\\", "/")).parts:
        raise OnnxLoadError(f"{where} cannot be loaded: location {location!r} climbs out of "
                            "the model's directory with '..'; keep external data beside the model")
    file = folder / location
    if not file.resolve().is_relative_to(folder):
        raise OnnxLoadError(f"{where} cannot be loaded: {location!r} is a link to "
                            f"{str(file.resolve())!r}, outside the model's directory")
    if not file.is_file():
        raise OnnxLoadError(f"{where} cannot be loaded: {location!r} is missing or not a file; "
                            "keep the external data files beside the model")
    try:
        offset = int(info.get("offset", 0))
        size = file.stat().st_size
        length = int(info["length"]) if "length" in info else size - offset
    except ValueError as e:
        raise OnnxLoadError(f"{where} cannot be loaded: offset {info.get('offset')!r} and "
                            f"length {info.get('length')!r} must be integers") from e
    if offset < 0 or length < 0 or offset + length > size:
        raise OnnxLoadError(f"{where} cannot be loaded: bytes {offset}..{offset + length} lie "
                            f"outside {location!r} ({size} bytes); the file is truncated or "
                            "belongs to another model")
    return RawRange(offset, length, file)


def _load_other_external_data(model: Any, path: Path) -> None:
    """Load external data of tensors other than the main graph's initializers, inline."""
    from onnx.external_data_helper import _get_all_tensors, uses_external_data

    for tensor in _get_all_tensors(model):
        if not uses_external_data(tensor):
            continue
        r = external_range(tensor, path)
        with open(r.file, "rb") as f:
            data = os.pread(f.fileno(), r.length, r.offset)
        if len(data) != r.length:
            raise OnnxLoadError(f"{str(r.file)!r} changed while it was being read")
        tensor.raw_data = data
        tensor.data_location = TensorProto.DEFAULT
        del tensor.external_data[:]
