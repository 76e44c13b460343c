"""The file layer: paths in, files out, atomically; the conversions themselves are pure.

``onnx_to_graphml`` loads ONNX without its initializers' bytes, streams them (in-file
or external data) into the sidecar while the Document is built, then writes the GraphML.
``graphml_to_onnx`` reads the GraphML, checks the sidecar it names, rebuilds the model
and writes it. Every output goes to a temporary file in the target directory and is renamed into
place only when all outputs are complete: on any error nothing is left behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from modelexport import graphml
from modelexport.converter._load import load_onnx
from modelexport.converter._onnx_reader import load_lazily
from modelexport.converter._onnx_writer import layout_model, write_model
from modelexport.converter.decode import Deferred, decode_model_header, document_to_model
from modelexport.converter.encode import model_to_document
from modelexport.converter.errors import ConverterError, GraphMLToOnnxError, OnnxLoadError
from modelexport.converter.sidecar import SidecarPlan, SidecarWriter, read_sidecar
from modelexport.converter.verification import RebuiltCheck, validate_rebuilt
from modelexport.graphml import format as fmt
from modelexport.graphml.files import PendingFiles, check_output_path, pending_files
from modelexport.graphml.layout import gc_paused

#: Protobuf cannot serialize a message of 2 GiB or more; bigger models get external data.
PROTOBUF_LIMIT = 2**31 - 1
#: Alignment of tensors in the external-data file written for models over that limit.
EXTERNAL_ALIGNMENT = 4096

PathLike = str | os.PathLike
Progress = Callable[[str], None]


def _no_progress(step: str) -> None:
    pass


@dataclass
class ExportResult:
    """What ``onnx_to_graphml`` wrote."""

    graphml: Path
    sidecar: Path
    nodes: int
    edges: int
    modules: int
    graphml_bytes: int
    sidecar_bytes: int
    layout: str = "none"  # how the yEd geometry was placed: dot, outline or none
    layout_reason: str = ""
    refs: int = 0  # reference boxes among the nodes (shared constants beside consumers)


@dataclass
class ImportResult:
    """What ``graphml_to_onnx`` wrote, and the checks ``validate`` ran."""

    onnx: Path
    nodes: int
    initializers: int
    onnx_bytes: int
    external_data: Path | None = None
    validation: RebuiltCheck | None = field(default=None)


def _same_file(src: PathLike, *outputs: Path) -> bool:
    source = Path(src).resolve()
    return any(Path(o).resolve() == source for o in outputs)


@contextmanager
def opened_onnx(src: PathLike | Any) -> Iterator[tuple[Any, Any]]:
    """ONNX ``src`` as ``(model, lazy)``. A path is loaded with its main graph's
    initializer bytes left in their files; ``lazy`` (a LazyModel, else None) streams
    them to :func:`model_to_document` and is closed on exit. A ModelProto is itself."""
    if not isinstance(src, (str, os.PathLike)):
        if not hasattr(src, "graph"):
            raise OnnxLoadError(f"expected a path or an onnx.ModelProto, got {type(src).__name__}")
        yield src, None
        return
    # None (a missing file, or one the lazy scan leaves to onnx.load): load it whole
    lazy = load_lazily(src) if Path(src).is_file() else None
    try:
        yield (lazy.model if lazy is not None else load_onnx(src)), lazy
    finally:
        if lazy is not None:
            lazy.close()


def onnx_document(src: PathLike | Any, sink: SidecarWriter | None = None) -> graphml.Document:
    """The Document of ONNX ``src`` (a path or a ModelProto), its tensor bytes streamed
    to ``sink``; without one they are not even read (a Document to look at)."""
    with opened_onnx(src) as (model, lazy), gc_paused():
        return model_to_document(model, sink if sink is not None else SidecarPlan(), lazy=lazy)


def onnx_to_graphml(src: PathLike | Any, dst: PathLike, *, yed: bool = True,
                    flat: bool = False, layout: str = "auto",
                    progress: Progress | None = None) -> ExportResult:
    """Convert ONNX (a path or a ModelProto) to GraphML at ``dst`` plus ``<stem>.onnxdata``.

    ``layout`` places the yEd geometry: ``auto``, ``dot``, ``outline`` or ``none``
    (see :mod:`modelexport.graphml.layout`); without ``yed`` there is no geometry.
    With ``yed`` the file is a picture, and shared constants get a reference box beside
    each consumer (:func:`modelexport.graphml.add_refs`); without it every data-flow
    edge is direct.

    ``progress(step)``, when given, is told each step as it starts.
    """
    progress = progress or _no_progress
    dst = check_output_path(dst, error=ConverterError, what="the GraphML")
    sidecar = dst.with_suffix(fmt.SIDECAR_SUFFIX)
    if sidecar == dst:
        raise ConverterError(f"output {str(dst)!r} would be its own sidecar; name the GraphML "
                             f"*.graphml")
    if isinstance(src, (str, os.PathLike)) and _same_file(src, dst, sidecar):
        raise ConverterError(f"output {str(dst)!r} (or its sidecar) would overwrite the input "
                             f"{str(src)!r}; choose another output path")
    if isinstance(src, (str, os.PathLike)):
        progress(f"loading {src}")
        source = os.path.relpath(Path(src).resolve(), dst.parent.resolve())
    else:
        source = None
    with opened_onnx(src) as (model, lazy), pending_files() as out, gc_paused():
        progress(f"converting; writing parameters to {sidecar.name}")
        with out.open(sidecar) as f:
            writer = SidecarWriter(f)
            doc = model_to_document(model, writer, flat=flat, source_onnx=source, lazy=lazy)
        doc.graph.data["sidecar"] = sidecar.name
        refs = graphml.add_refs(doc) if yed else 0
        progress(f"laying out and writing {dst.name}" if yed else f"writing {dst.name}")
        with out.open(dst) as f:
            placement = graphml.write_graphml(doc, f, yed=yed, layout=layout)
            graphml_bytes = f.tell()
    nodes = modules = 0
    for node, _owner in doc.iter_nodes():
        nodes += 1
        modules += node.data.get("kind") == fmt.KIND_MODULE
    edges = sum(1 for _ in doc.iter_edges())
    return ExportResult(dst, sidecar, nodes, edges, modules, graphml_bytes, writer.size,
                        placement.method if placement else "none",
                        placement.reason if placement else "none (no yEd markup)", refs)


def graphml_to_onnx(src: PathLike, dst: PathLike, *, validate: bool = False,
                    reference: PathLike | None = None,
                    progress: Progress | None = None) -> ImportResult:
    """Rebuild ONNX at ``dst`` from the GraphML ``src`` and the sidecar it names.

    ``validate``: first validate the GraphML (:func:`modelexport.graphml.validate_graphml`;
    an invalid file is refused with its first finding), then run
    :func:`modelexport.converter.verification.validate_rebuilt` on the result, against
    ``reference`` or the original ONNX the GraphML records (when beside it).
    """
    progress = progress or _no_progress
    src, dst = _check_import_paths(Path(src), Path(dst))
    with gc_paused():  # the Document and the model hold no cycles
        doc = read_export(src, validate=validate, progress=progress)
        data = doc.graph.data
        ref = _validation_reference(src, dst, data, reference) if validate else None
        with read_sidecar(src, data.get("sidecar"), data.get("sidecar_size"),
                          data.get("sidecar_sha256")) as reader:
            progress("rebuilding the model")
            deferred = Deferred()
            model = document_to_model(doc, reader.read, deferred=deferred)
            progress(f"writing {dst.name}")
            external = write_rebuilt(dst, decode_model_header(data), model, deferred, reader)
    result = ImportResult(dst, len(model.graph.node), len(deferred.refs),
                          dst.stat().st_size, external)
    if validate:
        progress("validating")
        result.validation = validate_rebuilt(dst, ref)
    return result


def _check_import_paths(src: Path, dst: Path) -> tuple[Path, Path]:
    """The GraphML exists, and the output is writable without overwriting it or its sidecar."""
    dst = check_output_path(dst, error=ConverterError, what="the ONNX model")
    if not src.is_file():
        raise GraphMLToOnnxError(f"GraphML file {str(src)!r} does not exist")
    if (
        _same_file(src, dst, src.with_suffix(fmt.SIDECAR_SUFFIX))
        or dst.suffix == fmt.SIDECAR_SUFFIX
    ):
        raise ConverterError(f"output {str(dst)!r} would overwrite the GraphML or its sidecar; "
                             f"choose another output path")
    return src, dst


def read_export(src: PathLike, *, validate: bool = False,
                progress: Progress | None = None) -> graphml.Document:
    """The Document of a GraphML written by export-graphml (validated first, if asked);
    GraphMLToOnnxError for any other GraphML."""
    src, progress = Path(src), progress or _no_progress
    if validate:
        # Validate what is read before trusting it: XSD, dialect rules and the sidecar.
        progress(f"validating {src.name}")
        graphml.validate_graphml(src).raise_if_invalid()
    progress(f"reading {src.name}")
    doc = graphml.read_graphml(src)
    found = doc.graph.data.get("format")
    if found != fmt.FORMAT_VERSION:
        raise GraphMLToOnnxError(
            f"{src.name!r} was not written by export-graphml (format {found!r}, "
            f"expected {fmt.FORMAT_VERSION!r}); only such files can be turned back into ONNX")
    return doc


def _validation_reference(src: Path, dst: Path, data: dict[str, Any],
                          reference: PathLike | None) -> Path | None:
    """The original to validate against: ``reference``, else the one the GraphML records."""
    ref = Path(reference) if reference is not None else _recorded_source(src, data)
    if ref is not None and _same_file(ref, dst):
        raise ConverterError(f"output {str(dst)!r} would overwrite {str(ref)!r}, the original "
                             f"it is validated against; choose another output path")
    return ref


def write_rebuilt(dst: Path, header: Any, model: Any, deferred: Deferred,
                  reader: Any) -> Path | None:
    """Write a model rebuilt by :func:`document_to_model` (with ``deferred``) to ``dst``,
    atomically, its initializer bytes copied from ``reader`` (``copy_to(ref, fd)``: a
    sidecar, an archive's tensor store). Past protobuf's 2 GB limit the tensors go to
    ``<dst>.data`` as ONNX external data, whose path is returned (else None)."""
    with pending_files() as out:
        if not model.HasField("graph"):
            with out.open(dst) as f:
                f.write(model.SerializeToString())
        elif (layout := layout_model(header, model.graph, deferred)).size <= PROTOBUF_LIMIT:
            with out.open(dst) as f:
                write_model(f, layout, reader)
        else:
            return _write_with_external_data(dst, header, model.graph, deferred, reader, out)
    return None


def _recorded_source(graphml_path: Path, data: dict[str, Any]) -> Path | None:
    """The original ONNX the GraphML records, if it sits beside it; else None."""
    name = data.get("source_onnx")
    if not isinstance(name, str) or not name or os.path.isabs(name) or "/" in name or "\\" in name:
        return None
    path = graphml_path.parent / name
    return path if path.is_file() else None


def _write_with_external_data(dst: Path, header: Any, graph: Any, deferred: Deferred,
                              reader: Any, out: PendingFiles) -> Path:
    """Models over protobuf's 2 GB limit: sidecar tensors to ``<dst>.data``, the rest to ``dst``."""
    data_path = dst.with_name(dst.name + ".data")
    position = 0
    with out.open(data_path) as f:
        f.flush()
        fd = f.fileno()
        for tensor, ref in zip(deferred.initializers.initializer, deferred.refs, strict=True):
            if ref is None:
                continue
            pad = -position % EXTERNAL_ALIGNMENT
            os.write(fd, b"\0" * pad)
            position += pad
            length = reader.copy_to(ref, fd)
            tensor.data_location = onnx.TensorProto.EXTERNAL
            for key, value in (("location", data_path.name), ("offset", str(position)),
                               ("length", str(length))):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
            position += length
    model = onnx.ModelProto()
    model.CopyFrom(header)
    model.graph.CopyFrom(graph)
    model.graph.initializer.extend(deferred.initializers.initializer)
    with out.open(dst) as f:
        f.write(model.SerializeToString())
    return data_path
