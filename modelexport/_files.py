"""Atomic file output: write a temporary file in the target directory, then rename."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelexport.errors import UserInputError


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """The output path, refused with a one-line error when its directory is missing."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise UserInputError(f"output directory {str(parent)!r} does not exist; create it "
                             "first or choose another output path")
    if target.is_dir():
        raise UserInputError(f"output path {str(target)!r} is a directory; give a file name "
                             "like model.onnx")
    return target


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    temp = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)  # mkstemp makes 0600; the result is an ordinary file
    try:
        yield temp
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield ``target``'s name inside a scratch directory beside it; on success, move
    every file written there into ``target``'s directory, ``target`` itself last.

    For outputs that come with companions named after them (a model and its external
    data): nothing reaches the target directory unless all of it was written.
    """
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield scratch / target.name
        for written in sorted(scratch.iterdir(), key=lambda p: p.name == target.name):
            os.chmod(written, 0o666 & ~umask)
            os.replace(written, target.parent / written.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_text_atomic(target: Path, text: str) -> None:
    with atomic_path(target) as temp:
        temp.write_text(text, encoding="utf-8")
