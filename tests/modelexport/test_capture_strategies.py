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


def _small_net():
    from torch import nn

    class Halves(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(8, 8)

        def forward(self, x):
            a, b = self.lin(x).split(4, dim=-1)
            return a * b

    torch.manual_seed(0)
    return Halves().eval()


@pytest.fixture
def htp_writes_a_model_the_checker_rejects(monkeypatch):
    """htp captures as usual, then its model reads a value nothing produces: a failure
    of this project's making (onnx.checker's full check rejects it), independent of
    what torch's exporter gets right or wrong."""
    real = htp.capture

    def broken(model, inputs, options):
        captured = real(model, inputs, options)
        if captured.ok:
            first = captured.model.graph.node[0]
            first.input.append("a_value_nothing_produces")
        return captured

    monkeypatch.setattr(htp, "capture", broken)


@pytest.mark.parametrize("verify", [True, False])
def test_auto_treats_a_model_the_checker_rejects_as_a_failed_capture(
        tmp_path, verify, htp_writes_a_model_the_checker_rejects):
    out = tmp_path / "m.onnx"
    report = UnifiedExporter("auto", verify=verify).export(_small_net(), torch.ones(2, 8), out)
    assert report.strategy == "usage_based"
    first = report.attempts[0]
    assert (first.strategy, first.ok) == ("htp", False)
    assert "onnx.checker rejects" in first.error and "htp failed" in report.reason
    onnx.checker.check_model(str(out), full_check=True)


def test_no_strategy_leaves_a_model_the_checker_rejects_even_without_verification(
        tmp_path, htp_writes_a_model_the_checker_rejects):
    with pytest.raises(ExportError, match="onnx.checker rejects"):
        UnifiedExporter("htp", verify=False).export(
            _small_net(), torch.ones(2, 8), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def _pair_net():
    from torch import nn

    class Pair(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            y = self.lin(x)
            return y, y.relu()

    torch.manual_seed(0)
    return Pair().eval()


@pytest.mark.parametrize("strategy", ["htp", "usage_based", "fx"])
def test_a_module_returning_a_tuple_exports_under_every_strategy(tmp_path, strategy):
    out = tmp_path / "m.onnx"
    report = export_model(_pair_net(), torch.ones(2, 4), out, strategy=strategy, verify=True)
    assert report.strategy == strategy
    graph = onnx.load(out).graph
    assert [o.name for o in graph.output] == ["output_0", "output_1"]
    assert [i.name for i in graph.input] == ["x"]


def test_fx_does_not_try_a_transformers_model_and_says_why(samples):
    from modelexport.loading import load_pretrained

    model = load_pretrained(str(samples / "bert-tiny")).model
    ids = torch.ones(1, 4, dtype=torch.long)
    result = run("fx", model, as_inputs(model, {"input_ids": ids}), CaptureOptions())
    assert not result.ok
    assert "ships no symbolic tracer" in result.error and "htp and usage_based" in result.error


@pytest.mark.slow
def test_auto_exports_a_transformers_model_with_htp(samples, tmp_path):
    from modelexport.loading import load_pretrained

    model = load_pretrained(str(samples / "bert-tiny")).model
    ids = torch.ones(1, 4, dtype=torch.long)
    report = export_model(model, {"input_ids": ids}, tmp_path / "m.onnx", strategy="auto")
    assert report.strategy == "htp"


@pytest.mark.slow
def test_the_export_summary_says_why_auto_fell_back(samples, tmp_path,
                                                    htp_writes_a_model_the_checker_rejects):
    from typer.testing import CliRunner

    from modelexport.cli import app

    result = CliRunner().invoke(app, ["export", str(samples / "gpt2-tiny"),
                                      str(tmp_path / "g.onnx")])
    assert result.exit_code == 0, result.output
    assert "strategy usage_based" in result.stdout
    assert "note: auto: fell back to usage_based because htp failed: onnx.checker rejects" \
        in result.stdout
    onnx.checker.check_model(str(tmp_path / "g.onnx"), full_check=True)
