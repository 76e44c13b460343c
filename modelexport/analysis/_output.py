"""The file edges of the analysis commands: write results atomically.

Everything else in :mod:`modelexport.analysis` works on ``onnx.ModelProto`` in memory.
Writes go to a temporary file in the target directory and are renamed into place, so a
failed command leaves nothing half-written (SPEC §7).
"""

from __future__ import annotations

import os

import onnx

from modelexport._files import check_output_path
from modelexport.graphml.files import atomic_path, write_text_atomic


def save_model(model: onnx.ModelProto, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` atomically."""
    with atomic_path(check_output_path(path)) as temp:
        onnx.save(model, str(temp))


def write_text(text: str, path: str | os.PathLike[str]) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    write_text_atomic(check_output_path(path), text)
