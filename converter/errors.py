"""Errors of the converter package, by stage.

    ModelExportError            (modelexport.graphml.errors) the root of every error
    └── ConverterError          anything the converters refuse
        ├── OnnxLoadError       the input is not a loadable ONNX model
        ├── SidecarError        the .onnxdata sidecar is missing, truncated, tampered,
        │                       outside the GraphML's directory, or a tensor's offset /
        │                       length does not fit it or its dtype x dims
        ├── GraphMLToOnnxError  the GraphML does not describe a rebuildable ONNX model
        └── FoldError           fold / unfold cannot do what was asked: no tags, an
                                unknown class, nothing to fold or unfold, a record
                                that does not match its model

GraphML parsing errors come from ``graphml.errors`` and pass through unchanged.
"""

from __future__ import annotations

from modelexport.graphml.errors import ModelExportError


class ConverterError(ModelExportError):
    """Base of every error raised by the converter package."""


class OnnxLoadError(ConverterError):
    """The file is not an ONNX model that onnx can load."""


class SidecarError(ConverterError):
    """The parameter sidecar cannot be trusted or used."""


class GraphMLToOnnxError(ConverterError):
    """The GraphML cannot be turned back into an ONNX model."""


class FoldError(ConverterError):
    """The model cannot be folded into functions, or unfolded, as asked."""
