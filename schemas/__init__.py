"""The XML schemas shipped with modelexport, found in one place.

``schema_path("official")`` is GraphML 1.1 as published by graphdrawing.org (with its
included files beside it); ``schema_path("project")`` is modelexport's own schema,
which lxml can apply to hierarchical documents and which admits yFiles markup. The
files sit in this package, so the same lookup works from a source checkout and from
an installed wheel (they are declared as package data).
"""

from __future__ import annotations

from pathlib import Path as _Path

#: Schema aliases and the file each one names.
SCHEMAS = {
    "official": "graphml.xsd",
    "project": "modelexport-graphml.xsd",
}

_HERE = _Path(__file__).resolve().parent


def schema_path(name: str) -> _Path:
    """The path of a schema: an alias of :data:`SCHEMAS` or a file name in this package."""
    file = SCHEMAS.get(name, name)
    path = _HERE / file
    if _Path(file).name != file or not file.endswith(".xsd") or not path.is_file():
        raise FileNotFoundError(
            f"no schema {name!r}; use one of {', '.join(SCHEMAS)} or an .xsd file of "
            f"{_HERE}")
    return path


__all__ = ["SCHEMAS", "schema_path"]
