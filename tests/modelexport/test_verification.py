"""Verification: onnx.checker plus onnxruntime against PyTorch, with clear refusals."""

from __future__ import annotations

import pytest

from modelexport.errors import VerificationError
from modelexport.exporter import export_model
from modelexport.inputs import as_inputs
from modelexport.verify import verify_export

torch = pytest.importorskip("torch")


def test_a_faithful_export_verifies(blocks_net, tmp_path):
    export_model(blocks_net, torch.ones(2, 8), tmp_path / "n.onnx", strategy="usage_based")
    result = verify_export(tmp_path / "n.onnx", blocks_net, as_inputs(blocks_net, torch.ones(2, 8)))
    assert result.ok and result.outputs == 1 and result.max_abs_diff <= 1e-4


def test_outputs_that_differ_from_pytorch_are_refused(blocks_net, tmp_path):
    export_model(blocks_net, torch.ones(2, 8), tmp_path / "n.onnx", strategy="usage_based")
    with torch.no_grad():
        blocks_net.first.proj.bias.add_(1.0)
    with pytest.raises(VerificationError, match="differ from PyTorch by up to"):
        verify_export(tmp_path / "n.onnx", blocks_net, as_inputs(blocks_net, torch.ones(2, 8)))


def test_a_file_the_checker_rejects_is_refused(blocks_net, tmp_path):
    (tmp_path / "n.onnx").write_bytes(b"not onnx")
    with pytest.raises(VerificationError, match="onnx.checker rejects"):
        verify_export(tmp_path / "n.onnx", blocks_net, as_inputs(blocks_net, torch.ones(2, 8)))
