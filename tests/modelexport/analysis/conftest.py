"""Fixtures: the synthetic two-layer net of :mod:`analysis_models`, in memory and on disk."""

from __future__ import annotations

from collections.abc import Callable

import onnx
import pytest
from analysis_models import build_net, check_extraction


@pytest.fixture
def net() -> onnx.ModelProto:
    return build_net()


@pytest.fixture
def net_file(tmp_path, net) -> str:
    path = tmp_path / "net.onnx"
    onnx.save(net, path)
    return str(path)


@pytest.fixture
def make_net() -> Callable[..., onnx.ModelProto]:
    return build_net


@pytest.fixture
def extraction_checker() -> Callable[..., float]:
    return check_extraction
