"""modelexport: PyTorch / transformers models → hierarchy-tagged ONNX (SPEC §4).

    import modelexport
    report = modelexport.export_model(model, example_inputs, "out.onnx", strategy="auto")
    modelexport.fold_modules("out.onnx", "out_fn.onnx")     # modules as local functions
    modelexport.unfold_modules("out_fn.onnx", "out2.onnx")  # the same bytes as out.onnx

torch and transformers load only when an export runs: importing this package is cheap.
"""

from __future__ import annotations

import typing as _typing

__all__ = [
    # exporting
    "export_model",
    "export_pretrained",
    "UnifiedExporter",
    "ExportReport",
    # looking inside
    "compare_models",
    # modules as ONNX local functions
    "fold_modules",
    "unfold_modules",
    # errors
    "ModelExportError",
    "UserInputError",
    "ModelLoadError",
    "ExportError",
    "VerificationError",
    "AnalysisError",
]

_LAZY = {
    "export_model": "modelexport.exporter",
    "export_pretrained": "modelexport.exporter",
    "UnifiedExporter": "modelexport.exporter",
    "ExportReport": "modelexport.exporter",
    "compare_models": "modelexport.analysis.compare",
    "fold_modules": "modelexport.converter.functions",
    "unfold_modules": "modelexport.converter.functions",
}

from modelexport.errors import (  # noqa: E402
    AnalysisError,
    ExportError,
    ModelExportError,
    ModelLoadError,
    UserInputError,
    VerificationError,
)
from modelexport.graphml._lazy import lazy_attributes as _lazy_attributes  # noqa: E402

if _typing.TYPE_CHECKING:
    from modelexport.analysis.compare import compare_models
    from modelexport.converter.functions import fold_modules, unfold_modules
    from modelexport.exporter import ExportReport, UnifiedExporter, export_model, export_pretrained


__getattr__, __dir__ = _lazy_attributes(globals(), _LAZY)
