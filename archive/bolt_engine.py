"""The server engine: a database speaking Neo4j's Bolt protocol, through the ``neo4j`` driver.

Same schema and Cypher as the embedded engine. The driver's bulk path is a parameter
list per statement (``UNWIND $rows AS r CREATE ...``), sent in batches inside one
explicit transaction per ``add``: a failed or interrupted add is rolled back by the
server. Relationship batches find their ends by ``uid`` (indexed where the server
supports ``CREATE INDEX``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from modelexport.archive import schema
from modelexport.archive.engine import first_line
from modelexport.archive.errors import ArchiveOpenError, QueryError

BATCH = 5000


class BoltEngine:
    """An archive on a Bolt server (``bolt://`` or ``neo4j://``)."""

    def __init__(self, uri: str, *, user: str | None, password: str | None) -> None:
        try:
            import neo4j
        except ImportError as e:
            raise ArchiveOpenError("a server archive needs the neo4j driver: pip install "
                                   "'modelexport[neo4j]'") from e
        self._neo4j = neo4j
        auth = (user, password or "") if user else None
        try:
            self._driver = neo4j.GraphDatabase.driver(uri, auth=auth)
            self._driver.verify_connectivity()
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, ValueError,
                OSError) as e:
            self._driver = None
            raise ArchiveOpenError(f"cannot reach the archive server {uri!r}: "
                                   f"{first_line(e)}; check the URI, --user and "
                                   f"--password") from e
        for label in schema.LABELS:
            try:
                self.rows(f"CREATE INDEX IF NOT EXISTS FOR (n:{label}) ON (n.uid)")
            except self._neo4j.exceptions.Neo4jError:
                break  # the server has its own way to index; matching still works

    def _run(self, tx_or_session: Any, query: str, params: dict[str, Any]) -> list[list[Any]]:
        result = tx_or_session.run(query, params)
        return [list(record.values()) for record in result]

    def rows(self, query: str, **params: Any) -> list[list[Any]]:
        with self._driver.session() as session:
            return self._run(session, query, params)

    def stream(self, query: str, **params: Any) -> Iterator[list[Any]]:
        """The query's rows one by one, as the server sends them."""
        with self._driver.session() as session:
            for record in session.run(query, params):
                yield list(record.values())

    def read_only(self, query: str, params: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
        def work(tx: Any) -> tuple[list[str], list[list[Any]]]:
            result = tx.run(query, params)
            keys = list(result.keys())
            return keys, [list(r.values()) for r in result]

        try:
            with self._driver.session(default_access_mode=self._neo4j.READ_ACCESS) as session:
                return session.execute_read(work)
        except self._neo4j.exceptions.Neo4jError as e:
            raise QueryError(f"the query failed: {first_line(e)}; fix the Cypher and try "
                             f"again") from e

    def load(self, batch: list[schema.ModelRows], *, drop: list[str] = ()) -> None:
        models, nodes, rels = schema.merged_tables(batch)
        with self._driver.session() as session:
            tx = session.begin_transaction()
            try:
                for label, table in [(schema.MODEL, models), *nodes.items()]:
                    for chunk in _chunks(table):
                        tx.run(f"UNWIND $rows AS r CREATE (n:{label}) SET n = r", {"rows": chunk})
                for (rel, src, dst), table in rels.items():
                    props = [name for name, _t in schema.rel_columns(rel)]
                    setter = ", ".join(f"{p}: r.{p}" for p in props)
                    for chunk in _chunks(table):
                        tx.run(
                            f"UNWIND $rows AS r MATCH (a:{src} {{uid: r.`from`}}) "
                            f"MATCH (b:{dst} {{uid: r.`to`}}) "
                            f"CREATE (a)-[:{rel} {{{setter}}}]->(b)",
                            {"rows": chunk},
                        )
                for prefix in drop:
                    self._delete(tx, prefix)
                tx.run(f"MATCH (m:{schema.MODEL}) WHERE m.uid IN $uids SET m.complete = true",
                       {"uids": [rows.model["uid"] for rows in batch]})
                tx.commit()
            except BaseException:
                tx.rollback() if not tx.closed() else None
                raise

    def delete(self, prefix: str) -> None:
        with self._driver.session() as session:
            session.execute_write(lambda tx: self._delete(tx, prefix))

    def _delete(self, tx: Any, prefix: str) -> None:
        for label in reversed(schema.LABELS):
            tx.run(f"MATCH (n:{label}) WHERE n.uid STARTS WITH $p DETACH DELETE n", {"p": prefix})

    def disk_bytes(self) -> None:
        return None  # the server's storage is not ours to measure

    def release_memory(self) -> None:
        pass  # the server's cache is the server's

    def close(self) -> None:
        if getattr(self, "_driver", None) is not None:
            self._driver.close()
            self._driver = None


def _chunks(rows: schema.Rows) -> Iterator[list[dict[str, Any]]]:
    """The rows as parameter lists of at most BATCH rows, one list in Python at a time."""
    for part in rows.take_parts(BATCH):
        for batch in schema.read_part(part).to_batches(max_chunksize=BATCH):
            yield batch.to_pylist()
