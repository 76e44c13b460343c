"""``export-graphml`` and ``import-onnx``: ONNX ↔ hierarchical GraphML + sidecar.

Each command parses its arguments, calls one function of :mod:`modelexport.converter` inside
:func:`user_errors`, and prints what was written.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer

from modelexport.cli._common import InputPath, JsonOutput, Layout, LayoutMethod, OutputPath, \
    Verbose, fail, print_json, steps, user_errors

NoYed = Annotated[bool, typer.Option(
    "--no-yed", help="Pure GraphML: leave out yEd's graphics markup.")]
Flat = Annotated[bool, typer.Option(
    "--flat", help="No nested groups: every node on the root graph, the hierarchy kept as "
    "'parent' and 'hierarchy_tag' data.")]
Validate = Annotated[bool, typer.Option(
    "--validate", help="Validate the GraphML first (as validate-graphml does), then run "
    "onnx.checker (full check) on the result and, when the original ONNX is found, compare "
    "it and its onnxruntime outputs.")]
Reference = Annotated[Optional[Path], typer.Option(
    "--reference", help="The original ONNX to compare with (default: the file the GraphML "
    "records, if it sits beside it).", show_default=False)]


def _jsonable(result: object) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result).items()}


def export_graphml(
    model: InputPath,
    output: OutputPath,
    no_yed: NoYed = False,
    flat: Flat = False,
    layout: Layout = LayoutMethod.auto,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Convert ONNX (tagged or not) to hierarchical GraphML plus a sidecar.

    Modules become nested, collapsible groups (from hierarchy tags, the
    dynamo exporter's module stack, or scoped node names); parameters go
    to the .onnxdata sidecar beside OUTPUT. import-onnx rebuilds the exact
    model from the two files. The yEd markup carries a layered layout
    (--layout), so the file opens in yEd as a picture.

    Examples:

      modelexport export-graphml model.onnx model.graphml

      modelexport export-graphml model.onnx model.graphml --layout outline

      modelexport export-graphml model.onnx model.graphml --no-yed --flat

      modelexport export-graphml model.onnx out/model.graphml --json
    """
    from modelexport.converter import onnx_to_graphml

    with user_errors(verbose), steps() as progress:
        result = onnx_to_graphml(model, output, yed=not no_yed, flat=flat,
                                 layout=layout.value, progress=progress)
    if json_output:
        print_json(_jsonable(result))
        return
    typer.echo(f"wrote {result.graphml} ({result.nodes} nodes, {result.modules} modules, "
               f"{result.edges} edges, {result.graphml_bytes:,} bytes)")
    typer.echo(f"wrote {result.sidecar} ({result.sidecar_bytes:,} bytes of parameters)")
    if not no_yed:
        typer.echo(f"layout: {result.layout_reason}")


def import_onnx(
    graphml: InputPath,
    output: OutputPath,
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

    with user_errors(verbose), steps() as progress:
        if reference is not None and not reference.is_file():
            raise fail(f"reference ONNX {str(reference)!r} does not exist")
        result = graphml_to_onnx(graphml, output, validate=validate, reference=reference,
                                 progress=progress)
    if json_output:
        print_json(_jsonable(result))
    else:
        typer.echo(f"wrote {result.onnx} ({result.nodes} nodes, {result.initializers} "
                   f"initializers, {result.onnx_bytes:,} bytes)")
        if result.external_data is not None:
            typer.echo(f"wrote {result.external_data} (external data: the model exceeds 2 GB)")
        if result.validation is not None:
            _print_validation(result.validation)
    if result.validation is not None and not _passed(result.validation):
        what = ("onnx.checker rejects it" if result.validation["checker"] != "ok"
                else f"it differs from {result.validation['reference']}")
        raise fail(f"{result.onnx} was written but fails validation: {what}")


def _passed(report: dict) -> bool:
    """The checker passed and, with an original to compare, the rebuild equals it.

    The onnxruntime difference is reported, not judged: identical models can still
    differ in outputs when they hold random ops.
    """
    if report["checker"] != "ok":
        return False
    return report.get("reference") is None or report["identical"]


def _print_validation(report: dict) -> None:
    typer.echo(f"onnx.checker (full): {report['checker']}")
    if report.get("reference") is None:
        typer.echo("no original ONNX found to compare with (use --reference PATH)")
        return
    if report["identical"]:
        typer.echo(f"identical to {report['reference']}")
    else:
        typer.echo(f"differs from {report['reference']} in {len(report['differences'])} place(s):")
        for line in report["differences"][:20]:
            typer.echo(f"  {line}")
    if report.get("max_abs_diff") is not None:
        typer.echo(f"onnxruntime: largest output difference {report['max_abs_diff']:g}")
    else:
        typer.echo(f"onnxruntime: {report.get('run', 'not run')}")


def register(app: typer.Typer) -> None:
    app.command("export-graphml")(export_graphml)
    app.command("import-onnx")(import_onnx)
