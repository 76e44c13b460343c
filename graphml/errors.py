"""Errors of the graphml package, by stage, and the root of every package's errors.

    ModelExportError             anything modelexport refuses, in any of its packages
    └── GraphMLError             anything this package refuses
        ├── GraphMLParseError    not well-formed, unsafe (DTD, entities), too deep or
        │                        big, or not GraphML at all
        ├── GraphMLFormatError   well-formed GraphML that breaks the dialect: undeclared
        │                        keys, values of the wrong type, duplicate ids, ...
        └── GraphMLValidationError  validate_graphml found problems; carries the findings

``ModelExportError`` lives here, in the bottom layer, so that every package can derive
from it without importing upward; ``modelexport.ModelExportError`` is the same class.
Messages name the element, the broken rule and the fix.
"""

from __future__ import annotations


class ModelExportError(Exception):
    """Base of every error the modelexport distribution raises, whichever package."""


class GraphMLError(ModelExportError):
    """Base of every error raised by the graphml package."""


class GraphMLParseError(GraphMLError):
    """The bytes are not a safe, well-formed GraphML document."""


class GraphMLFormatError(GraphMLError):
    """The document is GraphML but breaks the rules of modelexport's dialect."""


class GraphMLValidationError(GraphMLError):
    """Validation found problems; ``findings`` lists them."""

    def __init__(self, message: str, findings: list | None = None) -> None:
        super().__init__(message)
        self.findings = findings or []
