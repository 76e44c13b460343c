"""The capture strategies on small models of our own, and the auto chain's fallback."""

from __future__ import annotations

import onnx
import pytest

from modelexport.converter.tags import node_tag
from modelexport.errors import ExportError
from modelexport.exporter import UnifiedExporter, export_model
from modelexport.inputs import as_inputs
from modelexport.strategies import CaptureOptions, htp, run, usage_based

torch = pytest.importorskip("torch")


def test_htp_reads_the_deepest_module_of_the_recorded_name_scopes():
    props = {"pkg.torch.onnx.name_scopes": "['', 'blocks.1', 'blocks.1.lin', 'linear']"}
    assert htp.module_path_of(props) == "blocks.1.lin"
    assert htp.module_path_of({"pkg.torch.onnx.name_scopes": "['', 'add']"}) == ""


def test_htp_falls_back_to_the_namespace_and_else_knows_nothing():
    namespace = ": pkg.Net/blocks.0: pkg.Block/add: aten.add.Tensor"
    assert htp.module_path_of({"namespace": namespace}) == "blocks.0"
    assert htp.module_path_of({}) is None


def test_usage_based_walks_scopes_through_container_children():
    used = {"", "stack", "stack.0", "stack.0.inner", "stack.0.inner.0", "stack.0.inner.0.conv"}
    name = "/stack.0/inner/inner.0/conv/Conv"
    assert usage_based.module_path_of(name, used) == "stack.0.inner.0.conv"
    assert usage_based.module_path_of("/stack.0/Add_2", used) == "stack.0"
    assert usage_based.module_path_of("/Add", used) == ""
    assert usage_based.module_path_of("Identity_7", used) is None


@pytest.mark.parametrize("strategy", ["htp", "usage_based", "fx"])
def test_each_strategy_tags_a_small_model_by_its_modules(blocks_net, tmp_path, strategy):
    report = export_model(blocks_net, torch.randn(2, 8), tmp_path / "net.onnx",
                          strategy=strategy, verify=True)
    assert report.strategy == strategy and report.coverage == 1.0
    model = onnx.load(tmp_path / "net.onnx")
    tags = {node_tag(n) for n in model.graph.node}
    assert {"/BlocksNet/Block.0", "/BlocksNet/Block.1", "/BlocksNet/Head.first",
            "/BlocksNet/Head.second"} <= tags
    gemms = {node_tag(n) for n in model.graph.node if n.op_type in ("Gemm", "MatMul")}
    assert gemms == {"/BlocksNet/Block.0", "/BlocksNet/Block.1", "/BlocksNet/Head.first",
                     "/BlocksNet/Head.second"}


def test_fx_refuses_a_model_that_branches_on_tensor_values(branching_net):
    capture = run("fx", branching_net, as_inputs(branching_net, torch.ones(2, 4)),
                  CaptureOptions())
    assert not capture.ok
    assert capture.error.startswith("torch.fx cannot trace this model symbolically")
    assert "\n" not in capture.error
    assert isinstance(capture.exception, Exception)  # the exception itself, not only its text
    assert type(capture.exception).__name__ in capture.error


def test_auto_falls_back_when_torch_export_fails_and_says_why(branching_net, tmp_path):
    report = export_model(branching_net, torch.ones(2, 4), tmp_path / "b.onnx", verify=True)
    assert [(a.strategy, a.ok) for a in report.attempts] == [("htp", False),
                                                             ("usage_based", True)]
    assert report.strategy == "usage_based"
    assert report.reason.startswith("auto: fell back to usage_based because htp failed: "
                                    "torch.export could not capture the model")
    assert report.verification["max_abs_diff"] <= 1e-4
    model = onnx.load(tmp_path / "b.onnx")
    assert {node_tag(n) for n in model.graph.node} >= {"/BranchingNet/Gate"}


def test_a_single_strategy_that_fails_is_an_export_error_naming_it(branching_net, tmp_path):
    with pytest.raises(ExportError, match="fx: torch.fx cannot trace") as info:
        export_model(branching_net, torch.ones(2, 4), tmp_path / "b.onnx", strategy="fx")
    assert list(tmp_path.iterdir()) == []
    assert info.value.__cause__ is not None  # -v shows torch's own traceback


def test_unknown_strategy_names_are_refused():
    from modelexport.errors import UserInputError

    with pytest.raises(UserInputError, match="unknown strategy 'magic'; choose one of auto"):
        UnifiedExporter("magic")
    with pytest.raises(ValueError):
        run("magic", None, None, CaptureOptions())
