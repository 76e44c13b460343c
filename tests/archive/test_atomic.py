"""An add that commits its rows in parts is still all or nothing.

A large add commits and checkpoints every ``LOAD_ROWS`` rows (ladybug_engine), so the
engine's write state stays bounded. An error after a part was committed must put the
archive back exactly as it was: the same listing, the same restores, no rows or tensor
bytes of the failed model, and the archive still takes that model afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from archive_models import archive_state, chain_model, random_weights, save

from modelexport.archive import ArchiveError, ladybug_engine, open_archive, schema
from modelexport.archive.ladybug_engine import LadybugEngine

#: The sizes the archive runs with; small_parts shrinks them for the add under test.
BATCH_ROWS, LOAD_ROWS = schema.BATCH_ROWS, ladybug_engine.LOAD_ROWS


@pytest.fixture
def small_parts(monkeypatch):
    """Tiny record batches and parts: a 12-layer model loads in many committed parts."""
    monkeypatch.setattr(schema, "BATCH_ROWS", 8)
    monkeypatch.setattr(ladybug_engine, "LOAD_ROWS", 24)
    commits = []
    original = LadybugEngine._commit_part

    def counted(self):
        commits.append(1)
        original(self)

    monkeypatch.setattr(LadybugEngine, "_commit_part", counted)
    return commits


def _archive_with_two(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "models.lbdb"
    with open_archive(db) as archive:
        archive.add(chain_model(random_weights(3, 8, seed=1)), name="a")
        archive.add(chain_model(random_weights(5, 8, seed=2)), name="b")
    return db, save(chain_model(random_weights(12, 8, seed=3)), tmp_path / "big.onnx")


def _blobs(db: Path) -> set[str]:
    store = db.with_name(db.name + ".tensors")
    return {p.name for p in store.rglob("*") if p.is_file() and not p.name.startswith(".")}


def _assert_put_back(archive) -> None:
    """Right after the failed add, in the same open archive (before an open's recovery
    could clean up): the database holds no row of the failed model."""
    assert archive.query("MATCH (n) WHERE n.model = 'big' RETURN count(*)").rows == [[0]]
    assert [m.name for m in archive.list().models] == ["a", "b"]


def _assert_unchanged(db: Path, before, blobs: set[str], big: Path) -> None:
    assert archive_state(db) == before
    assert _blobs(db) == blobs
    assert not db.with_name(db.name + ".rollback").exists()
    with open_archive(db, create=False) as archive:
        assert archive.query("MATCH (n) WHERE n.model = 'big' RETURN count(*)").rows == [[0]]
        # and the archive still takes the model whole (in parts of the usual size: adding
        # in tiny parts is test_a_large_add_commits_in_parts_and_restores_exactly's)
        with pytest.MonkeyPatch.context() as usual:
            usual.setattr(schema, "BATCH_ROWS", BATCH_ROWS)
            usual.setattr(ladybug_engine, "LOAD_ROWS", LOAD_ROWS)
            archive.add(big)
        archive.restore("big", db.parent / "big_back.onnx")
    assert (db.parent / "big_back.onnx").read_bytes() == big.read_bytes()


def test_a_large_add_commits_in_parts_and_restores_exactly(tmp_path, small_parts):
    db, big = _archive_with_two(tmp_path)
    small_parts.clear()
    with open_archive(db) as archive:
        archive.add(big)
    assert len(small_parts) >= 5
    with open_archive(db, create=False) as archive:
        assert [m.name for m in archive.list().models] == ["a", "b", "big"]
        ops = archive.query("MATCH (o:Op) WHERE o.model = 'big' RETURN count(*)").rows
        archive.restore("big", tmp_path / "back.onnx")
    assert ops == [[24]]
    assert (tmp_path / "back.onnx").read_bytes() == big.read_bytes()


@pytest.mark.slow  # a failed add in many parts, checked by two restores
def test_a_bad_row_in_a_late_part_puts_the_archive_back(tmp_path, small_parts, monkeypatch):
    db, big = _archive_with_two(tmp_path)
    before, blobs = archive_state(db), _blobs(db)
    # A FEEDS row to a node that does not exist, at the very end of the last table: the
    # load refuses it (its ends have no key) after every node table and most
    # relationships were committed.
    document_rows = schema.document_rows

    def with_a_bad_row(doc, rows, **kwargs):
        document_rows(doc, rows, **kwargs)
        feeds = rows.rels[(schema.FEEDS, schema.OP, schema.OP)]
        feeds.add({"from": rows.load + "/missing", "to": rows.load + "/missing",
                   "gid": "bad", "seq": 10**6, "data": "{}"})
        return rows

    monkeypatch.setattr(schema, "document_rows", with_a_bad_row)
    small_parts.clear()
    with open_archive(db) as archive:
        with pytest.raises(ArchiveError, match="/missing is not a node of this load"):
            archive.add(big)
        assert len(small_parts) >= 5  # parts were committed before the failure
        _assert_put_back(archive)
    monkeypatch.setattr(schema, "document_rows", document_rows)
    _assert_unchanged(db, before, blobs, big)


@pytest.mark.slow  # a failed add in many parts, checked by two restores
@pytest.mark.parametrize("fail_at", [2, 6])
def test_an_error_after_committed_parts_puts_the_archive_back(tmp_path, small_parts, monkeypatch,
                                                               fail_at):
    db, big = _archive_with_two(tmp_path)
    before, blobs = archive_state(db), _blobs(db)
    copy = LadybugEngine._copy
    calls = []

    def failing(self, table, data, options=""):
        calls.append(table)
        if len(calls) == fail_at:
            raise OSError("injected failure")
        copy(self, table, data, options)

    monkeypatch.setattr(LadybugEngine, "_copy", failing)
    small_parts.clear()
    with open_archive(db) as archive:
        with pytest.raises(OSError, match="injected failure"):
            archive.add(big)
        _assert_put_back(archive)
    # the first failure is before any commit (the engine rolls back); the later one
    # after parts were committed (the rollback copy is put back)
    assert (len(small_parts) > 0) == (fail_at > 2)
    monkeypatch.setattr(LadybugEngine, "_copy", copy)
    _assert_unchanged(db, before, blobs, big)


@pytest.mark.slow  # a failed add in many parts, checked by two restores
def test_a_reopen_that_fails_between_parts_puts_the_archive_back(tmp_path, small_parts,
                                                                  monkeypatch):
    # Between parts the database is closed and reopened (to empty its buffer pool); if
    # the reopen fails, no connection is left and the rollback copy is put back.
    db, big = _archive_with_two(tmp_path)
    before, blobs = archive_state(db), _blobs(db)
    reopen = LadybugEngine._reopen
    calls = []

    def failing(self, pool):
        calls.append(pool)
        if len(calls) == 3:  # the write's own reopen, one part's, then this one
            self.close()
            raise OSError("injected reopen failure")
        reopen(self, pool)

    monkeypatch.setattr(LadybugEngine, "_reopen", failing)
    with open_archive(db) as archive:
        with pytest.raises(OSError, match="injected reopen failure"):
            archive.add(big)
        assert len(small_parts) >= 2
        _assert_put_back(archive)
    monkeypatch.setattr(LadybugEngine, "_reopen", reopen)
    _assert_unchanged(db, before, blobs, big)
