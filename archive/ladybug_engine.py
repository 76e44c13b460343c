"""The embedded engine: a LadybugDB database file (PyPI ``ladybug``), in process.

A database path has siblings that belong to it: ``<path>.wal`` (the write-ahead log,
while a write is not yet checkpointed) and, during a write, ``<path>.rollback`` (below);
copy or delete them together. An ``add`` bulk-loads every table, one statement per
Arrow table of at most :data:`LOAD_ROWS` rows or per Parquet file a large model's rows
were spilled to (see :class:`~modelexport.archive.schema.Rows`): ``COPY ... FROM`` for
relationships and for a node table that never held rows, ``LOAD FROM ... CREATE`` for
the others (node tables are keyed by a SERIAL :data:`KEY` without a hash index, and
LadybugDB takes no COPY into such a table once it has rows). A small
add is one transaction; a large one commits and checkpoints every :data:`LOAD_ROWS`
rows, so the engine's uncommitted write state (and its log) stays bounded, and is
undone as a whole by the rollback copy.

Why the rollback copy: LadybugDB 0.22 cannot replay a write-ahead log that holds a
committed ``COPY`` (reopening after a kill -9 between commit and checkpoint crashes the
process), and an uncheckpointed commit is not durable. So every write starts from a
checkpointed file, copies it to ``<path>.rollback`` (complete before the write begins),
and removes the copy only once the write is checkpointed. Opening a database that has a
``.rollback`` beside it puts the copy back and drops the log: the archive is exactly as
it was before the write that died. A write that fails with an error after committing
part of its rows puts the copy back itself, at once.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import ladybug
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelexport.archive import interrupts, schema
from modelexport.archive.engine import first_line
from modelexport.archive.errors import ArchiveError, ArchiveOpenError, QueryError

T = TypeVar("T")

_TYPES = {"STRING": "STRING", "INT64": "INT64", "BOOLEAN": "BOOLEAN"}

#: Rows per COPY, and the most rows a write leaves uncommitted: past this, the rows
#: loaded so far are committed and checkpointed (and the database reopened, emptying
#: its buffer pool) before the next COPY. LadybugDB's memory grows with the rows a
#: write has not checkpointed yet (one COPY of the whole Op table of a 100k-op model
#: took ~260 MB more than its Arrow table) and with the pages its pool keeps.
LOAD_ROWS = 32768

#: The buffer pool a database is opened with for reading. LadybugDB's default (most of
#: the machine's memory) keeps every page a read touches: restoring a 100k-op model
#: would hold most of the database file in memory. Writes, and a read the bounded pool
#: is too small for, reopen the database with the default pool.
READ_POOL_BYTES = 128 * 2**20
#: A restore gives back the pool's pages once it has read the model, if they are more.
RELEASE_BYTES = 32 * 2**20
#: The waste (free pages and more, see LadybugEngine._give_back_free_pages) a write
#: must leave, as well as a quarter of the file, for the file to be rewritten without
#: it (LadybugEngine.compact).
COMPACT_BYTES = 2**20
#: How many times the bytes of the rows it loads an add may grow the file by before
#: the rest counts as waste (LadybugDB's pages, index and compression of fresh rows).
WASTE_FACTOR = 3
#: A remove rewrites the database when the model had at least 1/COMPACT_SHARE of its
#: nodes.
COMPACT_SHARE = 8


#: The primary key of every node table: a number the database gives each row (SERIAL),
#: with no hash index. LadybugDB's index of a primary key takes ~2 MB a table from
#: ~1,000 rows on (256 parts; 0.7 MB at 100 rows, 6 MB at 60,000), more than the samples'
#: whole GraphML; a SERIAL key without it costs nothing. Relationships are loaded by it:
#: a load learns each new node's key from the statement that creates it.
KEY = "id"


def schema_statements() -> list[str]:
    """The DDL that creates the archive's tables (node tables, then relationship tables),
    after the setting that leaves out the primary-key hash index."""
    out = ["CALL enable_default_hash_index = false"]
    for label in schema.LABELS:
        cols = ", ".join(f"{name} {_TYPES[typ]}" for name, typ in schema.node_columns(label))
        out.append(f"CREATE NODE TABLE {label}({KEY} SERIAL, {cols}, PRIMARY KEY ({KEY}))")
    for rel, (sources, targets) in schema.REL_ENDS.items():
        pairs = ", ".join(f"FROM {a} TO {b}" for a in sources for b in targets)
        cols = "".join(f", {name} {_TYPES[typ]}" for name, typ in schema.rel_columns(rel))
        out.append(f"CREATE REL TABLE {rel}({pairs}{cols})")
    return out


class LadybugEngine:
    """An archive database file, opened (and created on ``create``)."""

    def __init__(self, path: str | os.PathLike, *, create: bool) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ArchiveOpenError(f"{str(self.path)!r} is a directory, not an archive; give "
                                   f"the archive's database file (e.g. models.lbdb)")
        if not self.path.exists():
            if not create:
                raise ArchiveOpenError(f"no archive at {str(self.path)!r}; create one with "
                                       f"'modelexport archive add {self.path} MODEL.onnx'")
            if not self.path.parent.is_dir():
                raise ArchiveOpenError(f"directory {str(self.path.parent)!r} for the archive "
                                       f"does not exist; create it first")
        self._roll_back_a_write_that_died()
        try:
            self._open()
            tables = {row[1] for row in self.rows("CALL show_tables() RETURN *")}
        except RuntimeError as e:
            raise ArchiveOpenError(f"{str(self.path)!r} is not an archive database (LadybugDB "
                                   f"says: {first_line(e)}); give the path 'archive add' "
                                   f"created") from e
        if not tables:
            for statement in schema_statements():
                self._conn.execute(statement)
            self._conn.execute("CHECKPOINT")
        elif not set(schema.LABELS) <= tables:
            self.close()
            raise ArchiveOpenError(f"{str(self.path)!r} is a LadybugDB database but not a "
                                   f"modelexport archive (it has no {schema.MODEL} table)")
        elif KEY not in {r[1] for r in self.rows(f"CALL table_info('{schema.MODEL}') RETURN *")}:
            # made before node tables had a SERIAL key (with a hash-indexed uid): the
            # rewrite moves its rows into today's tables
            self.compact()

    def _open(self, pool: int | None = None) -> None:
        """Open the database with a buffer pool of ``pool`` bytes (0: LadybugDB's default;
        None: :data:`READ_POOL_BYTES`)."""
        self._pool = READ_POOL_BYTES if pool is None else pool
        # Checkpoints happen where a write commits (see _write), not behind our back.
        self._db = ladybug.Database(str(self.path), auto_checkpoint=False,
                                    buffer_pool_size=self._pool)
        self._conn = ladybug.Connection(self._db)

    def _reopen(self, pool: int) -> None:
        self.close()
        self._open(pool)

    def release_memory(self) -> None:
        """Give back the buffer pool's cached pages, when they are many (by reopening the
        database with an empty read pool, which takes ~35 ms)."""
        ((_size, used),) = self.rows("CALL bm_info() RETURN *")
        if used > RELEASE_BYTES:
            self._reopen(READ_POOL_BYTES)

    def _with_room(self, run: Callable[[], T]) -> T:
        """``run()``; if the bounded read pool is too small for it, again with the default."""
        try:
            return run()
        except RuntimeError as e:
            if not (self._pool and _pool_full(e)):
                raise
        self._reopen(0)
        return run()

    # -- reading -------------------------------------------------------------------

    def rows(self, query: str, **params: Any) -> list[list[Any]]:
        return self._with_room(lambda: self._conn.execute(query, params).get_all())

    def stream(self, query: str, **params: Any) -> Iterator[list[Any]]:
        """The query's rows one by one (the engine holds the result; Python one row)."""
        result = self._with_room(lambda: self._conn.execute(query, params))
        try:
            while result.has_next():
                yield result.get_next()
        finally:
            result.close()

    @staticmethod
    def _plain(row: list[Any]) -> list[Any]:
        """Engine values as plain Python: sums come back as Decimal (INT128)."""
        return [(int(v) if v == v.to_integral_value() else float(v))
                if isinstance(v, Decimal) else v for v in row]

    def read_only(self, query: str, params: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
        """Run user Cypher in a read-only transaction; engine errors become QueryError."""
        return self._with_room(lambda: self._read_only(query, params))

    def _read_only(self, query: str, params: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
        self._conn.execute("BEGIN TRANSACTION READ ONLY")
        try:
            result = self._conn.execute(query, params)
            if isinstance(result, list):
                raise QueryError("give one Cypher statement, not several")
            return result.get_column_names(), [self._plain(r) for r in result.get_all()]
        except RuntimeError as e:
            if self._pool and _pool_full(e):
                raise  # _with_room reopens with more memory and runs it again
            raise QueryError(
                f"the query failed: {first_line(e)}; fix the Cypher and try again"
            ) from e
        finally:
            self._rollback()

    # -- writing -------------------------------------------------------------------

    def load(self, batch: list[schema.ModelRows], *, drop: list[str] = ()) -> None:
        """Add models in one write, a COPY per table (or per :data:`LOAD_ROWS` rows of
        it); ``drop``: uid prefixes of the models they replace. Each Model node is written
        incomplete and marked complete last, in the write's final commit, so a reader
        never takes a half-loaded model for a whole one."""
        uids = [rows.model["uid"] for rows in batch]
        models, nodes, rels = schema.merged_tables(batch)
        size_before, self._loaded_bytes = self.path.stat().st_size, 0
        # a first add's file is what a rewrite would make: one COPY per table part
        ((had_models,),) = self.rows(f"MATCH (m:{schema.MODEL}) RETURN count(*) > 0")
        self._keys: dict[str, list[pa.Table]] = {}  # label -> (uid, key) of its new nodes
        self._fresh = {label for label in schema.LABELS if self._never_filled(label)}
        with self._write():
            # Each table is handed over in parts (take_parts) and each part dropped once
            # loaded: only the rows not yet loaded stay in memory (or on disk, spilled).
            for label, rows in [(schema.MODEL, models), *nodes.items()]:
                for part in rows.take_parts(LOAD_ROWS):
                    self._copy(label, part)
            keys = {label: _key_map(tables) for label, tables in self._keys.items()}
            for (rel, src, dst), rows in rels.items():
                for part in rows.take_parts(LOAD_ROWS):
                    part = _keyed(part, keys[src], keys[dst])
                    self._copy(rel, part, f" (from='{src}', to='{dst}')")
            for prefix in drop:
                self._delete(prefix)
            self._conn.execute(f"MATCH (m:{schema.MODEL}) WHERE m.uid IN $uids "
                               f"SET m.complete = true",
                               {"uids": uids})
        interrupts.completed()  # stored: what follows only tidies
        if had_models:
            grown = self.path.stat().st_size - size_before
            self._give_back_free_pages(max(0, grown - WASTE_FACTOR * self._loaded_bytes))

    @contextmanager
    def _write(self) -> Iterator[None]:
        """A write, durable (checkpointed) on return; all or nothing.

        Undone by the engine while nothing is committed; once a part is committed, by
        putting the rollback copy back: at once on an error, on the next open after a
        crash.
        """
        if self._pool:
            self._reopen(0)  # a bounded pool cannot hold a large COPY's write state
        rollback = self._rollback_path()
        tmp = rollback.with_name(rollback.name + ".tmp")
        shutil.copyfile(self.path, tmp)
        os.replace(tmp, rollback)
        self._uncommitted = 0
        self._committed = False
        try:
            self._conn.execute("BEGIN TRANSACTION")
            try:
                yield
                self._committed = True
                self._conn.execute("COMMIT")
                self._conn.execute("CHECKPOINT")
            except BaseException:
                self._rollback()
                if self._committed:
                    self._put_back_the_rollback_copy()
                raise
        finally:
            self._committed = False
            rollback.unlink(missing_ok=True)

    def _commit_part(self) -> None:
        """Commit and checkpoint what the write loaded so far; the write goes on."""
        self._committed = True
        self._conn.execute("COMMIT")
        self._conn.execute("CHECKPOINT")
        # LadybugDB's default pool keeps every page the write has made; reopening empties
        # it (~35 ms), so the write holds one part's pages, not the whole model's.
        self._reopen(0)
        self._conn.execute("BEGIN TRANSACTION")
        self._uncommitted = 0

    def _put_back_the_rollback_copy(self) -> None:
        self.close()
        self._roll_back_a_write_that_died()
        self._open(self._pool)

    def _rollback_path(self) -> Path:
        return self.path.with_name(self.path.name + ".rollback")

    def _roll_back_a_write_that_died(self) -> None:
        shutil.rmtree(self._compact_path(), ignore_errors=True)  # a compaction that died
        rollback = self._rollback_path()
        rollback.with_name(rollback.name + ".tmp").unlink(missing_ok=True)
        if rollback.exists():
            self.path.with_name(self.path.name + ".wal").unlink(missing_ok=True)
            os.replace(rollback, self.path)

    def _copy(self, table: str, part: pa.Table | Path, options: str = "") -> None:
        """Load one part: an Arrow table, or a Parquet file (which the engine reads).

        A relationship part is a ``COPY`` (its ends already keys: :func:`_keyed`). A node
        part is a ``LOAD FROM ... CREATE``, one statement for the part, which returns the
        keys it gave: without a hash index LadybugDB refuses a ``COPY`` into a table
        that holds rows.
        """
        interrupts.poll()  # Ctrl-C stops a write here, where it can be undone whole
        count = pq.read_metadata(part).num_rows if isinstance(part, Path) else part.num_rows
        if self._uncommitted and self._uncommitted + count > LOAD_ROWS:
            self._commit_part()
        source = _string_literal(str(part)) if isinstance(part, Path) else "arrow_rows"
        arrow_rows = part  # noqa: F841  -- the engine reads the Python variable by this name
        if table in self._fresh:  # COPY (~6 x faster) while the table has never had rows
            self._fresh.discard(table)
            self._conn.execute(f"COPY {table} FROM {source}")
            created = self._conn.execute(f"MATCH (n:{table}) RETURN n.uid AS uid, "
                                         f"n.{KEY} AS key")
            self._keys.setdefault(table, []).append(created.get_as_arrow())
        elif table in schema.LABELS:
            props = ", ".join(f"`{name}`: `{name}`" for name, _t in schema.node_columns(table))
            created = self._conn.execute(f"LOAD FROM {source} CREATE (n:{table} {{{props}}}) "
                                         f"RETURN n.uid AS uid, n.{KEY} AS key")
            self._keys.setdefault(table, []).append(created.get_as_arrow())
        else:
            self._conn.execute(f"COPY {table} FROM {source}{options}")
        self._uncommitted += count
        self._loaded_bytes += part.stat().st_size if isinstance(part, Path) else part.nbytes

    def _never_filled(self, label: str) -> bool:
        """Whether node table ``label`` has never held a row (since its file was written):
        only then does LadybugDB take a COPY into it. A table whose rows were all
        deleted still has their storage, and is refused."""
        ((count,),) = self.rows(f"MATCH (n:{label}) RETURN count(*)")
        if count:
            return False
        ((chunks,),) = self.rows(f"CALL storage_info('{label}') RETURN count(*)")
        return not chunks

    def delete(self, prefix: str) -> None:
        """Remove every node (and its relationships) whose uid starts with ``prefix``."""
        ((total,),) = self.rows("MATCH (n) RETURN count(*)")
        ((mine,),) = self.rows("MATCH (n) WHERE n.uid STARTS WITH $p RETURN count(*)", p=prefix)
        with self._write():
            self._delete(prefix)
        interrupts.completed()
        # A delete marks rows deleted but frees few pages: only a rewrite gives the
        # model's space back. It costs the whole archive, so it is done when the model
        # was an eighth of it or more (the last of many is, at the latest), or when the
        # file is a quarter free pages.
        if mine * COMPACT_SHARE >= total:
            self.compact()
        else:
            self._give_back_free_pages()

    def _delete(self, prefix: str) -> None:
        for label in reversed(schema.LABELS):
            self._conn.execute(f"MATCH (n:{label}) WHERE n.uid STARTS WITH $p DETACH DELETE n",
                               {"p": prefix})

    def _rollback(self) -> None:
        if self._conn is None:
            return  # a reopen failed: no transaction is open
        try:
            self._conn.execute("ROLLBACK")
        except RuntimeError:
            pass  # a failed statement already ended the transaction

    # -- giving space back -----------------------------------------------------------

    def free_bytes(self) -> int:
        """The database file's free pages: space deletes and checkpoints left, which
        LadybugDB reuses but never gives back."""
        rows = self.rows("CALL disk_size_info() RETURN *")
        return sum(int(r[3]) for r in rows if r[1] == "free_pages")

    def _give_back_free_pages(self, waste: int = 0) -> None:
        """:meth:`compact` when a quarter of the file (and at least :data:`COMPACT_BYTES`)
        is waste: free pages, and ``waste`` more (what an add grew the file by beyond
        :data:`WASTE_FACTOR` times the rows it loaded).

        Adds to an archive that holds models leave both: their checkpoints free pages,
        and each relationship table's new rows sparse pages (seven sample models took
        12.8 MB one by one, 7.5 MB rewritten). A rewrite costs the whole archive, so it
        waits until the waste is a share of it."""
        waste += self.free_bytes()
        if waste >= COMPACT_BYTES and waste * 4 >= self.path.stat().st_size:
            self.compact()

    def compact(self) -> None:
        """Rewrite the database into a fresh file of just its rows, and put it in place.

        LadybugDB has no VACUUM: free pages stay in the file. The rows are copied out
        to Parquet (``COPY (MATCH ...) TO``), loaded into a new database, one COPY per
        table, beside this one in ``<path>.compact/``, checkpointed and closed, and
        renamed over the file (atomic): a compaction that dies leaves the archive as it
        was, and its directory is removed on the next open.
        """
        work = self._compact_path()
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        fresh = work / self.path.name
        try:
            parts = self._export_tables(work)
            db = ladybug.Database(str(fresh), auto_checkpoint=False)
            conn = ladybug.Connection(db)
            try:
                for statement in schema_statements():
                    conn.execute(statement)
                keys = {}
                for table, file, ends in parts:
                    if ends is None:  # a node table: empty, so one COPY
                        conn.execute(f"COPY {table} FROM {_string_literal(str(file))}")
                        keys[table] = _key_map([conn.execute(
                            f"MATCH (n:{table}) RETURN n.uid AS uid, n.{KEY} AS key"
                        ).get_as_arrow()])
                        continue
                    # relationships: their ends' uids become the fresh tables' keys, a
                    # batch at a time
                    for batch in pq.ParquetFile(file).iter_batches(LOAD_ROWS):
                        arrow_rows = _keyed(pa.Table.from_batches([batch]),  # noqa: F841
                                            keys[ends[0]], keys[ends[1]])
                        conn.execute(f"COPY {table} FROM arrow_rows "
                                     f"(from='{ends[0]}', to='{ends[1]}')")
                conn.execute("CHECKPOINT")
            finally:
                conn.close()
                db.close()
            self.close()
            self.path.with_name(self.path.name + ".wal").unlink(missing_ok=True)
            os.replace(fresh, self.path)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if self._conn is None:
                self._open(self._pool)

    def _export_tables(self, work: Path) -> list[tuple[str, Path, tuple[str, str] | None]]:
        """Every table's rows in Parquet files in ``work``: (table, file, None for a node
        table, a relationship's (from label, to label)); relationship ends by ``uid``."""
        parts: list[tuple[str, str, tuple[str, str] | None]] = []
        for label in schema.LABELS:
            columns = ", ".join(f"n.{name} AS {name}" for name, _t in schema.node_columns(label))
            parts.append((label, f"MATCH (n:{label}) RETURN {columns}", None))
        for rel, (sources, targets) in schema.REL_ENDS.items():
            props = "".join(f", e.{name} AS {name}" for name, _t in schema.rel_columns(rel))
            for a in sources:
                for b in targets:
                    parts.append((rel, f"MATCH (x:{a})-[e:{rel}]->(y:{b}) RETURN x.uid AS "
                                       f"`from`, y.uid AS `to`{props}", (a, b)))
        files = []
        for i, (table, query, ends) in enumerate(parts):
            file = work / f"{i}.parquet"
            self._conn.execute(f"COPY ({query}) TO {_string_literal(str(file))}")
            if pq.read_metadata(file).num_rows:
                files.append((table, file, ends))
        return files

    def _compact_path(self) -> Path:
        return self.path.with_name(self.path.name + ".compact")

    def disk_bytes(self) -> int:
        siblings = self.path.parent.glob(self.path.name + ".*")
        return sum(p.stat().st_size for p in [self.path, *siblings] if p.is_file())

    def close(self) -> None:
        conn, db = getattr(self, "_conn", None), getattr(self, "_db", None)
        self._conn = self._db = None
        if conn is not None:
            conn.close()
        if db is not None:
            db.close()


def _key_map(created: list[pa.Table]) -> tuple[pa.Array, pa.Array]:
    """Nodes' (uids, keys), from the tables of ``uid``/``key`` a load returned."""
    table = pa.concat_tables(created)
    return (table.column("uid").combine_chunks().cast(pa.string()),
            table.column("key").combine_chunks().cast(pa.int64()))


def _keyed(part: pa.Table | Path, ends_from: tuple[pa.Array, pa.Array],
           ends_to: tuple[pa.Array, pa.Array]) -> pa.Table | Path:
    """A relationship part with its ``from``/``to`` uids replaced by the nodes' keys
    (``ends_*``: :func:`_key_map` of the label at that end). A Parquet file is rewritten
    in place: it is the add's own scratch file, and the engine reads it from there."""
    table = pq.read_table(part) if isinstance(part, Path) else part
    for end, (uids, keys) in (("from", ends_from), ("to", ends_to)):
        at = pc.index_in(table.column(end), value_set=uids)
        if at.null_count:
            missing = table.column(end).filter(pc.is_null(at))[0]
            raise ArchiveError(f"relationship end {missing} is not a node of this load; "
                               f"the rows are inconsistent (archive/schema.py)")
        table = table.set_column(table.schema.get_field_index(end), end, keys.take(at))
    if isinstance(part, Path):
        pq.write_table(table, part, compression="none")
        return part
    return table


def _string_literal(text: str) -> str:
    """``text`` as a Cypher string literal (a file path COPY reads)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pool_full(e: RuntimeError) -> bool:
    return "buffer pool is full" in str(e)
