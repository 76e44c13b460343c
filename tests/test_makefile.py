"""The Makefile's set-up and demo, read through ``make -n`` (what make would run)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _dry_run(*args: str) -> list[str]:
    """The commands ``make`` would run for ``args``, one per line, run nowhere."""
    proc = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    return proc.stdout.splitlines()


def _emit_notes(env_warnings: str | None) -> str:
    """stderr of setuptools emitting its editable-install note and one other note."""
    code = ("from setuptools.warnings import InformationOnly, SetuptoolsWarning\n"
            "InformationOnly.emit('Editable installation.', 'Please be careful with folders')\n"
            "SetuptoolsWarning.emit('Another note.', 'kept')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    if env_warnings is not None:
        env["PYTHONWARNINGS"] = env_warnings
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True).stderr


def test_the_setup_silences_the_editable_install_note_and_nothing_else(tmp_path):
    lines = _dry_run("-B", f"VENV={tmp_path / 'venv'}", f"{tmp_path / 'venv'}/bin/modelexport")
    (install,) = [line for line in lines if "pip install" in line and " -e " in line]
    value = re.search(r'PYTHONWARNINGS="([^"]+)"', install).group(1)
    assert "Editable installation." in _emit_notes(None)  # what set-up showed
    shown = _emit_notes(value)
    assert "Editable installation." not in shown and "Please be careful" not in shown
    assert "Another note." in shown


def test_the_demo_ends_saying_which_files_to_open_and_with_what():
    lines = _dry_run("-o", ".venv/bin/modelexport", "demo")
    done = next(i for i, line in enumerate(lines) if line.startswith("cmp "))
    run, advice = "\n".join(lines[:done]), "\n".join(lines[done + 1:])
    graphml = next(line for line in lines[done:] if ".graphml" in line)
    assert "yEd" in graphml
    pictures = next(line for line in lines[done:] if ".svg" in line)
    assert "browser" in pictures
    for name in re.findall(r"bert[\w.]*\.(?:graphml|svg|png)", advice):
        assert f"out/{name}" in run, f"the demo names {name} but does not write it"
