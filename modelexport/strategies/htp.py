"""``htp``: the module stack that ``torch.onnx.export(..., dynamo=True)`` records per node.

Each node made from an FX node carries ``pkg.torch.onnx.name_scopes``: the dotted paths
of the modules on the call stack, root first, then the FX node's own name. The deepest
module path is the node's. Nodes the optimizer made carry no stack and get ``None``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from modelexport._quiet import quiet
from modelexport.converter.tags import metadata, torch_module_stack
from modelexport.strategies import Capture, CaptureOptions, one_line


def module_path_of(props: Mapping[str, str]) -> str | None:
    """The dotted path of the innermost module on a node's recorded stack, or None.

    ``props`` is the node's metadata (a NodeProto's ``metadata_props`` as a dict, or
    an IR node's ``metadata_props``); :func:`~modelexport.converter.tags.torch_module_stack`
    parses it.
    """
    stack = torch_module_stack(props)
    return stack[-1][0] if stack else None


def capture(model: Any, inputs: Any, options: CaptureOptions) -> Capture:
    import torch

    start = time.perf_counter()
    kwargs: dict[str, Any] = {"dynamo": True, "optimize": True}
    if options.opset_version is not None:
        kwargs["opset_version"] = options.opset_version
    if options.dynamic:
        kwargs["dynamic_shapes"] = _dynamic_shapes(inputs)
    recorded: dict[str, str] = {}
    try:
        with quiet(not options.verbose), torch.no_grad(), _paths_before_conversion(recorded):
            program = torch.onnx.export(model, (), kwargs=inputs.kwargs(), **kwargs)
        proto = program.model_proto
    except Exception as e:  # noqa: BLE001 - any failure of torch.export means "try the next"
        return Capture("htp", seconds=time.perf_counter() - start,
                       error=f"torch.export could not capture the model ({one_line(e)})",
                       exception=e)
    paths = [module_path_of(metadata(node))
             or next((recorded[o] for o in node.output if o in recorded), None)
             for node in proto.graph.node]
    return Capture("htp", model=proto, node_paths=paths,
                   seconds=time.perf_counter() - start)


def _dynamic_shapes(inputs: Any) -> dict[str, Any]:
    """torch.export's ``dynamic_shapes`` for the keyword inputs: one ``Dim`` per axis
    name of :meth:`ModelInputs.dynamic_axes`, shared by the inputs that have it."""
    from torch.export import Dim

    axes = inputs.dynamic_axes()
    dims = {name: Dim(name) for spec in axes.values() for name in spec.values()}
    return {key: ({axis: dims[name] for axis, name in axes[key].items()} if key in axes
                  else None) for key in inputs.kwargs()}


@contextmanager
def _paths_before_conversion(recorded: dict[str, str]) -> Iterator[None]:
    """Record each tensor's module path just before torch converts the opset.

    Asked for an opset other than its own, the exporter converts the finished graph,
    and onnx's converter rebuilds every node without its metadata (module stacks
    included). The converted nodes keep the names of the tensors they produce, so the
    path of each produced tensor, read from the graph before conversion, carries the
    stacks across. Where torch's internals differ from what this expects, nothing is
    recorded and the untagged nodes take the neighbour rule.
    """
    try:
        import importlib

        from torch.onnx._internal import _lazy_import

        apis = importlib.import_module(_lazy_import.onnxscript_apis._name)
        convert = apis.convert_version
    except (ImportError, AttributeError):
        yield
        return

    def recording_convert(ir_model: Any, *args: Any, **kwargs: Any) -> Any:
        for node in ir_model.graph:
            path = module_path_of(node.metadata_props)
            if path is not None:
                recorded.update((value.name, path) for value in node.outputs if value.name)
        return convert(ir_model, *args, **kwargs)

    apis.convert_version = recording_convert
    try:
        yield
    finally:
        apis.convert_version = convert
