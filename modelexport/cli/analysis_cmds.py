"""``analyze``, ``validate``, ``compare`` and ``extract``: looking inside tagged ONNX.

Each command parses its arguments, calls one function of :mod:`modelexport.analysis`
inside :func:`user_errors`, and prints the result.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from modelexport._text import module_counts, plural
from modelexport.cli._common import (
    Command,
    DiffDepth,
    DiffOutput,
    JsonOutput,
    OnnxInput,
    OnnxOutput,
    Verbose,
    check_input,
    print_json,
    steps,
    user_errors,
)


class OutputFormat(str, Enum):
    summary = "summary"
    detailed = "detailed"
    json = "json"
    csv = "csv"


def _print(renderable: object) -> None:
    """A rich object on a terminal; plain text is printed by the callers on a pipe."""
    from rich.console import Console

    Console(highlight=False).print(renderable)


# Formats a file name implies when --output-format is not given.
_FORMAT_OF_SUFFIX = {".json": "json", ".csv": "csv"}


def _analysis_format(output_format: OutputFormat | None, json_output: bool,
                     output: Path | None) -> str:
    """The format asked for: --json, else --output-format, else the output file's suffix
    (.json, .csv), else summary. --json with another --output-format is bad usage."""
    if json_output:
        if output_format not in (None, OutputFormat.json):
            raise typer.BadParameter(f"--json prints JSON; it cannot be combined with "
                                     f"--output-format {output_format.value}",
                                     param_hint="--output-format")
        return "json"
    if output_format is not None:
        return output_format.value
    return _FORMAT_OF_SUFFIX.get(output.suffix.lower(), "summary") if output else "summary"


def analyze(
    model: OnnxInput,
    output_format: Annotated[OutputFormat | None, typer.Option(
        "--output-format", "-f", help="summary (tree with counts; the default), detailed "
        "(plus op types and classes), json or csv. With --output and no format, a .json or "
        ".csv name picks that format.", show_default=False)] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the result to this file instead of the screen.",
        show_default=False)] = None,
    output_file: Annotated[Path | None, typer.Option(
        "--output-file", hidden=True, help="The former name of --output.")] = None,
    filter_tag: Annotated[str | None, typer.Option(
        "--filter-tag", help="Only this module and the modules below it, e.g. "
        "/Model/Stack/Layer.0.", show_default=False)] = None,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Show the module tree of a tagged ONNX model with op and parameter counts.

    Per module: ops (own and total), op types, parameters (initializer elements owned
    by the module); overall: tag coverage. Untagged models are analyzed by op type.

    Examples:

      modelexport analyze model.onnx

      modelexport analyze model.onnx -o report.json

      modelexport analyze model.onnx --filter-tag /Model/Stack/Layer.0 -f detailed
    """
    from modelexport._files import check_output_path
    from modelexport.analysis import analyze_model, write_text
    from modelexport.analysis.report import format_analysis, rich_tree
    from modelexport.converter import load_onnx

    output = output or output_file
    fmt = _analysis_format(output_format, json_output, output)
    with user_errors(verbose, json_output):
        check_input(model)
        if output is not None:
            check_output_path(output)
        result = analyze_model(load_onnx(model), filter_tag=filter_tag)
        text = format_analysis(result, fmt)
        if output is not None:
            write_text(text, output)
            typer.echo(f"wrote {output} ({fmt}, "
                       f"{module_counts(result.module_count, result.modules_holding_ops)})")
        elif fmt in ("summary", "detailed") and sys.stdout.isatty():
            _print(rich_tree(result, detailed=fmt == "detailed"))
        else:
            typer.echo(text, nl=False)


def validate(
    model: OnnxInput,
    check_consistency: Annotated[bool, typer.Option(
        "--check-consistency", help="Also check tags along the data flow: report ops "
        "whose neighbours all lie in one module while their tag is unrelated to it, and "
        "ops tagged with a sibling container entry (Layer.1 inside Layer.0).")] = False,
    repair: Annotated[bool, typer.Option(
        "--repair", help="Give untagged nodes the deepest module containing the known tags "
        "of their producers and consumers (a run of untagged nodes is resolved together) "
        "and write the result to --output.")] = False,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Where --repair writes (default: <stem>_repaired.onnx "
        "beside the input).", show_default=False)] = None,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Check an ONNX model with onnx.checker and the hierarchy-tag rules.

    Every node tagged, every tag a module of the recorded module tree, and with
    --check-consistency tags consistent along the data flow. Exit code 0 when valid,
    1 when not; offending nodes are named.

    Examples:

      modelexport validate model.onnx

      modelexport validate model.onnx --check-consistency --json

      modelexport validate model.onnx --repair --output fixed.onnx
    """
    from modelexport._files import check_output_path
    from modelexport.analysis import repair_tags, save_model, validate_model
    from modelexport.analysis.report import format_validation
    from modelexport.converter import load_onnx

    with user_errors(verbose, json_output):
        check_input(model)
        target = None
        if repair:
            target = check_output_path(output or model.with_name(f"{model.stem}_repaired.onnx"))
        elif output is not None:
            raise typer.BadParameter("--output is only used with --repair", param_hint="--output")
        proto = load_onnx(model)
        fixed = None
        if repair:
            fixed = repair_tags(proto)
            proto = fixed.model
        report = validate_model(proto, check_consistency=check_consistency)
        if fixed is not None and target is not None:
            save_model(fixed.model, target)
    payload = report.to_dict()
    if fixed is not None:
        payload["repair"] = {"output": str(target), "repaired": fixed.repaired}
    if not json_output:
        if fixed is not None:
            typer.echo(f"repaired {plural(len(fixed.repaired), 'untagged node')}; wrote {target}")
            _echo_repairs(fixed.repaired)
        typer.echo(format_validation(report), nl=False)
    if not report.valid:
        if json_output:
            print_json({**payload, "error": f"{model} is not valid: "
                        f"{plural(len(report.issues), 'issue')}"})
        raise typer.Exit(1)
    if json_output:
        print_json(payload)


# Repairs listed one per line up to this many; --json lists them all.
_REPAIRS_SHOWN = 20


def _echo_repairs(repaired: dict[str, str]) -> None:
    """Where each repaired node went: ``  node → /Model/Tag``."""
    for label, tag in list(repaired.items())[:_REPAIRS_SHOWN]:
        typer.echo(f"  {label} → {tag}")
    if len(repaired) > _REPAIRS_SHOWN:
        typer.echo(f"  ... and {len(repaired) - _REPAIRS_SHOWN} more (--json lists them all)")


def compare(
    model_a: Annotated[Path, typer.Argument(help="First ONNX model (A).", metavar="A.onnx",
                                            show_default=False)],
    model_b: Annotated[Path, typer.Argument(help="Second ONNX model (B).", metavar="B.onnx",
                                            show_default=False)],
    output: DiffOutput = None,
    output_file: Annotated[Path | None, typer.Option(
        "--output-file", hidden=True, help="Deprecated: use --output.")] = None,
    depth: DiffDepth = None,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Show which modules of two ONNX models were added, removed or changed, and which
    weights.

    Modules are matched by hierarchy tag (by class and structure when a tag is on one
    side only: moved or renamed), ops by their place in the module's data flow (not by
    their names, which shift between exports), initializers by the op input they feed;
    a weight whose SHA-256 differs is listed in the module that owns it. Weights are
    hashed as they stream from the files, never loaded whole.

    Examples:

      modelexport compare a.onnx b.onnx

      modelexport compare a.onnx b.onnx --json --depth 2

      modelexport compare a.onnx b.onnx --output diff.svg

      modelexport compare a.onnx b.onnx --output diff.graphml
    """
    from modelexport._files import check_output_path
    from modelexport.analysis.compare import compare_models, output_format, write_diff
    from modelexport.analysis.report import format_comparison, rich_comparison

    if output is not None and output_file is not None:
        raise typer.BadParameter("give --output once (--output-file is its old name)",
                                 param_hint="--output")
    output = output if output is not None else output_file
    with user_errors(verbose, json_output), steps() as progress:
        check_input(model_a, model_b)
        if output is not None:
            output_format(output)
            check_output_path(output)
        result = compare_models(model_a, model_b, depth=depth, progress=progress)
        if output is not None:
            write_diff(result, output, progress)
    if json_output:
        print_json(result.to_dict())
    elif sys.stdout.isatty():
        for item in rich_comparison(result):
            _print(item)
    else:
        typer.echo(format_comparison(result), nl=False)
    if output is not None and not json_output:
        typer.echo(f"wrote {output}")


def extract(
    model: OnnxInput,
    output: OnnxOutput,
    tag: Annotated[str, typer.Option(
        "--tag", "-t", help="The module to cut out, e.g. /Model/Stack/Layer.0 (its "
        "submodules come along).", show_default=False)],
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Cut one module (and the modules below it) out as a standalone ONNX model.

    Inputs are the tensors entering the module, outputs those leaving it; the
    initializers it uses come along. The result passes onnx.checker and runs in
    onnxruntime.

    Examples:

      modelexport extract model.onnx --tag /Model/Stack/Layer.0 layer0.onnx
    """
    from modelexport._files import check_output_path
    from modelexport.analysis import extract_module, save_model
    from modelexport.converter import load_onnx

    with user_errors(verbose, json_output):
        check_input(model)
        check_output_path(output)
        result = extract_module(load_onnx(model), tag)
        save_model(result.model, output)
    if json_output:
        print_json(dict(result.to_dict(), output=str(output)))
    else:
        typer.echo(f"wrote {output}: {plural(result.nodes, 'node')} of {result.tag}; "
                   f"{plural(len(result.inputs), 'input')}, "
                   f"{plural(len(result.outputs), 'output')}, "
                   f"{plural(len(result.initializers), 'initializer')}")


def register(app: typer.Typer) -> None:
    for command in (analyze, validate, compare, extract):
        app.command(cls=Command)(command)
