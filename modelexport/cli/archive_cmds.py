"""``archive add|list|restore|query|remove|diff|export-neo4j``: models in a graph database.

Each command opens the archive, calls one method of :class:`modelexport.archive.Archive`
inside :func:`user_errors`, and prints the result.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from modelexport._text import plural, table_lines
from modelexport.cli._common import (
    Command,
    DiffDepth,
    DiffOutput,
    JsonOutput,
    Verbose,
    print_json,
    steps,
    user_errors,
)

archive_app = typer.Typer(
    name="archive",
    help="Models in a graph database: add, list, restore exactly, query with Cypher, remove, "
    "diff. "
    "DB is a LadybugDB file (created on the first add) or a bolt:// / neo4j:// server URI.",
    no_args_is_help=True,
)

Db = Annotated[str, typer.Argument(
    help="The archive: a LadybugDB database file, or a bolt:// or neo4j:// URI.",
    metavar="DB", show_default=False)]
Name = Annotated[str, typer.Argument(help="The model's name in the archive.", metavar="NAME",
                                     show_default=False)]
User = Annotated[str | None, typer.Option(
    "--user", envvar="NEO4J_USER", help="Server user (bolt:// and neo4j:// only).")]
Password = Annotated[str | None, typer.Option(
    "--password", envvar="NEO4J_PASSWORD", help="Server password (bolt:// and neo4j:// only).")]
TensorStore = Annotated[Path | None, typer.Option(
    "--tensor-store", help="Directory of the tensor bytes (default for a file DB: DB.tensors "
    "beside it; required for a server).", show_default=False)]


def _open(db: str, tensor_store: Path | None, user: str | None, password: str | None,
          create: bool = False) -> Any:
    from modelexport.archive import open_archive

    return open_archive(db, tensor_store=tensor_store, user=user, password=password,
                        create=create)


def add(
    db: Db,
    src: Annotated[Path, typer.Argument(help="An ONNX file, or a GraphML file with its sidecar.",
                                        metavar="SRC", show_default=False)],
    name: Annotated[str | None, typer.Option(
        "--name", help="Name in the archive (default: the file's stem).")] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Replace a model of the same name.")] = False,
    tensor_store: TensorStore = None,
    user: User = None,
    password: Password = None,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Archive a model; the archive is created on the first add.

    Tensor bytes go to the content-addressed tensor store, each distinct
    tensor once. A failed or interrupted add leaves the archive as it was.

    Examples:

      modelexport archive add models.lbdb model.onnx

      modelexport archive add models.lbdb model.graphml --name model-v2

      modelexport archive add models.lbdb model.onnx --replace
    """
    from modelexport.archive import interrupts

    # Ctrl-C: exit 130 with the archive as it was, or (once the model is stored) no
    # effect: what is printed and the exit code always say what the archive holds.
    with user_errors(verbose, json_output), interrupts.guarded(last=_is_program()):
        with steps() as progress:
            with _open(db, tensor_store, user, password, create=True) as archive:
                result = archive.add(src, name, replace=replace, progress=progress)
        if json_output:
            print_json(asdict(result))
            return
        typer.echo(f"{'replaced' if result.replaced else 'added'} {result.name!r}: "
                   f"{plural(result.ops, 'op')}, {plural(result.modules, 'module')}, "
                   f"{plural(result.nodes, 'node')}, "
                   f"{plural(result.relationships, 'relationship')}; tensors "
                   f"{plural(result.tensor_bytes, 'byte')}, {result.new_bytes:,} of them new "
                   "to the store")


def _is_program() -> bool:
    """Whether this is the ``modelexport`` program, which ends after the command (not a
    command invoked in a Python process that goes on)."""
    from modelexport.cli import _common

    return _common.RUNNING_AS_PROGRAM


def list_models(
    db: Db,
    tensor_store: TensorStore = None,
    user: User = None,
    password: Password = None,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """List the archived models with their sizes.

    "tensors" is what each model's parameters take; "new" is what adding
    it stored that the archive did not hold yet. The total shows all
    models' tensors against what the deduplicated store holds on disk.

    Examples:

      modelexport archive list models.lbdb

      modelexport archive list models.lbdb --json
    """
    with user_errors(verbose, json_output):
        with _open(db, tensor_store, user, password) as archive:
            listing = archive.list()
    if json_output:
        print_json(asdict(listing))
        return
    header = ("name", "ops", "modules", "opsets", "producer", "added at", "tensors", "new")
    rows = [(m.name, str(m.ops), str(m.modules),
             " ".join(f"{d}:{v}" for d, v in sorted(m.opsets.items())), m.producer, m.added_at,
             f"{m.tensor_bytes:,}", f"{m.new_bytes:,}") for m in listing.models]
    _print_table(header, rows)
    db_part = (f"; database {listing.database_bytes:,} bytes"
               if listing.database_bytes is not None else "")
    typer.echo(
        f"{plural(len(listing.models), 'model')}; tensors {listing.tensor_bytes:,} bytes, stored "
        f"{listing.stored_bytes:,} bytes after deduplication{db_part}"
    )


def restore(
    db: Db,
    name: Name,
    output: Annotated[Path, typer.Argument(help="The ONNX file to write (with --graphml: the "
                                           "GraphML file; its sidecar goes beside it).",
                                           metavar="OUT.onnx", show_default=False)],
    graphml: Annotated[bool, typer.Option(
        "--graphml", help="Write GraphML + .onnxdata sidecar instead of ONNX.")] = False,
    tensor_store: TensorStore = None,
    user: User = None,
    password: Password = None,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Write an archived model back, exactly as it was added.

    Examples:

      modelexport archive restore models.lbdb model model.onnx

      modelexport archive restore models.lbdb model model.graphml --graphml
    """
    with user_errors(verbose, json_output), steps() as progress:
        with _open(db, tensor_store, user, password) as archive:
            result = archive.restore(name, output, graphml=graphml, progress=progress)
    if json_output:
        print_json(asdict(result))
        return
    typer.echo(f"wrote {result.path} ({plural(result.bytes, 'byte')})")
    for companion in (result.sidecar, result.external_data):
        if companion is not None:
            typer.echo(f"wrote {companion}")


def _param(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"{text!r}: write --param KEY=VALUE")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def query(
    db: Db,
    cypher: Annotated[str, typer.Argument(help="A read-only Cypher query.", metavar="CYPHER",
                                          show_default=False)],
    param: Annotated[list[str] | None, typer.Option(
        "--param", help="KEY=VALUE for $KEY in the query; VALUE is read as JSON when it is "
        "(3, true, \"x\"), else as a string. Repeatable.")] = None,
    tensor_store: TensorStore = None,
    user: User = None,
    password: Password = None,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Run a read-only Cypher query over every archived model.

    Labels: Model, Module, Op, Value, Subgraph (each with 'model' and
    'uid'); relationships PARENT_OF (ord) and FEEDS (tensor, dtype,
    shape, src_output, dst_input). Write clauses are refused. The table
    cuts values past 120 characters (and says so); --json prints them whole.

    Examples:

      modelexport archive query models.lbdb "MATCH (m:Model) RETURN m.name, m.ops"

      modelexport archive query models.lbdb --param m=model --json \\
        "MATCH (o:Op) WHERE o.model = \\$m RETURN o.op_type, count(*)"
    """
    params = dict(_param(p) for p in param or [])
    with user_errors(verbose, json_output):
        with _open(db, tensor_store, user, password) as archive:
            result = archive.query(cypher, **params)
    if json_output:
        print_json(result.as_json())
        return
    cells = [[_cell(v).replace("\n", "\\n") for v in r] for r in result.rows]
    _print_table(result.columns, [[_cut(c) for c in r] for r in cells])
    cut = any(len(c) > CELL_CHARS for r in cells for c in r)
    typer.echo(f"({plural(len(cells), 'row')}"
               + (f"; values cut at {CELL_CHARS} characters, --json prints them whole)"
                  if cut else ")"))


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns two spaces apart, each as wide as its widest cell."""
    for line in table_lines(header, rows):
        typer.echo(line)


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


#: The widest cell a query's table prints: a node's whole GraphML data, or a Model's
#: graph, runs to tens of thousands of characters.
CELL_CHARS = 120
CUT = " …"


def _cut(cell: str) -> str:
    """``cell``, at most :data:`CELL_CHARS` characters (:data:`CUT` ends a cut one)."""
    return cell if len(cell) <= CELL_CHARS else cell[:CELL_CHARS - len(CUT)] + CUT


def remove(
    db: Db,
    name: Name,
    tensor_store: TensorStore = None,
    user: User = None,
    password: Password = None,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Remove a model; tensors no other model uses are deleted from the store.

    Examples:

      modelexport archive remove models.lbdb model-v1
    """
    from modelexport.archive import interrupts

    with user_errors(verbose, json_output), interrupts.guarded(last=_is_program()):
        with _open(db, tensor_store, user, password) as archive:
            archive.remove(name)
        if json_output:
            print_json({"removed": name})
        else:
            typer.echo(f"removed {name!r}")


def diff(
    db: Db,
    name_a: Annotated[str, typer.Argument(help="The first model (A).", metavar="NAME_A",
                                          show_default=False)],
    name_b: Annotated[str, typer.Argument(help="The second model (B).", metavar="NAME_B",
                                          show_default=False)],
    output: DiffOutput = None,
    depth: DiffDepth = None,
    tensor_store: TensorStore = None,
    user: User = None,
    password: Password = None,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Compare two archived models as `modelexport compare` compares files.

    The same answer as compare gives for the models' files, from the stored hierarchy
    and the SHA-256 of each stored tensor: no tensor bytes are read.

    Examples:

      modelexport archive diff models.lbdb model-v1 model-v2

      modelexport archive diff models.lbdb model-v1 model-v2 --json --depth 2

      modelexport archive diff models.lbdb model-v1 model-v2 --output diff.svg
    """
    from modelexport._files import check_output_path
    from modelexport.analysis.compare import output_format, write_diff
    from modelexport.analysis.report import format_comparison

    with user_errors(verbose, json_output):
        if output is not None:
            output_format(output)
            check_output_path(output)
        with _open(db, tensor_store, user, password) as archive:
            result = archive.diff(name_a, name_b)
        if depth is not None:
            result = result.at_depth(depth)
        if output is not None:
            write_diff(result, output)
    if json_output:
        print_json(result.to_dict())
        return
    typer.echo(format_comparison(result), nl=False)
    if output is not None:
        typer.echo(f"wrote {output}")


def export_neo4j(
    db: Db,
    outdir: Annotated[Path, typer.Argument(help="Directory for the CSV files (created if "
                                           "missing).", metavar="OUTDIR",
                                           show_default=False)],
    tensor_store: TensorStore = None,
    json_output: JsonOutput = False,
    verbose: Verbose = False,
) -> None:
    """Write neo4j-admin import CSVs of the archive and print the command to load them.

    Copy the tensor store (DB.tensors) along and pass it as --tensor-store
    when using the server: `archive restore bolt://... NAME out.onnx
    --tensor-store DIR`.

    Examples:

      modelexport archive export-neo4j models.lbdb neo4j-import/
    """
    with user_errors(verbose, json_output):
        with _open(db, tensor_store, None, None) as archive:
            result = archive.export_neo4j(outdir)
    if json_output:
        print_json({"nodes": [str(p) for p in result.nodes],
                    "relationships": [str(p) for p in result.relationships],
                    "counts": result.counts, "command": result.command})
        return
    for path in result.nodes + result.relationships:
        typer.echo(f"wrote {path} ({plural(result.counts[path.stem], 'row')})")
    typer.echo("load them into an empty Neo4j database (stopped) with:")
    typer.echo(f"  {result.command}")


def register(app: typer.Typer) -> None:
    archive_app.command("add", cls=Command)(add)
    archive_app.command("list", cls=Command)(list_models)
    archive_app.command("restore", cls=Command)(restore)
    archive_app.command("query", cls=Command)(query)
    archive_app.command("remove", cls=Command)(remove)
    archive_app.command("diff", cls=Command)(diff)
    archive_app.command("export-neo4j", cls=Command)(export_neo4j)
    app.add_typer(archive_app)


__all__ = ["register"]
