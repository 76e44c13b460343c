"""onnx's own test corpus, which the converter's and the archive's tests run whole: the
node test cases (every operator and attribute type, If/Loop/Scan subgraphs, functions,
sequence/optional types, empty optional inputs) and model test cases that hold a model,
plus the model files shipped under ``onnx/backend/test/data``.

Collecting the cases runs onnx's reference implementation for each case's expected
outputs, about 7 CPU-seconds a process; tests take them from the ``onnx_cases`` fixture
(tests/conftest.py), which collects them once for the whole test run.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx

DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"


def collect_cases() -> list[tuple[str, onnx.ModelProto]]:
    """(name, model) of every node and model test case that has a model, in onnx's order."""
    from onnx.backend.test.case.model import collect_testcases as model_cases
    from onnx.backend.test.case.node import collect_testcases as node_cases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [(c.name, c.model) for c in node_cases() + model_cases() if c.model is not None]


def corpus_files() -> list[tuple[str, Path]]:
    """(path under the data folder, path) of every model file onnx ships, sorted."""
    return [(str(p.relative_to(DATA)), p) for p in sorted(DATA.rglob("*.onnx"))]
