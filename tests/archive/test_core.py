"""The archive on a real LadybugDB database on disk: add, restore, list, remove, dedup."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from archive_models import chain_model, random_weights, save

from modelexport.archive import ModelNameError, open_archive, schema
from modelexport.archive.ladybug_engine import LadybugEngine
from modelexport.converter import graphml_to_onnx, onnx_to_graphml


def _disk(path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def test_a_model_restores_to_the_same_bytes_after_the_archive_is_reopened(tmp_path, small):
    db = tmp_path / "models.lbdb"
    with open_archive(db) as archive:
        result = archive.add(small)
    assert (result.name, result.ops, result.modules) == ("small", 6, 4)
    with open_archive(db, create=False) as archive:
        assert [m.name for m in archive.list().models] == ["small"]
        archive.restore("small", tmp_path / "back.onnx")
    assert (tmp_path / "back.onnx").read_bytes() == onnx.load(str(small)).SerializeToString()


def test_a_model_past_the_protobuf_limit_restores_with_external_data(tmp_path, small,
                                                                   monkeypatch):
    """As import-onnx writes one: the tensors to <out>.data, the rest to <out>; the
    limit is lowered here so a small model stands for one past 2 GB."""
    from onnx import numpy_helper

    import modelexport.converter._files as io_layer

    with open_archive(tmp_path / "models.lbdb") as archive:
        archive.add(small)
        monkeypatch.setattr(io_layer, "PROTOBUF_LIMIT", 100)
        result = archive.restore("small", tmp_path / "back.onnx")
    assert result.external_data == tmp_path / "back.onnx.data"
    original, rebuilt = onnx.load(str(small)), onnx.load(str(tmp_path / "back.onnx"))
    assert len(rebuilt.graph.initializer) == len(original.graph.initializer) == 3
    for a, b in zip(original.graph.initializer, rebuilt.graph.initializer, strict=True):
        assert a.name == b.name
        assert np.array_equal(numpy_helper.to_array(a), numpy_helper.to_array(b))
    assert [n.name for n in rebuilt.graph.node] == [n.name for n in original.graph.node]


def test_a_model_in_memory_and_a_graphml_file_are_archived_too(tmp_path, small):
    model = onnx.load(str(small))
    onnx_to_graphml(small, tmp_path / "small.graphml")
    db = tmp_path / "models.lbdb"
    with open_archive(db) as archive:
        archive.add(model, name="in-memory")
        archive.add(tmp_path / "small.graphml", name="from-graphml")
        archive.restore("from-graphml", tmp_path / "g.onnx")
        archive.restore("in-memory", tmp_path / "m.onnx")
        archive.restore("from-graphml", tmp_path / "out" / "x.graphml", graphml=True) \
            if (tmp_path / "out").mkdir() is None else None
    expected = model.SerializeToString()
    assert (tmp_path / "g.onnx").read_bytes() == expected
    assert (tmp_path / "m.onnx").read_bytes() == expected
    # the GraphML restore is a GraphML + sidecar pair import-onnx accepts (hash checked)
    graphml_to_onnx(tmp_path / "out" / "x.graphml", tmp_path / "out" / "x.onnx")
    assert (tmp_path / "out" / "x.onnx").read_bytes() == expected


def test_adding_the_same_model_again_stores_no_tensor_bytes_and_grows_by_its_structure(tmp_path):
    src = save(chain_model(random_weights(300, 16)), tmp_path / "base.onnx")
    graphml_size = onnx_to_graphml(src, tmp_path / "base.graphml").graphml_bytes
    db = tmp_path / "models.lbdb"
    # LadybugDB's first few checkpoints (one per close after a write) allocate ~10 MB of
    # pages each, reused from then on; the growth that matters is an archive's, past that.
    for seed in (1, 2):
        with open_archive(db) as archive:
            archive.add(chain_model(random_weights(300, 16, seed)), name=f"other{seed}")
    with open_archive(db) as archive:
        archive.add(src)
    store, before = db.parent / "models.lbdb.tensors", _disk(db)
    blobs = sorted(p.name for p in store.rglob("*") if p.is_file())
    with open_archive(db) as archive:
        again = archive.add(src, name="copy")
        listing = archive.list()
    assert again.new_bytes == 0 and again.tensor_bytes == 300 * 16 * 16 * 4
    assert sorted(p.name for p in store.rglob("*") if p.is_file()) == blobs
    assert (listing.stored_bytes, listing.tensor_bytes) == (3 * 307200, 4 * 307200)
    growth = _disk(db) - before
    assert growth <= graphml_size, (growth, graphml_size)


def test_two_fine_tuned_variants_cost_little_more_than_one(tmp_path):
    weights = random_weights(20, 128)
    tuned = [w.copy() for w in weights]
    tuned[-1] += 0.01  # only the last layer changed
    db = tmp_path / "models.lbdb"
    with open_archive(db) as archive:
        base = archive.add(save(chain_model(weights), tmp_path / "base.onnx"))
        variant = archive.add(save(chain_model(tuned), tmp_path / "tuned.onnx"))
        listing = archive.list()
    layer = 128 * 128 * 4
    assert base.new_bytes == 20 * layer and variant.new_bytes == layer
    assert listing.stored_bytes == 21 * layer
    assert listing.tensor_bytes == 40 * layer


def test_a_taken_name_is_refused_unless_replaced_and_replacing_frees_unused_tensors(
    tmp_path, small
):
    other = save(chain_model(random_weights(3, 16, seed=1)), tmp_path / "other.onnx")
    db = tmp_path / "models.lbdb"
    with open_archive(db) as archive:
        archive.add(small, name="m")
        with pytest.raises(ModelNameError, match="already holds a model named 'm'"):
            archive.add(other, name="m")
        result = archive.add(other, name="m", replace=True)
        assert result.replaced
        assert [m.name for m in archive.list().models] == ["m"]
        assert archive.list().stored_bytes == 3 * 16 * 16 * 4
        archive.restore("m", tmp_path / "m.onnx")
        ops = archive.query("MATCH (o:Op) WHERE o.model = 'm' RETURN count(*)").rows
    assert (tmp_path / "m.onnx").read_bytes() == onnx.load(str(other)).SerializeToString()
    assert ops == [[6]]


def test_removing_a_model_keeps_the_tensors_others_share(tmp_path):
    weights = random_weights(4, 16)
    db = tmp_path / "models.lbdb"
    a = save(chain_model(weights), tmp_path / "a.onnx")
    b = save(chain_model(weights[:2] + random_weights(2, 16, seed=5)), tmp_path / "b.onnx")
    with open_archive(db) as archive:
        archive.add(a)
        archive.add(b)
        archive.remove("a")
        assert [m.name for m in archive.list().models] == ["b"]
        assert archive.list().stored_bytes == 4 * 16 * 16 * 4
        assert archive.query("MATCH (n) WHERE n.model = 'a' RETURN count(*)").rows == [[0]]
        archive.restore("b", tmp_path / "b2.onnx")
        with pytest.raises(ModelNameError, match="no model named 'a'"):
            archive.restore("a", tmp_path / "a2.onnx")
    assert (tmp_path / "b2.onnx").read_bytes() == onnx.load(str(b)).SerializeToString()


def test_the_schema_holds_labels_relationships_and_query_properties(tmp_path, small):
    db = tmp_path / "models.lbdb"
    with open_archive(db) as archive:
        archive.add(small)
        q = archive.query
        assert q("MATCH (m:Model) RETURN m.name, m.producer, m.opsets, m.ops").rows == \
            [["small", "tests", '{"ai.onnx":18}', 6]]
        assert q(
            "MATCH (m:Module)-[r:PARENT_OF]->(o:Op) RETURN m.tag, r.ord, o.op_type, o.tag "
            "ORDER BY m.tag, r.ord"
        ).rows[:2] == [
            ["/Net/Layer.0", 1, "MatMul", "/Net/Layer.0"],
            ["/Net/Layer.0", 2, "Relu", "/Net/Layer.0"],
        ]
        feeds = q("MATCH (a:Op)-[f:FEEDS]->(b:Op) WHERE a.name = '/layer.0/MatMul' "
                  "RETURN f.tensor, f.dtype, f.src_output, f.dst_input, b.name").rows
        assert feeds == [["h0", None, 0, 0, "/layer.0/Relu"]]
        values = q("MATCH (v:Value) RETURN v.kind, v.name, v.dtype, v.shape, v.nbytes "
                   "ORDER BY v.kind, v.name").rows
        assert values[0] == ["initializer", "layer.0.weight", "FLOAT", "[16,16]", 1024]
        assert ["input", "x", "FLOAT", '["batch",16]', None] in values
        uids = q("MATCH (n) RETURN n.uid, n.model").rows
        assert len({u for u, _m in uids}) == len(uids) and {m for _u, m in uids} == {"small"}


def test_several_models_go_in_one_transaction(tmp_path):
    db = tmp_path / "models.lbdb"
    models = [chain_model(random_weights(2, 8, seed=i)) for i in range(5)]
    with open_archive(db) as archive:
        results = archive.add_many([(m, f"m{i}") for i, m in enumerate(models)])
        assert [r.name for r in results] == [f"m{i}" for i in range(5)]
        with pytest.raises(ModelNameError, match="given twice"):
            archive.add_many([(models[0], "x"), (models[1], "x")])
        for i, m in enumerate(models):
            archive.restore(f"m{i}", tmp_path / "r.onnx")
            assert (tmp_path / "r.onnx").read_bytes() == m.SerializeToString()
        assert len(archive.list().models) == 5


def test_large_tables_wait_on_disk_and_restore_exactly(tmp_path, monkeypatch):
    # Rows go to Arrow in bounded batches (schema.BATCH_ROWS); a model with a table of
    # that many rows has all its tables written to Parquet files in a scratch directory
    # of the store, which the engine COPYs from; a small model's stay in memory. Tables
    # of several models are merged, files and batches together.
    monkeypatch.setattr(schema, "BATCH_ROWS", 5)
    # an archive whose path needs quoting in Cypher
    db = tmp_path / "it's a \\ dir" / "models.lbdb"
    db.parent.mkdir()
    models = [chain_model(random_weights(12 + i, 8, seed=i)) for i in range(3)]
    small = chain_model(random_weights(1, 2, seed=9))
    copied: list[tuple[str, bool]] = []
    copy = LadybugEngine._copy

    def recording(self, table, part, options=""):
        if isinstance(part, Path):
            assert part.is_file() and part.parent.parent == db.with_name(db.name + ".tensors")
        copied.append((table, isinstance(part, Path)))
        copy(self, table, part, options)

    monkeypatch.setattr(LadybugEngine, "_copy", recording)
    with open_archive(db) as archive:
        results = archive.add_many([(m, f"m{i}") for i, m in enumerate(models)])
        files = {table for table, spilled in copied if spilled}
        assert {schema.OP, schema.VALUE, schema.PARENT_OF, schema.FEEDS} <= files
        copied.clear()
        archive.add(small, name="small")
        assert copied and not any(spilled for _table, spilled in copied)
    assert not list(db.with_name(db.name + ".tensors").glob(".scratch.*"))
    with open_archive(db, create=False) as archive:
        ops = archive.query("MATCH (o:Op) WHERE o.model <> 'small' RETURN o.model, count(*) "
                            "ORDER BY o.model").rows
        assert ops == [[r.name, r.ops] for r in results]
        for name, m in [*((f"m{i}", m) for i, m in enumerate(models)), ("small", small)]:
            archive.restore(name, tmp_path / "r.onnx")
            assert (tmp_path / "r.onnx").read_bytes() == m.SerializeToString()


def test_a_model_read_back_in_many_small_pages_restores_exactly(tmp_path, monkeypatch, small):
    # Restore reads nodes and edges a page of seq numbers at a time (core.PAGE_ROWS); with
    # pages of 4 every label and the edges span many pages, and a page can hold no row
    # of some label. Another model in the archive must not leak into the pages.
    from modelexport.archive import core

    monkeypatch.setattr(core, "PAGE_ROWS", 4)
    model = chain_model(random_weights(9, 8, seed=4))
    db, out = tmp_path / "models.lbdb", tmp_path / "out"
    out.mkdir()
    with open_archive(db) as archive:
        archive.add(small)
        archive.add(model, name="m")
        archive.restore("m", out / "m.onnx")
        archive.restore("small", out / "small.graphml", graphml=True)
    assert (out / "m.onnx").read_bytes() == model.SerializeToString()
    graphml_to_onnx(out / "small.graphml", out / "small.onnx")
    assert (out / "small.onnx").read_bytes() == onnx.load(str(small)).SerializeToString()


def test_a_read_the_bounded_buffer_pool_cannot_hold_runs_again_with_more(tmp_path, monkeypatch):
    # The database opens with a bounded buffer pool for reading (READ_POOL_BYTES); a
    # restore or query it is too small for reopens it with the engine's default pool.
    from modelexport.archive import ladybug_engine

    model = chain_model(random_weights(300, 4))
    db = tmp_path / "models.lbdb"
    with open_archive(db) as archive:
        archive.add(model, name="m")
    # 4 MB: the model's tables (without a primary-key hash index) fit in 8 MB
    monkeypatch.setattr(ladybug_engine, "READ_POOL_BYTES", 4 * 2**20)
    reopened = []
    reopen = ladybug_engine.LadybugEngine._reopen

    def recorded(self, pool):
        reopened.append(pool)
        reopen(self, pool)

    monkeypatch.setattr(ladybug_engine.LadybugEngine, "_reopen", recorded)
    with open_archive(db, create=False) as archive:
        assert archive._engine._pool == 4 * 2**20
        archive.restore("m", tmp_path / "m.onnx")
        assert reopened[0] == 0  # it did not fit: read again with more
    reopened.clear()
    with open_archive(db, create=False) as archive:
        # both data of every pair of the 600 ops: a result larger than the pool
        rows = archive.query("MATCH (a:Op), (b:Op) RETURN a.data + b.data").rows
        assert reopened == [0]
    assert (tmp_path / "m.onnx").read_bytes() == model.SerializeToString()
    assert len(rows) == 600 * 600


def test_a_restore_gives_back_the_pages_it_read_and_goes_on(tmp_path, monkeypatch, small):
    # After reading a large model, restore reopens the database with an empty pool
    # (ladybug_engine.RELEASE_BYTES); with a threshold of 0 every restore does.
    from modelexport.archive import ladybug_engine

    monkeypatch.setattr(ladybug_engine, "RELEASE_BYTES", 0)
    db = tmp_path / "models.lbdb"
    with open_archive(db) as archive:
        archive.add(small)
        engine = archive._engine
        before = engine._db
        archive.restore("small", tmp_path / "back.onnx")
        assert engine._db is not before  # reopened
        used = engine.rows("CALL bm_info() RETURN *")[0][1]
        archive.add(small, name="again")  # and the archive goes on
        assert [m.name for m in archive.list().models] == ["again", "small"]
    assert used < 8 * 2**20
    assert (tmp_path / "back.onnx").read_bytes() == onnx.load(str(small)).SerializeToString()


def test_query_parameters_and_read_only_refusal(tmp_path, small):
    from modelexport.archive import QueryError

    with open_archive(tmp_path / "models.lbdb") as archive:
        archive.add(small)
        r = archive.query("MATCH (o:Op) WHERE o.model = $m AND o.op_type = $t RETURN o.name "
                          "ORDER BY o.name", m="small", t="Relu")
        assert r.as_json() == {"columns": ["o.name"], "rows": [
            {"o.name": f"/layer.{i}/Relu"} for i in range(3)]}
        for write in ("MATCH (o:Op) SET o.name = 'x'", "CREATE (:Op {uid: 'x'})",
                      "MATCH (n) DETACH DELETE n", "MERGE (m:Model {uid: 'y'})"):
            with pytest.raises(QueryError, match="read-only"):
                archive.query(write)
        # a keyword inside a string literal is data, not a clause
        assert archive.query("MATCH (o:Op) WHERE o.name = 'CREATE' RETURN count(*)").rows == [[0]]
        assert archive.query("MATCH (o:Op) RETURN count(*)").rows == [[6]]


def test_weights_with_nan_and_odd_dtypes_restore_exactly(tmp_path):
    w = np.array([[np.nan, 1.0], [np.inf, -0.0]], dtype=np.float32)
    model = chain_model([w])
    model.graph.initializer.append(onnx.numpy_helper.from_array(
        np.arange(7, dtype=np.int8), "unused.int8"))
    with open_archive(tmp_path / "models.lbdb") as archive:
        archive.add(model, name="odd")
        archive.restore("odd", tmp_path / "odd.onnx")
    assert (tmp_path / "odd.onnx").read_bytes() == model.SerializeToString()


def test_an_archive_keyed_by_uid_with_a_hash_index_is_rewritten_on_open_and_restores(
        tmp_path, small):
    """Archives written before node tables had a SERIAL key (``uid`` the primary key,
    with LadybugDB's hash index) open, move into today's tables, and restore exactly."""
    import ladybug

    from modelexport.archive.ladybug_engine import KEY, schema_statements

    db = tmp_path / "models.lbdb"
    with open_archive(db) as archive:
        archive.add(small)
        archive.add(small, name="again")
    engine = LadybugEngine(db, create=False)
    (tmp_path / "rows").mkdir()
    parts = engine._export_tables(tmp_path / "rows")  # relationship ends by uid
    engine.close()
    db.unlink()
    old = ladybug.Database(str(db))
    conn = ladybug.Connection(old)
    for label in schema.LABELS:
        columns = ", ".join(f"{name} {typ}" for name, typ in schema.node_columns(label))
        conn.execute(f"CREATE NODE TABLE {label}({columns}, PRIMARY KEY (uid))")
    for statement in schema_statements():
        if statement.startswith("CREATE REL TABLE"):
            conn.execute(statement)
    for table, file, ends in parts:
        options = "" if ends is None else f" (from='{ends[0]}', to='{ends[1]}')"
        conn.execute(f"COPY {table} FROM '{file}'{options}")
    conn.execute("CHECKPOINT")
    conn.close()
    old.close()

    with open_archive(db, create=False) as archive:
        assert [m.name for m in archive.list().models] == ["again", "small"]
        archive.add(small, name="third")  # into the rewritten tables
        for name in ("again", "third"):
            archive.restore(name, tmp_path / f"{name}.onnx")
            assert (tmp_path / f"{name}.onnx").read_bytes() == small.read_bytes()
        keys = archive.query(f"MATCH (o:Op) RETURN count(DISTINCT o.{KEY}), count(*)").rows
        assert keys == [[18, 18]]


def _if_model() -> onnx.ModelProto:
    """y = x + 1 if c else x - 1: an If op with two subgraphs."""
    from onnx import TensorProto, helper

    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])

    def branch(name: str, op: str) -> onnx.GraphProto:
        return helper.make_graph([helper.make_node(op, ["x", "one"], [f"{name}_y"])], name,
                                 [], [helper.make_tensor_value_info(f"{name}_y",
                                                                    TensorProto.FLOAT, [4])])

    node = helper.make_node("If", ["c"], ["y"], then_branch=branch("then", "Add"),
                            else_branch=branch("else", "Sub"))
    graph = helper.make_graph(
        [node], "with_if",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], initializer=[one])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_a_table_whose_rows_were_all_removed_takes_new_rows_and_they_restore(tmp_path):
    """LadybugDB takes a COPY only into a table that never held rows (deleted ones count):
    a table emptied by a remove that rewrote nothing is loaded with LOAD FROM ... CREATE."""
    with_if = save(_if_model(), tmp_path / "if.onnx")
    big = save(chain_model(random_weights(30, 8)), tmp_path / "big.onnx")
    with open_archive(tmp_path / "models.lbdb") as archive:
        archive.add(with_if, name="if")
        archive.add(big, name="big")
        archive.remove("if")  # under an eighth of the nodes: the file is not rewritten
        assert archive.query("MATCH (s:Subgraph) RETURN count(*)").rows == [[0]]
        assert not archive._engine._never_filled(schema.SUBGRAPH)
        archive.add(with_if, name="if-again")
        assert archive.query("MATCH (s:Subgraph) RETURN count(*)").rows == [[2]]
        archive.restore("if-again", tmp_path / "back.onnx")
        archive.restore("big", tmp_path / "big-back.onnx")
    assert (tmp_path / "back.onnx").read_bytes() == with_if.read_bytes()
    assert (tmp_path / "big-back.onnx").read_bytes() == big.read_bytes()
