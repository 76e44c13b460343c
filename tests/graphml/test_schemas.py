"""schemas/: official GraphML 1.1 and the project schema, looked up in one place."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from graphml_documents import build_document
from lxml import etree

from modelexport.graphml import Document, Graph, Node, generate_graphml, schema_path
from modelexport.schemas import SCHEMAS


@cache
def _xsd(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(schema_path(name))))


def _flat(doc: Document) -> Document:
    nodes = []
    stack = list(reversed(doc.graph.nodes))
    while stack:
        node = stack.pop()
        nodes.append(node)
        if node.graph is not None:
            stack.extend(reversed(node.graph.nodes))
            node.graph = None
    doc.graph.nodes = nodes
    return doc


def test_schema_path_finds_every_schema_and_refuses_others() -> None:
    for name in SCHEMAS:
        assert schema_path(name).is_file()
    assert schema_path("graphml-structure.xsd").is_file()
    with pytest.raises(FileNotFoundError):
        schema_path("../pyproject.toml")
    with pytest.raises(FileNotFoundError):
        schema_path("nope")


def test_the_official_schema_is_the_published_one_with_attribution() -> None:
    here = schema_path("official").parent
    shared = Path(__file__).resolve().parents[3] / "shared" / "graphml-xsd"
    if shared.is_dir():
        for xsd in shared.glob("*.xsd"):
            assert (here / xsd.name).read_bytes() == xsd.read_bytes()
    notice = (here / "README.md").read_text() + (here / "LICENSE-graphml").read_text()
    assert "Creative Commons Attribution 3.0" in notice and "graphdrawing.org" in notice


@pytest.mark.parametrize("yed", [True, False])
def test_nested_output_validates_against_the_project_schema(yed: bool) -> None:
    root = etree.fromstring(generate_graphml(build_document(), yed=yed))
    assert _xsd("project").validate(root), _xsd("project").error_log


def test_nested_output_fails_the_official_schema_under_lxml() -> None:
    root = etree.fromstring(generate_graphml(build_document(), yed=False))
    assert not _xsd("official").validate(root)
    assert "More than one match" in str(_xsd("official").error_log)


def test_flat_plain_output_validates_against_the_unmodified_official_schema() -> None:
    root = etree.fromstring(generate_graphml(_flat(build_document()), yed=False))
    assert _xsd("official").validate(root), _xsd("official").error_log
    assert _xsd("project").validate(root), _xsd("project").error_log


@pytest.mark.parametrize("old, new, message", [
    ('target="op_relu"', 'target="ghost"', "keyref"),
    ('<node id="op_relu">', '<node id="op_matmul">', "Duplicate key-sequence"),
    ('<data key="kind">op</data>', '<data key="bogus">op</data>', "data_key_ref"),
    ('attr.type="string"', 'attr.type="text"', "attr.type"),
    ('for="node"', 'for="all"', "for"),
    ('<data key="kind">op</data>', '<data key="kind"><b xmlns="urn:x"/></data>', "not expected"),
])
def test_the_project_schema_rejects_broken_structure(old: str, new: str, message: str) -> None:
    text = generate_graphml(build_document()).decode()
    assert old in text
    root = etree.fromstring(text.replace(old, new, 1).encode())
    assert not _xsd("project").validate(root)
    assert message in str(_xsd("project").error_log)


def test_the_project_schema_admits_yed_markup_only_in_data() -> None:
    doc = Document(Graph("G", nodes=[Node("a")]))
    text = generate_graphml(doc).decode()
    bad = text.replace('<node id="a">', '<node id="a"><y:ShapeNode/>', 1)
    assert not _xsd("project").validate(etree.fromstring(bad.encode()))
