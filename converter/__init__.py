"""ONNX ↔ GraphML conversion and the ``.onnxdata`` parameter sidecar.

    onnx_to_graphml("m.onnx", "m.graphml")      # also writes m.onnxdata
    graphml_to_onnx("m.graphml", "m2.onnx")     # reads the sidecar the GraphML names

Layers: :mod:`modelexport.converter.encode` and :mod:`modelexport.converter.decode` are
pure (ModelProto ↔ :class:`modelexport.graphml.Document`),
:mod:`modelexport.converter.sidecar` streams tensor bytes,
:mod:`modelexport.converter.hierarchy` finds module tags, and a thin file layer writes
everything atomically. :mod:`modelexport.converter.functions` folds modules into ONNX
local functions and back. Imports onnx and graphml, never torch.
"""

from __future__ import annotations

from modelexport.converter._files import (
    ExportResult,
    ImportResult,
    graphml_to_onnx,
    load_onnx,
    onnx_document,
    onnx_to_graphml,
    opened_onnx,
    read_export,
    write_rebuilt,
)
from modelexport.converter.decode import document_to_model
from modelexport.converter.encode import model_to_document
from modelexport.converter.errors import (
    ConverterError,
    FoldError,
    GraphMLToOnnxError,
    OnnxLoadError,
    SidecarError,
)
from modelexport.converter.functions import (
    FoldResult,
    UnfoldResult,
    fold_modules,
    unfold_modules,
)
from modelexport.converter.hierarchy import Hierarchy, derive_hierarchy
from modelexport.converter.sidecar import SidecarReader, SidecarWriter, read_sidecar, write_sidecar
from modelexport.converter.testing import assert_models_equal, diff_models

__all__ = [
    # files
    "onnx_to_graphml", "graphml_to_onnx", "load_onnx", "opened_onnx", "onnx_document",
    "read_export", "write_rebuilt", "ExportResult", "ImportResult",
    # in memory
    "model_to_document", "document_to_model", "derive_hierarchy", "Hierarchy",
    # modules as local functions (SPEC §11)
    "fold_modules", "unfold_modules", "FoldResult", "UnfoldResult",
    # the sidecar
    "write_sidecar", "read_sidecar", "SidecarWriter", "SidecarReader",
    # comparing models
    "diff_models", "assert_models_equal",
    # errors
    "ConverterError", "OnnxLoadError", "SidecarError", "GraphMLToOnnxError", "FoldError",
]
