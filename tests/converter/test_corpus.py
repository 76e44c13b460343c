"""Round trip over onnx's own test corpus: every model must come back byte-identical.

The corpus is the node test cases (``collect_testcases``: every operator and attribute
type, If/Loop/Scan subgraphs, functions, sequence/optional types, empty optional
inputs) plus the model files shipped under ``onnx/backend/test/data``. Each model goes
through the real files: export-graphml (yEd markup on) and import-onnx.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import onnx
import pytest
from onnx_corpus import corpus_files

from modelexport.converter import graphml_to_onnx, model_to_document, onnx_to_graphml
from modelexport.converter._protojson import OPAQUE
from modelexport.converter.sidecar import SidecarWriter
from modelexport.converter.testing import diff_models


def _corpus(cases: list[tuple[str, onnx.ModelProto]]) -> list[tuple[str, object]]:
    """The ``onnx_cases`` fixture's cases, then the model files onnx ships."""
    return [*cases, *corpus_files()]


def _round_trip(tmp: Path, source: object) -> list[str]:
    onnx_to_graphml(source, tmp / "m.graphml")
    graphml_to_onnx(tmp / "m.graphml", tmp / "m.onnx")
    original = onnx.load(str(source)) if isinstance(source, Path) else source
    return diff_models(original, onnx.load(str(tmp / "m.onnx")))


@pytest.mark.slow
def test_every_model_of_the_onnx_corpus_comes_back_byte_identical(tmp_path, onnx_cases):
    corpus = _corpus(onnx_cases)
    assert len(corpus) > 1500
    different: dict[str, list[str]] = {}
    failed: dict[str, str] = {}
    for name, source in corpus:
        try:
            # a folder per model: on ext4, replacing an existing file flushes it first
            (tmp_path / name).mkdir(parents=True)
            diffs = _round_trip(tmp_path / name, source)
            shutil.rmtree(tmp_path / name)
        except Exception as e:  # report every model, not just the first failure
            failed[name] = f"{type(e).__name__}: {e}"
            continue
        if diffs:
            different[name] = diffs[:3]
    identical = len(corpus) - len(different) - len(failed)
    report = f"identical {identical}, different {len(different)}, failed {len(failed)}"
    print(report)
    assert (different, failed) == ({}, {}), report


def opaque_fields(doc) -> list[str]:
    """``kind.key`` of every data value holding a base64 record (``{"b64": ...}``)."""
    marker = f'"{OPAQUE}":'
    items = [("graph", k, v) for k, v in doc.graph.data.items()]
    for node, _ in doc.iter_nodes():
        items.extend((node.data.get("kind"), k, v) for k, v in node.data.items())
    for edge in doc.iter_edges():
        items.extend(("edge", k, v) for k, v in edge.data.items())
    return [f"{kind}.{key}" for kind, key, v in items if isinstance(v, str) and marker in v]


def test_a_field_the_tables_stop_agreeing_on_turns_up_as_base64(monkeypatch, tagged):
    """What the corpus test below guards against: encode and decode drifting apart."""
    from modelexport.converter import decode

    assert opaque_fields(model_to_document(tagged)) == []
    monkeypatch.setattr(decode, "MODEL_KEYS", {k: v for k, v in decode.MODEL_KEYS.items()
                                               if k != "producer_name"})
    assert opaque_fields(model_to_document(tagged)) == ["graph.model_extra"]


@pytest.mark.slow
def test_no_field_of_the_corpus_is_written_as_base64(onnx_cases):
    """Every element of the corpus has a readable form that decodes to the same bytes,
    so base64 anywhere means the encoder and decoder disagree about a field."""
    found: dict[str, list[str]] = {}
    for name, source in _corpus(onnx_cases):
        model = onnx.load(str(source)) if isinstance(source, Path) else source
        fields = opaque_fields(model_to_document(model, SidecarWriter(io.BytesIO())))
        if fields:
            found[name] = fields
    assert found == {}
