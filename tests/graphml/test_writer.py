"""generate_graphml / write_graphml: GraphML 1.1 in the dialect's shape, deterministic."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from graphml_documents import build_document
from lxml import etree

from modelexport.graphml import (
    Document,
    Edge,
    Graph,
    GraphMLFormatError,
    Key,
    Node,
    generate_graphml,
    parse_graphml,
    write_graphml,
)
from modelexport.graphml import format as fmt

NS = {"g": fmt.GRAPHML_NS, "y": fmt.YFILES_NS}


def _tiny(**node_data) -> Document:
    return Document(Graph("G", nodes=[Node("a", {"kind": "op", **node_data}), Node("b")],
                          edges=[Edge("e0", "a", "b")]))


def test_same_document_gives_the_same_bytes() -> None:
    assert generate_graphml(build_document()) == generate_graphml(build_document())
    assert generate_graphml(build_document(), yed=False) == \
        generate_graphml(build_document(), yed=False)


def test_output_is_graphml_1_1_with_schema_location_and_no_doctype() -> None:
    data = generate_graphml(build_document())
    root = etree.fromstring(data)
    assert root.tag == f"{{{fmt.GRAPHML_NS}}}graphml"
    assert root.get(f"{{{fmt.XSI_NS}}}schemaLocation") == fmt.SCHEMA_LOCATION
    assert b"<!DOCTYPE" not in data and b"<port" not in data and b"<default" not in data
    assert b'for="all"' not in data and b"directed=" not in data.replace(b"edgedefault=", b"")


def test_only_used_keys_are_declared_in_the_dialect_order() -> None:
    root = etree.fromstring(generate_graphml(build_document(), yed=False))
    ids = [k.get("id") for k in root.findall("g:key", NS)]
    used = {d.get("key") for d in root.iter(f"{{{fmt.GRAPHML_NS}}}data")}
    assert set(ids) == used
    order = list(fmt.KEYS)
    assert ids == sorted(ids, key=order.index)
    for k in root.findall("g:key", NS):
        spec = fmt.KEYS[k.get("id")]
        assert (k.get("for"), k.get("attr.name"), k.get("attr.type")) == \
            (spec.domain, spec.name, fmt.graphml_type(spec.type))


def test_group_nodes_nest_a_graph_and_all_edges_follow_the_nodes_of_the_root() -> None:
    root = etree.fromstring(generate_graphml(build_document()))
    top = root.find("g:graph", NS)
    tags = [etree.QName(c).localname for c in top]
    assert tags.index("edge") > max(i for i, t in enumerate(tags) if t == "node")
    assert not top.xpath("g:node//g:edge", namespaces=NS)
    group = top.xpath("g:node[@id='m_model']", namespaces=NS)[0]
    assert group.get("yfiles.foldertype") == "group"
    assert group.find("g:graph", NS) is not None


def test_values_are_formatted_by_key_type_and_read_back_equal() -> None:
    doc = Document(Graph("G", data={"ir_version": 2**40}), keys=[
        Key("flag", "node", "flag", "boolean"), Key("w", "edge", "weight", "double"),
        Key("f", "node", "ratio", "float")])
    doc.graph.nodes = [Node("a", {"flag": True, "f": 0.1, "doc_string": "a\r\nb\t<&>\"'"}),
                       Node("b", {"flag": False, "f": math.inf})]
    doc.graph.edges = [Edge("e", "a", "b", {"w": -1e-300})]
    data = generate_graphml(doc)
    assert b"<data key=\"flag\">true</data>" in data and b">INF<" in data
    back = parse_graphml(data)
    assert back.graph == doc.graph


def test_values_needing_escapes_and_values_at_the_int_limits_are_written_exactly() -> None:
    doc = _tiny(index=2**31 - 1, label="a&b<c>d\re", doc_string="plain")
    doc.graph.nodes[1].data["index"] = -(2**31)
    data = generate_graphml(doc, yed=False)
    assert b'<data key="label">a&amp;b&lt;c&gt;d&#13;e</data>' in data
    assert b'<data key="index">2147483647</data>' in data
    assert b'<data key="index">-2147483648</data>' in data
    assert parse_graphml(data).graph == doc.graph


def test_a_bad_id_is_refused_with_the_rule() -> None:
    doc = Document(Graph("G", nodes=[Node("/layer1/Conv")]))
    with pytest.raises(GraphMLFormatError, match="not an XML NMTOKEN"):
        generate_graphml(doc)


@pytest.mark.parametrize("doc, message", [
    (Document(Graph("G", nodes=[Node("a"), Node("a")])), "duplicate id"),
    (Document(Graph("G", nodes=[Node("a")], edges=[Edge("e", "a", "zz")])), "'zz' is not a node"),
    (_tiny(nope="x"), "data key 'nope' is not declared"),
    (_tiny(index="3"), "expected an int"),
    (_tiny(index=2**40), "outside the range"),
    (_tiny(index=2**31), "outside the range"),
    (_tiny(index=True), "expected an int"),
    (_tiny(label=b"x"), "expected a str"),
    (_tiny(label="half \ud800"), r"U\+D800"),
    (_tiny(e_tensor="t"), "declared for edges, not nodes"),
    (_tiny(label="bell\x07"), r"U\+0007"),
    (_tiny(doc_string="é" * 5_000_001), "more than the 10000000"),
    (Document(Graph("G"), keys=[Key("kind", "node", "kind", "int")]), "dialect fixes"),
    (Document(Graph("G"), keys=[Key("y_node", "node", "g", "string")]), "reserved"),
])
def test_what_graphml_cannot_hold_is_refused(doc: Document, message: str) -> None:
    with pytest.raises(GraphMLFormatError, match=message):
        generate_graphml(doc)


def test_write_to_a_binary_file_and_to_a_path(tmp_path: Path) -> None:
    buf = io.BytesIO()
    write_graphml(build_document(), buf)
    path = tmp_path / "m.graphml"
    write_graphml(build_document(), path)
    assert path.read_bytes() == buf.getvalue() == generate_graphml(build_document())
    assert [p.name for p in tmp_path.iterdir()] == ["m.graphml"]


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "m.graphml"
    with pytest.raises(GraphMLFormatError):
        write_graphml(Document(Graph("G", nodes=[Node("a b")])), path)
    assert list(tmp_path.iterdir()) == []


def test_writer_time_grows_linearly_enough_to_write_many_nodes() -> None:
    nodes = [Node(f"n{i}", {"kind": "op", "label": f"Relu\nr{i}", "parent": "",
                            "op_type": "Relu", "inputs": f'["t{i - 1}"]'}) for i in range(5000)]
    edges = [Edge(f"e{i}", f"n{i - 1}", f"n{i}", {"e_tensor": f"t{i - 1}"}) for i in range(1, 5000)]
    doc = Document(Graph("G", nodes=nodes, edges=edges))
    back = parse_graphml(generate_graphml(doc))
    assert len(back.graph.nodes) == 5000 and len(back.graph.edges) == 4999
