"""Models in a graph database: add, list, restore exactly, query with Cypher, remove.

    from modelexport.archive import open_archive
    with open_archive("models.lbdb") as db:
        db.add("m.onnx", name="m")
        rows = db.query("MATCH (o:Op) WHERE o.model = $m RETURN o.op_type, count(*)", m="m")
        db.restore("m", "m_back.onnx")

Modules: :mod:`modelexport.archive.schema` (labels, relationships, properties and the
rows a model becomes), :mod:`modelexport.archive.store` (the content-addressed tensor
store), one adapter per engine, each implementing the
:class:`~modelexport.archive.engine.Engine` protocol
(:mod:`modelexport.archive.ladybug_engine`, embedded;
:mod:`modelexport.archive.bolt_engine`, a Neo4j-protocol server),
:mod:`modelexport.archive.neo4j_csv` (``neo4j-admin database import`` files) and
:mod:`modelexport.archive.core` (the operations). Imports graphml and converter, never torch.
"""

from __future__ import annotations

from modelexport.archive.core import (
    AddResult,
    Archive,
    Listing,
    ModelInfo,
    QueryResult,
    RestoreResult,
    open_archive,
)
from modelexport.archive.errors import ArchiveError, ArchiveOpenError, ModelNameError, QueryError

__all__ = [
    "open_archive", "Archive",
    # results
    "AddResult", "Listing", "ModelInfo", "QueryResult", "RestoreResult",
    # errors
    "ArchiveError", "ArchiveOpenError", "ModelNameError", "QueryError",
]
