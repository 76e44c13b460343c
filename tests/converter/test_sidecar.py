"""The .onnxdata sidecar: aligned writes, and every check a reader makes."""

from __future__ import annotations

import hashlib
import io

import pytest

from modelexport.converter.errors import SidecarError
from modelexport.converter.sidecar import (
    SidecarReader,
    SidecarWriter,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)
from modelexport.graphml import format as fmt


def _file(tmp_path, blobs):
    buf = io.BytesIO()
    places, size, sha = write_sidecar(buf, blobs)
    path = tmp_path / "m.onnxdata"
    path.write_bytes(buf.getvalue())
    return path, places, size, sha


def test_tensors_are_written_at_aligned_offsets_and_hashed():
    buf = io.BytesIO()
    places, size, sha = write_sidecar(buf, [b"abc", b"", b"0123456789ab"])
    assert places == [(0, 3), (3, 0), (64, 12)]
    assert size == 76 == len(buf.getvalue())
    assert sha == hashlib.sha256(buf.getvalue()).hexdigest()


def test_a_checked_sidecar_hands_out_each_tensor(tmp_path):
    path, places, size, sha = _file(tmp_path, [b"\1\2\3\4", b"\5\6\7\10"])
    with SidecarReader(path, size, sha) as r:
        ref = {"offset": places[1][0], "length": 4, "dtype": "FLOAT", "dims": [1]}
        assert r.read(ref) == b"\5\6\7\10"


def test_a_missing_sidecar_is_refused(tmp_path):
    with pytest.raises(SidecarError, match="missing"):
        read_sidecar(tmp_path / "m.graphml", "m.onnxdata", 0, None)


def test_a_truncated_sidecar_is_refused(tmp_path):
    path, _, size, sha = _file(tmp_path, [b"x" * 100])
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(SidecarError, match="truncated"):
        SidecarReader(path, size, sha)


def test_a_tampered_sidecar_is_refused(tmp_path):
    path, _, size, sha = _file(tmp_path, [b"x" * 100])
    path.write_bytes(b"y" * 100)
    with pytest.raises(SidecarError, match="SHA-256"):
        SidecarReader(path, size, sha)


@pytest.mark.parametrize("name", ["/etc/passwd", "../m.onnxdata", "sub/m.onnxdata", "..", ""])
def test_a_sidecar_name_that_is_not_a_plain_file_name_beside_the_graphml_is_refused(tmp_path, name):
    with pytest.raises(SidecarError):
        sidecar_path(tmp_path / "m.graphml", name)


def test_offsets_outside_the_sidecar_are_refused(tmp_path):
    path, _, size, sha = _file(tmp_path, [b"x" * 8])
    with SidecarReader(path, size, sha) as r, pytest.raises(SidecarError, match="outside"):
        r.read({"offset": 4, "length": 8, "dtype": "FLOAT", "dims": [2]})


def test_lengths_that_do_not_match_dtype_and_dims_are_refused(tmp_path):
    path, _, size, sha = _file(tmp_path, [b"x" * 8])
    with SidecarReader(path, size, sha) as r, pytest.raises(SidecarError, match="does not match"):
        r.read({"offset": 0, "length": 8, "dtype": "FLOAT", "dims": [3]})


def test_the_writer_streams_to_any_binary_file():
    buf = io.BytesIO()
    w = SidecarWriter(buf)
    assert w.add(b"a") == (0, 1)
    assert w.add(b"b") == (fmt.SIDECAR_ALIGNMENT, 1)
    assert w.size == fmt.SIDECAR_ALIGNMENT + 1


def test_a_sidecar_that_links_out_of_the_graphml_directory_is_refused(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "m.onnxdata").write_bytes(b"\0" * 8)
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "m.onnxdata").symlink_to(outside / "m.onnxdata")
    with pytest.raises(SidecarError, match="outside the GraphML's directory"):
        sidecar_path(tmp_path / "here" / "m.graphml", "m.onnxdata")
