"""``compare``: the module-aware diff of two ONNX models (SPEC §12), and its outputs.

The diff itself is :mod:`modelexport.converter.compare` (it needs onnx, not torch, and
``archive diff`` answers with the same code); here are the file edges: the diff as
JSON, as GraphML with yEd colours, or drawn (SVG, PNG, PDF).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelexport._files import check_output_path
from modelexport.analysis._output import write_text
from modelexport.converter.compare import (
    ModelDiff,
    ModuleDiff,
    OpRef,
    compare_onnx,
    merged_document,
)
from modelexport.errors import UserInputError

#: What ``--output`` writes, by file suffix.
OUTPUT_FORMATS = ("svg", "png", "pdf", "graphml", "json")


def compare_models(a: Any, b: Any, *, depth: int | None = None,
                   progress: Callable[[str], None] | None = None) -> ModelDiff:
    """The module-aware diff of ONNX models ``a`` and ``b`` (paths or ModelProtos).

    Parameters are hashed as they stream from the files, never held whole. ``depth``:
    modules below it folded into one entry each (the root is depth 0). ``progress``
    hears of each step.

    Examples
    --------
    >>> diff = compare_models("a.onnx", "b.onnx")  # doctest: +SKIP
    >>> [m.tag for m in diff.modules if m.status != "same"]  # doctest: +SKIP
    """
    diff = compare_onnx(a, b, progress)
    if depth is not None:
        if depth < 0:
            raise UserInputError(f"--depth {depth} is negative; give 0 or more (the root is 0)")
        diff = diff.at_depth(depth)
    return diff


def output_format(path: str | os.PathLike[str]) -> str:
    """The format ``--output`` writes to ``path``, by its suffix (UserInputError if none)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in OUTPUT_FORMATS:
        raise UserInputError(f"cannot tell what to write from {Path(path).name!r}; name the "
                             f"output *.{', *.'.join(OUTPUT_FORMATS)}")
    return suffix


def write_diff(diff: ModelDiff, path: str | os.PathLike[str],
               progress: Callable[[str], None] | None = None) -> str:
    """Write ``diff`` to ``path`` (format by suffix, see :data:`OUTPUT_FORMATS`), atomically;
    returns the format. A picture or GraphML shows both models in one: added green,
    removed red where they were, changed amber, with a legend."""
    from modelexport.graphml.files import atomic_path

    kind = output_format(path)
    target = check_output_path(path)
    if kind == "json":
        write_text(json.dumps(diff.to_dict(), indent=2) + "\n", target)
        return kind
    doc = merged_document(diff)
    if kind == "graphml":
        from modelexport.graphml import write_graphml

        write_graphml(doc, target)
        return kind
    from modelexport.graphml.picture import draw

    picture = draw(doc, kind, progress=progress)
    with atomic_path(target) as temp:
        temp.write_bytes(picture.data)
    return kind


__all__ = ["ModelDiff", "ModuleDiff", "OpRef", "OUTPUT_FORMATS", "compare_models",
           "output_format", "write_diff"]
