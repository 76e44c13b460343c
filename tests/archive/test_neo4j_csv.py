"""export-neo4j: the CSVs read back under neo4j-admin's documented header rules.

A reader of our own, written from the neo4j-admin import documentation: a header field
is ``name:type`` (no type: string), ``:ID(space)``, ``:LABEL``, ``:START_ID(space)``,
``:END_ID(space)``, ``:TYPE``; fields are quoted with ``"`` (doubled inside), an empty
field is a missing property.
"""

from __future__ import annotations

import csv
import re

from archive_models import chain_model, random_weights
from typer.testing import CliRunner

from modelexport.archive import open_archive
from modelexport.cli import app

HEADER = re.compile(r"^(?P<name>[^:]*)(?::(?P<type>ID|LABEL|START_ID|END_ID|TYPE|long|int|"
                    r"boolean|string|double|float)(?:\((?P<space>\w+)\))?)?$")
PARSE = {"long": int, "int": int, "double": float, "float": float, "string": str, None: str,
         "boolean": lambda v: {"true": True, "false": False}[v]}


def read_neo4j_csv(path):
    """(header specs, rows as {name or role: typed value}) of one import file."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        specs = []
        for field in header:
            m = HEADER.match(field)
            assert m, f"{path.name}: header field {field!r} breaks neo4j-admin's syntax"
            specs.append((m["name"], m["type"], m["space"]))
        rows = []
        for raw in reader:
            assert len(raw) == len(specs), (path.name, raw)
            row = {}
            for (name, typ, _space), value in zip(specs, raw, strict=True):
                key = name if typ not in ("ID", "LABEL", "START_ID", "END_ID", "TYPE") else \
                    (f":{typ}" if not name else name)
                if value == "":
                    continue  # a missing property
                row[key] = value if typ in ("ID", "LABEL", "START_ID", "END_ID", "TYPE") \
                    else PARSE[typ](value)
            rows.append(row)
    return specs, rows


def test_the_import_csvs_carry_every_node_relationship_label_and_typed_property(tmp_path):
    db = tmp_path / "models.lbdb"
    model = chain_model(random_weights(3, 8))
    model.graph.node[0].doc_string = 'a "quoted", multi-line\ndoc string'
    with open_archive(db) as archive:
        archive.add(model, name="a")
        archive.add(chain_model(random_weights(2, 8, seed=4)), name="b")
        expected_nodes = {row[0]: row[1] for row in archive.query(
            "MATCH (n) RETURN n.uid, label(n)").rows}
        expected_rels = sorted(archive.query(
            "MATCH (x)-[r]->(y) RETURN x.uid, y.uid, label(r)").rows)
        model_row = archive.query("MATCH (m:Model) WHERE m.name = 'a' RETURN m.ops, m.opsets, "
                                  "m.tensor_bytes, m.complete").rows[0]
    result = CliRunner().invoke(app, ["archive", "export-neo4j", str(db), str(tmp_path / "csv")])
    assert result.exit_code == 0, result.output
    command = result.output.strip().splitlines()[-1].strip()
    assert command.startswith("neo4j-admin database import full ")
    files = {p.name for p in (tmp_path / "csv").iterdir()}
    assert files == {"Model.csv", "Module.csv", "Op.csv", "Value.csv", "Subgraph.csv",
                     "PARENT_OF.csv", "FEEDS.csv"}
    for name in files:
        assert f"={(tmp_path / 'csv' / name).resolve()}" in command

    ids: dict[str, str] = {}
    for label in ("Model", "Module", "Op", "Value", "Subgraph"):
        specs, rows = read_neo4j_csv(tmp_path / "csv" / f"{label}.csv")
        assert specs[0] == ("uid", "ID", "Node") and specs[1] == ("", "LABEL", None)
        for row in rows:
            assert row[":LABEL"] == label
            assert row["uid"] not in ids, "ids are unique across the one id space"
            ids[row["uid"]] = label
            assert isinstance(row["seq"], int) and isinstance(row["model"], str)
        if label == "Model":
            a = next(r for r in rows if r["name"] == "a")
            assert [a["ops"], a["opsets"], a["tensor_bytes"], a["complete"]] == model_row
        if label == "Op":
            doc = next(r for r in rows if r["name"] == "/layer.0/MatMul")["data"]
            assert 'multi-line\\ndoc string' in doc and '\\"quoted\\"' in doc
    assert ids == expected_nodes

    rels = []
    for rel in ("PARENT_OF", "FEEDS"):
        specs, rows = read_neo4j_csv(tmp_path / "csv" / f"{rel}.csv")
        assert specs[:3] == [("", "START_ID", "Node"), ("", "END_ID", "Node"), ("", "TYPE", None)]
        typed = {name: typ for name, typ, _s in specs[3:]}
        assert typed == ({"ord": "long"} if rel == "PARENT_OF" else
                         {"tensor": None, "dtype": None, "shape": None, "src_output": "long",
                          "dst_input": "long", "gid": None, "seq": "long", "data": None})
        for row in rows:
            assert row[":START_ID"] in ids and row[":END_ID"] in ids and row[":TYPE"] == rel
            rels.append([row[":START_ID"], row[":END_ID"], rel])
    assert sorted(rels) == expected_rels
    with open_archive(db, create=False) as archive:
        assert [m.name for m in archive.list().models] == ["a", "b"]
