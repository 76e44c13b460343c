"""The file edges of the analysis commands: load an ONNX file, write results atomically.

Everything else in :mod:`modelexport.analysis` works on ``onnx.ModelProto`` in memory.
Writes go to a temporary file in the target directory and are renamed into place, so a
failed command leaves nothing half-written (SPEC §7).
"""

from __future__ import annotations

import os
from pathlib import Path

import onnx

from modelexport._files import atomic_path, check_output_path, write_text_atomic
from modelexport.errors import AnalysisError


def load_model(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Read an ONNX file (with its external data), refusing anything that is not ONNX."""
    path = Path(path)
    if not path.exists():
        raise AnalysisError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise AnalysisError(f"{path} is a directory; pass an .onnx file")
    try:
        model = onnx.load(str(path))
    except Exception as e:  # protobuf DecodeError, missing external data, ...
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AnalysisError(
            f"{path} is not a readable ONNX model ({reason}); pass an .onnx file "
            "written by 'modelexport export' or torch.onnx.export"
        ) from e
    if model.ir_version == 0 and not model.opset_import and not model.graph.node:
        raise AnalysisError(
            f"{path} is not an ONNX model (no IR version, opsets or nodes); pass an .onnx file"
        )
    return model


def save_model(model: onnx.ModelProto, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` atomically."""
    with atomic_path(check_output_path(path)) as temp:
        onnx.save(model, str(temp))


def write_text(text: str, path: str | os.PathLike[str]) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    write_text_atomic(check_output_path(path), text)
