"""validate_graphml and `modelexport validate-graphml`: valid files pass, and every
corruption of a valid file is reported by name — never passed, never a traceback."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from graphml_documents import write_valid
from lxml import etree
from typer.testing import CliRunner

from modelexport.cli import app
from modelexport.graphml import GraphMLValidationError, validate_graphml
from modelexport.graphml import format as fmt

G = f"{{{fmt.GRAPHML_NS}}}"


# -- helpers that corrupt a valid file -----------------------------------------------------

def _replace(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, f"mutation target {old!r} not found"
    path.write_text(text.replace(old, new, count))


def _sub(path: Path, pattern: str, new: str) -> None:
    text = path.read_text()
    out, n = re.subn(pattern, new, text, count=1, flags=re.S)
    assert n == 1, f"mutation pattern {pattern!r} not found"
    path.write_text(out)


def _tree_edit(path: Path, edit: Callable[[etree._Element], None]) -> None:
    root = etree.fromstring(path.read_bytes())
    edit(root)
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _node(root: etree._Element, nid: str) -> etree._Element:
    return root.xpath(f"//g:node[@id='{nid}']", namespaces={"g": fmt.GRAPHML_NS})[0]


def _data(nid: str, key: str, old: str, new: str):
    """Change the text of <data key=key> of node nid from old to new."""
    def mutate(p: Path, side: Path) -> None:
        def edit(root):
            d = _node(root, nid).find(f"{G}data[@key='{key}']")
            assert d is not None and d.text == old, (nid, key, d is not None and d.text)
            d.text = new
        _tree_edit(p, edit)
    return mutate


def _graph_data(key: str, new: str):
    def mutate(p: Path, side: Path) -> None:
        _sub(p, rf'<data key="{key}">[^<]*</data>', f'<data key="{key}">{new}</data>')
    return mutate


def _move_op_to_top(p: Path, side: Path) -> None:
    def edit(root):
        op = _node(root, "op_relu")
        op.getparent().remove(op)
        top = root.find(f"{G}graph")
        top.insert(top.index(top.find(f"{G}node")), op)
    _tree_edit(p, edit)


def _move_op_and_parent_to_top(p: Path, side: Path) -> None:
    _move_op_to_top(p, side)
    _data("op_relu", "parent", "m_layer0", "")(p, side)


def _add_cycle(p: Path, side: Path) -> None:
    _replace(p, '<edge id="e0"', '<edge id="e99" source="op_add" target="op_matmul"/>\n'
             '    <edge id="e0"')


def _add_empty_module(p: Path, side: Path) -> None:
    _replace(p, '<node id="out_o">',
             '<node id="m_empty" yfiles.foldertype="group"><data key="kind">module</data>'
             '<data key="parent"></data><graph id="m_empty:" edgedefault="directed"/></node>\n'
             '    <node id="out_o">')


def _edge_into_nested_graph(p: Path, side: Path) -> None:
    def edit(root):
        edge = root.xpath("//g:edge[@id='e2']", namespaces={"g": fmt.GRAPHML_NS})[0]
        edge.getparent().remove(edge)
        _node(root, "m_layer0").find(f"{G}graph").append(edge)
    _tree_edit(p, edit)


def _node_after_edges(p: Path, side: Path) -> None:
    def edit(root):
        out = _node(root, "out_o")
        top = out.getparent()
        top.remove(out)
        top.append(out)
    _tree_edit(p, edit)


def _drop_data(nid: str, key: str):
    def mutate(p: Path, side: Path) -> None:
        def edit(root):
            d = _node(root, nid).find(f"{G}data[@key='{key}']")
            d.getparent().remove(d)
        _tree_edit(p, edit)
    return mutate


def _truncate_xml(p: Path, side: Path) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _flip_sidecar_byte(p: Path, side: Path) -> None:
    data = bytearray(side.read_bytes())
    data[70] ^= 0xFF
    side.write_bytes(bytes(data))


def _edge_wrong_tensor(p: Path, side: Path) -> None:
    def edit(root):
        edge = root.xpath("//g:edge[@id='e3']", namespaces={"g": fmt.GRAPHML_NS})[0]
        edge.find(f"{G}data[@key='e_tensor']").text = "h"
    _tree_edit(p, edit)


def _attr_ref_length(p: Path, side: Path) -> None:
    _replace(p, "&quot;length&quot;: 8", "&quot;length&quot;: 16") if "&quot;" in p.read_text() \
        else _replace(p, '"length": 8', '"length": 16')


# name -> (mutation, fragment that must appear in a finding)
MUTATIONS: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "remove a key declaration": (
        lambda p, s: _sub(p, r'\s*<key id="op_type"[^>]*/>', ""), "'op_type' is not declared"),
    "undeclared data key on a node": (
        lambda p, s: _replace(p, '<data key="kind">op</data>',
                              '<data key="kind">op</data><data key="bogus">1</data>'),
        "'bogus' is not declared"),
    "duplicate data on a node": (
        lambda p, s: _replace(p, '<data key="kind">op</data>',
                              '<data key="kind">op</data><data key="kind">input</data>'),
        "appears twice"),
    "duplicate a node id": (
        lambda p, s: _replace(p, '<node id="op_relu">', '<node id="op_matmul">'), "duplicate"),
    "edge to a missing node": (
        lambda p, s: _replace(p, 'target="op_relu"', 'target="ghost"'), "'ghost'"),
    "move an op out of its group": (_move_op_to_top, "nesting and parent must agree"),
    "move an op out of its group, parent updated": (
        _move_op_and_parent_to_top, "belongs in the group of its tag"),
    "tag outside the enclosing module": (
        _data("op_relu", "hierarchy_tag", "/Model/Layer.0", "/Other"), "not within the tag"),
    "change a dtype": (_data("init_w", "dtype", "FLOAT", "DOUBLE"), "does not match DOUBLE"),
    "unknown dtype": (_data("init_w", "dtype", "FLOAT", "FLOAT99"), "not an ONNX element type"),
    "wrong length": (_data("init_w", "length", "64", "60"), "length 60 does not match"),
    "offset out of range": (_data("init_b", "offset", "64", "192"), "outside the 200-byte"),
    "misaligned offset": (_data("init_b", "offset", "64", "65"), "not aligned"),
    "attribute tensor of the wrong length": (_attr_ref_length, "length 16 does not match INT64"),
    "cut the sidecar": (
        lambda p, s: s.write_bytes(s.read_bytes()[:100]), "is 100 bytes, the GraphML records 200"),
    "flip a byte in the sidecar": (_flip_sidecar_byte, "SHA-256"),
    "tampered recorded hash": (_graph_data("sidecar_sha256", "0" * 64), "SHA-256"),
    "sidecar missing": (lambda p, s: s.unlink(), "is missing"),
    "absolute sidecar path": (_graph_data("sidecar", "/etc/passwd"), "absolute path"),
    "sidecar path with ..": (_graph_data("sidecar", "../model.onnxdata"), "'..'"),
    "sidecar in a subdirectory": (_graph_data("sidecar", "sub/model.onnxdata"), "subdirectory"),
    "wrong key type value": (_graph_data("sidecar_size", "two hundred"), "is not an int64"),
    "key declared with another type": (
        lambda p, s: _replace(p, 'attr.name="op_type" attr.type="string"',
                              'attr.name="op_type" attr.type="int"'), "is not an int"),
    "DOCTYPE with an entity (billion laughs)": (
        lambda p, s: _replace(p, "<graphml ", '<!DOCTYPE graphml [<!ENTITY a "aaaa">'
                              '<!ENTITY b "&a;&a;&a;&a;">]>\n<graphml '), "DOCTYPE"),
    "external entity (XXE)": (
        lambda p, s: _replace(p, "<graphml ", '<!DOCTYPE graphml [<!ENTITY x SYSTEM '
                              '"file:///etc/passwd">]>\n<graphml '), "DOCTYPE"),
    "truncated XML": (_truncate_xml, "not well-formed"),
    "non-GraphML root": (
        lambda p, s: p.write_text('<?xml version="1.0"?>\n<html><body/></html>\n'),
        "not GraphML"),
    "GraphML without its namespace": (
        lambda p, s: _replace(p, f'xmlns="{fmt.GRAPHML_NS}"', 'xmlns="urn:other"'), "not GraphML"),
    "cycle of edges": (_add_cycle, "cycle"),
    "input produced nowhere": (
        _data("op_relu", "inputs", '["h"]', '["nope"]'), "'nope' is produced by no"),
    "inputs not JSON": (_data("op_relu", "inputs", '["h"]', "h"), "JSON list"),
    "empty module group": (_add_empty_module, "module group is empty"),
    "node without kind": (_drop_data("op_add", "kind"), "'kind'"),
    "node without parent": (_drop_data("op_add", "parent"), "'parent'"),
    "edge in a nested graph": (_edge_into_nested_graph, "root graph"),
    "node after the edges": (_node_after_edges, "after all nodes"),
    "edge carrying another tensor": (_edge_wrong_tensor, "does not produce tensor 'h'"),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_every_corruption_is_reported_by_name(tmp_path: Path, name: str) -> None:
    path = write_valid(tmp_path)
    mutate, fragment = MUTATIONS[name]
    mutate(path, tmp_path / "model.onnxdata")
    report = validate_graphml(path)
    assert not report.ok, f"{name}: passed validation"
    messages = [str(f) for f in report.findings]
    assert any(fragment in m for m in messages), f"{name}: {messages}"
    with pytest.raises(GraphMLValidationError) as err:
        report.raise_if_invalid()
    assert err.value.findings == report.findings


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_every_corruption_fails_the_command_with_one_line(tmp_path: Path, name: str) -> None:
    path = write_valid(tmp_path)
    MUTATIONS[name][0](path, tmp_path / "model.onnxdata")
    result = CliRunner().invoke(app, ["validate-graphml", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")


def test_there_are_at_least_twenty_distinct_corruptions() -> None:
    assert len(MUTATIONS) >= 20


def test_the_hand_built_file_is_valid_with_and_without_yed(tmp_path: Path) -> None:
    for yed in (True, False):
        path = write_valid(tmp_path, yed=yed, stem=f"m{yed}")
        report = validate_graphml(path)
        assert report.ok, [str(f) for f in report.findings]
        assert (report.nodes, report.edges) == (14, 8)
        report.raise_if_invalid()


def test_the_command_says_valid_and_exits_zero(valid_graphml: Path) -> None:
    result = CliRunner().invoke(app, ["validate-graphml", str(valid_graphml)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("valid: ")


def test_json_output_lists_findings_with_element_and_line(tmp_path: Path) -> None:
    path = write_valid(tmp_path)
    _data("op_relu", "inputs", '["h"]', '["nope"]')(path, tmp_path)
    result = CliRunner().invoke(app, ["validate-graphml", str(path), "--json"])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    finding = next(f for f in payload["findings"] if f["check"] == "inputs")
    assert finding["element"] == "node 'op_relu'" and finding["line"] > 0


def test_schema_findings_name_the_element_and_line(tmp_path: Path) -> None:
    path = write_valid(tmp_path)
    _replace(path, 'target="op_relu"', 'target="ghost"')
    report = validate_graphml(path)
    xsd = [f for f in report.findings if f.check == "xsd"]
    assert xsd and xsd[0].element == "edge 'e2'" and xsd[0].line


def test_check_sidecar_false_skips_the_file_but_not_the_name(tmp_path: Path) -> None:
    path = write_valid(tmp_path)
    (tmp_path / "model.onnxdata").unlink()
    assert validate_graphml(path, check_sidecar=False).ok
    _graph_data("sidecar", "../x.onnxdata")(path, tmp_path)
    assert not validate_graphml(path, check_sidecar=False).ok


def test_a_sidecar_linked_from_elsewhere_is_refused(tmp_path: Path) -> None:
    path = write_valid(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    side = tmp_path / "model.onnxdata"
    side.rename(elsewhere / side.name)
    side.symlink_to(elsewhere / side.name)
    report = validate_graphml(path)
    assert any("outside the GraphML's directory" in str(f) for f in report.findings)


def test_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate-graphml", str(tmp_path / "nope.graphml")])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_the_official_schema_rejects_nested_output_and_accepts_flat(tmp_path: Path) -> None:
    nested = write_valid(tmp_path, yed=False)
    report = validate_graphml(nested, schema="official")
    assert any(f.check == "xsd" for f in report.findings)


def test_random_damage_never_raises(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    path = write_valid(tmp_path)
    original = path.read_bytes()
    tokens = [b'"', b"<", b">", b"/", b"&", b"x", b"-1", b"[", b"{", b"..", b"", b"99999999999"]
    for _ in range(60):
        data = bytearray(original)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(data))
            data[pos:pos + rng.randint(0, 5)] = rng.choice(tokens)
        path.write_bytes(bytes(data))
        validate_graphml(path)  # a report, whatever the damage


def test_deeply_nested_json_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    path = write_valid(tmp_path)
    deep = "[" * 100_000 + "]" * 100_000
    _data("op_relu", "inputs", '["h"]', deep)(path, tmp_path)
    report = validate_graphml(path)
    assert any("JSON list" in str(f) for f in report.findings)


# -- the streaming pass ------------------------------------------------------------------


def test_a_repeated_graph_id_is_a_schema_finding(tmp_path: Path) -> None:
    path = write_valid(tmp_path)
    _replace(path, '<graph id="op_if:"', '<graph id="m_layer0:"')
    xsd = [f for f in validate_graphml(path).findings if f.check == "xsd"]
    assert xsd and "graph_id_unique" in xsd[0].message and xsd[0].line


@pytest.mark.parametrize("name, edit, fragment", [
    ("repeated graph id", lambda p: _replace(p, '<graph id="op_if:"', '<graph id="m_layer0:"'),
     "Duplicate key-sequence ['m_layer0:'] in unique identity-constraint 'graph_id_unique'"),
    ("bad edgedefault", lambda p: _replace(p, 'edgedefault="directed"', 'edgedefault="sideways"'),
     "'sideways' is not an element of the set"),
])
def test_files_too_big_to_parse_whole_get_the_streamed_schema_errors(
        tmp_path: Path, monkeypatch, name: str, edit, fragment: str) -> None:
    from modelexport.graphml import validator

    monkeypatch.setattr(validator, "XSD_TREE_LIMIT", 0)
    path = write_valid(tmp_path)
    assert validate_graphml(path).ok
    edit(path)
    report = validate_graphml(path)
    assert any(f.check == "xsd" and fragment in f.message for f in report.findings), \
        [str(f) for f in report.findings]


def test_a_file_after_a_truncated_one_is_judged_on_its_own(tmp_path: Path, monkeypatch) -> None:
    from modelexport.graphml import validator

    truncated = write_valid(tmp_path, stem="cut")
    truncated.write_bytes(truncated.read_bytes()[:-200])
    ghost = write_valid(tmp_path, stem="ghost")
    _replace(ghost, 'target="op_relu"', 'target="ghost"')
    sideways = write_valid(tmp_path, stem="sideways")
    _replace(sideways, 'edgedefault="directed"', 'edgedefault="sideways"')
    for _ in range(2):
        assert "not well-formed" in str(validate_graphml(truncated).findings[0])
        assert [f.check for f in validate_graphml(ghost).findings] == ["xsd", "model"]
        assert validate_graphml(write_valid(tmp_path, stem="fine")).ok
    monkeypatch.setattr(validator, "XSD_TREE_LIMIT", 0)  # the streamed schema errors, as they are
    validate_graphml(truncated)
    xsd = [f for f in validate_graphml(sideways).findings if f.check == "xsd"]
    assert len(xsd) == 1 and "'sideways'" in xsd[0].message, [str(f) for f in xsd]
