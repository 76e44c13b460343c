"""The archive's graph schema: labels, relationships, properties, and the rows they hold.

The one place loaders, queries and exporters read the schema from. A model becomes:

- one ``Model`` node (name, opsets, producer, sidecar hash, counts, the root graph's
  GraphML data, and the map from the model's sidecar offsets to tensor-store blobs);
- a ``Module``, ``Op``, ``Value`` or ``Subgraph`` node per GraphML node (by its ``kind``);
- ``PARENT_OF`` from each node's container (the Model for top-level nodes) with ``ord``,
  its position there; ``FEEDS`` per GraphML edge (one per tensor use).

Every node carries ``model`` (the archive name), ``uid`` (unique in the database:
``<load id>/<GraphML id>``), ``gid`` (its GraphML id), ``owner`` (the GraphML id of the
group node it sits in, '' at the top), ``seq`` (document order), and
``data``: the GraphML data it came from, as JSON; group nodes also keep their nested
graph's id and data in ``graph``. Restoring rebuilds the exact
:class:`modelexport.graphml.Document` from these and hands it to the converter's document_to_model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from modelexport.graphml import Document, Edge, Graph, Key, Node
from modelexport.graphml import format as fmt

MODEL, MODULE, OP, VALUE, SUBGRAPH = "Model", "Module", "Op", "Value", "Subgraph"
PARENT_OF, FEEDS = "PARENT_OF", "FEEDS"

#: Which label a GraphML node of each kind gets.
LABEL_OF_KIND = {
    fmt.KIND_MODULE: MODULE,
    fmt.KIND_OP: OP,
    fmt.KIND_INPUT: VALUE,
    fmt.KIND_OUTPUT: VALUE,
    fmt.KIND_INITIALIZER: VALUE,
    fmt.KIND_SUBGRAPH: SUBGRAPH,
}
ELEMENT_LABELS = (MODULE, OP, VALUE, SUBGRAPH)
LABELS = (MODEL, *ELEMENT_LABELS)

#: Properties every node has, in table order (``uid`` is the primary key).
COMMON = [("uid", "STRING"), ("model", "STRING"), ("gid", "STRING"), ("owner", "STRING"),
          ("seq", "INT64"), ("data", "STRING"), ("graph", "STRING")]

#: The query properties of each label: (property, type, where its value comes from).
#: For element labels the source is a GraphML data key; Model's are computed at add time.
PROPERTIES: dict[str, list[tuple[str, str, str]]] = {
    MODEL: [("name", "STRING", ""), ("complete", "BOOLEAN", ""), ("added_at", "STRING", ""),
            ("source", "STRING", ""), ("producer", "STRING", ""), ("opsets", "STRING", ""),
            ("ir_version", "INT64", ""), ("sidecar_sha256", "STRING", ""),
            ("ops", "INT64", ""), ("modules", "INT64", ""), ("tensor_bytes", "INT64", ""),
            ("new_bytes", "INT64", ""), ("tensors", "STRING", "")],
    MODULE: [("tag", "STRING", "hierarchy_tag"), ("module_class", "STRING", "module_class"),
             ("name", "STRING", "name"), ("parameters", "INT64", "parameters")],
    OP: [("name", "STRING", "name"), ("op_type", "STRING", "op_type"),
         ("domain", "STRING", "domain"), ("tag", "STRING", "hierarchy_tag")],
    VALUE: [("kind", "STRING", "kind"), ("name", "STRING", "name"),
            ("dtype", "STRING", "dtype"), ("shape", "STRING", "shape"),
            ("tag", "STRING", "hierarchy_tag"), ("sha256", "STRING", ""),
            ("nbytes", "INT64", "length")],
    SUBGRAPH: [("name", "STRING", "attribute_name"), ("tag", "STRING", "hierarchy_tag")],
}

#: Relationship properties: (property, type, GraphML edge data key or "").
REL_PROPERTIES: dict[str, list[tuple[str, str, str]]] = {
    PARENT_OF: [("ord", "INT64", "")],
    FEEDS: [("tensor", "STRING", "e_tensor"), ("dtype", "STRING", "e_dtype"),
            ("shape", "STRING", "e_shape"), ("src_output", "INT64", "source_output"),
            ("dst_input", "INT64", "target_input"), ("gid", "STRING", ""),
            ("seq", "INT64", ""), ("data", "STRING", "")],
}
#: Which labels each relationship may join (every pair is declared).
REL_ENDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    PARENT_OF: ((MODEL, MODULE, OP, SUBGRAPH), ELEMENT_LABELS),
    FEEDS: (ELEMENT_LABELS, ELEMENT_LABELS),
}

_ARROW = {"STRING": pa.string(), "INT64": pa.int64(), "BOOLEAN": pa.bool_()}


def node_columns(label: str) -> list[tuple[str, str]]:
    """Every property of ``label``, in table order."""
    return COMMON + [(name, typ) for name, typ, _src in PROPERTIES[label]]


def rel_columns(rel: str) -> list[tuple[str, str]]:
    return [(name, typ) for name, typ, _src in REL_PROPERTIES[rel]]


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)


#: Rows per Arrow record batch: the Python lists a table fills are turned into Arrow
#: (compact) and released every this many rows, so they never hold a whole model.
BATCH_ROWS = 16384


@dataclass
class Rows:
    """Column-wise rows of one table, for bulk loading, in parts of :data:`BATCH_ROWS`.

    Rows are collected in Python lists and moved into an Arrow record batch every
    :data:`BATCH_ROWS` rows. With ``spill`` (a file-name prefix) each full batch is
    written to a Parquet file ``<spill><n>.parquet`` instead, so a large model's tables
    wait on disk, not in memory, for the engine. A part in ``parts`` is a record batch,
    a spilled file's number ``n`` or (once merged with another model's) its path.
    :meth:`take_parts` hands the parts over and empties these Rows.
    """

    columns: list[tuple[str, str]]
    spill: str | None = None
    values: dict[str, list[Any]] = field(default_factory=dict)
    parts: list[pa.RecordBatch | int | Path] = field(default_factory=list)
    count: int = 0  # rows added

    def __post_init__(self) -> None:
        self.values = {name: [] for name, _typ in self.columns}
        self.schema = pa.schema([(name, _ARROW[typ]) for name, typ in self.columns])
        self._names = frozenset(self.values)

    def _pending(self) -> int:
        return len(self.values[self.columns[0][0]])

    def add(self, row: dict[str, Any]) -> None:
        """Append ``row``; a column it leaves out is NULL, a key that is no column (a
        misspelled property) is an error rather than a silent NULL."""
        if not self._names.issuperset(row):
            unknown = sorted(set(row) - self._names)
            raise KeyError(f"{unknown} are not columns of this table; the columns are "
                           f"{sorted(self._names)} (archive/schema.py)")
        for name, _typ in self.columns:
            self.values[name].append(row.get(name))
        self.count += 1
        if self._pending() >= BATCH_ROWS:
            self._flush(self.spill)

    def _flush(self, spill: str | None = None) -> None:
        if not self._pending():
            return
        batch = pa.record_batch(
            [pa.array(self.values[name], type=_ARROW[typ]) for name, typ in self.columns],
            schema=self.schema)
        for column in self.values.values():
            column.clear()  # the same lists again: nothing new is left behind in memory
        if spill is None:
            self.parts.append(batch)
        else:
            # recorded by number, not path: an object made now (while the model's
            # Document is in memory) and kept would hold on to memory the Document frees
            number = len(self.parts)
            pq.write_table(pa.Table.from_batches([batch]), self._path(number),
                           compression="none")
            self.parts.append(number)

    def _path(self, part: int | Path) -> Path:
        return Path(f"{self.spill}{part}.parquet") if isinstance(part, int) else part

    def spilled(self) -> bool:
        return any(not isinstance(part, pa.RecordBatch) for part in self.parts)

    def spill_rest(self) -> None:
        """Write the rows still in memory to disk too (a table that has spilled before)."""
        self._flush(self.spill)

    def absorb(self, other: Rows) -> None:
        """Move ``other``'s rows (same columns) to the end of these; ``other`` is emptied."""
        self._flush()
        other._flush()
        self.parts += [p if isinstance(p, pa.RecordBatch) else other._path(p) for p in other.parts]
        self.count += other.count
        other.parts, other.count = [], 0

    def __len__(self) -> int:
        return self.count

    def take_parts(self, rows: int) -> Iterator[pa.Table | Path]:
        """The rows in order, as Arrow tables of at most ``rows`` rows each (whole record
        batches, so one batch may be more) and as the Parquet files they were spilled
        to (each its own part). Each part leaves these Rows as it is handed over: it is
        freed (or may be deleted) once its taker drops it."""
        self._flush()
        self.count = 0
        while self.parts:
            if not isinstance(self.parts[0], pa.RecordBatch):
                yield self._path(self.parts.pop(0))
                continue
            count, total = 1, self.parts[0].num_rows
            while (count < len(self.parts) and isinstance(self.parts[count], pa.RecordBatch)
                   and total + self.parts[count].num_rows <= rows):
                total += self.parts[count].num_rows
                count += 1
            batches, self.parts = self.parts[:count], self.parts[count:]
            yield pa.Table.from_batches(batches, schema=self.schema)
            del batches


def read_part(part: pa.Table | Path) -> pa.Table:
    """A part :meth:`Rows.take_parts` handed over, as an Arrow table."""
    return pq.read_table(part) if isinstance(part, Path) else part


@dataclass
class ModelRows:
    """Everything one model adds to the database, table by table."""

    load: str  # the id of this add: node uids are <load>/<GraphML id>
    nodes: dict[str, Rows]  # label -> rows
    rels: dict[tuple[str, str, str], Rows]  # (rel, from label, to label) -> rows
    model: dict[str, Any] = field(default_factory=dict)  # the Model node's row

    @classmethod
    def empty(cls, load: str, spill: Path | None = None) -> ModelRows:
        """Every table a model can fill, empty; ``spill``: see :func:`document_rows`.

        Made before the model's Document is built: objects made while it is in memory
        and kept after it is freed would sit among its objects and keep the memory it
        leaves from going back to the system.
        """
        def table(key: str, columns: list[tuple[str, str]]) -> Rows:
            return Rows(columns, spill=None if spill is None else str(spill / f"{load}-{key}-"))

        nodes = {label: table(label, node_columns(label)) for label in ELEMENT_LABELS}
        rels = {(rel, a, b): table(f"{rel}-{a}-{b}", [("from", "STRING"), ("to", "STRING")]
                                   + rel_columns(rel))
                for rel, (sources, targets) in REL_ENDS.items()
                for a in sources for b in targets}
        # pyarrow looks for pandas the first time it converts a list, and the import
        # system's caches of sys.path listings that leaves stay: let that happen now.
        pa.array([], type=pa.string())
        return cls(load, nodes, rels)

    def counts(self) -> tuple[int, int]:
        return sum(len(r) for r in self.nodes.values()), sum(len(r) for r in self.rels.values())


def merged_tables(
    batch: list[ModelRows],
) -> tuple[Rows, dict[str, Rows], dict[tuple[str, str, str], Rows]]:
    """The rows of several models, table by table: one bulk load per table for all.

    The models' rows move into the merged tables (nothing is copied): ``batch`` is left
    without rows, so each table's memory goes once the engine has loaded it.
    """
    models = Rows(node_columns(MODEL))
    nodes: dict[str, Rows] = {}
    rels: dict[tuple[str, str, str], Rows] = {}
    for rows in batch:
        models.add(dict(rows.model, complete=False))
        for target, parts in ((nodes, rows.nodes), (rels, rows.rels)):
            for key, part in parts.items():
                if len(part):
                    target.setdefault(key, Rows(part.columns)).absorb(part)
    return models, nodes, rels


def _uid(load: str, gid: str) -> str:
    return f"{load}/{gid}"


def model_uid(load: str) -> str:
    return f"{load}/"


def document_rows(doc: Document, rows: ModelRows, *, name: str, model: dict[str, Any],
                  blobs: dict[int, str]) -> ModelRows:
    """Fill ``rows`` (:meth:`ModelRows.empty`) with what stores ``doc`` as model ``name``;
    ``blobs``: sidecar offset → SHA-256.

    Consumes ``doc``: each node's, nested graph's and edge's data is emptied once its row
    is built, so the Document and the tables it becomes are never both whole in memory.
    Only the root graph's data is left. Tables made with ``spill`` (a directory): once
    one of them reaches :data:`BATCH_ROWS` rows, all of this model's rows are written to
    Parquet files there (see :class:`Rows`) and wait for the engine on disk.
    """
    load, nodes, rels = rows.load, rows.nodes, rows.rels
    label_of: dict[str, str] = {}
    ords: dict[str, int] = {}
    for seq, (node, owner) in enumerate(doc.iter_nodes()):
        data = node.data
        label = LABEL_OF_KIND.get(data.get("kind"), OP)
        label_of[node.id] = label
        parent = owner.id if owner is not None else ""
        position = ords.get(parent, 0)
        ords[parent] = position + 1
        row: dict[str, Any] = {"uid": _uid(load, node.id), "model": name, "gid": node.id,
                               "owner": parent, "seq": seq, "data": dumps(data)}
        if node.graph is not None:
            row["graph"] = dumps({"id": node.graph.id, "data": node.graph.data,
                                  "edgedefault": node.graph.edgedefault})
            node.graph.data = {}
        for prop, _typ, src in PROPERTIES[label]:
            if src:
                row[prop] = data.get(src)
        if label == VALUE and "offset" in data:
            row["sha256"] = blobs.get(int(data["offset"]))
        nodes[label].add(row)
        node.data = {}
        src_label = label_of[parent] if parent else MODEL
        src_uid = _uid(load, parent) if parent else model_uid(load)
        rels[(PARENT_OF, src_label, label)].add(
            {"from": src_uid, "to": row["uid"], "ord": position})
    for seq, edge in enumerate(doc.iter_edges()):
        row = {"from": _uid(load, edge.source), "to": _uid(load, edge.target),
               "gid": edge.id, "seq": seq, "data": dumps(edge.data)}
        for prop, _typ, src in REL_PROPERTIES[FEEDS]:
            if src:
                row[prop] = edge.data.get(src)
        rels[(FEEDS, label_of[edge.source], label_of[edge.target])].add(row)
        edge.data = {}
    tables = [*nodes.values(), *rels.values()]
    if any(table.spilled() for table in tables):
        for table in tables:
            table.spill_rest()
    rows.model = dict(model, uid=model_uid(load), model=name, name=name, gid="", owner="",
                      seq=-1, data="{}", graph=dumps({"id": doc.graph.id, "data": doc.graph.data,
                                                      "edgedefault": doc.graph.edgedefault}))
    return rows


def rows_to_document(model_graph: str, nodes: Iterable[tuple[int, str, str, str, str | None]],
                     edges: Iterable[tuple[int, str, str, str, str]]) -> Document:
    """The Document stored by :func:`document_rows`, paired with it.

    ``nodes``: (seq, gid, owner gid, data JSON, graph JSON or None); ``edges``: (seq, gid,
    source gid, target gid, data JSON). Either in any order, and consumed one row at a
    time: each row becomes its Node or Edge at once, so the rows need not be in memory
    all together.
    """
    # Short strings repeat (keys, kinds, owners, tags, dtypes, shapes, tensor names on
    # edges): keep one copy of each, as the GraphML reader does.
    strings: dict[str, str] = {}
    share = strings.setdefault

    def shared(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        return {share(k, k): share(v, v) if v.__class__ is str and len(v) <= 64 else v
                for k, v in pairs}

    loads = json.JSONDecoder(object_pairs_hook=shared).decode
    root = _graph(loads(model_graph))
    graphs: dict[str, Graph] = {"": root}
    placed: list[tuple[int, str, Node]] = []
    for seq, gid, owner, data_json, graph_json in nodes:
        node = Node(share(gid, gid), loads(data_json))
        if graph_json:
            node.graph = graphs[gid] = _graph(loads(graph_json))
        placed.append((seq, share(owner, owner), node))
    placed.sort(key=itemgetter(0))
    for _seq, owner, node in placed:
        graphs[owner].nodes.append(node)
    del placed
    numbered = [(seq, Edge(gid, share(source, source), share(target, target), loads(data)))
                for seq, gid, source, target, data in edges]
    numbered.sort(key=itemgetter(0))
    root.edges = [edge for _seq, edge in numbered]
    return Document(root, keys=[Key(k.id, k.domain, k.name, k.type) for k in fmt.KEYS.values()])


def _graph(info: dict[str, Any]) -> Graph:
    return Graph(info["id"], data=info["data"], edgedefault=info["edgedefault"])
