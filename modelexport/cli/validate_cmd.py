"""``modelexport validate-graphml``: XSD and semantic checks of a GraphML file."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from modelexport._text import plural
from modelexport.cli._common import (
    Command,
    GraphmlInput,
    JsonOutput,
    Verbose,
    check_input,
    fail,
    print_json,
    user_errors,
)


class SchemaName(str, Enum):
    project = "project"
    official = "official"


SchemaOption = Annotated[
    SchemaName,
    typer.Option("--schema", help="XSD to apply first: 'project' (nested GraphML, yFiles "
                 "markup) or 'official' (GraphML 1.1 as published; flat files only)."),
]
NoSidecar = Annotated[
    bool,
    typer.Option("--no-sidecar", help="Do not read the sidecar file (its name and the "
                 "tensor references are still checked)."),
]


def register(app: typer.Typer) -> None:
    @app.command("validate-graphml", cls=Command)
    def validate_graphml_command(
        path: GraphmlInput,
        schema: SchemaOption = SchemaName.project,
        no_sidecar: NoSidecar = False,
        json_output: JsonOutput = False,
        verbose: Verbose = False,
    ) -> None:
        """Check a GraphML file: XSD (schemas/), then the dialect's rules and its sidecar.

        Exit code 0 only when the file is valid; 1 with one finding per line otherwise.

        Examples:

          modelexport validate-graphml model_hierarchical_graph.graphml

          modelexport validate-graphml flat.graphml --schema official --json
        """
        from modelexport.graphml import validate_graphml

        with user_errors(verbose, json_output):
            check_input(path)
            report = validate_graphml(path, schema=schema.value, check_sidecar=not no_sidecar)
        if report.ok:
            if json_output:
                print_json(report.to_dict())
            else:
                typer.echo(f"valid: {path} ({plural(report.nodes, 'node')}, "
                           f"{plural(report.edges, 'edge')}, schema {report.schema})")
            return
        # Each finding once: on stdout as the result; stderr gets a verdict only.
        notes = _notes(report)
        if not json_output:
            for finding in report.findings:
                typer.echo(str(finding))
            for note in notes:
                typer.echo(f"note: {note}")
        raise fail(f"{path} is not valid: {plural(len(report.findings), 'finding')}"
                   f"{'' if json_output else ' above'}", 1, json_output,
                   {**report.to_dict(), "notes": notes})


def _notes(report: Any) -> list[str]:
    """What to make of a failed report: the listing limit reached, and for the official
    schema, how to write a file it accepts."""
    from modelexport.graphml.validator import MAX_XSD_FINDINGS

    notes = []
    if report.omitted:
        notes.append(f"stopped at {MAX_XSD_FINDINGS} schema findings (the limit); "
                     f"{report.omitted:,} more not listed")
    if report.schema == "official" and any(f.check == "xsd" for f in report.findings):
        notes.append("the official GraphML schema allows no yEd markup and no nested "
                     "graphs; for a file it accepts, write one with 'modelexport "
                     "export-graphml IN.onnx OUT.graphml --flat --no-yed'")
    return notes
