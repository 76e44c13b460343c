"""parse_graphml / read_graphml: round trips, other tools' files, and refused input."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from graphml_documents import build_document

from modelexport.graphml import (
    GraphMLFormatError,
    GraphMLParseError,
    generate_graphml,
    parse_graphml,
    read_graphml,
    write_graphml,
)
from modelexport.graphml import format as fmt
from modelexport.graphml.reader import MAX_NESTING

HEAD = f'<?xml version="1.0"?>\n<graphml xmlns="{fmt.GRAPHML_NS}">\n'


def _doc(body: str, keys: str = "") -> bytes:
    return (HEAD + keys + '<graph id="G" edgedefault="directed">\n' + body +
            "\n</graph>\n</graphml>\n").encode()


@pytest.mark.parametrize("yed", [True, False])
def test_write_then_read_gives_the_same_document(yed: bool) -> None:
    doc = build_document()
    buf = io.BytesIO()
    write_graphml(doc, buf, yed=yed)
    back = parse_graphml(buf.getvalue())
    assert back.graph == doc.graph
    assert generate_graphml(back, yed=yed) == buf.getvalue()


def test_read_graphml_reads_a_path(tmp_path: Path) -> None:
    path = tmp_path / "m.graphml"
    write_graphml(build_document(), path)
    assert read_graphml(path).graph == build_document().graph


def test_keys_of_other_tools_are_matched_by_name_and_defaults_applied() -> None:
    keys = ('<key id="d0" for="node" attr.name="hierarchy_tag" attr.type="string"/>\n'
            '<key id="d1" for="edge" attr.name="weight" attr.type="double">'
            '<default>1.5</default></key>\n'
            '<key id="d2" for="node" yfiles.type="nodegraphics"/>\n')
    body = ('<node id="a"><data key="d0">/M</data><data key="d2"><y:ShapeNode '
            'xmlns:y="http://www.yworks.com/xml/graphml"/></data></node>\n<node id="b"/>\n'
            '<edge source="a" target="b"/>')
    doc = parse_graphml(_doc(body, keys))
    a, b = doc.graph.nodes
    assert a.data == {"hierarchy_tag": "/M"} and b.data == {}
    edge = doc.graph.edges[0]
    assert edge.id == "e0" and edge.data == {"d1": 1.5}
    assert [(k.id, k.name) for k in doc.keys] == [
        ("hierarchy_tag", "hierarchy_tag"),
        ("d1", "weight"),
    ]


@pytest.mark.parametrize("data, message", [
    (b"", "not well-formed"),
    (_doc('<node id="a">')[:60], "not well-formed"),
    (b'<?xml version="1.0"?><html/>', "not GraphML"),
    (b'<graphml><graph edgedefault="directed"/></graphml>', "without a namespace"),
    (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><graphml/>', "DOCTYPE"),
    (b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY l2 "&lol;&lol;">]><x>&l2;</x>', "DOCTYPE"),
    ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><x/>'.encode("utf-16"), "DOCTYPE"),
])
def test_unsafe_or_non_graphml_input_is_a_parse_error(data: bytes, message: str) -> None:
    with pytest.raises(GraphMLParseError, match=message):
        parse_graphml(data)


@pytest.mark.parametrize(
    "body, keys, message",
    [
        (
            '<node id="a"><data key="k">x</data></node>',
            "",
            r"node 'a' \(line 4\): data key 'k' is not declared",
        ),
        ('<node id="a"/><node id="a"/>', "", "duplicate node id 'a'"),
        (
            '<node id="a"/><edge id="e" source="a" target="b"/>',
            "",
            r"edge 'e' \(line 4\): target 'b'",
        ),
        (
            '<node id="a"><data key="i">x1</data></node>',
            '<key id="i" for="node" attr.name="i" attr.type="int"/>',
            "declared int but 'x1' is not an int",
        ),
        (
            '<node id="a"><data key="i">1</data></node>',
            '<key id="i" for="edge" attr.name="i" attr.type="int"/>',
            "declared for edge, not for node",
        ),
        (
            '<node id="a"><data key="i">1</data></node>',
            '<key id="i" for="node" attr.name="i" attr.type="text"/>',
            "not a GraphML type",
        ),
        ('<node id="a"><port name="p"/></node>', "", "<port> is not supported"),
        ('<node id="a b"/>', "", "not an XML NMTOKEN"),
        (
            '<node id="a"><data key="i">1</data><data key="i">2</data></node>',
            '<key id="i" for="node" attr.name="i" attr.type="int"/>',
            "appears twice",
        ),
    ],
)
def test_broken_graphml_is_a_format_error_naming_element_and_line(body, keys, message) -> None:
    with pytest.raises(GraphMLFormatError, match=message):
        parse_graphml(_doc(body, keys + "\n" if keys else ""))


@pytest.mark.parametrize("text, value", [
    ("7", 7), ("007", 7), (" 7 ", 7), ("-3", -3), ("+3", 3), ("2147483647", 2**31 - 1),
    ("-2147483648", -(2**31)), ("\u0663", 3),  # an Arabic-Indic 3: Python's int() reads it
])
def test_int_values_read_as_format_parse_value_reads_them(text: str, value: int) -> None:
    keys = '<key id="i" for="node" attr.name="i" attr.type="int"/>\n'
    doc = parse_graphml(_doc(f'<node id="a"><data key="i">{text}</data></node>', keys))
    assert doc.graph.nodes[0].data == {"i": value} == {"i": fmt.parse_value("int", text)}


@pytest.mark.parametrize("body, message", [
    ('<node id="a"><data key="i">2147483648</data></node>', "is not an int"),
    ('<node id="a"><data key="i">1_0</data></node>', "is not an int"),
    ('<node id="a"><data key="i">1</data><data key="k">x</data></node>', "'k' is not declared"),
    # errors come in document order, whichever path reads the element
    ('<node id="a"><zz/><data key="i">x</data></node>', "unexpected element <zz>"),
    ('<node id="a"><data key="i">x</data><zz/></node>', "'x' is not an int"),
])
def test_unusual_data_is_refused_in_document_order(body: str, message: str) -> None:
    keys = '<key id="i" for="node" attr.name="i" attr.type="int"/>\n'
    with pytest.raises(GraphMLFormatError, match=message):
        parse_graphml(_doc(body, keys))


def test_nesting_and_size_are_bounded() -> None:
    deep = "".join(f'<node id="n{i}"><graph edgedefault="directed">'
                   for i in range(MAX_NESTING + 5))
    deep += "</graph></node>" * (MAX_NESTING + 5)
    with pytest.raises(GraphMLParseError, match="deep"):
        parse_graphml(_doc(deep))
    with pytest.raises(GraphMLParseError, match="limit"):
        parse_graphml(_doc('<node id="a"/>'), max_bytes=10)
    huge = _doc(f'<node id="a"><data key="k">{"a" * 10_000_001}</data></node>',
                '<key id="k" for="node" attr.name="k" attr.type="string"/>')
    with pytest.raises(GraphMLParseError, match="too large"):
        parse_graphml(huge)


def test_a_string_is_refused_with_a_hint() -> None:
    with pytest.raises(TypeError, match="bytes"):
        parse_graphml("<graphml/>")  # type: ignore[arg-type]


def test_a_file_saved_by_yed_reads_without_its_graphics() -> None:
    data = b"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns"
    xmlns:java="http://www.yworks.com/xml/yfiles-common/1.0/java"
    xmlns:y="http://www.yworks.com/xml/graphml" xmlns:yed="http://www.yworks.com/xml/yed/3"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <!--Created by yEd-->
  <key for="graphml" id="d0" yfiles.type="resources"/>
  <key attr.name="hierarchy_tag" attr.type="string" for="node" id="d4"/>
  <key attr.name="description" attr.type="string" for="node" id="d5"/>
  <key for="node" id="d6" yfiles.type="nodegraphics"/>
  <key for="edge" id="d10" yfiles.type="edgegraphics"/>
  <graph edgedefault="directed" id="G">
    <node id="n0" yfiles.foldertype="group">
      <data key="d4"><![CDATA[/M]]></data>
      <data key="d5" xml:space="preserve"/>
      <data key="d6"><y:ProxyAutoBoundsNode><y:Realizers active="0"><y:GroupNode/>
        </y:Realizers></y:ProxyAutoBoundsNode></data>
      <graph edgedefault="directed" id="n0:">
        <node id="n0::n0"><data key="d6"><y:ShapeNode><y:NodeLabel>a</y:NodeLabel>
          </y:ShapeNode></data></node>
      </graph>
    </node>
    <node id="n1"/>
    <edge id="e0" source="n0::n0" target="n1"><data key="d10"><y:PolyLineEdge/></data></edge>
  </graph>
  <data key="d0"><y:Resources/></data>
</graphml>
"""
    doc = parse_graphml(data)
    group = doc.graph.nodes[0]
    assert group.data == {"hierarchy_tag": "/M", "d5": ""}
    assert group.graph.nodes[0].id == "n0::n0" and group.graph.nodes[0].data == {}
    assert [(e.source, e.target, e.data) for e in doc.graph.edges] == [("n0::n0", "n1", {})]


@pytest.mark.parametrize("declared", ["string", "long"])
def test_64_bit_keys_read_as_exact_ints_whether_declared_string_or_long(declared: str) -> None:
    # string is what the writer declares (yEd refuses long); long is what older files say
    big = 2**63 - 1
    keys = f'<key id="offset" for="node" attr.name="offset" attr.type="{declared}"/>\n'
    doc = parse_graphml(_doc(f'<node id="n"><data key="offset">{big}</data></node>', keys))
    value = doc.graph.nodes[0].data["offset"]
    assert value == big and type(value) is int
    written = generate_graphml(doc, yed=False).decode()
    assert 'attr.name="offset" attr.type="string"' in written and "long" not in written
    assert parse_graphml(written.encode()).graph.nodes[0].data["offset"] == big


def test_a_64_bit_key_holding_other_text_is_refused_by_name() -> None:
    keys = '<key id="offset" for="node" attr.name="offset" attr.type="string"/>\n'
    with pytest.raises(GraphMLFormatError, match="'offset' holds a 64-bit integer as decimal"):
        parse_graphml(_doc('<node id="n"><data key="offset">12 bytes</data></node>', keys))
