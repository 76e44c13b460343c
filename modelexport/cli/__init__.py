"""The ``modelexport`` command line.

Each group of commands lives in its own module and registers on :data:`app`; heavy
libraries (torch, transformers, onnxruntime) are imported only inside the command that
needs them, so ``--help`` stays instant.
"""

from __future__ import annotations

import typing as _typing

import typer

from modelexport.cli import _common as _common
from modelexport.cli._common import Group as _Group

app = typer.Typer(
    name="modelexport",
    cls=_Group,
    help="Export PyTorch models to hierarchy-tagged ONNX, convert ONNX to hierarchical "
    "GraphML and back, and inspect tagged models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"modelexport {version('modelexport')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: _typing.Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    pass


def _register() -> None:
    # In the order a user meets them: export, the GraphML round trip, then inspection.
    from modelexport.cli import (
        analysis_cmds,
        archive_cmds,
        convert_cmds,
        export_cmd,
        fold_cmds,
        render_cmd,
        validate_cmd,
    )

    for module in (export_cmd, convert_cmds, validate_cmd, render_cmd, fold_cmds,
                   analysis_cmds, archive_cmds):
        module.register(app)
    for group in app.registered_groups:  # sub-groups (archive) show flags as app does
        group.cls = _Group


_register()


__all__ = ["app", "main"]


def main() -> None:
    _common.RUNNING_AS_PROGRAM = True
    app()
