"""Checking a rebuilt model: what ``import-onnx --validate`` runs.

:func:`validate_rebuilt` runs onnx.checker (full) on the rebuilt file and, with the
original beside it, compares the two models field by field and their onnxruntime
outputs on generated inputs. It returns a :class:`RebuiltCheck`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelexport.converter._load import load_onnx
from modelexport.converter.testing import diff_models


@dataclass
class RebuiltCheck:
    """What ``validate_rebuilt`` found.

    ``checker`` is ``"ok"`` or ``"failed: <reason>"``. Without a ``reference`` nothing
    else is set. With one: ``identical`` and the ``differences``, and the largest
    onnxruntime output difference (``max_abs_diff``; None with ``run`` saying why it
    did not run).
    """

    checker: str
    reference: str | None = None
    identical: bool | None = None
    differences: list[str] = field(default_factory=list)
    max_abs_diff: float | None = None
    run: str | None = None

    @property
    def passed(self) -> bool:
        """The checker passed and, with an original to compare, the rebuild equals it.

        The onnxruntime difference is reported, not judged: identical models can still
        differ in outputs when they hold random ops.
        """
        return self.checker == "ok" and (self.reference is None or bool(self.identical))

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data: without a reference, only the checker's verdict."""
        if self.reference is None:
            return {"checker": self.checker, "reference": None}
        out = {"checker": self.checker, "reference": self.reference,
               "identical": self.identical, "differences": self.differences,
               "max_abs_diff": self.max_abs_diff}
        if self.run is not None:
            out["run"] = self.run
        return out


def generated_input(info: Any, rng: np.random.Generator) -> np.ndarray:
    """Inputs for an onnxruntime NodeArg: symbolic dims become 1 (or 2)."""
    shape = [d if isinstance(d, int) and d >= 0 else 1 for d in (info.shape or [])]
    t = info.type
    if "float16" in t:
        return rng.standard_normal(shape).astype(np.float16)
    if "double" in t:
        return rng.standard_normal(shape)
    if "float" in t:
        return rng.standard_normal(shape).astype(np.float32)
    if "bool" in t:
        return rng.integers(0, 2, shape).astype(bool)
    if "int64" in t:
        return rng.integers(0, 2, shape).astype(np.int64)
    if "int32" in t:
        return rng.integers(0, 2, shape).astype(np.int32)
    if "uint8" in t:
        return rng.integers(0, 2, shape).astype(np.uint8)
    if "int8" in t:
        return rng.integers(0, 2, shape).astype(np.int8)
    raise ValueError(f"no generated input for type {t}")


def run_both(rebuilt: Path, reference: Path, seed: int = 0) -> float:
    """Largest absolute difference between onnxruntime outputs of two models."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    a = ort.InferenceSession(str(rebuilt), opts, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(reference), opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    feeds = {i.name: generated_input(i, rng) for i in a.get_inputs()}
    worst = 0.0
    got, wanted = a.run(None, feeds), b.run(None, feeds)
    if len(got) != len(wanted):
        return math.inf
    for x, y in zip(got, wanted, strict=True):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape:
            return math.inf
        if x.size == 0:
            continue
        if x.dtype.kind in "fc":
            both_nan = np.isnan(x) & np.isnan(y)
            d = np.where(both_nan, 0, np.abs(x.astype(np.float64) - y.astype(np.float64)))
            worst = max(worst, float(np.max(d)))
        elif x.dtype.kind in "iub":
            worst = max(worst, float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))))
        elif not np.array_equal(x, y):
            worst = math.inf
    return worst


def validate_rebuilt(rebuilt: Path, reference: Path | None) -> RebuiltCheck:
    """onnx.checker (full) on the rebuilt model; with a reference, a diff and a run of both."""
    import onnx

    report = RebuiltCheck(checker="ok")
    try:
        onnx.checker.check_model(str(rebuilt), full_check=True)
    except Exception as e:  # the checker raises several types; report, do not crash
        report.checker = f"failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
    if reference is None:
        return report
    report.reference = str(reference)
    a = onnx.load_model(str(rebuilt))
    b = load_onnx(reference)  # a clear OnnxLoadError when it is not ONNX
    report.differences = diff_models(a, b)
    report.identical = not report.differences
    try:
        report.max_abs_diff = run_both(rebuilt, reference)
    except Exception as e:  # onnxruntime may not run every valid model
        report.run = f"not run: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
    return report
