"""An ONNX or GraphML file drawn to SVG, PNG or PDF (what the ``render`` command does).

The file layer around :func:`modelexport.graphml.picture.draw`: read the input (ONNX
through the converter, without reading its parameters; GraphML through the reader),
draw, write the picture atomically.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from modelexport._files import check_output_path
from modelexport.errors import UserInputError
from modelexport.graphml import add_refs
from modelexport.graphml.files import atomic_path
from modelexport.graphml.picture import FORMATS, Picture, draw


def draw_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
              depth: int | None = None, module: str | None = None, layout: str | None = None,
              scale: float = 1.0, progress: Callable[[str], None] | None = None) -> Picture:
    """Draw ``src`` (``.onnx`` or ``.graphml``) to ``dst``; the format is ``dst``'s suffix.

    A GraphML is drawn with the geometry stored in it (as yEd shows it), unless
    ``layout`` asks for a layout (``auto``, ``dot``, ``outline``), the file has none
    (``--no-yed``, ``--layout none``), or ``depth`` closes modules; then, and for ONNX,
    it is laid out (``auto`` unless asked). ``scale``: the fraction of the natural
    size to draw at (see :func:`~modelexport.graphml.picture.draw`).
    """
    progress = progress or (lambda step: None)
    src, dst = Path(src), check_output_path(dst)
    output_format = dst.suffix.lower().lstrip(".")
    if output_format not in FORMATS:
        raise UserInputError(f"cannot tell the picture format from {dst.name!r}; name the "
                             f"output *.svg, *.png or *.pdf")
    if not src.is_file():
        raise UserInputError(f"input {str(src)!r} does not exist; give an .onnx or .graphml "
                             "file")
    if dst.resolve() == src.resolve():
        raise UserInputError(f"output {str(dst)!r} would overwrite the input; choose another "
                             "path")
    progress(f"reading {src.name}")
    geometry = None
    if src.suffix.lower() == ".graphml":
        from modelexport.graphml import read_graphml
        from modelexport.graphml.geometry import read_geometry

        doc = read_graphml(src)
        if layout is None:
            geometry = read_geometry(src)
    else:
        from modelexport.converter import onnx_document

        doc = onnx_document(src)  # parameters are not read: a picture needs none
        add_refs(doc)  # shared constants beside their consumers, as export-graphml draws
    picture = draw(doc, output_format, depth=depth, module=module, layout=layout or "auto",
                   geometry=geometry, scale=scale, progress=progress)
    with atomic_path(dst) as temp:
        temp.write_bytes(picture.data)
    return picture
