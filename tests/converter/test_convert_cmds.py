"""export-graphml and import-onnx end to end: files, exact round trips, refused input."""

from __future__ import annotations

import json
import re

import networkx as nx
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from typer.testing import CliRunner

from modelexport.cli import app
from modelexport.converter import graphml_to_onnx, onnx_to_graphml
from modelexport.converter.testing import assert_models_equal

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def exported(tmp_path, tagged_file):
    out = tmp_path / "out"
    out.mkdir()
    result = invoke("export-graphml", tagged_file, out / "net.graphml")
    assert result.exit_code == 0, result.output
    return out / "net.graphml"


def _refused(result, message, folder, before):
    assert result.exit_code == 1, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert sorted(p.name for p in folder.iterdir()) == before


# -- happy paths --------------------------------------------------------------------


def test_export_graphml_writes_the_graphml_and_its_sidecar(exported):
    assert exported.exists() and exported.with_suffix(".onnxdata").exists()
    root = exported.read_text()
    assert "<y:ProxyAutoBoundsNode>" in root or "y:ProxyAutoBoundsNode" in root
    assert 'yfiles.foldertype="group"' in root


def test_import_onnx_rebuilds_the_exact_model(exported, tagged):
    out = exported.parent / "net2.onnx"
    result = invoke("import-onnx", exported, out)
    assert result.exit_code == 0, result.output
    assert_models_equal(onnx.load(str(out)), tagged)


def test_the_round_trip_twice_gives_identical_files(tmp_path, tagged_file):
    runs = []
    for k in range(2):
        d = tmp_path / f"run{k}"
        d.mkdir()
        onnx_to_graphml(tagged_file, d / "m.graphml")
        graphml_to_onnx(d / "m.graphml", d / "m.onnx")
        runs.append([(d / n).read_bytes() for n in ("m.graphml", "m.onnxdata", "m.onnx")])
    assert runs[0][1:] == runs[1][1:]
    # The GraphML records where the source was, relative to it: same in both runs.
    assert runs[0][0] == runs[1][0]


def test_onnxruntime_gives_exactly_the_same_outputs_for_the_rebuilt_model(exported, tagged_file):
    out = exported.parent / "net2.onnx"
    graphml_to_onnx(exported, out)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    a = ort.InferenceSession(str(tagged_file), providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )
    b = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


def test_a_model_proto_can_be_converted_without_a_file(tmp_path, with_subgraphs):
    onnx_to_graphml(with_subgraphs, tmp_path / "m.graphml")
    graphml_to_onnx(tmp_path / "m.graphml", tmp_path / "m.onnx")
    assert_models_equal(onnx.load(str(tmp_path / "m.onnx")), with_subgraphs)


def test_networkx_reads_every_op_with_its_hierarchy_tag_and_label(exported, tagged):
    g = nx.read_graphml(exported)
    ops = [d for _, d in g.nodes(data=True) if d.get("kind") == "op"]
    assert len(ops) == len(tagged.graph.node)
    assert all(d["hierarchy_tag"].startswith("/Net") and d["label"] for d in ops)


def test_flat_no_yed_output_has_no_nesting_and_no_yfiles_markup(tmp_path, tagged_file):
    result = invoke("export-graphml", tagged_file, tmp_path / "flat.graphml", "--flat", "--no-yed")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "flat.graphml").read_text()
    assert text.count("<graph ") == 1 and "yworks" not in text.split("<graph ", 1)[1]
    graphml_to_onnx(tmp_path / "flat.graphml", tmp_path / "flat.onnx")


def test_export_graphml_json_reports_what_was_written(tmp_path, tagged_file):
    result = invoke("export-graphml", tagged_file, tmp_path / "m.graphml", "--json")
    data = json.loads(result.output)
    assert data["modules"] == 5 and data["graphml"].endswith("m.graphml")


def test_validate_checks_the_model_and_compares_with_the_recorded_original(tmp_path, tagged_file):
    onnx_to_graphml(tagged_file, tmp_path / "net.graphml")
    result = invoke("import-onnx", tmp_path / "net.graphml", tmp_path / "back.onnx", "--validate")
    assert result.exit_code == 0, result.output
    assert "onnx.checker (full): ok" in result.output
    assert "identical to" in result.output and "largest output difference 0" in result.output


def test_validate_names_what_differs_from_a_different_reference(tmp_path, tagged_file, tagged):
    onnx_to_graphml(tagged_file, tmp_path / "net.graphml")
    tagged.graph.node[0].name = "renamed"
    onnx.save_model(tagged, str(tmp_path / "other.onnx"))
    result = invoke("import-onnx", tmp_path / "net.graphml", tmp_path / "back.onnx", "--validate",
                    "--reference", tmp_path / "other.onnx")
    assert "graph.node[0].name: '/block.0/proj/MatMul' != 'renamed'" in result.output
    assert result.exit_code == 1  # the rebuild is not the model it was compared with



def test_validate_refuses_a_graphml_that_breaks_the_dialect_before_rebuilding(
    tmp_path, tagged_file
):
    onnx_to_graphml(tagged_file, tmp_path / "net.graphml")
    text = (tmp_path / "net.graphml").read_text()
    # An op whose hierarchy_tag no longer matches the group it sits in still imports
    # (tags are rebuilt from metadata_props), but it is not a valid file.
    tag = '<data key="hierarchy_tag">/Net/Block.0/Proj</data>'
    assert tag in text
    (tmp_path / "net.graphml").write_text(
        text.replace(tag, '<data key="hierarchy_tag">/Elsewhere</data>', 1)
    )
    plain = invoke("import-onnx", tmp_path / "net.graphml", tmp_path / "plain.onnx")
    assert plain.exit_code == 0, plain.output
    checked = invoke("import-onnx", tmp_path / "net.graphml", tmp_path / "back.onnx", "--validate")
    assert checked.exit_code == 1
    assert checked.output.startswith("error: ") and "/Elsewhere" in checked.output
    assert len(checked.output.strip().splitlines()) == 1
    assert not (tmp_path / "back.onnx").exists()


def test_validate_refuses_to_overwrite_the_original_it_compares_with(tmp_path, tagged_file):
    onnx_to_graphml(tagged_file, tmp_path / "net.graphml")
    before = tagged_file.read_bytes()
    result = invoke("import-onnx", tmp_path / "net.graphml", tagged_file, "--validate")
    assert result.exit_code == 1
    assert "would overwrite" in result.output and len(result.output.strip().splitlines()) == 1
    assert tagged_file.read_bytes() == before


def test_a_reference_that_is_not_onnx_is_a_one_line_error(tmp_path, tagged_file):
    onnx_to_graphml(tagged_file, tmp_path / "net.graphml")
    (tmp_path / "notes.onnx").write_text("not a model")
    result = invoke("import-onnx", tmp_path / "net.graphml", tmp_path / "back.onnx", "--validate",
                    "--reference", tmp_path / "notes.onnx")
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "not an ONNX model" in result.output
    assert "Traceback" not in result.output


def test_external_data_outside_the_models_directory_is_a_one_line_error(tmp_path, tagged):
    from onnx.external_data_helper import set_external_data

    (tmp_path / "secret.bin").write_bytes(b"\0" * 4096)
    (tmp_path / "model").mkdir()
    tensor = tagged.graph.initializer[0]
    set_external_data(tensor, location="../secret.bin", offset=0, length=len(tensor.raw_data))
    tensor.ClearField("raw_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    onnx.save_model(tagged, str(tmp_path / "model" / "m.onnx"))
    result = invoke("export-graphml", tmp_path / "model" / "m.onnx", tmp_path / "m.graphml")
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "external data" in result.output
    assert not (tmp_path / "m.graphml").exists()

# -- refused input: export-graphml ----------------------------------------------------


def test_a_file_that_is_not_onnx_is_refused(tmp_path):
    (tmp_path / "bad.onnx").write_text("this is not a model\n" * 10)
    before = sorted(p.name for p in tmp_path.iterdir())
    _refused(invoke("export-graphml", tmp_path / "bad.onnx", tmp_path / "m.graphml"),
             "is not an ONNX model", tmp_path, before)


def test_a_truncated_onnx_file_is_refused(tmp_path, tagged_file):
    data = tagged_file.read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    before = sorted(p.name for p in tmp_path.iterdir())
    _refused(invoke("export-graphml", tmp_path / "cut.onnx", tmp_path / "m.graphml"),
             "is not an ONNX model", tmp_path, before)


def test_a_missing_output_directory_is_refused_for_export(tmp_path, tagged_file):
    before = sorted(p.name for p in tmp_path.iterdir())
    _refused(invoke("export-graphml", tagged_file, tmp_path / "nodir" / "m.graphml"),
             "does not exist", tmp_path, before)


def test_a_missing_onnx_file_is_refused(tmp_path):
    _refused(invoke("export-graphml", tmp_path / "none.onnx", tmp_path / "m.graphml"),
             "none.onnx: no such file; check the path", tmp_path, [])


# -- refused input: import-onnx -------------------------------------------------------


def _edit(path, old, new, count=1):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def _import_refused(exported, message):
    folder = exported.parent
    before = sorted(p.name for p in folder.iterdir())
    _refused(invoke("import-onnx", exported, folder / "back.onnx"), message, folder, before)


def test_a_doctype_with_external_entities_is_refused(exported):
    text = exported.read_text()
    head, rest = text.split("\n", 1)
    exported.write_text(head + '\n<!DOCTYPE graphml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
                        + rest.replace("<data key=\"label\">", "<data key=\"label\">&xxe;", 1))
    _import_refused(exported, "DOCTYPE")


def test_entity_expansion_bombs_are_refused(exported):
    text = exported.read_text()
    head, rest = text.split("\n", 1)
    bomb = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))
    exported.write_text(f"{head}\n<!DOCTYPE graphml [{bomb}]>\n{rest}")
    _import_refused(exported, "DOCTYPE")


def test_truncated_xml_is_refused(exported):
    data = exported.read_bytes()
    exported.write_bytes(data[: len(data) // 2])
    _import_refused(exported, "")


def test_undeclared_keys_are_refused(exported):
    _edit(
        exported,
        '<data key="kind">op</data>',
        '<data key="bogus">1</data><data key="kind">op</data>',
    )
    _import_refused(exported, "bogus")


def test_dangling_edges_are_refused(exported):
    _edit(exported, '<edge id="e0" source="', '<edge id="e0" source="nowhere" x="')
    _import_refused(exported, "nowhere")


def test_duplicate_ids_are_refused(exported):
    _edit(exported, '<node id="n1"', '<node id="n0"')
    _import_refused(exported, "n0")


def test_a_missing_sidecar_is_refused(exported):
    exported.with_suffix(".onnxdata").unlink()
    _import_refused(exported, "missing")


def test_verbose_shows_the_root_cause_of_a_refusal(exported):
    exported.with_suffix(".onnxdata").unlink()
    result = invoke("import-onnx", exported, exported.with_name("back.onnx"), "-v")
    assert result.exit_code == 1
    assert "FileNotFoundError" in result.output
    assert "direct cause of the following exception" in result.output
    assert result.output.rstrip().splitlines()[-1].startswith("error: sidecar")


def test_a_truncated_sidecar_is_refused(exported):
    sidecar = exported.with_suffix(".onnxdata")
    sidecar.write_bytes(sidecar.read_bytes()[:-10])
    _import_refused(exported, "truncated")


def test_a_tampered_sidecar_is_refused(exported):
    sidecar = exported.with_suffix(".onnxdata")
    data = bytearray(sidecar.read_bytes())
    data[5] ^= 0xFF
    sidecar.write_bytes(bytes(data))
    _import_refused(exported, "SHA-256")


@pytest.mark.parametrize("name", ["../net.onnxdata", "/etc/passwd"])
def test_a_sidecar_outside_the_graphml_directory_is_refused(exported, name):
    _edit(exported, '<data key="sidecar">net.onnxdata</data>', f'<data key="sidecar">{name}</data>')
    _import_refused(exported, "must be a plain file name beside the GraphML")


def test_offsets_outside_the_sidecar_are_refused(exported):
    text = exported.read_text()
    new = re.sub(r'"sidecar":\{"offset":\d+', '"sidecar":{"offset":99999999', text, count=1)
    exported.write_text(new)
    _import_refused(exported, "outside")


def test_lengths_that_do_not_match_dtype_and_dims_are_refused(exported):
    text = exported.read_text()
    new = re.sub(
        r'("sidecar":\{"offset":\d+,"length":)(\d+)',
        lambda m: m.group(1) + str(int(m.group(2)) - 4),
        text,
        count=1,
    )
    exported.write_text(new)
    _import_refused(exported, "does not match")


def test_a_missing_output_directory_is_refused_for_import(exported):
    folder = exported.parent
    before = sorted(p.name for p in folder.iterdir())
    _refused(invoke("import-onnx", exported, folder / "nodir" / "m.onnx"), "does not exist",
             folder, before)


def test_a_graphml_from_another_tool_is_refused(tmp_path):
    (tmp_path / "other.graphml").write_text(
        '<?xml version="1.0"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
        '<graph id="G" edgedefault="directed"><node id="a"/></graph></graphml>')
    before = sorted(p.name for p in tmp_path.iterdir())
    _refused(invoke("import-onnx", tmp_path / "other.graphml", tmp_path / "m.onnx"),
             "export-graphml", tmp_path, before)


# -- schemas and yEd readiness (issue 3) ------------------------------------------------


def _schema(name):
    from lxml import etree

    from modelexport.schemas import schema_path

    return etree.XMLSchema(etree.parse(str(schema_path(name))))


@pytest.mark.parametrize("model", ["tagged", "with_subgraphs"])
def test_flat_no_yed_output_validates_against_the_official_graphml_schema(tmp_path, model, request):
    from lxml import etree

    onnx_to_graphml(request.getfixturevalue(model), tmp_path / "m.graphml", yed=False, flat=True)
    schema = _schema("official")
    assert schema.validate(etree.parse(str(tmp_path / "m.graphml"))), schema.error_log.last_error


@pytest.mark.parametrize("model", ["tagged", "with_subgraphs"])
def test_default_output_validates_against_the_project_schema_and_semantic_checks(
    tmp_path, model, request
):
    from lxml import etree

    from modelexport.graphml import validate_graphml

    onnx_to_graphml(request.getfixturevalue(model), tmp_path / "m.graphml")
    schema = _schema("project")
    assert schema.validate(etree.parse(str(tmp_path / "m.graphml"))), schema.error_log.last_error
    report = validate_graphml(tmp_path / "m.graphml")
    assert not getattr(report, "findings", report)


def test_every_op_has_a_labelled_shape_node_and_every_group_open_and_closed_realizers(exported):
    from lxml import etree

    ns = {"g": "http://graphml.graphdrawing.org/xmlns", "y": "http://www.yworks.com/xml/graphml"}
    root = etree.parse(str(exported)).getroot()
    for node in root.iter(f"{{{ns['g']}}}node"):
        kind = node.find("g:data[@key='kind']", ns).text
        if kind == "op":
            labels = node.findall("g:data/y:ShapeNode/y:NodeLabel", ns)
            assert labels and labels[0].text, node.get("id")
        elif kind == "module":
            realizers = node.findall("g:data/y:ProxyAutoBoundsNode/y:Realizers/y:GroupNode", ns)
            assert len(realizers) == 2, node.get("id")
            assert node.get("yfiles.foldertype") == "group"


def test_onnx_with_external_data_is_converted_with_its_data_loaded(tmp_path, tagged):
    src = tmp_path / "ext.onnx"
    onnx.save_model(tagged, str(src), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.data", size_threshold=0)
    assert (tmp_path / "ext.data").exists()
    onnx_to_graphml(src, tmp_path / "m.graphml")
    graphml_to_onnx(tmp_path / "m.graphml", tmp_path / "back.onnx")
    assert_models_equal(onnx.load(str(tmp_path / "back.onnx")), onnx.load(str(src)))


def test_awkward_text_survives_the_xml_exactly(tmp_path, tagged):
    awkward = "line\r\nbreak\ttab ]]> <&> \"q\" 'a' \U0001F600 \u2028 \x7f"
    tagged.doc_string = awkward
    tagged.graph.node[0].doc_string = awkward
    tagged.graph.node[1].name = awkward
    tagged.graph.input[0].doc_string = awkward
    tagged.graph.node[2].attribute.extend([onnx.helper.make_attribute("note", awkward)])
    onnx_to_graphml(tagged, tmp_path / "m.graphml")
    graphml_to_onnx(tmp_path / "m.graphml", tmp_path / "m.onnx")
    assert_models_equal(onnx.load(str(tmp_path / "m.onnx")), tagged)


def test_an_output_that_would_overwrite_the_input_is_refused(tmp_path, tagged_file):
    before = sorted(p.name for p in tmp_path.iterdir())
    _refused(
        invoke("export-graphml", tagged_file, tagged_file), "would overwrite", tmp_path, before
    )


def test_an_import_that_would_overwrite_the_sidecar_is_refused(exported):
    folder = exported.parent
    before = sorted(p.name for p in folder.iterdir())
    _refused(invoke("import-onnx", exported, exported.with_suffix(".onnxdata")), "would overwrite",
             folder, before)
