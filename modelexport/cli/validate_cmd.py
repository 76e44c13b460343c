"""``modelexport validate-graphml``: XSD and semantic checks of a GraphML file."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from modelexport.cli._common import InputPath, JsonOutput, Verbose, fail, print_json, user_errors


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
    @app.command("validate-graphml")
    def validate_graphml_command(
        path: InputPath,
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

        with user_errors(verbose):
            report = validate_graphml(path, schema=schema.value, check_sidecar=not no_sidecar)
        if json_output:
            print_json(report.to_dict())
        elif report.ok:
            typer.echo(f"valid: {path} ({report.nodes} nodes, {report.edges} edges, "
                       f"schema {report.schema})")
        else:
            for finding in report.findings:
                typer.echo(str(finding))
        if not report.ok:
            first = report.findings[0]
            more = f" (+{len(report.findings) - 1} more)" if len(report.findings) > 1 else ""
            raise fail(f"{path}: invalid: {first}{more}")
