"""Files are written whole or not at all, with an ordinary file's mode."""

from __future__ import annotations

import os

import pytest

from modelexport.graphml.files import atomic_path, file_mode, pending_files


def test_pending_files_reach_their_targets_together(tmp_path):
    with pending_files() as pending:
        with pending.open(tmp_path / "a.graphml") as f:
            f.write(b"a")
        with pending.open(tmp_path / "a.onnxdata") as f:
            f.write(b"b")
        assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == []
    assert (tmp_path / "a.graphml").read_bytes() == b"a"
    assert (tmp_path / "a.onnxdata").read_bytes() == b"b"
    assert os.stat(tmp_path / "a.graphml").st_mode & 0o777 == file_mode()


def test_an_error_leaves_neither_the_targets_nor_temporary_files(tmp_path):
    (tmp_path / "old.txt").write_text("kept")
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "old.txt") as temp:
        temp.write_text("half")
        raise RuntimeError("disk full")
    assert [p.name for p in tmp_path.iterdir()] == ["old.txt"]
    assert (tmp_path / "old.txt").read_text() == "kept"
