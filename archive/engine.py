"""What an archive engine provides: the seam between the archive and a database.

:class:`~modelexport.archive.core.Archive` talks to its database only through these
methods; :class:`~modelexport.archive.ladybug_engine.LadybugEngine` (embedded) and
:class:`~modelexport.archive.bolt_engine.BoltEngine` (a Bolt server) implement them, and
no engine object leaks past its adapter. Queries are Cypher over the labels and
properties of :mod:`modelexport.archive.schema`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from modelexport.archive import schema


class Engine(Protocol):
    """A graph database holding archived models."""

    def rows(self, query: str, **params: Any) -> list[list[Any]]:
        """All rows of a query the archive itself wrote."""

    def stream(self, query: str, **params: Any) -> Iterator[list[Any]]:
        """The rows one at a time, so the caller holds one row, not the result."""

    def read_only(self, query: str, params: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
        """A user's query, read-only: its columns and rows; a failure is a QueryError."""

    def load(self, batch: list[schema.ModelRows], *, drop: list[str] = ()) -> None:
        """Store the models' rows and delete the loads ``drop`` names, all or nothing."""

    def delete(self, prefix: str) -> None:
        """Delete every node whose uid starts with ``prefix`` (one load of one model)."""

    def disk_bytes(self) -> int | None:
        """The database's size on disk, or None when it is not ours to measure."""

    def release_memory(self) -> None:
        """Give back what the engine cached for reads that are over."""

    def close(self) -> None:
        """Close the database; the engine is unusable afterwards."""


def first_line(e: BaseException) -> str:
    """An engine error's first line, for a one-line message (drivers put the text in
    ``message``, embedded engines in ``str``)."""
    text = str(getattr(e, "message", None) or e).strip()
    return text.splitlines()[0] if text else type(e).__name__
