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
        # protobuf whatever the suffix: onnx would parse a *.json file as JSON
        model = onnx.load_model(str(path), format="protobuf", load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, UnicodeError) as e:
        raise OnnxLoadError(f"{str(path)!r} is not an ONNX model (protobuf could not parse it: "
                            f"{str(e).splitlines()[0] if str(e) else type(e).__name__}); "
                            f"is it truncated or another format?") from e
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


def all_tensors(model: Any) -> Iterator[Any]:
    """Every TensorProto of ``model``: initializers and attribute tensors, subgraphs included."""
    from onnx.external_data_helper import _get_all_tensors

    return _get_all_tensors(model)
