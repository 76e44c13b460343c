"""What every capture strategy shares: its options, its result, the one-line reason a
failure gives, and running a strategy by name (:mod:`modelexport.strategies`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

STRATEGIES = ("htp", "usage_based", "fx")
AUTO_CHAIN = ("htp", "usage_based", "fx")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class CaptureOptions:
    opset_version: int | None = None
    temp_dir: str | None = None
    verbose: bool = False
    # batch and sequence axes left free (ModelInputs.dynamic_axes) instead of the
    # example inputs' sizes
    dynamic: bool = False


@dataclass
class Capture:
    """The result of one strategy on one model: a model and node paths, or an error.

    A failed capture says why in ``error`` (one line) and keeps the ``exception`` it
    caught, so the cause can be chained and shown in full with ``-v``.
    """

    strategy: str
    model: Any = None  # onnx.ModelProto
    node_paths: list[str | None] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    exception: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.model is not None


def one_line(error: BaseException) -> str:
    """A short single-line reason for an exception: its innermost cause, first line."""
    root = error
    while root.__cause__ is not None and root.__cause__ is not root:
        root = root.__cause__
    lines = [line.strip() for line in _ANSI.sub("", str(root)).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if len(text) > 240:
        text = text[:237] + "..."
    return f"{type(root).__name__}: {text}" if text else type(root).__name__


def run(name: str, model: Any, inputs: Any, options: CaptureOptions) -> Capture:
    """Run the strategy called ``name`` (one of :data:`STRATEGIES`)."""
    import importlib

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}")
    return importlib.import_module(f"modelexport.strategies.{name}").capture(
        model, inputs, options)


def export_torchscript(module: Any, tensors: dict[str, Any], output_names: list[str],
                       options: CaptureOptions,
                       dynamic_axes: dict[str, dict[int, str]] | None = None) -> Any:
    """Export ``module`` with the TorchScript exporter (``dynamo=False``) and load it.

    The tracer passes inputs positionally, so ``module`` must take ``tensors`` in that
    order. The file goes through a scratch directory under ``options.temp_dir``.
    ``dynamic_axes`` (input name → axis → name) leaves those input axes free.
    """
    import os
    import tempfile

    import onnx
    import torch

    kwargs: dict[str, Any] = {}
    if options.opset_version is not None:
        kwargs["opset_version"] = options.opset_version
    if dynamic_axes:
        kwargs["dynamic_axes"] = dynamic_axes
    with tempfile.TemporaryDirectory(dir=options.temp_dir) as tmp:
        target = os.path.join(tmp, "capture.onnx")
        with torch.no_grad():
            torch.onnx.export(module, tuple(tensors.values()), target, dynamo=False,
                              input_names=list(tensors), output_names=output_names, **kwargs)
        return onnx.load(target)
