"""``export-neo4j``: the archive as ``neo4j-admin database import`` CSV files.

One node file per label and one relationship file per type, with neo4j-admin's header
syntax: ``uid:ID(Node)`` (one id space for every label: uids are unique across the
archive), ``:LABEL``, typed properties (``seq:long``, ``complete:boolean``; strings
untyped), and ``:START_ID(Node)``, ``:END_ID(Node)``, ``:TYPE`` on relationships.
Strings are always quoted, so an empty string stays one; an empty field is a missing
property. Files are written beside their targets and renamed when complete.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelexport.archive import schema
from modelexport.archive.engine import Engine
from modelexport.archive.errors import ArchiveError
from modelexport.graphml.files import PendingFiles, pending_files

ID_SPACE = "Node"
#: neo4j-admin's name for each schema type (a string property needs none).
NEO4J_TYPES = {"STRING": "", "INT64": "long", "BOOLEAN": "boolean"}


@dataclass
class Neo4jExport:
    nodes: list[Path]
    relationships: list[Path]
    command: str
    counts: dict[str, int]


def _header(name: str, typ: str) -> str:
    suffix = NEO4J_TYPES[typ]
    return f"{name}:{suffix}" if suffix else name


def node_header(label: str) -> list[str]:
    cols = schema.node_columns(label)
    return [f"uid:ID({ID_SPACE})", ":LABEL"] + [_header(n, t) for n, t in cols if n != "uid"]


def rel_header(rel: str) -> list[str]:
    return [f":START_ID({ID_SPACE})", f":END_ID({ID_SPACE})", ":TYPE"] + \
        [_header(n, t) for n, t in schema.rel_columns(rel)]


def _format(value: Any, typ: str) -> str:
    """One CSV field: strings always quoted (so '' stays an empty string), None empty."""
    if value is None:
        return ""
    if typ == "BOOLEAN":
        return "true" if value else "false"
    if typ == "INT64":
        return str(int(value))
    return '"' + str(value).replace('"', '""') + '"'


def _write(f: io.TextIOBase, header: list[str], types: list[str], rows: list[list[Any]]) -> None:
    f.write(",".join(header) + "\n")
    for r in rows:
        f.write(",".join(_format(v, t) for v, t in zip(r, types, strict=True)) + "\n")


def _open_text(pending: PendingFiles, target: Path) -> io.TextIOWrapper:
    """A pending file for ``target``, open for CSV text (UTF-8, newlines as written)."""
    return open(pending.path(target), "w", encoding="utf-8", newline="")


def export_neo4j(engine: Engine, outdir: Path) -> Neo4jExport:
    """Write the CSV files into ``outdir`` (created if its parent exists)."""
    outdir = Path(outdir)
    if not outdir.parent.is_dir():
        raise ArchiveError(f"directory {str(outdir.parent)!r} does not exist; create it first")
    outdir.mkdir(exist_ok=True)
    nodes, rels, counts = [], [], {}
    # every file lands together, or none does (graphml.files: the project's one writer)
    with pending_files() as pending:
        for label in schema.LABELS:
            cols = [n for n, _t in schema.node_columns(label)]
            where = " WHERE n.complete = true" if label == schema.MODEL else ""
            rows = engine.rows(f"MATCH (n:{label}){where} RETURN "
                               + ", ".join(f"n.{c}" for c in cols))
            path = outdir / f"{label}.csv"
            types = ["STRING", "STRING"] + [t for n, t in schema.node_columns(label)
                                            if n != "uid"]
            with _open_text(pending, path) as f:
                _write(f, node_header(label), types, ([r[0], label, *r[1:]] for r in rows))
            nodes.append(path)
            counts[label] = len(rows)
        for rel in schema.REL_ENDS:
            cols = [n for n, _t in schema.rel_columns(rel)]
            rows = engine.rows(f"MATCH (a)-[r:{rel}]->(b) RETURN a.uid, b.uid"
                               + "".join(f", r.{c}" for c in cols))
            path = outdir / f"{rel}.csv"
            types = ["STRING"] * 3 + [t for _n, t in schema.rel_columns(rel)]
            with _open_text(pending, path) as f:
                _write(f, rel_header(rel), types, ([r[0], r[1], rel, *r[2:]] for r in rows))
            rels.append(path)
            counts[rel] = len(rows)
    command = " ".join(
        ["neo4j-admin database import full --overwrite-destination --multiline-fields=true"]
        + [f"--nodes={p.resolve()}" for p in nodes]
        + [f"--relationships={p.resolve()}" for p in rels] + ["neo4j"])
    return Neo4jExport(nodes, rels, command, counts)
