"""Checking an output path the user gave; the writing itself is :mod:`modelexport.graphml.files`."""

from __future__ import annotations

import os
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
