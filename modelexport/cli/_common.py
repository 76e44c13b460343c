"""What every command shares: option aliases, the error table, progress display.

The CLI is thin: each command parses its arguments, calls one library function inside
:func:`user_errors`, and prints the result. Library errors become a one-line message
and exit code 1 here, in one table; ``--verbose`` adds the traceback.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

Verbose = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show progress details and full tracebacks.")
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
InputPath = Annotated[Path, typer.Argument(help="File to read.", show_default=False)]
OutputPath = Annotated[Path, typer.Argument(help="File to write.", show_default=False)]


def _error_types() -> tuple[type[BaseException], ...]:
    """The library errors that mean "the user gave us something we refuse" (exit 1)."""
    from modelexport.archive.errors import ArchiveError
    from modelexport.converter.errors import ConverterError
    from modelexport.graphml.errors import GraphMLError
    from modelexport.errors import ModelExportError

    # OSError: a missing file, a full disk, a permission: the environment, not a bug.
    return (ModelExportError, ConverterError, GraphMLError, ArchiveError, OSError)


def fail(message: str, code: int = 1, json_output: bool = False) -> typer.Exit:
    """Print ``error: message`` on stderr (``json_output``: ``{"error": message}`` on
    stdout) and return the Exit to raise."""
    if json_output:
        print_json({"error": message})
    else:
        typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def user_errors(verbose: bool = False, json_output: bool = False) -> Iterator[None]:
    """Turn library errors into a one-line message and exit code 1."""
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        raise fail("interrupted", 130, json_output) from None
    except _error_types() as e:
        if verbose:
            traceback.print_exc()
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if isinstance(e, OSError) and e.filename is not None and str(e.filename) not in message:
            message = f"{e.strerror or message}: {e.filename}"
        raise fail(message, json_output=json_output) from None


def print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))


def show_progress() -> bool:
    """Progress bars only on an interactive terminal, never on a pipe."""
    return sys.stderr.isatty()
