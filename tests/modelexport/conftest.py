"""Fixtures of the exporter's tests: small torch models, and each sample exported once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
SAMPLE_NAMES = ("bert-tiny", "gpt2-tiny", "t5-tiny", "vit-tiny", "resnet-tiny")


@dataclass
class Exported:
    """One sample exported with one strategy: the PyTorch side and the ONNX side."""

    sample: str
    model: Any
    inputs: Any
    report: Any
    path: Path
    onnx: Any


_CACHE: dict[tuple[str, str], Exported] = {}


@pytest.fixture(scope="session")
def export_sample(tmp_path_factory):
    """``export_sample(name, strategy)``: export a sample once per session, verified."""

    def export(name: str, strategy: str = "auto") -> Exported:
        key = (name, strategy)
        if key not in _CACHE:
            import onnx

            from modelexport.exporter import UnifiedExporter
            from modelexport.inputs import build_inputs
            from modelexport.loading import load_model

            loaded = load_model(str(SAMPLES / name))
            inputs = build_inputs(loaded.model, loaded.tokenizer)
            out = tmp_path_factory.mktemp(f"{name}-{strategy}") / f"{name}.onnx"
            report = UnifiedExporter(strategy, verify=True).export(loaded.model, inputs, out,
                                                                   notes=[loaded.note])
            _CACHE[key] = Exported(name, loaded.model, inputs, report, out, onnx.load(out))
        return _CACHE[key]

    return export


def make_blocks_net():
    """A small model of our own: a list of blocks with torch.nn leaves, and a head."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(8, 8)
            self.norm = nn.LayerNorm(8)

        def forward(self, x):
            return self.norm(torch.relu(self.lin(x)) + x)

    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(8, 2)

        def forward(self, x):
            return self.proj(x * 2)

    class BlocksNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.ModuleList([Block(), Block()])
            self.first = Head()
            self.second = Head()

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return self.first(x) + self.second(x)

    torch.manual_seed(0)
    return BlocksNet().eval()


def make_branching_net():
    """A model whose forward branches on a tensor's value: torch.export and torch.fx
    refuse it, the TorchScript tracer follows the branch taken."""
    import torch
    from torch import nn

    class Gate(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            y = self.lin(x)
            if y.sum() > 0:
                return y * 2
            return -y

    class BranchingNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gate = Gate()
            self.out = nn.Linear(4, 3)

        def forward(self, x):
            return self.out(self.gate(x))

    torch.manual_seed(0)
    return BranchingNet().eval()


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def blocks_net():
    return make_blocks_net()


@pytest.fixture
def branching_net():
    return make_branching_net()
