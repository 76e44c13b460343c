"""The ``modelexport`` command line.

Each group of commands lives in its own module and registers on :data:`app`; heavy
libraries (torch, transformers, onnxruntime) are imported only inside the command that
needs them, so ``--help`` stays instant.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="modelexport",
    help="Export PyTorch models to hierarchy-tagged ONNX, convert ONNX to hierarchical "
    "GraphML and back, and inspect tagged models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _register() -> None:
    import importlib
    import pkgutil

    # Command modules are the non-private modules of this package.
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}").register(app)


_register()


def main() -> None:
    app()
