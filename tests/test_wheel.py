"""The built wheel: one top-level import name, and it lives beside other distributions.

PyPI's graphml2svg ships a top-level ``converter`` package. A wheel that installed its
own ``converter`` would break it or be broken by it; ours installs everything inside
``modelexport``. This test builds the wheel, installs it into a fresh virtual
environment together with graphml2svg (installed last, so it would win any clash) and
runs the converters there.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from project import ROOT, installed_packages

pytestmark = pytest.mark.slow


def _run(*cmd, **kw) -> subprocess.CompletedProcess:
    out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert out.returncode == 0, f"{cmd}: {out.stdout}\n{out.stderr}"
    return out


def _build_wheel(dist: Path) -> None:
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", dist, ROOT)


@pytest.fixture(scope="session")
def wheel(once_per_run) -> Path:
    (path,) = once_per_run("wheel", _build_wheel).glob("modelexport-*.whl")
    return path


def test_the_wheels_only_top_level_import_name_is_modelexport(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"modelexport"}
    for package in installed_packages():  # every package pyproject installs, archive too
        assert f"{package.replace('.', '/')}/__init__.py" in names
    assert "modelexport/schemas/modelexport-graphml.xsd" in names


@pytest.fixture(scope="session")
def bare_venv(wheel, once_per_run) -> Path:
    """A fresh environment with the wheel alone (no torch extra), then graphml2svg; made
    once for the run, both workers' tests use it. uv builds it (the test extra installs
    uv): it resolves the wheel's dependencies as pip does, but links them from its cache
    instead of unpacking and compiling ~500 MB (2 CPU-seconds instead of 25)."""
    from uv import find_uv_bin

    def make(venv: Path) -> None:
        uv = find_uv_bin()
        _run(uv, "venv", "--quiet", "--python", sys.executable, venv)
        py = venv / "bin" / "python"
        _run(uv, "pip", "install", "--quiet", "--python", py, wheel)
        _run(uv, "pip", "install", "--quiet", "--python", py, "graphml2svg")

    return once_per_run("bare-venv", make)


def test_the_wheel_converts_beside_graphml2svg_in_a_fresh_environment(bare_venv, tmp_path):
    venv = bare_venv
    py = venv / "bin" / "python"
    # `converter` is graphml2svg's, untouched by us; ours lives under modelexport.
    out = _run(py, "-c", "import converter, modelexport.converter as c; "
               "print(converter.__file__); print(c.__file__)", cwd=tmp_path)
    theirs, ours = out.stdout.split()
    assert theirs.endswith("site-packages/converter/__init__.py")
    assert ours.endswith("site-packages/modelexport/converter/__init__.py")
    cli = venv / "bin" / "modelexport"
    model = tmp_path / "m.onnx"
    _run(py, "-c", _TINY_MODEL.format(path=str(model)), cwd=tmp_path)
    _run(cli, "export-graphml", model, tmp_path / "m.graphml", cwd=tmp_path)
    _run(cli, "import-onnx", tmp_path / "m.graphml", tmp_path / "back.onnx", cwd=tmp_path)
    assert (tmp_path / "back.onnx").read_bytes() == model.read_bytes()


_TINY_MODEL = """
import numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto
w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), "w")
g = helper.make_graph(
    [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm"),
     helper.make_node("Relu", ["y"], ["z"], name="relu")],
    "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
    [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 4])], [w])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), {path!r})
"""


def test_without_the_torch_extra_export_names_the_extra_and_the_rest_works(bare_venv,
                                                                           tmp_path):
    py = bare_venv / "bin" / "python"
    cli = bare_venv / "bin" / "modelexport"
    missing = subprocess.run([str(py), "-c", "import torch"], capture_output=True)
    assert missing.returncode != 0, "the environment must be without torch"
    result = subprocess.run([str(cli), "export", str(ROOT / "samples" / "bert-tiny"),
                             str(tmp_path / "m.onnx")], capture_output=True, text=True)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: modelexport export needs the torch extra")
    assert line.endswith("pip install 'modelexport[torch]'")
    assert list(tmp_path.iterdir()) == []
    model = tmp_path / "m.onnx"
    _run(py, "-c", _TINY_MODEL.format(path=str(model)), cwd=tmp_path)
    _run(cli, "export-graphml", model, tmp_path / "m.graphml")
    _run(cli, "validate-graphml", tmp_path / "m.graphml")
    _run(cli, "import-onnx", tmp_path / "m.graphml", tmp_path / "back.onnx", "--validate")
    _run(cli, "analyze", model)
    checked = subprocess.run([str(cli), "validate", str(model)], capture_output=True,
                             text=True)  # runs, and finds the untagged nodes
    assert checked.returncode == 1 and "has no hierarchy tag" in checked.stdout
    assert "Traceback" not in checked.stderr
    assert "modelexport" in _run(cli, "--version").stdout
