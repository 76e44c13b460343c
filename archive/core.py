"""The archive: ``add`` / ``restore`` (an inverse pair), ``list``, ``query``, ``remove``.

``add`` turns the model into the converter's GraphML :class:`~modelexport.graphml.Document`
(tensor bytes streamed into the content-addressed store instead of a sidecar), builds
the schema's rows (a large model's in Parquet files in a scratch directory of the store,
so the Document's memory is freed before the engine's grows) and hands them to the
engine in one all-or-nothing bulk write.
``restore`` reads the rows back, a page at a time, into the same Document and decodes
it with the converter's lossless decoding (document_to_model), reading tensor bytes
from the store.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import json
import os
import re
import secrets
import shutil
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from modelexport import graphml
from modelexport.archive import interrupts, schema
from modelexport.archive.engine import Engine
from modelexport.archive.errors import ArchiveError, ArchiveOpenError, ModelNameError, QueryError
from modelexport.archive.store import TensorStore
from modelexport.converter import (
    SidecarWriter,
    document_to_model,
    onnx_document,
    read_export,
    read_sidecar,
    write_rebuilt,
)
from modelexport.converter.decode import Deferred, decode_model_header
from modelexport.graphml import format as fmt
from modelexport.graphml.files import check_output_path, pending_files

PathLike = str | os.PathLike
Progress = Callable[[str], None]

#: Clauses that change a graph: ``query`` refuses them (the engine's read-only
#: transaction is the second line of defence).
WRITE_CLAUSES = ("CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "DROP", "ALTER",
                 "COPY", "LOAD", "INSTALL", "ATTACH", "IMPORT", "EXPORT", "CHECKPOINT",
                 "BEGIN", "COMMIT", "ROLLBACK", "FOREACH")
_WRITE_RE = re.compile(r"\b(" + "|".join(WRITE_CLAUSES) + r")\b", re.IGNORECASE)
_LITERALS_RE = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|//[^\n]*|/\*.*?\*/",
                          re.DOTALL)

_LOAD_ALPHABET = string.ascii_letters + string.digits

#: Rows per page when a model's nodes and edges are read back: the engine holds one
#: page of query results at a time.
PAGE_ROWS = 32768


def _no_progress(step: str) -> None:
    pass


def _give_back_freed_memory() -> None:
    """Return memory Python has freed to the system, where the C library allows it.

    glibc keeps freed heap memory for the thread that freed it; the database engine
    allocates from its own threads, so without this a freed Document's memory would
    stay counted in the process beside everything the engine takes.
    """
    gc.collect()
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)


@functools.cache
def _libc() -> Any:
    try:
        return ctypes.CDLL(None)
    except (OSError, TypeError):  # no C library to load by name (Windows)
        return None


@dataclass
class ModelInfo:
    """One archived model, as ``list`` shows it: each field is the Model node's property
    of that name (:data:`modelexport.archive.schema.PROPERTIES`)."""

    name: str
    ops: int
    modules: int
    opsets: dict[str, int]
    producer: str
    added_at: str
    source: str
    tensor_bytes: int  # the model's tensors, as a sidecar would hold them
    new_bytes: int  # what adding it stored that the store did not hold yet


@dataclass
class Listing:
    models: list[ModelInfo]
    tensor_bytes: int  # all models' tensors, before deduplication
    stored_bytes: int  # the tensor store on disk: each distinct tensor once
    database_bytes: int | None  # the database file(s), for an embedded archive


@dataclass
class AddResult:
    name: str
    ops: int
    modules: int
    nodes: int
    relationships: int
    tensor_bytes: int
    new_bytes: int
    replaced: bool


@dataclass
class RestoreResult:
    name: str
    path: Path
    bytes: int
    sidecar: Path | None = None
    external_data: Path | None = None  # a model past 2 GB: its tensors, beside ``path``


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "rows": [dict(zip(self.columns, r, strict=True)) for r in self.rows],
        }


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


class _StoreSink(SidecarWriter):
    """A sidecar writer whose bytes go to the tensor store, one blob per tensor.

    Offsets, size and SHA-256 are those of the sidecar ``export-graphml`` would write,
    so the Document is exactly the converter's; ``blobs`` maps each offset to its blob.
    """

    def __init__(self, store: TensorStore) -> None:
        super().__init__(_Discard())
        self.store = store
        self.blobs: dict[int, tuple[int, str]] = {}
        self.new_bytes = 0

    def add(self, data: bytes) -> tuple[int, int]:
        offset, length = super().add(data)
        self._record(offset, length, *self.store.put(data))
        return offset, length

    def add_stream(self, length: int, fill: Any) -> tuple[int, int]:
        blob = self.store.writer()

        def tee(write: Callable[[bytes], None]) -> None:
            def both(piece: bytes) -> None:
                write(piece)
                blob.write(piece)
            fill(both)

        try:
            offset, length = super().add_stream(length, tee)
            self._record(offset, length, *blob.finish())
        except BaseException:
            blob.discard()
            raise
        return offset, length

    def _record(self, offset: int, length: int, sha: str, new: bool) -> None:
        self.blobs[offset] = (length, sha)
        self.new_bytes += length if new else 0


class _StoreReader:
    """``read(ref)`` for document_to_model: a sidecar reference → the blob stored for it."""

    def __init__(self, store: TensorStore, blobs: dict[int, tuple[int, str]]) -> None:
        self.store, self.blobs = store, blobs

    def read(self, ref: dict[str, Any]) -> bytes:
        try:
            length, sha = self.blobs[int(ref["offset"])]
        except (KeyError, TypeError, ValueError) as e:
            raise ArchiveError(f"the archive has no tensor for sidecar reference {ref!r}; "
                               f"the archive is damaged") from e
        if int(ref["length"]) != length:
            raise ArchiveError(f"tensor {sha}: {length} bytes stored, {ref['length']} expected")
        return self.store.read(sha, length)

    def copy_to(self, ref: dict[str, Any], out_fd: int) -> int:
        length, sha = self.blobs[int(ref["offset"])]
        return self.store.copy_to(sha, length, out_fd)


class Archive:
    """Models in a graph database; see :func:`open_archive`."""

    def __init__(self, engine: Engine, store: TensorStore,
                 discard: Callable[[], None] | None = None) -> None:
        """``discard``: removes the archive from disk, for one this open created; called
        on close when no model was added (an archive exists from its first add on)."""
        self._engine = engine
        self._store = store
        self._discard = discard
        self._added = False
        with interrupts.guarded():
            self._recover()

    # -- context manager -----------------------------------------------------------

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with interrupts.guarded():
            self._engine.close()
            if self._discard is not None and not self._added:
                self._discard()

    # -- add -----------------------------------------------------------------------

    def add(self, src: PathLike | Any, name: str | None = None, *, replace: bool = False,
            progress: Progress | None = None) -> AddResult:
        """Archive an ONNX model (path or ModelProto) or a GraphML file with its sidecar."""
        return self.add_many([(src, name)], replace=replace, progress=progress)[0]

    def add_many(self, items: list[tuple[PathLike | Any, str | None]], *, replace: bool = False,
                 progress: Progress | None = None) -> list[AddResult]:
        """Archive several models in one write (all or none); ``items``: (src, name).

        One bulk load per table (or per part of a large table) for the whole batch: the
        database's fixed cost per load is paid once, not per model.
        """
        progress = progress or _no_progress
        with interrupts.guarded():
            return self._add_many(items, replace, progress)

    def _add_many(self, items: list[tuple[PathLike | Any, str | None]], replace: bool,
                  progress: Progress) -> list[AddResult]:
        named = [(src, _name_of(src, name)) for src, name in items]
        replaced: dict[str, str] = {}  # name -> uid of the model it replaces
        for i, (_src, name) in enumerate(named):
            if any(name == other for _s, other in named[:i]):
                raise ModelNameError(f"the name {name!r} is given twice; name each model once")
            old = self._model_uid(name)
            if old is not None and not replace:
                raise ModelNameError(f"the archive already holds a model named {name!r}; "
                                     f"choose another --name or pass --replace")
            if old is not None:
                replaced[name] = old
        batch, results = [], []
        loads = self._new_load_ids(len(named))
        # A large model's rows wait on disk (spill), not in memory, while its Document
        # is turned into them and then freed; the engine loads them from there.
        with self._adding(), self._store.scratch() as spill:
            # Ctrl-C stops this part anywhere: its clean-up (the scratch directory, the
            # store's temporary files and unused blobs) copes. The load below is stopped
            # only between its steps, and not at all once it is done.
            with interrupts.interruptible():
                for (src, name), load in zip(named, loads, strict=True):
                    rows, result = self._prepare(src, name, load, spill, progress)
                    result.replaced = name in replaced
                    batch.append(rows)
                    results.append(result)
            _give_back_freed_memory()  # the Documents' memory, before the engine's grows
            progress("loading into the database")
            self._engine.load(batch, drop=list(replaced.values()))
            interrupts.completed()
            self._added = True
        if replaced:
            self._collect_garbage()
        return results

    def _new_load_ids(self, count: int) -> list[str]:
        """``count`` ids for the models of an add, unused in the archive: the prefix of
        their nodes' uids.

        Six characters, so that a uid (``<load>/<GraphML id>``, the id a letter and a
        number) of a graph of up to 10,000 nodes of a kind fits in the 12 bytes LadybugDB
        keeps inline in its primary-key index: longer keys go to the index's string
        overflow pages (2.0 MB of the samples' 9.5 MB with 12-character load ids).
        """
        taken = {uid for (uid,) in self._engine.rows(f"MATCH (m:{schema.MODEL}) RETURN m.uid")}
        loads: list[str] = []
        while len(loads) < count:
            load = "".join(secrets.choice(_LOAD_ALPHABET) for _ in range(6))
            if schema.model_uid(load) not in taken and load not in loads:
                loads.append(load)
        return loads

    def _prepare(self, src: Any, name: str, load: str, spill: Path,
                 progress: Progress) -> tuple[Any, AddResult]:
        """The rows of one model (a large one's in files in ``spill``), its tensors
        already in the store."""
        progress(f"reading {src if isinstance(src, (str, os.PathLike)) else name}")
        rows = schema.ModelRows.empty(load, spill)  # before the Document
        is_graphml = isinstance(src, (str, os.PathLike)) and Path(src).suffix.lower() == ".graphml"
        doc, blobs, new_bytes = (self._graphml_document(Path(src)) if is_graphml
                                 else self._onnx_document(src, progress))
        progress("building tables")
        info = _model_info(doc, blobs, new_bytes, src)
        schema.document_rows(doc, rows, name=name, model=info,
                             blobs={o: sha for o, (_n, sha) in blobs.items()})
        nodes, rels = rows.counts()
        return rows, AddResult(name, info["ops"], info["modules"], nodes, rels,
                               info["tensor_bytes"], new_bytes, False)

    def _onnx_document(self, src: Any, progress: Progress) -> tuple[Any, dict, int]:
        progress("converting; storing tensors")
        sink = _StoreSink(self._store)
        # As export-graphml does: initializer bytes stay in the file and are streamed
        # to the store, not parsed into memory first.
        doc = onnx_document(src, sink)
        return doc, sink.blobs, sink.new_bytes

    def _graphml_document(self, src: Path) -> tuple[Any, dict, int]:
        if not src.is_file():
            raise ArchiveError(f"GraphML file {str(src)!r} does not exist")
        doc = read_export(src)
        graphml.remove_refs(doc)  # the archive keeps the data flow; boxes are drawing
        data = doc.graph.data
        blobs: dict[int, tuple[int, str]] = {}
        new_bytes = 0
        with read_sidecar(src, data.get("sidecar"), data.get("sidecar_size"),
                          data.get("sidecar_sha256")) as reader:
            def read(ref: dict[str, Any]) -> bytes:
                nonlocal new_bytes
                data = reader.read(ref)
                sha, new = self._store.put(data)
                blobs[int(ref["offset"])] = (len(data), sha)
                new_bytes += len(data) if new else 0
                return data

            document_to_model(doc, read)  # decoding checks the document and meets every tensor
        return doc, blobs, new_bytes

    @contextmanager
    def _adding(self) -> Iterator[None]:
        """Mark an add in progress, so blobs of one that dies are collected on next open."""
        marker = self._store.root / ".adding"
        marker.touch()
        try:
            yield
        except BaseException:
            self._store.sweep_temporary()
            self._collect_garbage()
            marker.unlink(missing_ok=True)
            raise
        marker.unlink(missing_ok=True)

    def _recover(self) -> None:
        """Drop what a killed or failed add left: incomplete models and unused blobs."""
        incomplete = self._engine.rows(
            f"MATCH (m:{schema.MODEL}) WHERE m.complete = false RETURN m.uid")
        for (uid,) in incomplete:
            self._engine.delete(uid)
        marker = self._store.root / ".adding"
        if incomplete or marker.exists():
            self._store.sweep_temporary()
            self._collect_garbage()
            marker.unlink(missing_ok=True)

    def _collect_garbage(self) -> None:
        used: set[str] = set()
        for (tensors,) in self._engine.rows(f"MATCH (m:{schema.MODEL}) RETURN m.tensors"):
            used.update(sha for _offset, _length, sha in json.loads(tensors or "[]"))
        self._store.delete_unused(used)

    # -- reading -------------------------------------------------------------------

    def _model_uid(self, name: str) -> str | None:
        rows = self._engine.rows(f"MATCH (m:{schema.MODEL}) WHERE m.name = $name AND "
                                 f"m.complete = true RETURN m.uid", name=name)
        return rows[0][0] if rows else None

    def _require(self, name: str) -> list[Any]:
        rows = self._engine.rows(
            f"MATCH (m:{schema.MODEL}) WHERE m.name = $name AND m.complete = true "
            f"RETURN m.uid, m.graph, m.tensors", name=name)
        if not rows:
            known = sorted(m.name for m in self.list().models)
            hint = f" (it holds: {', '.join(known[:5])}{', ...' if len(known) > 5 else ''})" \
                if known else " (it is empty)"
            raise ModelNameError(f"the archive has no model named {name!r}{hint}; see "
                                 f"'modelexport archive list'")
        return rows[0]

    def list(self) -> Listing:
        names = [f.name for f in fields(ModelInfo)]  # Model properties (schema.py)
        rows = self._engine.rows(
            f"MATCH (m:{schema.MODEL}) WHERE m.complete = true "
            f"RETURN {', '.join(f'm.{n}' for n in names)} ORDER BY m.name")
        models = []
        for r in rows:
            info = dict(zip(names, r, strict=True))
            info["opsets"] = json.loads(info["opsets"] or "{}")
            models.append(ModelInfo(**info))
        return Listing(models, sum(m.tensor_bytes for m in models), self._store.disk_bytes(),
                       self._engine.disk_bytes())

    def document(self, name: str) -> graphml.Document:
        """The GraphML Document stored as ``name``, as ``archive add`` read it (its
        sidecar references point into the model's sidecar offsets, which the Model
        node's ``tensors`` map to tensor-store blobs)."""
        _uid, graph, _tensors = self._require(name)
        # Rows are streamed from the engine into the Document a page of seq numbers at a
        # time, so the engine never holds more than a page of results.
        nodes = self._pages(
            [f"MATCH (n:{label}) WHERE n.model = $name AND n.seq >= $lo AND n.seq < $hi "
             f"RETURN n.seq, n.gid, n.owner, n.data, n.graph" for label in schema.ELEMENT_LABELS],
            name)
        edges = self._pages(
            [f"MATCH (a)-[e:{schema.FEEDS}]->(b) WHERE a.model = $name AND e.seq >= $lo AND "
             f"e.seq < $hi RETURN e.seq, e.gid, a.gid, b.gid, e.data"], name)
        return schema.rows_to_document(graph, nodes, edges)

    def _pages(self, queries: list[str], name: str) -> Iterator[list[Any]]:
        """The rows of ``queries`` (with ``$lo``/``$hi`` bounds on seq), page by page.

        seq numbers run 0, 1, 2, ... across the queries together, with no gap, so the
        first page they fill only in part is the last.
        """
        lo, found = 0, PAGE_ROWS
        while found == PAGE_ROWS:
            found = 0
            for query in queries:
                for row in self._engine.stream(query, name=name, lo=lo, hi=lo + PAGE_ROWS):
                    found += 1
                    yield row
            lo += PAGE_ROWS

    def restore(self, name: str, out: PathLike, *, graphml: bool = False,
                progress: Progress | None = None) -> RestoreResult:
        """Write model ``name`` back as ONNX (or, ``graphml``: GraphML + sidecar) at ``out``."""
        progress = progress or _no_progress
        out = check_output_path(out, error=ArchiveError)
        _uid, _graph, tensors = self._require(name)
        blobs = {int(o): (int(n), sha) for o, n, sha in json.loads(tensors or "[]")}
        progress(f"reading {name}")
        doc = self.document(name)
        self._engine.release_memory()  # the pages it read: not needed to rebuild the model
        if graphml:
            return self._restore_graphml(name, doc, blobs, out)
        progress("rebuilding the model")
        reader = _StoreReader(self._store, blobs)
        deferred = Deferred()
        model = document_to_model(doc, reader.read, deferred=deferred)
        header = decode_model_header(doc.graph.data)
        del doc  # the model holds it all now: free the Document before writing
        progress(f"writing {out.name}")
        # As import-onnx writes: initializer bytes go from the store to the file without
        # passing through Python, and past 2 GB to <out>.data as external data.
        external = write_rebuilt(out, header, model, deferred, reader)
        return RestoreResult(name, out, out.stat().st_size, external_data=external)

    def _restore_graphml(self, name: str, doc: Any, blobs: dict[int, tuple[int, str]],
                         out: Path) -> RestoreResult:
        sidecar = out.with_suffix(fmt.SIDECAR_SUFFIX)
        if sidecar == out:
            raise ArchiveError(f"output {str(out)!r} would be its own sidecar; name it *.graphml")
        doc.graph.data["sidecar"] = sidecar.name
        size = int(doc.graph.data.get("sidecar_size", 0))
        with pending_files() as pending:
            with pending.open(sidecar) as f:
                position = 0
                for offset in sorted(blobs):
                    length, sha = blobs[offset]
                    f.write(b"\0" * (offset - position))
                    f.flush()
                    self._store.copy_to(sha, length, f.fileno())
                    f.seek(0, os.SEEK_END)
                    position = offset + length
                f.write(b"\0" * (size - position))
            graphml.add_refs(doc)  # drawn as export-graphml draws it
            with pending.open(out) as g:
                graphml.write_graphml(doc, g)
                written = g.tell()
        return RestoreResult(name, out, written, sidecar)

    # -- query, remove -------------------------------------------------------------

    def query(self, cypher: str, **params: Any) -> QueryResult:
        """Run read-only Cypher; write clauses are refused."""
        bare = _LITERALS_RE.sub(" ", cypher)
        hit = _WRITE_RE.search(bare)
        if hit:
            raise QueryError(f"'{hit.group(1).upper()}' is refused: archive queries are "
                             f"read-only; change the archive with 'archive add' or 'archive "
                             f"remove'")
        columns, rows = self._engine.read_only(cypher, params)
        return QueryResult(columns, rows)

    def export_neo4j(self, outdir: PathLike) -> Any:
        """``neo4j-admin database import`` CSVs of every model, and the command to load them."""
        from modelexport.archive.neo4j_csv import export_neo4j

        return export_neo4j(self._engine, Path(outdir))

    def diff(self, name_a: str, name_b: str) -> Any:
        """The module-aware diff of archived models ``name_a`` and ``name_b`` (SPEC §12),
        the same :class:`modelexport.converter.compare.ModelDiff` ``compare`` gives for
        their files: from the stored Documents and the SHA-256 the tensor store keeps of
        each tensor, without reading a tensor's bytes."""
        from modelexport.converter.compare import compare_documents

        sides = []
        for name in (name_a, name_b):
            _uid, _graph, tensors = self._require(name)
            hashes = {int(o): sha for o, _n, sha in json.loads(tensors or "[]")}
            sides += [self.document(name), hashes]
        return compare_documents(*sides)

    def remove(self, name: str) -> None:
        with interrupts.guarded():
            uid, _graph, _tensors = self._require(name)
            self._engine.delete(uid)
            interrupts.completed()
            self._collect_garbage()


def _name_of(src: Any, name: str | None) -> str:
    if name is None:
        if not isinstance(src, (str, os.PathLike)):
            raise ArchiveError("give a name for a model passed in memory")
        name = Path(src).stem
    _check_name(name)
    return name


def _check_name(name: str) -> None:
    if not name or name != name.strip() or any(c in name for c in "\n\r\t\0"):
        raise ArchiveError(f"model name {name!r} is not usable; give a non-empty name without "
                           f"surrounding spaces or control characters")


def _model_info(doc: Any, blobs: dict[int, tuple[int, str]], new_bytes: int,
                src: Any) -> dict[str, Any]:
    data = doc.graph.data
    ops = modules = 0
    for node, _owner in doc.iter_nodes():
        kind = node.data.get("kind")
        ops += kind == fmt.KIND_OP
        modules += kind == fmt.KIND_MODULE
    header = decode_model_header(data)  # opsets may also sit in model_extra
    opsets = {o.domain or "ai.onnx": o.version for o in header.opset_import}
    producer = " ".join(p for p in (header.producer_name, header.producer_version) if p)
    return {
        "added_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": str(src) if isinstance(src, (str, os.PathLike)) else "",
        "producer": producer, "opsets": schema.dumps(opsets),
        "ir_version": header.ir_version, "sidecar_sha256": data.get("sidecar_sha256"),
        "ops": ops, "modules": modules,
        "tensor_bytes": sum(length for length, _sha in blobs.values()), "new_bytes": new_bytes,
        "tensors": schema.dumps([[o, n, sha] for o, (n, sha) in sorted(blobs.items())]),
    }



def open_archive(db: PathLike, *, tensor_store: PathLike | None = None, user: str | None = None,
                 password: str | None = None, create: bool = True) -> Archive:
    """Open the archive ``db``: a LadybugDB file path, or a ``bolt://`` / ``neo4j://`` URI.

    A path's tensors live in ``<db>.tensors/`` beside it unless ``tensor_store`` names
    another directory; a server needs ``tensor_store``. ``create``: make a new archive
    at a path that does not exist yet (else that is an error).
    """
    text = os.fspath(db)
    discard = None
    if re.match(r"^(bolt|neo4j)(\+s|\+ssc)?://", text):
        from modelexport.archive.bolt_engine import BoltEngine

        if tensor_store is None:
            raise ArchiveOpenError("a server archive keeps tensor bytes outside the database: "
                                   "give --tensor-store DIR")
        engine: Engine = BoltEngine(text, user=user, password=password)
        store_dir = Path(tensor_store)
    else:
        from modelexport.archive.ladybug_engine import LadybugEngine

        new = not Path(text).exists()
        store_dir = Path(tensor_store) if tensor_store is not None else Path(text + ".tensors")
        new_store = not store_dir.exists()
        engine = LadybugEngine(text, create=create)
        if new:
            discard = functools.partial(_remove_new_archive, Path(text),
                                        store_dir if new_store else None)
    try:
        return Archive(engine, TensorStore(store_dir), discard)
    except BaseException:
        engine.close()
        if discard is not None:
            discard()
        raise


def _remove_new_archive(db: Path, store: Path | None) -> None:
    """Remove the files of an archive that was created but never given a model: the
    database and its siblings, and the tensor store if it was made for it."""
    for suffix in ("", ".wal", ".shadow", ".rollback", ".rollback.tmp"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    if store is not None:
        shutil.rmtree(store, ignore_errors=True)
