"""kill -9 in the middle of adding a GPT-2-sized model (124M float32 parameters, ~500 MB).

The archive must open afterwards, list only complete models, restore them identically,
and hold no bytes of the killed add: not while its tensors were being stored, not while
its rows were being loaded, not between its commit and its checkpoint, and not after
part of its rows were committed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import onnx
import pytest
from archive_models import chain_model, random_weights, save

from modelexport.archive import open_archive

ADD = """
import sys
from modelexport.archive import open_archive, ladybug_engine, schema
if len(sys.argv) > 3:  # load in many committed parts
    schema.BATCH_ROWS, ladybug_engine.LOAD_ROWS = 16, int(sys.argv[3])
with open_archive(sys.argv[1]) as archive:
    archive.add(sys.argv[2], name="big")
"""


def _blobs(store: Path) -> set[str]:
    return {p.name for p in store.rglob("*") if p.is_file() and not p.name.startswith(".")}


def _now(ready) -> bool:
    """``ready()``, False while a folder it lists vanishes under it (the add removes
    a part's scratch folder while the test may be listing it)."""
    try:
        return ready()
    except FileNotFoundError:
        return False


def _kill_when(db: Path, big: Path, ready, *extra: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", ADD, str(db), str(big), *extra])
    try:
        deadline = time.monotonic() + 120
        while not _now(ready):
            assert proc.poll() is None, "the add finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.001)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_a_killed_add_leaves_the_archive_as_it_was(tmp_path):
    db, store = tmp_path / "models.lbdb", tmp_path / "models.lbdb.tensors"
    kept = save(chain_model(random_weights(4, 64)), tmp_path / "kept.onnx")
    with open_archive(db) as archive:
        archive.add(kept)
    before = _blobs(store)
    # 210 layers of 768 x 768: GPT-2's 124M parameters
    big = save(chain_model(random_weights(210, 768, seed=7)), tmp_path / "big.onnx")

    # killed while its tensors stream into the store
    _kill_when(db, big, lambda: len(_blobs(store)) >= len(before) + 20)
    # killed while its rows load into the database (the rollback copy exists from the
    # start of the write to its checkpoint)...
    _kill_when(db, big, lambda: db.with_name(db.name + ".rollback").exists())
    # ...and between its commit and the end of its checkpoint (the log exists then),
    # where LadybugDB alone cannot recover
    _kill_when(db, big, lambda: db.with_name(db.name + ".wal").exists())
    # ...and after the first of many committed parts of a large add
    # (whose rows wait in Parquet files in a scratch directory of the store; the log
    # the previous kill left is gone once they are there)
    _kill_when(db, big, lambda: (list(store.glob(".scratch.*/*.parquet"))
                                 and db.with_name(db.name + ".wal").exists()), "64")
    assert list(store.glob(".scratch.*/*.parquet"))

    with open_archive(db) as archive:
        assert [m.name for m in archive.list().models] == ["kept"]
        assert _blobs(store) == before
        assert not list(store.glob(".*"))  # no scratch, temporary or marker file left
        archive.restore("kept", tmp_path / "kept_back.onnx")
        assert archive.query("MATCH (n) WHERE n.model = 'big' RETURN count(*)").rows == [[0]]
        # and the archive still takes the model whole
        archive.add(big)
        archive.restore("big", tmp_path / "big_back.onnx")
    assert (tmp_path / "kept_back.onnx").read_bytes() == onnx.load(str(kept)).SerializeToString()
    assert (tmp_path / "big_back.onnx").read_bytes() == big.read_bytes()
