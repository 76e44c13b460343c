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


def _make_parameters_distinct(model: Any) -> None:
    """Add small seeded noise to every parameter, so that no two are equal (fresh inits
    have all-zero biases and all-one norms) and initializers can be matched to
    parameters by value, whatever names an exporter gives them."""
    import torch

    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.01)


def parameter_consumers(onnx_model: Any, torch_model: Any) -> dict[str, list[Any]]:
    """For each parameter of ``torch_model``: the ONNX nodes that read it, found by
    initializer name, else by value (equal, or transposed for 2-D weights)."""
    import numpy as np
    from onnx import numpy_helper

    initializers = {i.name: numpy_helper.to_array(i) for i in onnx_model.graph.initializer}
    readers: dict[str, list[Any]] = {}
    for node in onnx_model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    found = {}
    for pname, param in torch_model.named_parameters():
        value = param.detach().numpy()
        names = [pname] if pname in initializers else [
            name for name, array in initializers.items()
            if (array.shape == value.shape and np.array_equal(array, value))
            or (value.ndim == 2 and array.shape == value.T.shape
                and np.array_equal(array, value.T))]
        found[pname] = [node for name in names for node in readers.get(name, [])]
    return found


@pytest.fixture(scope="session")
def export_sample(once_per_run):
    """``export_sample(name, strategy)``: a sample exported once per test run, verified.
    The first xdist worker to ask exports it and keeps the report beside the file; the
    others (test_exporter.py and test_fold_exports.py may run on different workers)
    rebuild the same seeded model and inputs, and read the file and report back."""

    def export(name: str, strategy: str = "auto") -> Exported:
        key = (name, strategy)
        if key not in _CACHE:
            import pickle

            import onnx

            from modelexport.exporter import UnifiedExporter
            from modelexport.inputs import build_inputs
            from modelexport.loading import load_pretrained

            loaded = load_pretrained(str(SAMPLES / name))
            _make_parameters_distinct(loaded.model)
            inputs = build_inputs(loaded.model, loaded.tokenizer)

            def make(folder: Path) -> None:
                report = UnifiedExporter(strategy, verify=True).export(
                    loaded.model, inputs, folder / f"{name}.onnx", notes=[loaded.note])
                (folder / "report.pickle").write_bytes(pickle.dumps(report))

            folder = once_per_run(f"export-sample-{name}-{strategy}", make)
            report = pickle.loads((folder / "report.pickle").read_bytes())
            out = folder / f"{name}.onnx"
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


@pytest.fixture(scope="session")
def consumers_of():
    """``consumers_of(onnx_model, torch_model)``: see :func:`parameter_consumers`."""
    return parameter_consumers
