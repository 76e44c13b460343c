"""Capture strategies: each turns a model and its inputs into ONNX plus, per node, the
dotted path of the module that made it.

Each strategy is a module with one function ``capture(model, inputs, options)`` that
returns a :class:`Capture`; it never raises for a model it cannot handle, it returns a
failed Capture whose ``error`` says why. ``auto`` is a loop over :data:`AUTO_CHAIN`.

    htp          module stacks recorded by ``torch.onnx.export(dynamo=True)``
    usage_based  forward hooks + the TorchScript exporter, whose node names carry scopes
    fx           ``torch.fx`` symbolic trace, one partition per module run
"""

from __future__ import annotations

from modelexport.strategies._capture import (
    AUTO_CHAIN,
    STRATEGIES,
    Capture,
    CaptureOptions,
    export_torchscript,
    one_line,
    run,
)

__all__ = ["STRATEGIES", "AUTO_CHAIN", "CaptureOptions", "Capture", "run", "one_line",
           "export_torchscript"]
