"""The archive's errors, one per stage; each message names the problem and the fix.

    ModelExportError             (modelexport.graphml.errors) the root of every error
    └── ArchiveError             anything the archive refuses (a user error: exit 1)
        ├── ArchiveOpenError     the path or URI is not an archive, or it cannot be opened
        ├── ModelNameError       an unknown name, or a name already taken (no --replace)
        └── QueryError           a Cypher error, or a write clause through ``query``
"""

from __future__ import annotations

from modelexport.graphml.errors import ModelExportError


class ArchiveError(ModelExportError):
    """A request the archive refuses."""


class ArchiveOpenError(ArchiveError):
    """The database cannot be opened as an archive."""


class ModelNameError(ArchiveError):
    """No model of that name, or the name is taken."""


class QueryError(ArchiveError):
    """A query the engine rejects, or one that would write."""
