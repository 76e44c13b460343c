"""The benchmark's models: how to build each one, and where its ONNX file is cached.

Torch models are built from a config with random weights (seed 0), so nothing is
downloaded. Family names live here, in the benchmark, never in the product packages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache"
BERT_SAMPLE = ROOT / "samples" / "bert-tiny"
SEQ_LEN = 16


@dataclass(frozen=True)
class ModelSpec:
    """One benchmark model: a torch model to export, or a synthetic ONNX graph."""

    name: str
    kind: str  # "torch" | "synthetic" | "external" (weights past 2 GB as external data)
    nodes: int = 0  # synthetic only
    export: bool = True  # torch: whether the export stage runs on it (deep models: not)

    @property
    def is_torch(self) -> bool:
        return self.kind == "torch"


MODELS: dict[str, ModelSpec] = {
    "bert-tiny": ModelSpec("bert-tiny", "torch"),
    "gpt2": ModelSpec("gpt2", "torch"),
    "synth-1k": ModelSpec("synth-1k", "synthetic", 1_000),
    "synth-10k": ModelSpec("synth-10k", "synthetic", 10_000),
    "synth-50k": ModelSpec("synth-50k", "synthetic", 50_000),
    "synth-100k": ModelSpec("synth-100k", "synthetic", 100_000),
    "ext-2.5g": ModelSpec("ext-2.5g", "external"),
    # real depths, tiny widths (bench/deep_models.py): the layout's models (issue 19)
    "llama-32": ModelSpec("llama-32", "torch", export=False),
    "llama-80": ModelSpec("llama-80", "torch", export=False),
    "bart-12x12": ModelSpec("bart-12x12", "torch", export=False),
}
DEEP = ["llama-32", "llama-80", "bart-12x12"]
# the deep models take minutes to lay out with dot: run them by name (bench/README.md)
FULL = [name for name in MODELS if name not in DEEP]
QUICK = ["bert-tiny", "synth-1k", "synth-10k"]


def build_torch_model(name: str) -> tuple[Any, dict[str, Any]]:
    """A seeded random-init model in eval mode and its example inputs (a kwargs dict)."""
    from transformers import AutoConfig, GPT2Config

    from bench.deep_models import DEEP_MODELS, build_deep_model

    if name in DEEP_MODELS:
        return build_deep_model(name)
    if name == "bert-tiny":
        config = AutoConfig.from_pretrained(BERT_SAMPLE)
    elif name == "gpt2":
        config = GPT2Config(n_embd=768, n_layer=12, n_head=12, use_cache=False)
    else:
        raise ValueError(f"no torch model named {name!r}")
    return seeded_model(config)


def seeded_model(config: Any) -> tuple[Any, dict[str, Any]]:
    """A random-init model of ``config`` (seed 0) in eval mode and its example inputs:
    ``input_ids`` (1 x SEQ_LEN, seed 0) and an all-ones ``attention_mask``."""
    import torch
    from transformers import AutoModel

    torch.manual_seed(0)
    model = AutoModel.from_config(config).eval()
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(0, config.vocab_size, (1, SEQ_LEN), generator=generator)
    inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
    return model, inputs


def cache_dir(spec: ModelSpec) -> Path:
    """The folder holding the model's cached ``model.onnx`` (and any external data)."""
    if spec.kind == "synthetic":
        from bench.synthetic import GENERATOR_VERSION

        return CACHE / f"{spec.name}-v{GENERATOR_VERSION}"
    if spec.kind == "external":
        from bench.external import GENERATOR_VERSION

        return CACHE / f"{spec.name}-v{GENERATOR_VERSION}"
    return CACHE / f"{spec.name}-tagged"
