"""Loading ONNX without its parameters: in-file raw_data and external data alike stay in
their files, as checked ranges, and export-graphml streams them into the sidecar."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from modelexport.cli import app
from modelexport.converter import graphml_to_onnx, onnx_to_graphml
from modelexport.converter._onnx_reader import load_lazily
from modelexport.converter.testing import assert_models_equal


def _externalize(tensor: onnx.TensorProto, folder, location: str, *, offset: int = 0,
                 with_length: bool = True) -> None:
    """Move the tensor's raw_data to ``folder/location`` at ``offset`` (appending)."""
    path = folder / location
    path.parent.mkdir(parents=True, exist_ok=True)
    data = tensor.raw_data
    with open(path, "ab") as f:
        f.write(b"\xee" * (offset - f.tell()))
        f.write(data)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    entries = [("location", location), ("offset", str(offset))]
    if with_length:
        entries.append(("length", str(len(data))))
    for key, value in entries:
        e = tensor.external_data.add()
        e.key, e.value = key, value


def _tensors(model: onnx.ModelProto) -> dict[str, tuple]:
    return {t.name: (t.data_type, tuple(t.dims), numpy_helper.to_array(t).tobytes())
            for t in model.graph.initializer}


@pytest.fixture
def external_model(tmp_path, tagged):
    """The tagged model with its initializers spread over three external files: offsets
    past 0, a subdirectory, and one tensor without a length (it runs to the file's end)."""
    folder = tmp_path / "model"
    folder.mkdir()
    for t in tagged.graph.initializer:
        t.raw_data = numpy_helper.to_array(t).tobytes()
        for field in ("float_data", "int32_data", "int64_data"):
            t.ClearField(field)
    w1, b1, w2, shared = tagged.graph.initializer
    _externalize(w1, folder, "a.bin", offset=4096)
    _externalize(b1, folder, "a.bin", offset=8192)
    _externalize(w2, folder, "weights/b.bin", offset=100)
    _externalize(shared, folder, "c.bin", offset=12, with_length=False)
    path = folder / "m.onnx"
    onnx.save_model(tagged, str(path))
    return path


def test_external_initializers_stay_in_their_files_as_checked_ranges(external_model):
    lazy = load_lazily(external_model)
    try:
        files = {lazy.raw[i].file.name for i in range(4)}
        assert files == {"a.bin", "b.bin", "c.bin"}
        for t in lazy.model.graph.initializer:
            assert not t.raw_data and not t.external_data
            assert t.data_location == TensorProto.DEFAULT
        assert (lazy.raw[1].offset, lazy.raw[1].length) == (8192, 32)
        assert lazy.raw[3].length == 4  # no length: the rest of the file
    finally:
        lazy.close()


def test_external_data_round_trips_tensor_by_tensor(tmp_path, external_model):
    onnx_to_graphml(external_model, tmp_path / "m.graphml")
    graphml_to_onnx(tmp_path / "m.graphml", tmp_path / "back.onnx")
    original = onnx.load(str(external_model))  # loads the external data
    back = onnx.load(str(tmp_path / "back.onnx"))
    assert _tensors(back) == _tensors(original)
    assert_models_equal(back, original)


def test_streamed_external_data_gives_the_bytes_of_the_loaded_model(tmp_path, external_model):
    onnx_to_graphml(external_model, tmp_path / "streamed.graphml")
    onnx_to_graphml(onnx.load(str(external_model)), tmp_path / "loaded.graphml")
    assert (tmp_path / "streamed.onnxdata").read_bytes() == (
        tmp_path / "loaded.onnxdata"
    ).read_bytes()


def test_external_data_of_an_attribute_tensor_is_loaded_inline(tmp_path, tagged):
    folder = tmp_path / "model"
    folder.mkdir()
    value = numpy_helper.from_array(np.arange(300, dtype=np.float32), "k")
    _externalize(value, folder, "k.bin", offset=64)
    tagged.graph.node.append(helper.make_node("Constant", [], ["k_out"], value=value))
    tagged.graph.output.append(helper.make_tensor_value_info("k_out", TensorProto.FLOAT, [300]))
    onnx.save_model(tagged, str(folder / "m.onnx"))
    onnx_to_graphml(folder / "m.onnx", tmp_path / "m.graphml")
    graphml_to_onnx(tmp_path / "m.graphml", tmp_path / "back.onnx")
    assert_models_equal(onnx.load(str(tmp_path / "back.onnx")), onnx.load(str(folder / "m.onnx")))


def _break_location(model_path, location: str, **extra) -> None:
    model = onnx.load(str(model_path), load_external_data=False)
    for e in model.graph.initializer[0].external_data:
        if e.key == "location":
            e.value = location
        elif e.key in extra:
            e.value = extra[e.key]
    onnx.save_model(model, str(model_path))


@pytest.mark.parametrize("location, extra, message", [
    ("/etc/passwd", {}, "relative to the model's directory"),
    ("../a.bin", {}, "'..'"),
    ("weights/../../a.bin", {}, "'..'"),
    ("nowhere.bin", {}, "missing"),
    ("a.bin", {"length": "999999"}, "lie outside 'a.bin'"),
    ("a.bin", {"offset": "x"}, "must be integers"),
    ("link.bin", {}, "outside the model's directory"),
])
def test_external_data_that_breaks_the_rules_is_refused_in_one_line(
        tmp_path, external_model, location, extra, message):
    outside = tmp_path / "secret.bin"
    outside.write_bytes(b"\0" * 4096)
    os.symlink(outside, external_model.parent / "link.bin")
    _break_location(external_model, location, **extra)
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(
        app, ["export-graphml", str(external_model), str(out / "m.graphml")]
    )
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: ") and "external data" in result.output
    assert message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert list(out.iterdir()) == []
