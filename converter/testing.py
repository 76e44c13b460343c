"""Compare ONNX models and say exactly what differs; check a rebuilt model.

``diff_models(a, b)`` lists differences as field paths with both values, e.g.
``graph.node[12].attribute['axis'].i: 1 != 2``; ``assert_models_equal`` fails a test
with that list. ``validate_rebuilt`` is what ``import-onnx --validate`` runs.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

_MAX_DIFFS = 50


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>" if len(value) > 32 else repr(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if len(out) >= _MAX_DIFFS:
        return
    fa = {fd.name: (fd, v) for fd, v in a.ListFields()}
    fb = {fd.name: (fd, v) for fd, v in b.ListFields()}
    for fd in a.DESCRIPTOR.fields:
        name = fd.name
        if name not in fa and name not in fb:
            continue
        where = f"{path}.{name}" if path else name
        if name not in fb:
            out.append(f"{where}: set in the first model only ({_show(fa[name][1]) if fd.type != fd.TYPE_MESSAGE or fd.is_repeated else 'message'})")
            continue
        if name not in fa:
            out.append(f"{where}: set in the second model only ({_show(fb[name][1]) if fd.type != fd.TYPE_MESSAGE or fd.is_repeated else 'message'})")
            continue
        va, vb = fa[name][1], fb[name][1]
        if fd.is_repeated:
            if fd.type == fd.TYPE_MESSAGE:
                if len(va) != len(vb):
                    out.append(f"{where}: {len(va)} entries != {len(vb)}")
                keyed = name == "attribute"
                for i, (x, y) in enumerate(zip(va, vb)):
                    label = f"[{x.name!r}]" if keyed and x.name == y.name else f"[{i}]"
                    _diff(x, y, where + label, out)
            else:
                if len(va) != len(vb):
                    out.append(f"{where}: {len(va)} values != {len(vb)}")
                else:
                    for i, (x, y) in enumerate(zip(va, vb)):
                        if not _same_scalar(x, y):
                            out.append(f"{where}[{i}]: {_show(x)} != {_show(y)}")
                            break
        elif fd.type == fd.TYPE_MESSAGE:
            _diff(va, vb, where, out)
        elif isinstance(va, bytes) and va != vb:
            at = next((i for i, (x, y) in enumerate(zip(va, vb)) if x != y), min(len(va), len(vb)))
            out.append(f"{where}: bytes differ at byte {at} ({len(va)} bytes vs {len(vb)})")
        elif not isinstance(va, bytes) and not _same_scalar(va, vb):
            out.append(f"{where}: {_show(va)} != {_show(vb)}")


def diff_models(a: Any, b: Any) -> list[str]:
    """Every difference between two protobuf messages (ModelProtos), as field paths.

    Empty when the two serialize to the same bytes. Field presence counts: a field
    set to its default value differs from one left unset.
    """
    if a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True):
        return []
    out: list[str] = []
    _diff(a, b, "", out)
    if not out:
        out.append("the serialized bytes differ, but no field does (unknown fields?)")
    return out


def assert_models_equal(a: Any, b: Any) -> None:
    """Fail with the list of differences unless ``a`` and ``b`` are the same model."""
    diffs = diff_models(a, b)
    if diffs:
        raise AssertionError("models differ:\n  " + "\n  ".join(diffs))


# -- import-onnx --validate --------------------------------------------------------


def _fake_input(info: Any, rng: np.random.Generator) -> np.ndarray:
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
    feeds = {i.name: _fake_input(i, rng) for i in a.get_inputs()}
    worst = 0.0
    for x, y in zip(a.run(None, feeds), b.run(None, feeds)):
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


def validate_rebuilt(rebuilt: Path, reference: Path | None) -> dict[str, Any]:
    """onnx.checker (full) on the rebuilt model; with a reference, a diff and a run of both."""
    import onnx

    report: dict[str, Any] = {"checker": "ok"}
    try:
        onnx.checker.check_model(str(rebuilt), full_check=True)
    except Exception as e:  # the checker raises several types; report, do not crash
        report["checker"] = f"failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
    if reference is None:
        report["reference"] = None
        return report
    report["reference"] = str(reference)
    from modelexport.converter._io import load_onnx

    a = onnx.load_model(str(rebuilt))
    b = load_onnx(reference)  # a clear OnnxLoadError when it is not ONNX
    diffs = diff_models(a, b)
    report["identical"] = not diffs
    report["differences"] = diffs
    try:
        report["max_abs_diff"] = run_both(rebuilt, reference)
    except Exception as e:  # onnxruntime may not run every valid model
        report["max_abs_diff"] = None
        report["run"] = f"not run: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
    return report
