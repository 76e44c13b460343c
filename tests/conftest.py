"""Fixtures every test folder shares."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture(scope="session")
def exported_sample(tmp_path_factory) -> Callable[[str], Path]:
    """``exported_sample(name)``: ``samples/<name>`` exported with the defaults
    (``modelexport.export_pretrained``), once per test session (per xdist worker), so the
    folders that test what becomes of an export do not each pay for it. Treat the file as
    read-only: copy it to change it."""
    done: dict[str, Path] = {}

    def export(name: str) -> Path:
        if name not in done:
            pytest.importorskip("torch")
            from modelexport import export_pretrained

            out = tmp_path_factory.mktemp(f"export-{name}") / f"{name}.onnx"
            export_pretrained(str(SAMPLES / name), out)
            done[name] = out
        return done[name]

    return export
