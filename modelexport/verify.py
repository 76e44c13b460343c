"""Check an exported file: onnx.checker (full check) and onnxruntime against PyTorch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelexport.errors import VerificationError
from modelexport.inputs import ModelInputs, flat_outputs

ATOL = 1e-4


@dataclass
class Verification:
    checker: str
    outputs: int
    max_abs_diff: float
    atol: float

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.atol


def run_onnxruntime(path: Path, inputs: ModelInputs) -> list[Any]:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as e:
        first = " ".join(str(e).split())[:300]
        raise VerificationError(f"onnxruntime cannot load the exported model: {first}") from e
    feed = {}
    for graph_input in session.get_inputs():
        if graph_input.name not in inputs.tensors:
            raise VerificationError(f"the exported model wants input {graph_input.name!r}, "
                                    "which the example inputs do not have")
        feed[graph_input.name] = inputs.tensors[graph_input.name].detach().cpu().numpy()
    try:
        return session.run(None, feed)
    except Exception as e:
        first = " ".join(str(e).split())[:300]
        raise VerificationError(f"onnxruntime cannot run the exported model: {first}") from e


def check_onnx(path: Path) -> str:
    """Raise VerificationError unless onnx.checker (full check) accepts the file."""
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as e:
        first = " ".join(str(e).split())[:300]
        raise VerificationError(f"onnx.checker rejects the exported model: {first}") from e
    return "passed (full_check)"


def expected_outputs(model: Any, inputs: ModelInputs) -> list[tuple[str, Any]]:
    """PyTorch's outputs on ``inputs``, flattened and named (see :func:`flat_outputs`)."""
    import torch

    with torch.no_grad():
        return flat_outputs(model(**inputs.kwargs()))


def compare_outputs(path: Path, expected: list[tuple[str, Any]], inputs: ModelInputs,
                    atol: float = ATOL) -> Verification:
    """Raise VerificationError unless onnxruntime's outputs match ``expected``."""
    import numpy as np

    wanted = [t.detach().cpu().numpy() for _, t in expected]
    actual = run_onnxruntime(path, inputs)
    if len(actual) != len(wanted):
        raise VerificationError(f"onnxruntime gives {len(actual)} outputs, PyTorch "
                                f"{len(wanted)}")
    worst = 0.0
    for i, (a, e) in enumerate(zip(actual, wanted, strict=True)):
        if a.shape != e.shape:
            raise VerificationError(f"output {i}: onnxruntime shape {list(a.shape)} != "
                                    f"PyTorch shape {list(e.shape)}")
        if a.size:
            worst = max(worst, float(np.max(np.abs(a.astype(np.float64) - e.astype(np.float64)))))
    result = Verification("passed (full_check)", len(actual), worst, atol)
    if not result.ok:
        raise VerificationError(f"onnxruntime outputs differ from PyTorch by up to {worst:.3g} "
                                f"(tolerance {atol:g}); the export is not faithful")
    return result


def verify_export(path: Path, model: Any, inputs: ModelInputs, atol: float = ATOL) -> Verification:
    """Raise VerificationError unless the file passes the checker and matches PyTorch."""
    check_onnx(path)
    return compare_outputs(path, expected_outputs(model, inputs), inputs, atol)
