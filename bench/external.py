"""A tagged ONNX model past 2 GB whose weights are external data, built with ``onnx.helper``.

Ten 8192 × 8192 float32 MatMul weights (256 MiB each, 2.5 GiB in all) in two external
files, as ONNX's external-data rules allow (``location``, ``offset``, ``length``; the
offsets 4 KiB-aligned, two tensors per file not at offset 0), plus small in-file biases.
Each layer is a module ``/ExtNet/Layer.i`` and every node carries its tag, as the
exporter would write it. The weights are written straight to their files in slices, so
building it never holds more than one slice in memory. No torch.

:func:`tensor_digests` reads any model's initializers, in-file or external, one by one
with onnx's own loader and plain file reads, so a rebuilt model can be compared with
its original tensor by tensor without holding either in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from modelexport.converter.tags import (
    MODULE_CLASS_KEY,
    MODULE_PATH_KEY,
    MODULE_TREE_KEY,
    STRATEGY_KEY,
    TAG_KEY,
)

WIDTH = 8192
LAYERS = 10
FILES = 2
ALIGN = 4096
ROOT_CLASS = "ExtNet"
_SLICE_ROWS = 512

#: Bump when the generated model changes, so cached files are rebuilt.
GENERATOR_VERSION = 1


def _tag(node: onnx.NodeProto, tag: str, path: str, cls: str) -> onnx.NodeProto:
    for key, value in ((TAG_KEY, tag), (MODULE_PATH_KEY, path), (MODULE_CLASS_KEY, cls)):
        prop = node.metadata_props.add()
        prop.key, prop.value = key, value
    return node


def make_external_model(dst: str | os.PathLike, *, layers: int = LAYERS, width: int = WIDTH,
                        seed: int = 0) -> None:
    """Write ``dst`` and its external data files ``<stem>.weights-<k>.bin`` beside it."""
    dst = Path(dst)
    rng = np.random.default_rng(seed)
    per_file = -(-layers // FILES)
    files = [dst.with_name(f"{dst.stem}.weights-{k}.bin") for k in range(FILES)]
    handles = [open(f, "wb") for f in files]
    nodes, inits, modules = [], [], [{"tag": f"/{ROOT_CLASS}", "path": "", "class": ROOT_CLASS,
                                      "parent": None}]
    x = "input"
    try:
        for i in range(layers):
            tag, path = f"/{ROOT_CLASS}/Layer.{i}", f"layers.{i}"
            modules.append({"tag": tag, "path": path, "class": "Layer", "parent": f"/{ROOT_CLASS}"})
            k = i // per_file
            f = handles[k]
            pad = -f.tell() % ALIGN
            f.write(b"\0" * (pad + ALIGN * (i % 2)))  # aligned, and some not right after the last
            offset = f.tell()
            for _ in range(0, width, _SLICE_ROWS):
                block = rng.standard_normal((_SLICE_ROWS, width), dtype=np.float32) * 0.01
                f.write(block.astype("<f4").tobytes())
            weight = TensorProto(
                name=f"{path}.weight", data_type=TensorProto.FLOAT, dims=[width, width]
            )
            weight.data_location = TensorProto.EXTERNAL
            for key, value in (("location", files[k].name), ("offset", str(offset)),
                               ("length", str(width * width * 4))):
                entry = weight.external_data.add()
                entry.key, entry.value = key, value
            bias = numpy_helper.from_array(rng.standard_normal(width, dtype=np.float32) * 0.01,
                                           f"{path}.bias")
            inits += [weight, bias]
            scope = f"/layers.{i}"
            nodes.append(_tag(helper.make_node("MatMul", [x, weight.name], [f"{scope}/mm"],
                                               name=f"{scope}/MatMul"), tag, path, "Layer"))
            nodes.append(_tag(helper.make_node("Add", [f"{scope}/mm", bias.name], [f"{scope}/add"],
                                               name=f"{scope}/Add"), tag, path, "Layer"))
            nodes.append(_tag(helper.make_node("Relu", [f"{scope}/add"], [f"{scope}/out"],
                                               name=f"{scope}/Relu"), tag, path, "Layer"))
            x = f"{scope}/out"
    finally:
        for f in handles:
            f.close()
    graph = helper.make_graph(
        nodes, "external",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, width])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                              producer_name="modelexport-bench")
    model.ir_version = 9
    helper.set_model_props(model, {MODULE_TREE_KEY: json.dumps(modules), STRATEGY_KEY: "synthetic"})
    onnx.save_model(model, str(dst))  # tensors already external: nothing big is serialized


def tensor_digests(path: str | os.PathLike) -> dict[str, tuple[int, tuple[int, ...], str]]:
    """Per main-graph initializer of the model at ``path``: (data_type, dims, SHA-256 of
    its bytes), reading external data range by range rather than loading it."""
    path = Path(path)
    model = onnx.load(str(path), load_external_data=False)
    out = {}
    for t in model.graph.initializer:
        digest = hashlib.sha256()
        if t.data_location == TensorProto.EXTERNAL:
            info = {e.key: e.value for e in t.external_data}
            with open(path.parent / info["location"], "rb") as f:
                f.seek(int(info.get("offset", 0)))
                left = int(info["length"]) if "length" in info else -1
                while left:
                    chunk = f.read(1 << 22 if left < 0 else min(left, 1 << 22))
                    if not chunk:
                        break
                    digest.update(chunk)
                    left -= len(chunk)
        else:
            array = numpy_helper.to_array(t)
            digest.update(array.astype(array.dtype.newbyteorder("<")).tobytes())
        out[t.name] = (t.data_type, tuple(t.dims), digest.hexdigest())
    return out
