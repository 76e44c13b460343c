"""The file edges of the analysis commands: load an ONNX file, write results atomically.

Everything else in :mod:`modelexport.analysis` works on ``onnx.ModelProto`` in memory.
Writes go to a temporary file in the target directory and are renamed into place, so a
failed command leaves nothing half-written (SPEC §7).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import onnx

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


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Refuse an output path whose directory does not exist, before any work is done."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise AnalysisError(
            f"output directory {parent} does not exist; create it or choose another path"
        )
    if path.is_dir():
        raise AnalysisError(f"output path {path} is a directory; give a file name")
    return path


def _write_atomic(path: Path, write: Callable[[str], None]) -> None:
    path = check_output_path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_model(model: onnx.ModelProto, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` atomically."""
    _write_atomic(Path(path), lambda tmp: onnx.save(model, tmp))


def write_text(text: str, path: str | os.PathLike[str]) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    _write_atomic(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
