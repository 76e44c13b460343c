"""One root above every error the package raises: ``modelexport.ModelExportError``.

A library caller catches one type. The root lives in the bottom layer
(``modelexport.graphml.errors``) so that every package derives from it without
importing upward; ``modelexport.ModelExportError`` is the same class.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
from project import project_modules
from typer.testing import CliRunner

import modelexport
from modelexport.graphml.errors import ModelExportError


def exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in any module the package installs."""
    found: dict[str, type[BaseException]] = {}
    for name in project_modules():
        if name.endswith("__main__"):
            continue  # running it is the CLI
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__ == name):
                found[f"{name}.{value.__qualname__}"] = value
    return found


def test_the_public_root_is_the_bottom_layers_class():
    assert modelexport.ModelExportError is ModelExportError
    assert "ModelExportError" in modelexport.__all__


def test_every_exception_class_of_the_package_is_under_the_one_root():
    classes = exception_classes()
    # the walk sees every package's errors, private ones included
    assert {"modelexport.graphml.errors.GraphMLError", "modelexport.converter.errors.SidecarError",
            "modelexport.archive.errors.QueryError", "modelexport.errors.AnalysisError",
            "modelexport.converter._wire.WireError"} <= set(classes)
    outside = sorted(name for name, cls in classes.items()
                     if not issubclass(cls, ModelExportError))
    assert outside == []


def test_one_except_catches_errors_of_every_layer(tmp_path):
    from modelexport.archive import open_archive
    from modelexport.converter import onnx_to_graphml
    from modelexport.graphml import read_graphml

    (tmp_path / "bad.graphml").write_text("<graphml")
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    for attempt in (lambda: read_graphml(tmp_path / "bad.graphml"),
                    lambda: onnx_to_graphml(tmp_path / "bad.onnx", tmp_path / "o.graphml"),
                    lambda: open_archive(tmp_path / "missing" / "models.lbdb")):
        with pytest.raises(modelexport.ModelExportError):
            attempt()


def test_a_refused_connection_shows_its_cause_with_verbose(tmp_path):
    """The archive keeps the driver's error as the cause: -v prints it."""
    pytest.importorskip("neo4j")
    from modelexport.cli import app

    result = CliRunner().invoke(app, ["archive", "list", "bolt://127.0.0.1:1", "-v",
                                      "--tensor-store", str(tmp_path / "store")])
    assert result.exit_code == 1
    assert "Connection refused" in result.output
    assert "cannot reach the archive server" in result.output
