"""Inspecting tagged ONNX models: analyze, validate, compare, extract.

Pure functions on ``onnx.ModelProto`` returning result dataclasses, plus thin file
edges (models are read with :func:`modelexport.converter.load_onnx`). Nothing here
imports torch or transformers, so the commands start instantly.
"""

from __future__ import annotations

from modelexport.analysis._output import save_model, write_text
from modelexport.analysis.analyze import Analysis, ModuleStats, analyze_model
from modelexport.analysis.compare import ModelDiff, ModuleDiff, compare_models, write_diff
from modelexport.analysis.extract import Extraction, extract_module
from modelexport.analysis.validate import Issue, Repair, Validation, repair_tags, validate_model

__all__ = [
    # analyze
    "Analysis", "ModuleStats", "analyze_model",
    # validate
    "Issue", "Repair", "Validation", "repair_tags", "validate_model",
    # compare
    "ModelDiff", "ModuleDiff", "compare_models", "write_diff",
    # extract
    "Extraction", "extract_module",
    # files
    "save_model", "write_text",
]
