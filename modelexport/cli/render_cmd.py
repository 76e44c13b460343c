"""``render``: a picture (SVG, PNG, PDF) of an ONNX or GraphML file's hierarchy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelexport.cli._common import (
    Command,
    JsonOutput,
    LayoutMethod,
    Verbose,
    check_input,
    print_json,
    steps,
    user_errors,
)

ModelInput = Annotated[Path, typer.Argument(
    help="ONNX or GraphML file to draw.", metavar="IN.onnx|IN.graphml", show_default=False)]
PictureOutput = Annotated[Path, typer.Argument(
    help="Picture to write; its suffix picks the format.", metavar="OUT.svg|OUT.png|OUT.pdf",
    show_default=False)]

Depth = Annotated[int | None, typer.Option(
    "--depth", min=0, help="Draw modules deeper than N closed: one box with the instance "
    "name and op count. The model's own module is depth 0, as analyze counts.",
    show_default=False)]
RenderLayout = Annotated[LayoutMethod | None, typer.Option(
    "--layout", help="Lay the picture out again: dot, outline or auto. Without it a GraphML "
    "is drawn with the geometry stored in it (as yEd shows it) and ONNX is laid out by auto.",
    show_default=False)]
Scale = Annotated[float, typer.Option(
    "--scale", min=0.05, max=1.0, help="Draw at this fraction of the natural size (1 pt = "
    "1 pixel in a PNG): 0.5 halves both sides, for a tall picture that should stay small.")]
Module = Annotated[str | None, typer.Option(
    "--module", help="Draw only this module (its hierarchy tag, e.g. /Model/Layer.0) and "
    "what it holds.", show_default=False)]


def render(
    source: ModelInput,
    output: PictureOutput,
    depth: Depth = None,
    module: Module = None,
    layout: RenderLayout = None,
    scale: Scale = 1.0,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Draw an ONNX or GraphML file as SVG, PNG or PDF (by OUTPUT's suffix).

    The picture has the yEd markup's styling and layout: op-type colours,
    module boxes with class names, dtype and shape on the edges, data
    flowing top to bottom. A GraphML is drawn where its stored geometry puts
    each box (--layout lays it out again). The same input gives the same SVG
    bytes.

    Examples:

      modelexport render model.onnx model.svg

      modelexport render model.graphml model.png --depth 1

      modelexport render model.onnx block0.pdf --module /Model/Body/Block.0

      modelexport render deep.onnx deep.png --depth 1 --scale 0.5
    """
    from modelexport.picture import draw_file

    with user_errors(verbose, json_output), steps() as progress:
        check_input(source)
        picture = draw_file(source, output, depth=depth, module=module,
                            layout=layout.value if layout is not None else None,
                            scale=scale, progress=progress)
    summary = {"output": str(output), "format": picture.format, "boxes": picture.boxes,
               "edges": picture.edges, "closed_modules": picture.closed,
               "layout": picture.layout, "width": round(picture.width, 1),
               "height": round(picture.height, 1), "bytes": len(picture.data)}
    if json_output:
        print_json(summary)
        return
    closed = f", {picture.closed} modules closed" if picture.closed else ""
    typer.echo(f"wrote {output} ({picture.boxes} boxes, {picture.edges} edges{closed}; "
               f"{picture.layout} layout, {picture.width:.0f} x {picture.height:.0f} pt, "
               f"{len(picture.data):,} bytes)")


def register(app: typer.Typer) -> None:
    app.command("render", cls=Command)(render)
