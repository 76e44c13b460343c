"""The ``.onnxdata`` parameter sidecar: raw tensor bytes at aligned offsets.

The layout is ONNX's external-data layout: each tensor's raw little-endian bytes at an
offset aligned to :data:`modelexport.graphml.format.SIDECAR_ALIGNMENT`, zero padding between. The
GraphML records each tensor's offset, length, dtype and dims, and the file's size and
SHA-256. :class:`SidecarWriter` streams tensor by tensor while hashing;
:class:`SidecarReader` checks the file (beside the GraphML, size, hash) before handing
out a byte, then reads each tensor on its own, so memory stays near the largest tensor.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, BinaryIO

from modelexport.converter.errors import SidecarError
from modelexport.graphml import format as fmt
from modelexport.graphml.files import copy_range

_CHUNK = 1 << 22


class SidecarWriter:
    """Appends tensors to a binary file at aligned offsets, hashing as it goes."""

    def __init__(self, file: BinaryIO, alignment: int = fmt.SIDECAR_ALIGNMENT) -> None:
        self._file = file
        self._alignment = alignment
        self._hash = hashlib.sha256()
        self.size = 0

    def add(self, data: bytes) -> tuple[int, int]:
        """Write ``data``; return its (offset, length)."""
        offset = self._align(len(data))
        self._write(data)
        return offset, len(data)

    def add_stream(self, length: int, fill: Any) -> tuple[int, int]:
        """Write ``length`` bytes that ``fill(write)`` passes to ``write`` in pieces."""
        offset = self._align(length)
        fill(self._write)
        if self.size - offset != length:
            raise SidecarError(f"expected {length} bytes for the sidecar, got {self.size - offset}")
        return offset, length

    def _align(self, length: int) -> int:
        """Pad to the alignment before a tensor of ``length`` bytes (none before an empty
        one); return the offset it starts at."""
        pad = -self.size % self._alignment
        if pad and length:
            self._write(b"\0" * pad)
        return self.size

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


class SidecarPlan(SidecarWriter):
    """A SidecarWriter that writes, reads and hashes nothing: only where each tensor
    would go. For a Document that is looked at, not kept (``render`` of an ONNX file):
    a 500 MB model's bytes are then never read."""

    def __init__(self, alignment: int = fmt.SIDECAR_ALIGNMENT) -> None:
        super().__init__(None, alignment)  # type: ignore[arg-type]

    def add_stream(self, length: int, fill: Any) -> tuple[int, int]:
        offset = self._align(length)
        self.size += length  # fill is never called: the bytes are not read
        return offset, length

    def _write(self, data: bytes) -> None:
        self.size += len(data)

    @property
    def sha256(self) -> str:
        return ""  # no bytes were written to hash


def write_sidecar(file: BinaryIO, blobs: list[bytes]) -> tuple[list[tuple[int, int]], int, str]:
    """Write ``blobs`` to ``file``; returns their (offset, length), the size and SHA-256."""
    writer = SidecarWriter(file)
    places = [writer.add(b) for b in blobs]
    return places, writer.size, writer.sha256


def sidecar_path(graphml_path: str | os.PathLike, name: str) -> Path:
    """The sidecar ``name`` recorded in a GraphML: a plain file name beside it, or refused."""
    if not isinstance(name, str) or not name:
        raise SidecarError(f"the GraphML records no sidecar file name; "
                           f"expected e.g. '{Path(graphml_path).stem}{fmt.SIDECAR_SUFFIX}'")
    try:
        return fmt.sidecar_location(graphml_path, name)
    except ValueError as e:
        raise SidecarError(str(e)) from e


class SidecarReader:
    """Reads tensors from a checked sidecar; use as a context manager."""

    def __init__(self, path: str | os.PathLike, size: int | None, sha256: str | None) -> None:
        self.path = Path(path)
        try:
            self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError as e:
            raise SidecarError(f"sidecar {str(self.path)!r} is missing; keep the "
                               f".onnxdata file beside the GraphML it belongs to") from e
        except OSError as e:
            raise SidecarError(f"sidecar {str(self.path)!r} cannot be read: {e.strerror}") from e
        try:
            self.size = os.fstat(self._fd).st_size
            self._check(size, sha256)
        except BaseException:
            os.close(self._fd)
            raise

    def _check(self, size: int | None, sha256: str | None) -> None:
        if size is not None and self.size != size:
            what = "truncated" if self.size < size else "longer than recorded"
            raise SidecarError(f"sidecar {self.path.name!r} is {what}: {self.size} bytes, the "
                               f"GraphML records {size}; use the sidecar written with it")
        if sha256 is not None:
            digest = hashlib.sha256()
            offset = 0
            while offset < self.size:
                chunk = os.pread(self._fd, min(_CHUNK, self.size - offset), offset)
                if not chunk:
                    break
                digest.update(chunk)
                offset += len(chunk)
            if digest.hexdigest() != sha256.lower():
                raise SidecarError(f"sidecar {self.path.name!r} does not match the SHA-256 the "
                                   f"GraphML records: it was changed or belongs to another file")

    def check(self, ref: dict[str, Any]) -> tuple[int, int]:
        """(offset, length) of a sidecar reference, checked against the file and dtype × dims."""
        try:
            offset, length = int(ref["offset"]), int(ref["length"])
            dtype, dims = ref["dtype"], [int(d) for d in ref["dims"]]
        except (KeyError, TypeError, ValueError) as e:
            raise SidecarError(f"sidecar reference {ref!r} needs integer offset and length, "
                               f"a dtype and integer dims") from e
        if offset < 0 or length < 0 or offset + length > self.size:
            raise SidecarError(f"sidecar range offset {offset} + length {length} lies outside "
                               f"{self.path.name!r} ({self.size} bytes)")
        expected = fmt.expected_nbytes(dtype, dims) if dtype in fmt.DTYPES else None
        if expected is None or expected != length:
            raise SidecarError(f"sidecar tensor at offset {offset}: length {length} does not "
                               f"match dtype {dtype} x dims {dims} ({expected} bytes)")
        return offset, length

    def read(self, ref: dict[str, Any]) -> bytes:
        """The bytes of one sidecar reference, checked against the file and dtype × dims."""
        offset, length = self.check(ref)
        data = os.pread(self._fd, length, offset) if length else b""
        while len(data) < length:  # pread may return short reads on huge ranges
            more = os.pread(self._fd, length - len(data), offset + len(data))
            if not more:
                raise SidecarError(
                    f"sidecar {self.path.name!r} ended while reading offset {offset}"
                )
            data += more
        return data

    def copy_to(self, ref: dict[str, Any], out_fd: int) -> int:
        """Append one reference's bytes to the file ``out_fd``, kernel to kernel if it can."""
        offset, length = self.check(ref)
        if copy_range(self._fd, offset, length, out_fd) < length:
            raise SidecarError(f"sidecar {self.path.name!r} ended while reading offset {offset}")
        return length

    def close(self) -> None:
        fd, self._fd = self._fd, -1  # forgotten first: an interrupt never closes it twice
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> SidecarReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_sidecar(graphml_path: str | os.PathLike, name: str, size: int | None,
                 sha256: str | None) -> SidecarReader:
    """Open and check the sidecar a GraphML names; paired with :func:`write_sidecar`."""
    return SidecarReader(sidecar_path(graphml_path, name), size, sha256)
