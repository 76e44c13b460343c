"""``fold`` and ``unfold``: modules as ONNX model-local functions, and back (SPEC §11)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from modelexport._text import plural
from modelexport.cli._common import (
    Command,
    JsonOutput,
    OnnxInput,
    OnnxOutput,
    Verbose,
    check_input,
    print_json,
    user_errors,
)

#: Shared with ``export --fold``.
FoldClass = Annotated[list[str] | None, typer.Option(
    "--class", metavar="NAME", help="Fold only modules of this class (repeat for several); "
    "default: every module below the model's own.", show_default=False)]
FoldDepth = Annotated[int | None, typer.Option(
    "--depth", min=0, metavar="N", help="Fold only modules down to depth N (top-level "
    "modules are at depth 1, as for render).", show_default=False)]


def fold(
    model: OnnxInput,
    output: OnnxOutput,
    classes: FoldClass = None,
    depth: FoldDepth = None,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Turn the modules of a tagged ONNX model into model-local functions.

    Each module becomes a call of a FunctionProto (domain modelexport.modules)
    named after its class; nested modules call their children's functions, and
    modules with identical bodies share one function. Parameters stay graph
    initializers passed to the calls. unfold gives back the input byte for byte.

    Examples:

      modelexport fold model.onnx model_fn.onnx

      modelexport fold model.onnx blocks.onnx --class GPT2Block

      modelexport fold model.onnx top.onnx --depth 2 --json
    """
    from modelexport.converter.functions import fold_modules

    with user_errors(verbose, json_output, command="modelexport fold"):
        check_input(model)
        result = fold_modules(model, output, classes=classes or (), depth=depth)
    if json_output:
        print_json({k: v for k, v in asdict(result).items() if k != "model"})
        return
    share = result.nodes_after / result.nodes_before if result.nodes_before else 0.0
    typer.echo(f"wrote {result.output}: {plural(result.calls, 'module')} folded into "
               f"{plural(len(result.functions), 'function')}; main graph "
               f"{plural(result.nodes_after, 'node')} of {result.nodes_before:,} ({share:.0%}); "
               f"{result.bytes_after:,} bytes (was {result.bytes_before:,})")
    for line in (*result.unfolded, *result.notes):
        typer.echo(f"note: {line}")


def unfold(
    model: OnnxInput,
    output: OnnxOutput,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Inline a folded model's functions: the model fold was given, byte for byte.

    A model with local functions that fold did not make is inlined with
    onnx.inliner; the output then says that it is not byte-exact.

    Examples:

      modelexport unfold model_fn.onnx model.onnx

      modelexport unfold other_functions.onnx inlined.onnx --json
    """
    from modelexport.converter.functions import unfold_modules

    with user_errors(verbose, json_output, command="modelexport unfold"):
        check_input(model)
        result = unfold_modules(model, output)
    if json_output:
        print_json({k: v for k, v in asdict(result).items() if k != "model"})
        return
    exact = "byte-exact original" if result.exact else "not byte-exact"
    typer.echo(f"wrote {result.output}: {plural(result.nodes, 'node')} ({exact})")
    for line in result.notes:
        typer.echo(f"note: {line}")


def register(app: typer.Typer) -> None:
    app.command("fold", cls=Command)(fold)
    app.command("unfold", cls=Command)(unfold)
