"""``export``: a transformers model (hub id or local directory) → hierarchy-tagged ONNX."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from modelexport._text import module_counts, plural
from modelexport.cli._common import (
    Command,
    JsonOutput,
    Layout,
    LayoutMethod,
    OnnxOutput,
    Verbose,
    print_json,
    steps,
    user_errors,
)
from modelexport.cli.fold_cmds import FoldClass, FoldDepth


class Strategy(str, Enum):
    """How module context is captured (modelexport.exporter.STRATEGY_CHOICES)."""

    auto = "auto"
    htp = "htp"
    usage_based = "usage_based"
    fx = "fx"


def _report_text(report: Any) -> str:
    lines = [
        f"output:    {report.output}",
        f"strategy:  {report.strategy} ({report.reason})",
        f"nodes:     {report.node_count}, tagged {report.tagged_nodes} "
        f"({report.coverage:.1%}; {report.direct_tags} from module scopes, "
        f"{report.filled_tags} from neighbours)",
        f"modules:   {module_counts(report.module_count, report.modules_holding_ops)}",
        "inputs:    " + ", ".join(f"{k} {v}" for k, v in report.inputs.items()),
    ]
    for attempt in report.attempts:
        state = "ok" if attempt.ok else f"failed: {attempt.error}"
        lines.append(f"attempt:   {attempt.strategy} ({attempt.seconds:.2f} s) {state}")
    if report.verification is None and report.checker:
        lines.append(f"verify:    onnx.checker {report.checker}; outputs not compared "
                     "(--no-verify)")
    if report.verification:
        v = report.verification
        lines.append(f"verify:    onnx.checker {v['checker']}; onnxruntime matches PyTorch on "
                     f"{plural(v['outputs'], 'output')}, max |diff| {v['max_abs_diff']:.2g} "
                     f"(atol {v['atol']:g})")
    lines.extend(f"note:      {note}" for note in report.notes)
    lines.append("timings:   " + ", ".join(f"{k} {v:.2f} s" for k, v in report.timings.items()))
    if report.metadata_path:
        lines.append(f"metadata:  {report.metadata_path}")
    if report.graphml_path:
        lines.append(f"graphml:   {report.graphml_path} (parameters in "
                     f"{Path(report.sidecar_path or '').name})")
    return "\n".join(lines) + "\n"


def export(
    model: Annotated[str, typer.Argument(
        help="Hugging Face hub id (org/name) or a local model directory with config.json.",
        metavar="MODEL", show_default=False)],
    output: OnnxOutput,
    input_text: Annotated[str | None, typer.Option(
        "--input-text", help="Tokenize this text for the inputs (needs tokenizer files).",
        show_default=False)] = None,
    input_shape: Annotated[str | None, typer.Option(
        "--input-shape", help="Shape of the generated main input, e.g. 1,16 for token ids "
        "or 1,3,224,224 for images.", show_default=False)] = None,
    strategy: Annotated[Strategy, typer.Option(
        "--strategy", "-s", metavar="<choice>", help="auto, htp, usage_based or fx: how "
        "module context is captured (htp: torch.export's module stack; usage_based: forward "
        "hooks with TorchScript; fx: torch.fx); auto tries them in that order.")
    ] = Strategy.auto,
    opset_version: Annotated[int | None, typer.Option(
        "--opset-version", help="ONNX opset (default: the exporter's).",
        show_default=False)] = None,
    temp_dir: Annotated[Path | None, typer.Option(
        "--temp-dir", help="Directory for the intermediate files of the usage_based and fx "
        "strategies (must exist; htp writes none).",
        show_default=False)] = None,
    with_graphml: Annotated[bool, typer.Option(
        "--with-graphml", help="Also write the hierarchical GraphML and its .onnxdata "
        "sidecar beside OUT.onnx (file names above), and validate them.")] = False,
    layout: Layout = LayoutMethod.auto,
    with_report: Annotated[bool, typer.Option(
        "--with-report", help="Also write a readable report beside OUT.onnx (file name "
        "above).")] = False,
    verify: Annotated[bool, typer.Option(
        "--verify/--no-verify", help="Compare onnxruntime's outputs with PyTorch's "
        "before writing (onnx.checker runs either way; a model it rejects is never "
        "written).")] = True,
    dynamic: Annotated[bool, typer.Option(
        "--dynamic", help="Leave the batch axis of every input, and the sequence axis of "
        "token ids and masks, free instead of the example inputs' sizes (--verify then "
        "also checks one larger batch and sequence).")] = False,
    keep_torch_modules: Annotated[bool, typer.Option(
        "--keep-torch-modules", help="Keep built-in torch.nn modules (Linear, LayerNorm, "
        "...) in tags.")] = False,
    fold: Annotated[bool, typer.Option(
        "--fold", help="Write the folded model: modules as ONNX local functions, identical "
        "layers sharing one (as modelexport fold does; --class and --depth as there).")] = False,
    fold_classes: FoldClass = None,
    fold_depth: FoldDepth = None,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Export a transformers model to ONNX in which every node carries its module's tag.

    Writes OUT.onnx and, beside it, <stem>_metadata.json (module tree, node→tag
    map, statistics); with --with-graphml also <stem>_hierarchical_graph.graphml and
    <stem>_hierarchical_graph.onnxdata, with --with-report <stem>_export_report.txt.
    A directory with only config.json gives a seeded random-init model.

    Examples:

      modelexport export ./my-model out/model.onnx

      modelexport export ./my-model out/model.onnx --input-text "Hello world" --with-graphml

      modelexport export ./image-model out/model.onnx --input-shape 1,3,32,32 --strategy htp

      modelexport export ./my-model out/model.onnx --dynamic

      modelexport export org/model-name out/model.onnx --json

      modelexport export ./my-model out/model_fn.onnx --fold --class GPT2Block
    """
    with user_errors(verbose, json_output, command="modelexport export"):
        from modelexport.errors import UserInputError
        from modelexport.exporter import export_pretrained
        from modelexport.graphml.files import write_text_atomic

        if (fold_classes or fold_depth is not None) and not fold:
            raise UserInputError("--class and --depth choose what --fold folds; add --fold")

        with steps(f"exporting {model}", shown=not json_output) as progress:
            report = export_pretrained(
                model, output, input_text=input_text, input_shape=input_shape,
                strategy=strategy.value, with_graphml=with_graphml, layout=layout.value,
                opset_version=opset_version, temp_dir=temp_dir, verify=verify, dynamic=dynamic,
                keep_builtins=keep_torch_modules, verbose=verbose, progress=progress,
                fold=fold, fold_classes=tuple(fold_classes or ()), fold_depth=fold_depth)
        text = _report_text(report)
        if with_report:
            target = Path(report.output)
            report_path = target.with_name(f"{target.stem}_export_report.txt")
            write_text_atomic(report_path, text)
        if json_output:
            print_json(report.to_dict())
        elif verbose or with_report:
            typer.echo(text, nl=False)
        else:
            typer.echo(f"wrote {report.output}: {plural(report.node_count, 'node')}, "
                       f"{report.coverage:.0%} tagged, "
                       f"{module_counts(report.module_count, report.modules_holding_ops)}, "
                       f"strategy {report.strategy}")
            if report.graphml_path:
                typer.echo(f"wrote {report.graphml_path} (parameters in "
                           f"{Path(report.sidecar_path or '').name}; open it in yEd)")
            if report.metadata_path:
                typer.echo(f"wrote {report.metadata_path} (module tree, node tags, statistics)")
            if any(not attempt.ok for attempt in report.attempts):
                typer.echo(f"note: {report.reason}")
            for note in report.notes:
                typer.echo(f"note: {note}")


def register(app: typer.Typer) -> None:
    app.command(name="export", cls=Command)(export)
