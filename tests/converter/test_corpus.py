"""Round trip over onnx's own test corpus: every model must come back byte-identical.

The corpus is the node test cases (``collect_testcases``: every operator and attribute
type, If/Loop/Scan subgraphs, functions, sequence/optional types, empty optional
inputs) plus the model files shipped under ``onnx/backend/test/data``. Each model goes
through the real files: export-graphml (yEd markup on) and import-onnx.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import pytest

from modelexport.converter import graphml_to_onnx, onnx_to_graphml
from modelexport.converter.testing import diff_models

DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"


def _corpus() -> list[tuple[str, object]]:
    from onnx.backend.test.case.model import collect_testcases as model_cases
    from onnx.backend.test.case.node import collect_testcases as node_cases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = [(c.name, c.model) for c in node_cases() + model_cases() if c.model is not None]
    files = sorted(DATA.rglob("*.onnx"))
    return cases + [(str(p.relative_to(DATA)), p) for p in files]


def _round_trip(tmp: Path, source: object) -> list[str]:
    onnx_to_graphml(source, tmp / "m.graphml")
    graphml_to_onnx(tmp / "m.graphml", tmp / "m.onnx")
    original = onnx.load(str(source)) if isinstance(source, Path) else source
    return diff_models(original, onnx.load(str(tmp / "m.onnx")))


@pytest.mark.slow
def test_every_model_of_the_onnx_corpus_comes_back_byte_identical(tmp_path):
    corpus = _corpus()
    assert len(corpus) > 1500
    different: dict[str, list[str]] = {}
    failed: dict[str, str] = {}
    for name, source in corpus:
        try:
            diffs = _round_trip(tmp_path, source)
        except Exception as e:  # report every model, not just the first failure
            failed[name] = f"{type(e).__name__}: {e}"
            continue
        if diffs:
            different[name] = diffs[:3]
    identical = len(corpus) - len(different) - len(failed)
    report = f"identical {identical}, different {len(different)}, failed {len(failed)}"
    print(report)
    assert (different, failed) == ({}, {}), report
