"""Errors of the modelexport package, by stage, under the one root of every error.

    ModelExportError            anything modelexport refuses, in any of its packages
    ├── UserInputError          a path, option or value the user gave is unusable
    │                           (missing output directory, unknown strategy, bad shape)
    ├── ModelLoadError          the model cannot be loaded (offline hub, no config.json)
    ├── ExportError             no strategy produced an ONNX file; lists each attempt
    ├── VerificationError       onnxruntime and PyTorch outputs differ beyond tolerance
    ├── AnalysisError           analyze / validate / compare / extract cannot proceed
    ├── GraphMLError            (modelexport.graphml.errors)
    ├── ConverterError          (modelexport.converter.errors)
    └── ArchiveError            (modelexport.archive.errors)

The root is defined in the bottom layer (``modelexport.graphml.errors``, which imports
nothing else of the project) and re-exported here, so that every package derives from
it without importing upward. The CLI maps them all to exit code 1 in one table
(``modelexport.cli._common``).
"""

from __future__ import annotations

from modelexport.graphml.errors import ModelExportError

__all__ = ["ModelExportError", "UserInputError", "ModelLoadError", "ExportError",
           "VerificationError", "AnalysisError"]  # ModelExportError: re-exported


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
