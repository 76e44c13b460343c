"""``fx``: ``torch.fx`` symbolic trace, where the model can be traced symbolically.

A tracer records, for every FX node, the module whose ``forward`` was running when it
was made (built-in ``torch.nn`` modules stay leaf calls). The graph is then split into
partitions, one per contiguous run of nodes from the same module, and exported with
the TorchScript exporter: each ONNX node's scope names its partition, and so its module.
Models whose forward branches on tensor values cannot be traced this way; the strategy
then refuses with the tracer's reason. transformers models are not tried at all when
the installed transformers ships no symbolic tracer of its own (transformers 5 removed
``transformers.utils.fx``): torch.fx's plain tracer stops on every one of them.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from modelexport._quiet import quiet
from modelexport.inputs import flat_outputs
from modelexport.strategies import Capture, CaptureOptions, export_torchscript, one_line

_PATH = "modelexport_module_path"


def _tracer_class() -> type:
    import torch.fx

    class ScopeTracer(torch.fx.Tracer):
        """Stamps each FX node with the dotted path of the module being traced."""

        def __init__(self) -> None:
            super().__init__()
            self.path_stack = [""]

        def call_module(self, module, forward, args, kwargs):  # type: ignore[no-untyped-def]
            self.path_stack.append(self.path_of_module(module))
            try:
                return super().call_module(module, forward, args, kwargs)
            finally:
                self.path_stack.pop()

        def create_node(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            node = super().create_node(*args, **kwargs)
            node.meta[_PATH] = self.path_stack[-1]
            return node

    return ScopeTracer


def _concrete_args(model: Any, inputs: Any) -> dict[str, Any]:
    """Every forward parameter not fed a tensor is fixed to its constant or default."""
    concrete = {}
    for param in inspect.signature(model.forward).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name in inputs.tensors:
            continue
        if param.name in inputs.constants:
            concrete[param.name] = inputs.constants[param.name]
        elif param.default is not param.empty:
            concrete[param.name] = param.default
    return concrete


def not_traceable(model: Any) -> str | None:
    """Why ``model`` is not worth tracing, or None to try: a transformers model when
    the installed transformers has no symbolic tracer."""
    import importlib.util
    import sys

    transformers = sys.modules.get("transformers")
    if transformers is None or not isinstance(model, transformers.PreTrainedModel):
        return None
    if importlib.util.find_spec("transformers.utils.fx") is not None:
        return None
    return (f"not tried: transformers {transformers.__version__} ships no symbolic tracer "
            "(transformers.utils.fx), and torch.fx's own tracer cannot follow transformers "
            "models; htp and usage_based export them")


def capture(model: Any, inputs: Any, options: CaptureOptions) -> Capture:
    import torch
    from torch.fx import GraphModule
    from torch.fx.passes.split_module import split_module

    start = time.perf_counter()
    reason = not_traceable(model)
    if reason is not None:
        return Capture("fx", seconds=time.perf_counter() - start, error=reason)
    try:
        with quiet(not options.verbose):
            graph = _tracer_class()().trace(model, concrete_args=_concrete_args(model, inputs))
    except Exception as e:  # noqa: BLE001 - the tracer's reason is the refusal
        return Capture("fx", seconds=time.perf_counter() - start,
                       error=f"torch.fx cannot trace this model symbolically ({one_line(e)})",
                       exception=e)

    try:
        traced = GraphModule(model, graph)
        runs: dict[int, int] = {}
        partition_paths: list[str] = []
        for node in traced.graph.nodes:
            if node.op in ("placeholder", "output", "get_attr"):
                continue
            path = node.meta.get(_PATH, "")
            if not partition_paths or partition_paths[-1] != path:
                partition_paths.append(path)
            runs[id(node)] = len(partition_paths) - 1
        split = split_module(traced, model, lambda node: runs.get(id(node), 0))
        names = list(inputs.tensors)

        forward = split.forward

        def positional(*args: Any) -> tuple[Any, ...]:
            out = forward(**dict(zip(names, args, strict=True)))
            return tuple(tensor for _, tensor in flat_outputs(out))

        with torch.no_grad():
            outputs = flat_outputs(split(**inputs.tensors))
        split.forward = positional  # the TorchScript tracer passes inputs positionally
        with quiet(not options.verbose):
            proto = export_torchscript(split, inputs.tensors, [name for name, _ in outputs],
                                       options,
                                       inputs.dynamic_axes() if options.dynamic else None)
    except Exception as e:  # noqa: BLE001 - a failed export of the trace means "try the next"
        return Capture("fx", seconds=time.perf_counter() - start,
                       error=f"the traced graph could not be exported ({one_line(e)})",
                       exception=e)

    paths: list[str | None] = []
    for node in proto.graph.node:
        parts = node.name.split("/")
        # Scoped names look like /submod_<k>/...; the partition gives the module.
        index = None
        if len(parts) > 2 and parts[1].startswith("submod_"):
            suffix = parts[1][len("submod_"):]
            index = int(suffix) if suffix.isdigit() else None
        paths.append(partition_paths[index] if index is not None
                     and index < len(partition_paths) else None)
    return Capture("fx", model=proto, node_paths=paths, seconds=time.perf_counter() - start)
