"""``export-graphml`` and ``import-onnx``: ONNX ↔ hierarchical GraphML + sidecar.

Each command parses its arguments, calls one function of :mod:`modelexport.converter` inside
:func:`user_errors`, and prints what was written.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelexport._text import plural
from modelexport.cli._common import (
    Command,
    GraphmlInput,
    GraphmlOutput,
    JsonOutput,
    Layout,
    LayoutMethod,
    OnnxInput,
    OnnxOutput,
    Verbose,
    check_input,
    fail,
    print_json,
    steps,
    user_errors,
)

if TYPE_CHECKING:
    from modelexport.converter.verification import RebuiltCheck

NoYed = Annotated[bool, typer.Option(
    "--no-yed", help="Pure GraphML: leave out yEd's graphics markup.")]
Flat = Annotated[bool, typer.Option(
    "--flat", help="No nested groups: every node on the root graph, the hierarchy kept as "
    "'parent' and 'hierarchy_tag' data.")]
Validate = Annotated[bool, typer.Option(
    "--validate", help="Validate the GraphML first (as validate-graphml does), then run "
    "onnx.checker (full check) on the result and, when the original ONNX is found, compare "
    "it and its onnxruntime outputs.")]
Reference = Annotated[Path | None, typer.Option(
    "--reference", help="The original ONNX to compare with (default: the file the GraphML "
    "records, if it sits beside it).", show_default=False)]


def _jsonable(result: object) -> dict:
    data = asdict(result)  # print_json writes its paths as strings
    validation = getattr(result, "validation", None)
    if validation is not None:
        data["validation"] = validation.as_dict()
    return data


def export_graphml(
    model: OnnxInput,
    output: GraphmlOutput,
    no_yed: NoYed = False,
    flat: Flat = False,
    layout: Layout = LayoutMethod.auto,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Convert ONNX (tagged or not) to hierarchical GraphML plus a sidecar.

    Modules become nested, collapsible groups (from hierarchy tags, the
    dynamo exporter's module stack, or scoped node names); parameters go
    to the .onnxdata sidecar beside OUT.graphml. import-onnx rebuilds the exact
    model from the two files. The yEd markup carries a layered layout
    (--layout), so the file opens in yEd as a picture.

    Examples:

      modelexport export-graphml model.onnx model.graphml

      modelexport export-graphml model.onnx model.graphml --layout outline

      modelexport export-graphml model.onnx model.graphml --no-yed --flat

      modelexport export-graphml model.onnx out/model.graphml --json
    """
    from modelexport.converter import onnx_to_graphml

    with user_errors(verbose, json_output), steps() as progress:
        check_input(model)
        result = onnx_to_graphml(model, output, yed=not no_yed, flat=flat,
                                 layout=layout.value, progress=progress)
    if json_output:
        print_json(_jsonable(result))
        return
    typer.echo(f"wrote {result.graphml} ({plural(result.nodes, 'node')}, "
               f"{plural(result.modules, 'module')}, {plural(result.edges, 'edge')}, "
               f"{plural(result.graphml_bytes, 'byte')})")
    typer.echo(f"wrote {result.sidecar} ({plural(result.sidecar_bytes, 'byte')} of parameters)")
    if not no_yed:
        typer.echo(f"layout: {result.layout_reason}")
    if result.refs:
        boxes = "1 reference box draws" if result.refs == 1 else \
            f"{result.refs:,} reference boxes draw"
        typer.echo(f"{boxes} shared constants beside their consumers (--no-yed: direct edges)")


def import_onnx(
    graphml: GraphmlInput,
    output: OnnxOutput,
    validate: Validate = False,
    reference: Reference = None,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Rebuild the exact ONNX model from a GraphML written by export-graphml.

    The GraphML's .onnxdata sidecar must sit beside it, unchanged (its
    size and SHA-256 are checked). With --validate, the GraphML is first
    validated as validate-graphml does (an invalid file is refused), and
    the result is checked by onnx.checker and compared with the original
    ONNX when found (structure, and onnxruntime outputs on generated inputs).

    Examples:

      modelexport import-onnx model.graphml model.onnx

      modelexport import-onnx model.graphml rebuilt.onnx --validate

      modelexport import-onnx m.graphml m2.onnx --validate --reference m.onnx
    """
    from modelexport.converter import graphml_to_onnx

    with user_errors(verbose, json_output), steps() as progress:
        check_input(graphml, *([reference] if reference is not None else []))
        result = graphml_to_onnx(graphml, output, validate=validate, reference=reference,
                                 progress=progress)
    failed = result.validation is not None and not result.validation.passed
    if json_output and not failed:
        print_json(_jsonable(result))
    elif not json_output:
        typer.echo(f"wrote {result.onnx} ({plural(result.nodes, 'node')}, "
                   f"{plural(result.initializers, 'initializer')}, "
                   f"{plural(result.onnx_bytes, 'byte')})")
        if result.external_data is not None:
            typer.echo(f"wrote {result.external_data} (external data: the model exceeds 2 GB)")
        if result.validation is not None:
            _print_validation(result.validation)
    if failed:
        what = ("onnx.checker rejects it" if result.validation.checker != "ok"
                else f"it differs from {result.validation.reference}")
        raise fail(f"{result.onnx} was written but fails validation: {what}", 1, json_output,
                   _jsonable(result))


def _print_validation(report: RebuiltCheck) -> None:
    typer.echo(f"onnx.checker (full): {report.checker}")
    if report.reference is None:
        typer.echo("no original ONNX found to compare with (use --reference PATH)")
        return
    if report.identical:
        typer.echo(f"identical to {report.reference}")
    else:
        typer.echo(f"differs from {report.reference} in "
                   f"{plural(len(report.differences), 'place')}:")
        for line in report.differences[:20]:
            typer.echo(f"  {line}")
    if report.max_abs_diff is not None:
        typer.echo(f"onnxruntime: largest output difference {report.max_abs_diff:g}")
    else:
        typer.echo(f"onnxruntime: {report.run or 'not run'}")


def register(app: typer.Typer) -> None:
    app.command("export-graphml", cls=Command)(export_graphml)
    app.command("import-onnx", cls=Command)(import_onnx)
