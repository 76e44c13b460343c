"""What every command shares: option aliases, the error table, progress display.

The CLI is thin: each command parses its arguments, calls one library function inside
:func:`user_errors`, and prints the result. Library errors become a one-line message
and exit code 1 here, in one table; ``--verbose`` adds the traceback.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption


def _flags_without_types(params: list[Any]) -> list[Any]:
    """Flags take no value, so help shows no type beside them (typer writes ``<bool>``,
    which reads as if ``--json`` wanted one)."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


class Command(TyperCommand):
    """Usage lines name required arguments plainly (``export MODEL OUT.onnx``), as the
    README and most command lines write them; typer wraps them in braces. Flags show
    no value type."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_without_types(super().get_params(ctx))


class Group(TyperGroup):
    """A command group whose flags (``--version``, ``--help``) show no value type, and
    whose commands exit with 130 when interrupted wherever Ctrl-C lands (click would say
    "Aborted!" and exit 1 outside :func:`user_errors`)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_without_types(super().get_params(ctx))

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:  # (reading the command line; typer would exit 130 without a word)
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt as e:
            raise fail(MESSAGES["interrupted"], 130) from e

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as e:
            raise fail(MESSAGES["interrupted"], 130) from e


Verbose = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show progress details and full tracebacks.")
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
# Arguments name their file type in the usage line: `export-graphml IN.onnx OUT.graphml`.
OnnxInput = Annotated[Path, typer.Argument(
    help="ONNX file to read.", metavar="IN.onnx", show_default=False)]
OnnxOutput = Annotated[Path, typer.Argument(
    help="ONNX file to write.", metavar="OUT.onnx", show_default=False)]
GraphmlInput = Annotated[Path, typer.Argument(
    help="GraphML file to read (its .onnxdata sidecar beside it).", metavar="IN.graphml",
    show_default=False)]
GraphmlOutput = Annotated[Path, typer.Argument(
    help="GraphML file to write (the .onnxdata sidecar goes beside it).",
    metavar="OUT.graphml", show_default=False)]


# The messages every command shares, so one problem reads the same wherever it happens.
MESSAGES = {
    "missing_file": "{path}: no such file; check the path",
    "directory": "{path}: is a directory; pass a file",
    "missing_extra": "{command} needs the torch extra ({module} is not installed): "
                     "pip install 'modelexport[torch]'",
    "interrupted": "interrupted",
}
# Import names of the torch extra's packages (pyproject's [torch] extra).
_TORCH_EXTRA = {"torch", "transformers", "onnxscript", "tokenizers"}


class LayoutMethod(str, Enum):
    """How the GraphML's yEd geometry is placed (modelexport.graphml.layout.METHODS)."""

    auto = "auto"
    dot = "dot"
    outline = "outline"
    none = "none"


Layout = Annotated[LayoutMethod, typer.Option(
    "--layout", metavar="<choice>", help="auto, dot, outline or none: the geometry of the "
    "yEd markup. auto (each module laid out once in layers, modules with the same inside "
    "drawn alike, edges routed around nodes; for every size), dot (the same, each module "
    "placed by Graphviz dot: slower), outline (cheap rows by data flow), none (sizes only, "
    "every box at 0, 0).")]


#: The diff's options, shared by ``compare`` and ``archive diff``.
DiffOutput = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Also write the diff to this file, by its suffix: .json (what "
    "--json prints), .graphml (both models in one, coloured for yEd, a 'diff' key per "
    "node) or a picture (.svg, .png, .pdf): added green, removed red where they were, "
    "changed amber.", show_default=False)]
DiffDepth = Annotated[int | None, typer.Option(
    "--depth", min=0, help="A module-level view, as render --depth draws it: modules "
    "deeper than N (the root is 0) folded into one entry, or box, each.",
    show_default=False)]


def _error_types() -> tuple[type[BaseException], ...]:
    """The library errors that mean "the user gave us something we refuse" (exit 1)."""
    from modelexport.errors import ModelExportError  # the root of every package's errors

    # OSError: a missing file, a full disk, a permission: the environment, not a bug.
    return (ModelExportError, OSError)


def fail(message: str, code: int = 1, json_output: bool = False,
         payload: dict[str, Any] | None = None) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise.

    With ``json_output``, stdout gets a JSON object with an ``error`` field too (the
    command's ``payload``, if it has one), so a machine reading stdout always gets JSON.
    """
    if json_output:
        print_json({**(payload or {}), "error": message})
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def check_input(*paths: Path) -> None:
    """Refuse a missing input file or a directory, in the words every command uses."""
    from modelexport.errors import UserInputError

    for path in paths:
        if not path.exists():
            raise UserInputError(MESSAGES["missing_file"].format(path=path))
        if path.is_dir():
            raise UserInputError(MESSAGES["directory"].format(path=path))


def _message(e: BaseException, command: str) -> str:
    if isinstance(e, ModuleNotFoundError):
        return MESSAGES["missing_extra"].format(command=command, module=e.name)
    if isinstance(e, FileNotFoundError) and e.filename is not None:
        return MESSAGES["missing_file"].format(path=e.filename)
    if isinstance(e, IsADirectoryError) and e.filename is not None:
        return MESSAGES["directory"].format(path=e.filename)
    message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if isinstance(e, OSError) and e.filename is not None and str(e.filename) not in message:
        message = f"{e.strerror or message}: {e.filename}"
    return message


def _missing_extra(e: BaseException) -> bool:
    return isinstance(e, ModuleNotFoundError) and (e.name or "").split(".")[0] in _TORCH_EXTRA


@contextmanager
def user_errors(verbose: bool = False, json_output: bool = False,
                command: str = "this command") -> Iterator[None]:
    """Turn library errors into a one-line message and exit code 1 (JSON with --json).

    ``command`` names the command in messages such as the missing torch extra's."""
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        # from None: the exit carries no traceback to chain to; the interrupt is the whole story
        raise fail(MESSAGES["interrupted"], 130, json_output) from None
    except Exception as e:
        if not (isinstance(e, _error_types()) or _missing_extra(e)):
            raise
        if verbose:
            traceback.print_exc()
        # from None: typer.Exit is a control-flow signal, not an error; the message above
        # (and, with --verbose, the full chain just printed) already says what went wrong
        raise fail(_message(e, command), 1, json_output) from None


def print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))


def show_progress() -> bool:
    """Progress bars only on an interactive terminal, never on a pipe."""
    return sys.stderr.isatty()


@contextmanager
def steps(first: str = "working", shown: bool = True
          ) -> Iterator[Callable[[str], None] | None]:
    """A spinner naming the current step (``first`` until told another), on a terminal
    only: the callable to tell it the next step, or None (a pipe, or not ``shown``)."""
    if not (shown and show_progress()):
        yield None
        return
    from rich.console import Console
    from rich.live import Live
    from rich.markup import escape
    from rich.spinner import Spinner

    spinner = Spinner("dots", text=escape(f"{first} ..."), style="status.spinner")
    with Live(spinner, console=Console(stderr=True), transient=True,
              refresh_per_second=12.5) as live:

        def show(step: str) -> None:
            spinner.update(text=escape(f"{step} ..."))
            # drawn now: a step shorter than the spinner's tick (or one whose work holds
            # the interpreter, as a capture does) is still named
            live.refresh()

        yield show


#: True in the ``modelexport`` program (``main``), which ends after its one command;
#: False when a command is invoked inside a Python process that goes on (tests).
RUNNING_AS_PROGRAM = False
