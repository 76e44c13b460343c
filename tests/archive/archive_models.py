"""Models for the archive tests, built with onnx.helper (no torch), and archive helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from modelexport.converter.tags import TAG_KEY


def chain_model(weights: list[np.ndarray], *, root: str = "Net", producer: str = "tests",
                names: str = "layer") -> onnx.ModelProto:
    """x → MatMul(w0) → Relu → MatMul(w1) → ... → y; op i tagged ``/root/Layer.i``.

    Square float32 weights keep shapes chaining; ``names`` prefixes the initializer names.
    """
    nodes, inits, x = [], [], "x"
    for i, w in enumerate(weights):
        inits.append(numpy_helper.from_array(w, f"{names}.{i}.weight"))
        for op, inputs in (("MatMul", [x, inits[-1].name]), ("Relu", [f"h{i}"])):
            out = f"h{i}" if op == "MatMul" else f"r{i}"
            node = helper.make_node(op, inputs, [out], name=f"/{names}.{i}/{op}")
            prop = node.metadata_props.add()
            prop.key, prop.value = TAG_KEY, f"/{root}/Layer.{i}"
            nodes.append(node)
            x = out
    dim = weights[0].shape[0]
    graph = helper.make_graph(
        nodes, "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", dim])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", dim])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                              producer_name=producer)
    model.ir_version = 9
    return model


def random_weights(count: int, dim: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((dim, dim), dtype=np.float32) for _ in range(count)]


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def archive_state(db: Path) -> tuple[list, dict[str, bytes]]:
    """What an archive holds: its listing and every model restored, for before/after checks."""
    from modelexport.archive import open_archive

    out = db.parent / "_state.onnx"
    with open_archive(db, create=False) as archive:
        models = archive.list().models
        restored = {}
        for m in models:
            archive.restore(m.name, out)
            restored[m.name] = out.read_bytes()
    out.unlink(missing_ok=True)
    return [(m.name, m.ops, m.tensor_bytes, m.added_at) for m in models], restored
