"""modelexport's GraphML: document model, reader, writer, yEd styling, validator.

    doc = parse_graphml(data)            # bytes -> Document (untrusted input is safe)
    doc = read_graphml("m.graphml")      # path  -> Document
    data = generate_graphml(doc)         # Document -> bytes (yed=False: no yFiles markup)
    write_graphml(doc, "m.graphml")      # atomically, or into a binary file
    report = validate_graphml("m.graphml")   # XSD, dialect and sidecar checks
    report.ok, report.findings           # returns a report; raises only if the file
    report.raise_if_invalid()            # cannot be read -- or on request, here
    add_refs(doc); remove_refs(doc)      # shared constants beside each consumer, and back

Modules: :mod:`modelexport.graphml.model` (the XML-free Document),
:mod:`modelexport.graphml.format` (the dialect's facts: namespaces, fixed keys, kinds,
dtypes), :mod:`modelexport.graphml.refs` (reference boxes), :mod:`modelexport.graphml.writer`,
:mod:`modelexport.graphml.reader`, :mod:`modelexport.graphml.yed` (styling derived at write time),
:mod:`modelexport.graphml.layout` (where the yEd geometry puts every box; Graphviz dot),
:mod:`modelexport.graphml.picture` (the same picture as SVG, PNG, PDF),
:mod:`modelexport.graphml.validator`; XSD files come from the ``schemas`` package via
:func:`schema_path`. Depends on lxml, and on pygraphviz only when a layout or picture
is made (never onnx, torch or numpy).
"""

from __future__ import annotations

import typing as _typing

# The errors load with the package (every layer above raises them); the rest when first
# used, so that a program importing only the errors (the command line, at start) does
# not pay for the reader, writer, layout and validator.
from modelexport.graphml._lazy import lazy_attributes as _lazy_attributes
from modelexport.graphml.errors import (
    GraphMLError,
    GraphMLFormatError,
    GraphMLParseError,
    GraphMLValidationError,
)

_LAZY = {
    "Document": "modelexport.graphml.model",
    "Edge": "modelexport.graphml.model",
    "Graph": "modelexport.graphml.model",
    "Key": "modelexport.graphml.model",
    "Node": "modelexport.graphml.model",
    "parse_graphml": "modelexport.graphml.reader",
    "read_graphml": "modelexport.graphml.reader",
    "add_refs": "modelexport.graphml.refs",
    "remove_refs": "modelexport.graphml.refs",
    "Finding": "modelexport.graphml.validator",
    "ValidationReport": "modelexport.graphml.validator",
    "validate_graphml": "modelexport.graphml.validator",
    "generate_graphml": "modelexport.graphml.writer",
    "write_graphml": "modelexport.graphml.writer",
    "schema_path": "modelexport.schemas",
}

if _typing.TYPE_CHECKING:
    from modelexport.graphml.model import Document, Edge, Graph, Key, Node
    from modelexport.graphml.reader import parse_graphml, read_graphml
    from modelexport.graphml.refs import add_refs, remove_refs
    from modelexport.graphml.validator import Finding, ValidationReport, validate_graphml
    from modelexport.graphml.writer import generate_graphml, write_graphml
    from modelexport.schemas import schema_path

__all__ = [
    # document model
    "Document", "Graph", "Node", "Edge", "Key",
    # writing and reading
    "generate_graphml", "write_graphml", "parse_graphml", "read_graphml",
    # reference boxes: shared constants beside their consumers, and back
    "add_refs", "remove_refs",
    # validation
    "validate_graphml", "ValidationReport", "Finding", "schema_path",
    # errors
    "GraphMLError", "GraphMLParseError", "GraphMLFormatError", "GraphMLValidationError",
]

__getattr__, __dir__ = _lazy_attributes(globals(), _LAZY)
