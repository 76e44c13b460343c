"""The content-addressed tensor store: each distinct tensor's bytes once, by SHA-256.

A blob lives at ``<dir>/<sha[:2]>/<sha>``. Writing streams into a temporary file in the
store and renames it into place only when complete, so a killed writer leaves at most
a ``.tmp`` file (swept by :meth:`TensorStore.sweep_temporary`), never a wrong blob.
The database records which blobs a model uses; the store knows nothing of models.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from modelexport.archive.errors import ArchiveError
from modelexport.graphml.files import copy_range


class BlobWriter:
    """One blob being written: ``write`` pieces, then ``finish`` for its SHA-256.

    ``sha``: the bytes' SHA-256 when the caller already has it; they are not hashed again.
    """

    def __init__(self, store: TensorStore, sha: str | None = None) -> None:
        self._store = store
        self._fd, self._tmp = store._temporary()
        self._sha = sha
        self._hash = hashlib.sha256() if sha is None else None
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        if self._hash is not None:
            self._hash.update(data)
        self.size += len(data)

    def finish(self) -> tuple[str, bool]:
        """(sha256, whether the bytes were new to the store)."""
        self._close()
        sha = self._sha or self._hash.hexdigest()
        return sha, self._store._place(self._tmp, sha)

    def discard(self) -> None:
        self._close()
        Path(self._tmp).unlink(missing_ok=True)

    def _close(self) -> None:
        # The descriptor is forgotten before it is closed: a Ctrl-C raised between the two
        # (an add lets it through while tensors are stored) must not leave discard() to
        # close it a second time, whose EBADF would replace the interrupt.
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


class TensorStore:
    """A directory of blobs named by their SHA-256."""

    def __init__(self, root: str | os.PathLike, create: bool = True) -> None:
        self.root = Path(root)
        self._root = str(root)
        self._numbers = itertools.count()
        self._dirs: set[str] = set()  # blob directories known to exist
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        elif not self.root.is_dir():
            raise ArchiveError(f"tensor store {str(self.root)!r} does not exist; give the "
                               f"directory the archive's tensors were stored in")

    def path(self, sha: str) -> Path:
        return Path(self._file(sha))

    def _file(self, sha: str) -> str:
        """Where blob ``sha`` lives (as a str: the store's hot path)."""
        return os.path.join(self._root, sha[:2], sha)

    def writer(self) -> BlobWriter:
        return BlobWriter(self)

    def put(self, data: bytes) -> tuple[str, bool]:
        """Store ``data`` (held in memory): (sha256, whether it was new to the store)."""
        sha = hashlib.sha256(data).hexdigest()
        if os.path.exists(self._file(sha)):
            return sha, False
        w = BlobWriter(self, sha)
        try:
            w.write(data)
            return w.finish()
        except BaseException:
            w.discard()
            raise

    def _temporary(self) -> tuple[int, str]:
        """A new temporary file in the store, opened for writing: (fd, path)."""
        while True:
            path = os.path.join(self._root, f".blob.{os.getpid()}.{next(self._numbers)}.tmp")
            try:
                return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), path
            except FileExistsError:
                continue  # left by an earlier process of the same pid

    def _place(self, tmp: str, sha: str) -> bool:
        """Rename a finished temporary file to its blob; False if the blob was there."""
        target = self._file(sha)
        if os.path.exists(target):
            os.unlink(tmp)
            return False
        if sha[:2] not in self._dirs:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            self._dirs.add(sha[:2])
        os.replace(tmp, target)
        return True

    def size_of(self, sha: str) -> int:
        try:
            return self.path(sha).stat().st_size
        except FileNotFoundError as e:
            raise ArchiveError(f"tensor {sha} is missing from the tensor store "
                               f"{str(self.root)!r}; was the store moved or pruned?") from e

    def read(self, sha: str, length: int) -> bytes:
        try:
            with open(self.path(sha), "rb") as f:
                data = f.read()
        except FileNotFoundError as e:
            raise ArchiveError(f"tensor {sha} is missing from the tensor store "
                               f"{str(self.root)!r}; was the store moved or pruned?") from e
        if len(data) != length:
            raise ArchiveError(f"tensor {sha} in {str(self.root)!r} has {len(data)} bytes, "
                               f"expected {length}; the tensor store is damaged")
        return data

    def copy_to(self, sha: str, length: int, out_fd: int) -> int:
        """Append a blob to ``out_fd`` (kernel to kernel where it can)."""
        with open(self.path(sha), "rb") as f:
            if copy_range(f.fileno(), 0, length, out_fd) < length:
                raise ArchiveError(f"tensor {sha} in {str(self.root)!r} is truncated")
        return length

    def all_blobs(self) -> Iterable[str]:
        for sub in self.root.iterdir():
            if sub.is_dir() and len(sub.name) == 2:
                for blob in sub.iterdir():
                    if not blob.name.startswith("."):
                        yield blob.name

    def delete_unused(self, used: set[str]) -> int:
        """Remove blobs no model references; returns the bytes freed."""
        freed = 0
        for sha in list(self.all_blobs()):
            if sha not in used:
                path = self.path(sha)
                freed += path.stat().st_size
                path.unlink()
        return freed

    @contextmanager
    def scratch(self) -> Iterator[Path]:
        """A directory of working files inside the store (on its disk), removed after."""
        path = Path(tempfile.mkdtemp(prefix=".scratch.", dir=self.root))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def sweep_temporary(self) -> None:
        """Remove ``.tmp`` files and scratch directories a killed writer left."""
        for tmp in self.root.glob(".blob.*.tmp"):
            tmp.unlink(missing_ok=True)
        for scratch in self.root.glob(".scratch.*"):
            shutil.rmtree(scratch, ignore_errors=True)

    def disk_bytes(self) -> int:
        return sum(self.path(sha).stat().st_size for sha in self.all_blobs())
