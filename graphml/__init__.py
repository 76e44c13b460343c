"""modelexport's GraphML: document model, reader, writer, yEd styling, validator.

Depends on lxml only (never onnx or torch). The dialect's facts live in
:mod:`graphml.format`.
"""

from __future__ import annotations

from graphml.errors import (
    GraphMLError,
    GraphMLFormatError,
    GraphMLParseError,
    GraphMLValidationError,
)
from graphml.model import Document, Edge, Graph, Key, Node
from graphml.reader import parse_graphml, read_graphml
from graphml.validator import Finding, ValidationReport, validate_graphml
from graphml.writer import generate_graphml, write_graphml
from schemas import schema_path

__all__ = [
    # document model
    "Document", "Graph", "Node", "Edge", "Key",
    # writing and reading
    "generate_graphml", "write_graphml", "parse_graphml", "read_graphml",
    # validation
    "validate_graphml", "ValidationReport", "Finding", "schema_path",
    # errors
    "GraphMLError", "GraphMLParseError", "GraphMLFormatError", "GraphMLValidationError",
]
