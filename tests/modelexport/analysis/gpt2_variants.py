"""Tiny GPT-2s built from configs and exported with the htp strategy, for compare's tests.

Every parameter gets seeded noise on top of its initial value, so that a second seed
changes every weight (fresh inits have all-one norms and all-zero biases).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
from onnx import numpy_helper

#: name -> (layers, activation, seed)
VARIANTS = {
    "base": (2, "gelu_new", 0),
    "seed1": (2, "gelu_new", 1),
    "three_layers": (3, "gelu_new", 0),
    "relu": (2, "relu", 0),
}

#: The weight the "one weight changed" variant changes: the second layer's attention.
CHANGED_WEIGHT = "h.1.attn.c_attn.weight"


def build(layers: int, activation: str, seed: int) -> Any:
    import torch
    from transformers import GPT2Config, GPT2Model

    config = GPT2Config(n_embd=32, n_layer=layers, n_head=2, n_positions=32, vocab_size=64,
                        activation_function=activation, use_cache=False,
                        bos_token_id=0, eos_token_id=0)
    torch.manual_seed(0)
    model = GPT2Model(config).eval()
    generator = torch.Generator().manual_seed(seed + 1 + 100 * layers)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.02)
    if layers > 2:  # more layers on top of the 2-layer model: its weights, then new ones
        missing = model.load_state_dict(build(2, activation, seed).state_dict(), strict=False)
        assert not missing.unexpected_keys
    return model


def export(name: str, folder: Path) -> Path:
    """Export the variant ``name`` into ``folder``; returns the ONNX path."""
    import torch

    import modelexport

    model = build(*VARIANTS[name])
    path = folder / f"{name}.onnx"
    inputs = {"input_ids": torch.arange(8, dtype=torch.long).reshape(1, 8)}
    modelexport.export_model(model, inputs, str(path), strategy="htp")
    return path


def parameter_names(name: str) -> set[str]:
    """The names of the variant's torch parameters."""
    return {n for n, _p in build(*VARIANTS[name]).named_parameters()}


def with_one_weight_changed(src: Path, dst: Path, weight: str = CHANGED_WEIGHT) -> Path:
    """A copy of ``src`` whose initializer ``weight`` has one element changed."""
    model = onnx.load(src)
    tensor = next(t for t in model.graph.initializer if t.name == weight)
    array = numpy_helper.to_array(tensor).copy()
    array.flat[0] += 1.0
    tensor.CopyFrom(numpy_helper.from_array(array, weight))
    onnx.save(model, dst)
    return dst
