"""Writing files whole or not at all: a temporary file in the target directory, renamed
into place only when everything is written (SPEC §7: nothing half-written).

The one implementation for the whole project: the GraphML writer, the converters'
GraphML + sidecar pairs, the archive's restores and CSVs, and the exporter's and
analysis commands' outputs all use it, and :func:`check_output_path`, the one check of
an output path a user gave.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def check_output_path(path: str | os.PathLike[str], *, error: type[Exception],
                      what: str = "") -> Path:
    """``path`` as an output file, or ``error`` with a one-line message naming the fix:
    its directory must exist and it must not itself be a directory.

    Each package passes its own error class (its callers catch that); ``what`` names the
    output in the message (``"the GraphML"``)."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    for_what = f" for {what} {target.name!r}" if what else ""
    if not parent.is_dir():
        raise error(f"output directory {str(parent)!r}{for_what} does not exist; create it "
                    "first or choose another output path")
    if target.is_dir():
        raise error(f"output path {str(target)!r} is a directory; give a file name")
    return target


_CHUNK = 1 << 22  # bytes per read where the kernel cannot copy by itself


def copy_range(src_fd: int, offset: int, length: int, out_fd: int) -> int:
    """Append ``length`` bytes of ``src_fd``, from ``offset``, to ``out_fd``: kernel to
    kernel (sendfile) where it can, else through a buffer. Returns the bytes copied:
    fewer than ``length`` when ``src_fd`` ends first (the caller says what that means).
    """
    done = 0
    while done < length:
        n = 0
        if hasattr(os, "sendfile"):
            try:
                n = os.sendfile(out_fd, src_fd, offset + done, length - done)
            except OSError:
                n = 0  # a pair of files sendfile does not join: copy through a buffer
        if not n:
            chunk = os.pread(src_fd, min(_CHUNK, length - done), offset + done)
            if not chunk:
                break
            n = os.write(out_fd, chunk)
        done += n
    return done


def file_mode() -> int:
    """The mode of an ordinary new file under the current umask (mkstemp makes 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class PendingFiles:
    """Temporary files beside their targets, renamed onto them together by :meth:`commit`."""

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []

    def path(self, target: Path) -> Path:
        """A new empty temporary file beside ``target``, to be renamed onto it."""
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        self._pending.append((Path(tmp), target))
        return Path(tmp)

    def open(self, target: Path) -> BinaryIO:
        """:meth:`path`, opened for binary writing."""
        return open(self.path(target), "wb")

    def commit(self) -> None:
        mode = file_mode()
        for tmp, target in self._pending:
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        self._pending.clear()

    def discard(self) -> None:
        for tmp, _target in self._pending:
            tmp.unlink(missing_ok=True)
        self._pending.clear()


@contextmanager
def pending_files() -> Iterator[PendingFiles]:
    """Files that all reach their targets when the block succeeds, and none otherwise."""
    pending = PendingFiles()
    try:
        yield pending
        pending.commit()
    finally:
        pending.discard()


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success."""
    with pending_files() as pending:
        yield pending.path(target)


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield ``target``'s name inside a scratch directory beside it; on success, move
    every file written there into ``target``'s directory, ``target`` itself last.

    For outputs that come with companions named after them (a model and its external
    data): nothing reaches the target directory unless all of it was written.
    """
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    mode = file_mode()
    try:
        yield scratch / target.name
        for written in sorted(scratch.iterdir(), key=lambda p: p.name == target.name):
            os.chmod(written, mode)
            os.replace(written, target.parent / written.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_text_atomic(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_path(target) as temp:
        temp.write_text(text, encoding="utf-8")
