"""``modelexport archive ...`` end to end; bad input gives one line, exit 1, archive unchanged."""

from __future__ import annotations

import json

import networkx
import onnx
import pytest
from archive_models import archive_state, chain_model, random_weights, save
from typer.testing import CliRunner

from modelexport.cli import app
from modelexport.converter import onnx_to_graphml

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["archive", *[str(a) for a in args]])


@pytest.fixture
def archive(tmp_path, small):
    db = tmp_path / "models.lbdb"
    result = invoke("add", db, small)
    assert result.exit_code == 0, result.output
    assert "added 'small': 6 ops, 4 modules" in result.output
    return db


def test_add_list_restore_query_remove_from_the_command_line(tmp_path, archive, small):
    other = save(chain_model(random_weights(2, 16)), tmp_path / "other.onnx")
    assert invoke("add", archive, other, "--name", "v2").exit_code == 0
    listing = invoke("list", archive, "--json")
    data = json.loads(listing.output)
    assert [m["name"] for m in data["models"]] == ["small", "v2"]
    assert data["models"][0]["opsets"] == {"ai.onnx": 18}
    # v2's two weights are small's first two (same seed): stored once
    assert (data["tensor_bytes"], data["stored_bytes"]) == (5 * 1024, 3 * 1024)
    assert [m["new_bytes"] for m in data["models"]] == [3 * 1024, 0]
    text = invoke("list", archive).output
    assert "2 models; tensors 5,120 bytes, stored 3,072 bytes after deduplication" in text
    assert invoke("restore", archive, "small", tmp_path / "back.onnx").exit_code == 0
    assert (tmp_path / "back.onnx").read_bytes() == onnx.load(str(small)).SerializeToString()
    q = invoke("query", archive, "MATCH (o:Op) WHERE o.model = $m RETURN o.op_type AS t, "
               "count(*) AS n ORDER BY t", "--param", "m=v2", "--json")
    assert json.loads(q.output) == {"columns": ["t", "n"], "rows": [
        {"t": "MatMul", "n": 2}, {"t": "Relu", "n": 2}]}
    table = invoke("query", archive, "MATCH (m:Model) RETURN m.name ORDER BY m.name")
    assert table.output.splitlines() == ["m.name", "small", "v2", "(2 rows)"]
    assert invoke("remove", archive, "v2").exit_code == 0
    assert [m["name"] for m in json.loads(invoke("list", archive, "--json").output)["models"]] \
        == ["small"]


def test_restore_as_graphml_writes_the_pair_import_onnx_reads(tmp_path, archive, small):
    out = tmp_path / "out"
    out.mkdir()
    assert invoke("restore", archive, "small", out / "s.graphml", "--graphml").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["s.graphml", "s.onnxdata"]
    result = runner.invoke(app, ["import-onnx", str(out / "s.graphml"), str(out / "s.onnx")])
    assert result.exit_code == 0, result.output
    assert (out / "s.onnx").read_bytes() == onnx.load(str(small)).SerializeToString()


def _refused(result, message):
    assert result.exit_code == 1, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_bad_input_is_refused_in_one_line_and_leaves_the_archive_unchanged(tmp_path, archive):
    before = archive_state(archive)
    not_onnx = tmp_path / "notes.onnx"
    not_onnx.write_text("this is not a model\n")
    _refused(invoke("add", archive, not_onnx), "is not an ONNX model")
    _refused(invoke("add", archive, tmp_path / "small.onnx"),
             "already holds a model named 'small'; choose another --name or pass --replace")
    _refused(invoke("restore", archive, "nope", tmp_path / "x.onnx"),
             "the archive has no model named 'nope' (it holds: small)")
    _refused(invoke("remove", archive, "nope"), "no model named 'nope'")
    _refused(invoke("query", archive, "MATCH (o:Op RETURN o"), "the query failed: Parser exception")
    _refused(invoke("query", archive, "MATCH (o:Op) DETACH DELETE o"),
             "'DETACH' is refused: archive queries are read-only")
    _refused(invoke("query", archive, "match (m:Model) set m.name = 'x'"), "'SET' is refused")
    # a GraphML whose sidecar fails its hash
    onnx_to_graphml(tmp_path / "small.onnx", tmp_path / "g.graphml")
    sidecar = tmp_path / "g.onnxdata"
    data = bytearray(sidecar.read_bytes())
    data[0] ^= 0xFF
    sidecar.write_bytes(bytes(data))
    _refused(invoke("add", archive, tmp_path / "g.graphml"), "does not match the SHA-256")
    # a GraphML that export-graphml did not write
    other = tmp_path / "other.graphml"
    networkx.write_graphml(networkx.path_graph(3), other)
    _refused(invoke("add", archive, other), "'other.graphml' was not written by export-graphml")
    assert archive_state(archive) == before
    assert not (tmp_path / "x.onnx").exists()


def test_json_errors_are_an_object_with_an_error_field(tmp_path, archive):
    result = invoke("query", archive, "MATCH (o:Op) SET o.x = 1", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"].startswith("'SET' is refused")


def test_what_is_not_an_archive_is_refused(tmp_path, small):
    corrupt = tmp_path / "corrupt.lbdb"
    corrupt.write_bytes(b"\0garbage" * 1000)
    _refused(invoke("list", corrupt), "is not an archive database")
    _refused(invoke("add", corrupt, small), "is not an archive database")
    assert corrupt.read_bytes() == b"\0garbage" * 1000
    _refused(invoke("list", tmp_path / "missing.lbdb"), "no archive at")
    assert not (tmp_path / "missing.lbdb").exists()
    _refused(invoke("list", tmp_path), "is a directory, not an archive")
    # an ONNX file is not an archive either, and is left as it was
    original = small.read_bytes()
    _refused(invoke("list", small), "is not an archive database")
    assert small.read_bytes() == original


def test_a_server_uri_needs_a_tensor_store(tmp_path):
    _refused(invoke("list", "bolt://localhost:7687"), "give --tensor-store DIR")


def test_a_query_table_cuts_long_values_and_says_so_while_json_keeps_them_whole(archive):
    whole = "MATCH (m:Model) RETURN m LIMIT 1"
    table = invoke("query", archive, whole)
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert max(len(line) for line in lines) <= 120
    assert lines[1].endswith(" …")
    assert lines[-1] == "(1 row; values cut at 120 characters, --json prints them whole)"
    data = json.loads(invoke("query", archive, whole, "--json").output)
    node = data["rows"][0]["m"]
    assert len(json.dumps(node)) > 1000 and json.loads(node["graph"])["id"]
    # a short answer is not marked
    short = invoke("query", archive, "MATCH (o:Op) RETURN o.op_type LIMIT 1")
    assert short.output.splitlines()[-1] == "(1 row)"


def test_a_failed_first_add_creates_no_archive(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a model")
    result = invoke("add", tmp_path / "models.lbdb", bad)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.onnx"]
    # and an archive that exists keeps everything through a failed add
    good = save(chain_model(random_weights(2, 8)), tmp_path / "good.onnx")
    assert invoke("add", tmp_path / "models.lbdb", good).exit_code == 0
    assert invoke("add", tmp_path / "models.lbdb", bad).exit_code == 1
    listed = json.loads(invoke("list", tmp_path / "models.lbdb", "--json").output)
    assert [m["name"] for m in listed["models"]] == ["good"]
    assert not list((tmp_path / "models.lbdb.tensors").glob(".*"))


@pytest.mark.slow
def test_removing_every_model_gives_back_the_space_adding_them_took(tmp_path):
    from modelexport.archive.ladybug_engine import LadybugEngine

    fresh = tmp_path / "fresh.lbdb"
    LadybugEngine(fresh, create=True).close()  # an archive's database before any add
    db = tmp_path / "models.lbdb"
    names = ["m0", "m1"]
    for i, name in enumerate(names):
        model = save(chain_model(random_weights(100, 8, seed=i)), tmp_path / f"{name}.onnx")
        assert invoke("add", db, model).exit_code == 0
    full = db.stat().st_size
    for name in names:
        assert invoke("remove", db, name).exit_code == 0
    assert full - db.stat().st_size >= 0.9 * (full - fresh.stat().st_size)
    assert not [p for p in (tmp_path / "models.lbdb.tensors").rglob("*") if p.is_file()]
    assert sorted(p.name for p in tmp_path.glob("models.lbdb*")) == ["models.lbdb",
                                                                     "models.lbdb.tensors"]
    # and the archive takes models again
    assert invoke("add", db, tmp_path / "m0.onnx").exit_code == 0
    assert "1 model;" in invoke("list", db).output
