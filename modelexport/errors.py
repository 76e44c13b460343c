"""Errors of the modelexport package, by stage.

    ModelExportError            anything modelexport refuses
    ├── UserInputError          a path, option or value the user gave is unusable
    │                           (missing output directory, unknown strategy, bad shape)
    ├── ModelLoadError          the model cannot be loaded (offline hub, no config.json)
    ├── ExportError             no strategy produced an ONNX file; lists each attempt
    ├── VerificationError       onnxruntime and PyTorch outputs differ beyond tolerance
    └── AnalysisError           analyze / validate / compare / extract cannot proceed

Errors from ``converter`` and ``graphml`` pass through; the CLI maps them all to exit
code 1 in one table (``modelexport.cli._common``).
"""

from __future__ import annotations


class ModelExportError(Exception):
    """Base of every error raised by the modelexport package."""


class UserInputError(ModelExportError):
    """A path, option or value given by the user cannot be used."""


class ModelLoadError(ModelExportError):
    """The model cannot be loaded."""


class ExportError(ModelExportError):
    """No export strategy produced an ONNX file."""


class VerificationError(ModelExportError):
    """onnxruntime outputs differ from PyTorch's beyond tolerance."""


class AnalysisError(ModelExportError):
    """An analysis command cannot proceed on the given file."""
