"""Modules as ONNX model-local functions, and back (SPEC §11).

:func:`fold_modules` turns each tagged module (or the chosen ones) into a call of a
model-local ``FunctionProto`` in the ``modelexport.modules`` domain; nested modules
call their children's functions, and modules whose bodies are the same up to value
names share one function (``LlamaDecoderLayer``, ``LlamaDecoderLayer_1`` for a second
distinct body). Parameters stay graph initializers, passed to the calls. Call nodes
carry the module's tag; nodes inside bodies keep theirs.

:func:`unfold_modules` is its inverse, to the byte: fold records in the model's
metadata (key ``modelexport.fold``) what it took away, in the habit of torch's
``pkg.torch.onnx.original_node_name``: per call, the names of the values inside it
and how each inlined node's name, doc string and metadata differ from the shared
body's; where each node stood in the original graph; the value_info entries of values
that moved inside bodies; the header fields fold changed; and a SHA-256 of the
original's bytes (its initializers' payloads counted by length only: those are
copied, never touched). A function model fold did not make is inlined with onnx's own
inliner, and the result says it is not byte-exact.

How a body is compared: its nodes in data-flow order, every value renamed by its
place (inputs ``x0, x1 …`` by first use, outputs ``y0 …`` and inner values ``t0 …`` by
production), then op types, domains, attributes and wiring compared; names, doc
strings and metadata are per instance and left out. Initializers a body reads become
its inputs, so each parameter is stored once. Values of If/Loop/Scan bodies that come
from outside the node are inputs of the node for this purpose (their subgraphs are
renamed to match).

A module whose collapse into one call would create a cycle (its ops feed an outside op
that feeds it back) is left unfolded, and the result names it; its ops go into the
body of the nearest folded module above it. Files are read with their initializer
bytes left in place and written with those bytes copied kernel to kernel
(external-data references are kept as they are).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import onnx
from onnx import GraphProto, ModelProto, TensorProto

from modelexport.converter._fold import (
    DOMAIN,
    RECORD_KEY,
    FoldResult,
    UnfoldResult,
    fold_proto,
    inline_functions,
    unfold_proto,
    unfold_result,
)
from modelexport.converter._load import PathLike, load_onnx
from modelexport.converter._onnx_reader import load_lazily
from modelexport.converter._onnx_writer import Layout, layout_model, write_model
from modelexport.converter.decode import Deferred
from modelexport.converter.errors import FoldError
from modelexport.graphml.files import pending_files

__all__ = ["fold_modules", "unfold_modules", "fold_model", "unfold_model", "FoldResult",
           "UnfoldResult", "FoldError", "DOMAIN", "RECORD_KEY"]


def fold_model(model: ModelProto, *, classes: list[str] | tuple[str, ...] = (),
               depth: int | None = None) -> tuple[ModelProto, FoldResult]:
    """Fold ``model`` (left as it is) and return the folded copy and what was done.

    Initializers are copied as they are: a model loaded without its tensor bytes folds
    the same way (the file functions use that)."""
    original_sha = _skeleton_sha256(_layout_of(model)[0])
    folded, result = fold_proto(model, list(classes), depth, original_sha)
    return folded, result


def unfold_model(model: ModelProto) -> tuple[ModelProto, UnfoldResult]:
    """The model ``fold_model`` was given (``exact`` when its bytes match the record),
    or, for a function model fold did not make, onnx's inliner's result."""
    text = next((p.value for p in model.metadata_props if p.key == RECORD_KEY), None)
    if text is None:
        return inline_functions(model)
    restored, sha = unfold_proto(model, text)
    exact = _skeleton_sha256(_layout_of(restored)[0]) == sha
    return restored, unfold_result(None, restored, exact)


# ---------------------------------------------------------------- bytes and files

class _Ranges:
    """Initializer bytes copied from the files they lie in (a LazyModel's ranges)."""

    def __init__(self, lazy: Any) -> None:
        self.lazy = lazy

    def copy_to(self, ref: dict[str, Any], out_fd: int) -> int:
        r = self.lazy.raw[ref["index"]]
        src = self.lazy._fd(r.file)
        done = 0
        while done < r.length:
            n = 0
            try:
                n = os.sendfile(out_fd, src, r.offset + done, r.length - done)
            except OSError:
                n = 0
            if not n:
                chunk = os.pread(src, min(1 << 22, r.length - done), r.offset + done)
                if not chunk:
                    raise FoldError(f"{r.file or self.lazy.path} changed while being read")
                n = os.write(out_fd, chunk)
            done += n
        return r.length


def _layout_of(model: ModelProto, lazy: Any = None) -> tuple[Layout, Deferred]:
    """The model as file pieces, its initializers' payloads as references: those of
    ``lazy`` (left in their file), or the in-memory ``raw_data`` (counted, not copied)."""
    graph = model.graph
    header = _copy_fields(model, ModelProto(), "graph")
    bare = _copy_fields(graph, GraphProto(), "initializer")
    deferred = Deferred()
    for i, tensor in enumerate(graph.initializer):
        copy = deferred.initializers.initializer.add()
        if lazy is not None and i in lazy.raw:
            copy.CopyFrom(tensor)
            deferred.refs.append({"index": i, "length": lazy.raw[i].length})
        elif tensor.HasField("raw_data"):
            _copy_fields(tensor, copy, "raw_data")
            deferred.refs.append({"index": i, "length": len(tensor.raw_data)})
        else:
            copy.CopyFrom(tensor)
            deferred.refs.append(None)
    if not model.HasField("graph"):
        return Layout([model.SerializeToString(deterministic=True)], model.ByteSize()), deferred
    return layout_model(header, bare, deferred), deferred


def _copy_fields(src: Any, dst: Any, skip: str) -> Any:
    """``dst`` with every field of ``src`` but ``skip`` (which is not copied at all)."""
    for fd, value in src.ListFields():
        if fd.name == skip:
            continue
        if fd.is_repeated:
            getattr(dst, fd.name).extend(value)
        elif fd.message_type:
            getattr(dst, fd.name).CopyFrom(value)
        else:
            setattr(dst, fd.name, value)
    return dst


def _skeleton_sha256(layout: Layout) -> str:
    """SHA-256 of a laid-out model, each initializer payload counted by its length."""
    digest = hashlib.sha256()
    for piece in layout.pieces:
        if isinstance(piece, tuple):
            digest.update(b"\0payload" + piece[1].to_bytes(8, "little"))
        else:
            digest.update(piece)
    return digest.hexdigest()


def _file_skeleton_sha256(lazy: Any) -> str:
    """The same hash of the file as it is: its bytes, payloads counted by length."""
    digest = hashlib.sha256()
    ranges = sorted((r.offset, r.length) for r in lazy.raw.values() if r.file is None)
    fd = lazy._fd(None)
    position = 0
    for offset, length in ranges:
        digest.update(os.pread(fd, offset - position, position))
        digest.update(b"\0payload" + length.to_bytes(8, "little"))
        position = offset + length
    size = os.fstat(fd).st_size
    while position < size:
        chunk = os.pread(fd, min(1 << 22, size - position), position)
        digest.update(chunk)
        position += len(chunk)
    return digest.hexdigest()


def _open(src: PathLike) -> tuple[ModelProto, Any]:
    """The model in ``src`` with in-file initializer bytes left in place (a LazyModel),
    or, with external data, loaded without it (its references are kept as they are)."""
    path = Path(src)
    lazy = load_lazily(path) if path.is_file() else None
    if lazy is not None and any(r.file is not None for r in lazy.raw.values()):
        lazy.close()
        lazy = None
        try:
            return onnx.load_model(str(path), load_external_data=False), None
        except Exception as e:
            raise FoldError(f"{str(path)!r} cannot be loaded: {e}") from e
    if lazy is None:
        return _load_whole(path), None
    return lazy.model, lazy


def _load_whole(path: Path) -> ModelProto:
    """The model in ``path``, external data left where it is (its references kept)."""
    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception:
        model = None
    if model is None or (not model.HasField("graph") and not model.ir_version):
        return load_onnx(path)  # its one-line error for what is not ONNX
    return model


def _check_paths(src: Path, dst: Path, external: bool) -> None:
    if not dst.parent.is_dir():
        raise FoldError(f"output directory {str(dst.parent)!r} does not exist; create it first "
                        "or choose another output path")
    if dst.is_dir():
        raise FoldError(f"output {str(dst)!r} is a directory; give a file name")
    if dst.exists() and dst.resolve() == src.resolve():
        raise FoldError(f"output {str(dst)!r} would overwrite the input; choose another path")
    if external and dst.parent.resolve() != src.parent.resolve():
        raise FoldError(f"{str(src)!r} keeps its weights in external data files beside it; "
                        "write the output into the same directory so its references hold")


def _write(dst: Path, model: ModelProto, lazy: Any) -> int:
    layout, _ = _layout_of(model, lazy)
    if lazy is None:
        with pending_files() as out, out.open(dst) as f:
            f.write(model.SerializeToString())
        return dst.stat().st_size
    with pending_files() as out, out.open(dst) as f:
        write_model(f, layout, _Ranges(lazy))
    return layout.size


def fold_modules(src: PathLike | ModelProto, dst: PathLike | None = None, *,
                 classes: list[str] | tuple[str, ...] = (),
                 depth: int | None = None) -> FoldResult:
    """Fold the modules of the tagged ONNX ``src`` into model-local functions.

    Parameters
    ----------
    src: an ONNX path or a ModelProto (left unchanged).
    dst: where to write the folded model (needed for a path; optional for a ModelProto,
        whose folded copy is ``result.model``).
    classes: fold only modules of these classes (any depth).
    depth: fold only modules down to this depth (top-level modules are at depth 1, as
        for ``render``; a top-level module holding every op is the graph itself and is
        folded only when its class is named).

    Returns a :class:`FoldResult`. Raises :class:`FoldError` (one line) for a model
    without tags, an unknown class, nothing to fold; ``OnnxLoadError`` for a file that
    is not ONNX.

    Examples
    --------
    >>> fold_modules("model.onnx", "model_fn.onnx")                   # doctest: +SKIP
    >>> fold_modules("model.onnx", "blocks.onnx", classes=["GPT2Block"])  # doctest: +SKIP
    """
    if not isinstance(src, (str, os.PathLike)):
        if not isinstance(src, ModelProto):
            raise FoldError(f"expected a path or an onnx.ModelProto, got {type(src).__name__}")
        folded, result = fold_model(src, classes=classes, depth=depth)
        result.model = folded
        if dst is not None:
            dst = Path(dst)
            _check_paths(Path(os.devnull), dst, False)
            result.bytes_after = _write(dst, folded, None)
            result.output = dst
        return result
    if dst is None:
        raise FoldError("give an output path for the folded model")
    src_path, dst = Path(src), Path(dst)
    if not src_path.is_file():
        load_onnx(src_path)  # its one-line error for a missing file or a directory
    model, lazy = _open(src_path)
    try:
        external = lazy is None and any(
            t.data_location == TensorProto.EXTERNAL for t in model.graph.initializer)
        _check_paths(src_path, dst, external)
        layout, _ = _layout_of(model, lazy)
        sha = _skeleton_sha256(layout)
        notes = []
        if lazy is not None and _file_skeleton_sha256(lazy) != sha:
            notes.append("the input is not serialized the way onnx writes it; unfold will give "
                         "back the model as onnx.save writes it, not these exact bytes")
        folded, result = fold_proto(model, list(classes), depth, sha)
        result.notes.extend(notes)
        result.bytes_before = src_path.stat().st_size
        result.bytes_after = _write(dst, folded, lazy)
        result.output = dst
        return result
    finally:
        if lazy is not None:
            lazy.close()


def unfold_modules(src: PathLike | ModelProto, dst: PathLike | None = None) -> UnfoldResult:
    """Give back the model :func:`fold_modules` was given, byte for byte.

    ``src`` is a path or a ModelProto; ``dst`` as for :func:`fold_modules`. A model
    with local functions that fold did not make is inlined with
    ``onnx.inliner.inline_local_functions`` (``result.exact`` is False and a note says
    so). Raises :class:`FoldError` for a model with neither.

    Examples
    --------
    >>> unfold_modules("model_fn.onnx", "model_back.onnx").exact     # doctest: +SKIP
    True
    """
    if not isinstance(src, (str, os.PathLike)):
        if not isinstance(src, ModelProto):
            raise FoldError(f"expected a path or an onnx.ModelProto, got {type(src).__name__}")
        restored, result = unfold_model(src)
        result.model = restored
        if dst is not None:
            dst = Path(dst)
            _check_paths(Path(os.devnull), dst, False)
            _write(dst, restored, None)
            result.output = dst
        return result
    if dst is None:
        raise FoldError("give an output path for the unfolded model")
    src_path, dst = Path(src), Path(dst)
    if not src_path.is_file():
        load_onnx(src_path)
    model, lazy = _open(src_path)
    try:
        external = lazy is None and any(
            t.data_location == TensorProto.EXTERNAL for t in model.graph.initializer)
        _check_paths(src_path, dst, external)
        text = next((p.value for p in model.metadata_props if p.key == RECORD_KEY), None)
        if text is None:
            if lazy is not None:
                lazy.close()
                lazy = None
            whole = load_onnx(src_path)
            inlined, result = inline_functions(whole)
            _write(dst, inlined, None)
            result.output = dst
            return result
        restored, sha = unfold_proto(model, text)
        layout, _ = _layout_of(restored, lazy)
        exact = _skeleton_sha256(layout) == sha
        _write(dst, restored, lazy)
        return unfold_result(dst, restored, exact)
    finally:
        if lazy is not None:
            lazy.close()
