"""``htp``: the module stack that ``torch.onnx.export(..., dynamo=True)`` records per node.

Each node made from an FX node carries ``pkg.torch.onnx.name_scopes``: the dotted paths
of the modules on the call stack, root first, then the FX node's own name. The deepest
module path is the node's. Nodes the optimizer made carry no stack and get ``None``.
"""

from __future__ import annotations

import ast
import time
from typing import Any

from modelexport._quiet import quiet
from modelexport.strategies import Capture, CaptureOptions, one_line

NAME_SCOPES_KEY = "pkg.torch.onnx.name_scopes"
NAMESPACE_KEY = "namespace"


def module_path_of(node: Any) -> str | None:
    """The dotted module path recorded on a node by the dynamo exporter, or None."""
    props = {p.key: p.value for p in node.metadata_props}
    scopes = props.get(NAME_SCOPES_KEY)
    if scopes is not None:
        try:
            parts = ast.literal_eval(scopes)
        except (ValueError, SyntaxError):
            parts = None
        if isinstance(parts, list) and len(parts) >= 2:
            return str(parts[-2])
    namespace = props.get(NAMESPACE_KEY)
    if namespace:
        # "": Root/path.a: ClassA/op: aten.op  → module paths are before each ": ".
        frames = [frame.partition(": ")[0] for frame in namespace.split("/")]
        if len(frames) >= 2:
            return frames[-2]
    return None


def capture(model: Any, inputs: Any, options: CaptureOptions) -> Capture:
    import torch

    start = time.perf_counter()
    kwargs: dict[str, Any] = {"dynamo": True, "optimize": True}
    if options.opset_version is not None:
        kwargs["opset_version"] = options.opset_version
    try:
        with quiet(not options.verbose), torch.no_grad():
            program = torch.onnx.export(model, (), kwargs=inputs.kwargs(), **kwargs)
        proto = program.model_proto
    except Exception as e:  # noqa: BLE001 - any failure of torch.export means "try the next"
        return Capture("htp", seconds=time.perf_counter() - start,
                       error=f"torch.export could not capture the model ({one_line(e)})")
    paths = [module_path_of(node) for node in proto.graph.node]
    return Capture("htp", model=proto, node_paths=paths,
                   seconds=time.perf_counter() - start)
