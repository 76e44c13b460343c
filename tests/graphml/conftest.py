"""Fixtures of the graphml tests; the documents they build are in graphml_documents.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphml_documents import write_valid


@pytest.fixture
def valid_graphml(tmp_path: Path) -> Path:
    return write_valid(tmp_path)


@pytest.fixture(scope="session")
def drawn(exported_sample, tmp_path_factory):
    """``drawn(sample)``: the sample's session export (``exported_sample``) converted to
    the default GraphML, and render's SVG picture of that ONNX (what ``modelexport
    render`` draws), once per session: ``(graphml path, graphml.picture.Picture)``."""
    from modelexport.converter import onnx_document, onnx_to_graphml
    from modelexport.graphml import add_refs
    from modelexport.graphml.picture import draw

    done: dict[str, tuple[Path, object]] = {}

    def make(sample: str):
        if sample not in done:
            onnx = exported_sample(sample)
            graphml = tmp_path_factory.mktemp(f"drawn-{sample}") / f"{sample}.graphml"
            onnx_to_graphml(onnx, graphml)
            doc = onnx_document(onnx)
            add_refs(doc)  # as render draws an ONNX
            done[sample] = graphml, draw(doc, "svg")
        return done[sample]

    return make
