"""``usage_based``: forward hooks plus the TorchScript exporter (``dynamo=False``).

A first eager run with forward pre-hooks on every module records which modules the
inputs actually use. The TorchScript exporter then names each node after the module
scopes it was traced in (``/stack/block.0/mlp/MatMul``); the node's module is found by
walking those scopes through the modules the hooks saw run. Nodes named outside
any scope (made by the exporter's own passes) get ``None``.

The TorchScript tracer cannot pass keyword arguments, so ``forward`` is replaced, for
the duration of the export only, by one that takes the input tensors positionally.
"""

from __future__ import annotations

import time
from typing import Any

from modelexport._quiet import quiet
from modelexport.inputs import flat_outputs
from modelexport.strategies import Capture, CaptureOptions, export_torchscript, one_line


def module_path_of(node_name: str, used: set[str]) -> str | None:
    """The module path, among ``used``, of a scoped node name like ``/a/b.0/c/Op_3``.

    Each scope segment names a module relative to the enclosing scope or, for children
    of containers, to one of that scope's ancestors: a segment is joined to the deepest
    path that makes a used module. The first segment that makes none ends the walk.
    Names outside any scope give None; ops of the root scope give ``""``.
    """
    if not node_name.startswith("/"):
        return None
    current = ""
    for segment in node_name.split("/")[1:-1]:
        base = current
        while True:
            candidate = f"{base}.{segment}" if base else segment
            if candidate in used:
                current = candidate
                break
            if not base:
                return current
            base = base.rpartition(".")[0]
    return current


def record_used_modules(model: Any, inputs: Any) -> tuple[set[str], list[tuple[str, Any]]]:
    """Run ``model`` once with pre-hooks on every module; return the paths that ran and
    the flattened outputs."""
    import torch

    used: set[str] = set()
    handles = [module.register_forward_pre_hook(lambda *_, path=path: used.add(path))
               for path, module in model.named_modules()]
    try:
        with torch.no_grad():
            outputs = flat_outputs(model(**inputs.kwargs()))
    finally:
        for handle in handles:
            handle.remove()
    return used, outputs


def capture(model: Any, inputs: Any, options: CaptureOptions) -> Capture:

    start = time.perf_counter()
    names = inputs.names
    had_own_forward = "forward" in vars(model)
    original = model.forward

    def positional(*args: Any) -> tuple[Any, ...]:
        out = original(**dict(zip(names, args, strict=True)), **inputs.constants)
        return tuple(tensor for _, tensor in flat_outputs(out))

    try:
        with quiet(not options.verbose):
            used, outputs = record_used_modules(model, inputs)
            model.forward = positional
            proto = export_torchscript(model, inputs.tensors,
                                       [name for name, _ in outputs], options,
                                       inputs.dynamic_axes() if options.dynamic else None)
    except Exception as e:  # noqa: BLE001 - a failed trace means "try the next"
        return Capture("usage_based", seconds=time.perf_counter() - start,
                       error=f"the TorchScript exporter failed ({one_line(e)})",
                       exception=e)
    finally:
        if had_own_forward:
            model.forward = original
        else:
            vars(model).pop("forward", None)
    paths = [module_path_of(node.name, used) for node in proto.graph.node]
    return Capture("usage_based", model=proto, node_paths=paths,
                   seconds=time.perf_counter() - start)
