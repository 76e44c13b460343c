"""Loading an ONNX file: the one loader, the one error, the one "is this ONNX" test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnx
from google.protobuf.message import DecodeError

from modelexport.converter.errors import OnnxLoadError

PathLike = str | os.PathLike


def load_onnx(path: PathLike) -> Any:
    """The ModelProto in ``path``, external data loaded; OnnxLoadError if it is not one."""
    path = Path(path)
    if not path.is_file():
        if path.exists():
            raise OnnxLoadError(f"{str(path)!r} is not a file; give an .onnx model file")
        raise OnnxLoadError(f"ONNX file {str(path)!r} does not exist")
    try:
        # Binary protobuf whatever the extension: onnx would parse a .json or .textproto
        # as JSON or text, and then a JSON file (the export's own metadata) gets a
        # protobuf ParseError traceback instead of this module's one line.
        model = onnx.load_model(str(path), format="protobuf", load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, UnicodeError) as e:
        raise OnnxLoadError(f"{str(path)!r} is not an ONNX model ({_what_it_is(path, e)}); "
                            "give a binary .onnx file") from e
    if not model.HasField("graph") and not model.ir_version:
        raise OnnxLoadError(f"{str(path)!r} is not an ONNX model: it has no graph and no "
                            f"ir_version; is it another format?")
    try:
        from onnx.external_data_helper import load_external_data_for_model, uses_external_data

        if any(uses_external_data(t) for t in all_tensors(model)):
            load_external_data_for_model(model, str(path.parent))
    except (OSError, ValueError, onnx.checker.ValidationError) as e:
        # onnx refuses external data outside the model's directory with a ValidationError
        raise OnnxLoadError(f"the external data of {str(path)!r} cannot be loaded: {e}") from e
    return model


def _what_it_is(path: Path, error: BaseException) -> str:
    """Why the bytes are not a model, in words: a text file (JSON, ONNX's text format,
    anything else), or the protobuf parser's complaint."""
    with open(path, "rb") as f:
        head = f.read(4096)
    try:
        text = head.decode("utf-8").lstrip()
    except UnicodeDecodeError:
        text = None
    if text and all(c.isprintable() or c in "\t\r\n" for c in text):
        return "it is a JSON file" if text[0] in "{[" else "it is a text file"
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"protobuf could not parse it: {reason}; is it truncated or another format?"


def all_tensors(model: Any) -> Iterator[Any]:
    """Every TensorProto of ``model``: initializers and attribute tensors, subgraphs included."""
    from onnx.external_data_helper import _get_all_tensors

    return _get_all_tensors(model)
