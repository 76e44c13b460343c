"""Checking an output path the user gave, as a :class:`UserInputError`; the check and
the writing itself are :mod:`modelexport.graphml.files`'."""

from __future__ import annotations

import os
from pathlib import Path

from modelexport.errors import UserInputError
from modelexport.graphml import files


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """The output path, refused with a one-line error when its directory is missing."""
    return files.check_output_path(path, error=UserInputError)
