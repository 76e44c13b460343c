"""The export pipeline: inputs → capture (one strategy, or the auto chain) → tags →
atomic write → optional verification → the ``<stem>_metadata.json`` sidecar.

    report = export_model(model, example_inputs, "out.onnx", strategy="auto")

``UnifiedExporter`` holds the options for callers who export several models alike.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelexport._files import check_output_path
from modelexport.errors import ExportError, UserInputError
from modelexport.graph_names import name_graph_io
from modelexport.graphml.files import atomic_directory, write_text_atomic
from modelexport.hierarchy import ModuleTree, build_module_tree
from modelexport.inputs import ModelInputs, as_inputs
from modelexport.strategies import AUTO_CHAIN, STRATEGIES, Capture, CaptureOptions
from modelexport.tagging import (
    TaggingResult,
    parameter_owners,
    record_parameter_owners,
    tag_model,
)

STRATEGY_CHOICES = ("auto", *STRATEGIES)
_TWO_GB = 2**31 - 1
# Initializer bytes past which the model is saved with external data, leaving room
# below protobuf's 2 GB limit for the graph's own structure.
_EXTERNAL_DATA_THRESHOLD = _TWO_GB - 256 * 2**20


@dataclass
class Attempt:
    """One strategy tried: whether it produced a model, how long it took, and why not."""

    strategy: str
    ok: bool
    seconds: float
    error: str | None = None


@dataclass
class ExportReport:
    """What an export produced and how: the answer of :func:`export_model`."""

    output: str
    strategy: str
    reason: str
    attempts: list[Attempt]
    node_count: int
    tagged_nodes: int
    direct_tags: int
    filled_tags: int
    module_count: int  # modules of the module tree
    modules_holding_ops: int  # of those, the ones holding ops of their own
    inputs: dict[str, list[int]]
    timings: dict[str, float]
    metadata_path: str | None = None
    graphml_path: str | None = None
    sidecar_path: str | None = None  # the GraphML's .onnxdata
    checker: str | None = None
    verification: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        return self.tagged_nodes / self.node_count if self.node_count else 1.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["coverage"] = self.coverage
        return data


def metadata_path_for(onnx_path: Path) -> Path:
    """``<stem>_metadata.json`` beside the model, whatever the strategy (before version 2
    of the document it was ``<stem>_htp_metadata.json``)."""
    return onnx_path.with_name(f"{onnx_path.stem}_metadata.json")


def graphml_path_for(onnx_path: Path) -> Path:
    return onnx_path.with_name(f"{onnx_path.stem}_hierarchical_graph.graphml")


def _reason(strategy: str, chosen: str, attempts: list[Attempt]) -> str:
    if strategy != "auto":
        return f"{chosen} was requested"
    failed = [a for a in attempts if not a.ok]
    if not failed:
        return f"auto: {chosen} is the first strategy of the chain and it succeeded"
    why = "; ".join(f"{a.strategy} failed: {a.error}" for a in failed)
    return f"auto: fell back to {chosen} because {why}"


def _save(model: Any, path: Path, data_name: str) -> None:
    """Save ``model`` at ``path``; past protobuf's 2 GB limit, tensors go to ``data_name``
    beside it (ONNX external data)."""
    import onnx

    if _parameter_bytes(model) > _EXTERNAL_DATA_THRESHOLD:
        onnx.save_model(model, str(path), save_as_external_data=True, location=data_name)
    else:
        onnx.save_model(model, str(path))


def _parameter_bytes(model: Any) -> int:
    """Bytes the initializers hold, from their types and shapes alone (an upper bound).

    ``ModelProto.ByteSize()`` would be exact, but protobuf computes it by encoding the
    whole message: a second serialization of every weight (over a second on a 500 MB
    model). Shapes cost nothing; the margin below the limit covers the graph itself.
    """
    import math

    from onnx import TensorProto, helper

    total = 0
    for tensor in model.graph.initializer:
        if tensor.data_type == TensorProto.STRING:
            total += sum(len(s) for s in tensor.string_data)
        else:
            itemsize = helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
            total += math.prod(tensor.dims) * itemsize
    return total


def build_metadata(report: ExportReport, tree: ModuleTree, tagging: TaggingResult,
                   model: Any) -> dict[str, Any]:
    """The ``<stem>_metadata.json`` document: module tree, node→tag map, statistics."""
    counts = tagging.nodes_per_tag
    modules = [{**m.as_record(), "node_count": counts.get(m.tag, 0)} for m in tree.modules]
    return {
        "format": "modelexport.metadata",  # version 1: "modelexport.htp_metadata"
        "version": 2,
        "onnx_file": Path(report.output).name,
        "model_class": type(model).__name__,
        "strategy": report.strategy,
        "reason": report.reason,
        "inputs": report.inputs,
        "modules": modules,
        "node_tags": tagging.node_tags,
        "parameter_owners": tagging.parameter_owners,
        "statistics": {
            "total_nodes": report.node_count,
            "tagged_nodes": report.tagged_nodes,
            "coverage": report.coverage,
            "direct_tags": report.direct_tags,
            "filled_tags": report.filled_tags,
            "module_count": report.module_count,
            "modules_holding_ops": report.modules_holding_ops,
            "nodes_per_module": dict(sorted(counts.items())),
            "strategy": report.strategy,
            "attempts": [asdict(a) for a in report.attempts],
            "timings": report.timings,
        },
        "notes": report.notes,
    }


class UnifiedExporter:
    """Export PyTorch models to hierarchy-tagged ONNX with fixed options.

    ``strategy`` is ``auto`` or one of ``htp``, ``usage_based``, ``fx``; ``auto`` tries
    them in that order and reports each attempt. ``keep_builtins`` keeps ``torch.nn``
    modules in tags. Every attempt's model must pass onnx.checker (full check) before
    the file is put in place; ``verify`` also compares onnxruntime with PyTorch. A
    model that fails either is a failed attempt: ``auto`` goes on along its chain.
    ``dynamic`` leaves the batch and sequence axes of the inputs free
    (:meth:`ModelInputs.dynamic_axes`); ``verify`` then also compares the outputs on
    inputs one larger along those axes.
    ``write_metadata`` writes the JSON sidecar.
    """

    def __init__(self, strategy: str = "auto", *, opset_version: int | None = None,
                 keep_builtins: bool = False, temp_dir: str | os.PathLike[str] | None = None,
                 verify: bool = False, write_metadata: bool = True,
                 verbose: bool = False, dynamic: bool = False,
                 progress: Callable[[str], None] | None = None) -> None:
        if strategy not in STRATEGY_CHOICES:
            raise UserInputError(f"unknown strategy {strategy!r}; choose one of "
                                 f"{', '.join(STRATEGY_CHOICES)}")
        if temp_dir is not None and not Path(temp_dir).is_dir():
            raise UserInputError(f"temporary directory {str(temp_dir)!r} does not exist; "
                                 "create it or leave --temp-dir out")
        self.strategy = strategy
        self.keep_builtins = keep_builtins
        self.verify = verify
        self.write_metadata = write_metadata
        self.progress = progress
        self.options = CaptureOptions(opset_version=opset_version,
                                      temp_dir=str(temp_dir) if temp_dir else None,
                                      verbose=verbose, dynamic=dynamic)

    def capture(self, model: Any, inputs: ModelInputs, tree: ModuleTree, temp: Path,
                data_name: str) -> tuple[_Outcome, list[Attempt]]:
        """Run the strategy, or the auto chain, until one gives a model that passes
        onnx.checker (and, with ``verify``, matches PyTorch). Each attempt is tagged,
        saved at ``temp`` and checked there; a model the checker rejects is a failed
        attempt, never a result."""
        from modelexport import strategies
        from modelexport.errors import VerificationError
        from modelexport.verify import check_onnx, compare_outputs, expected_outputs

        expected = expected_outputs(model, inputs)
        output_names = [name for name, _ in expected]
        chain = AUTO_CHAIN if self.strategy == "auto" else (self.strategy,)
        attempts: list[Attempt] = []
        cause: BaseException | None = None
        for name in chain:
            self._step(f"capturing with {name}")
            captured = strategies.run(name, model, inputs, self.options)
            error, outcome = captured.error, None
            if captured.ok:
                start = time.perf_counter()
                notes = name_graph_io(captured.model, inputs.names, output_names)
                tagging = tag_model(captured.model, captured.node_paths, tree, captured.strategy)
                tagging.parameter_owners = parameter_owners(captured.model, model, tree)
                record_parameter_owners(captured.model, tagging.parameter_owners)
                _save(captured.model, temp, data_name)
                checked = time.perf_counter()
                self._step(f"checking the {name} capture")
                try:
                    checker = check_onnx(temp)
                    verification = None
                    if self.verify:
                        verification = asdict(compare_outputs(temp, expected, inputs))
                        if self.options.dynamic:
                            grown = inputs.grown()
                            compare_outputs(temp, expected_outputs(model, grown), grown)
                            verification["other_shapes"] = grown.describe()
                    outcome = _Outcome(captured, tagging, checker, verification, notes,
                                       {"tag_and_save": checked - start,
                                        "verify": time.perf_counter() - checked})
                except VerificationError as e:
                    error = str(e)
                    cause = e
            attempts.append(Attempt(name, outcome is not None, round(captured.seconds, 3),
                                    error))
            if outcome is not None:
                return outcome, attempts
            cause = captured.exception or cause
        summary = "; ".join(f"{a.strategy}: {a.error}" for a in attempts)
        raise ExportError(f"no strategy could export the model ({summary})") from cause

    def _step(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text)

    def export(self, model: Any, example_inputs: Any, path: str | os.PathLike[str],
               notes: list[str] | None = None) -> ExportReport:
        import torch

        target = check_output_path(path)
        if not isinstance(model, torch.nn.Module):
            raise UserInputError(f"expected a torch.nn.Module to export, got "
                                 f"{type(model).__name__}")
        timings: dict[str, float] = {}
        inputs = as_inputs(model, example_inputs)
        was_training = bool(getattr(model, "training", False))
        model.eval()
        try:
            start = time.perf_counter()
            tree = build_module_tree(model, keep_builtins=self.keep_builtins)
            timings["module_tree"] = time.perf_counter() - start

            with atomic_directory(target) as temp:
                start = time.perf_counter()
                outcome, attempts = self.capture(model, inputs, tree, temp,
                                                 f"{target.name}.data")
                timings["capture"] = time.perf_counter() - start
                timings.update(outcome.timings)
        finally:
            model.train(was_training)

        tagging = outcome.tagging
        report = ExportReport(
            output=str(target), strategy=outcome.capture.strategy,
            reason=_reason(self.strategy, outcome.capture.strategy, attempts),
            attempts=attempts,
            node_count=tagging.total_nodes, tagged_nodes=tagging.direct + tagging.filled,
            direct_tags=tagging.direct, filled_tags=tagging.filled,
            module_count=len(tree.modules), modules_holding_ops=len(tagging.nodes_per_tag),
            inputs=inputs.describe(), timings={k: round(v, 4) for k, v in timings.items()},
            checker=outcome.checker, verification=outcome.verification,
            notes=[*(notes or []), *outcome.notes])
        if self.options.dynamic:
            axes = inputs.dynamic_axes()
            report.notes.append("dynamic axes: " + ", ".join(
                f"{name} [{', '.join(spec.values())}]" for name, spec in axes.items()))
        if self.write_metadata:
            meta = metadata_path_for(target)
            start = time.perf_counter()
            write_text_atomic(meta, json.dumps(build_metadata(report, tree, tagging, model),
                                               indent=2) + "\n")
            report.timings["metadata"] = round(time.perf_counter() - start, 4)
            report.metadata_path = str(meta)
        return report


@dataclass
class _Outcome:
    """The attempt that succeeded: its capture, tags, checks, and what it took."""

    capture: Capture
    tagging: TaggingResult
    checker: str
    verification: dict[str, Any] | None
    notes: list[str]
    timings: dict[str, float]


def export_model(model: Any, example_inputs: Any, path: str | os.PathLike[str],
                 strategy: str = "auto", **options: Any) -> ExportReport:
    """Export ``model`` (an ``nn.Module``) run on ``example_inputs`` to tagged ONNX at ``path``.

    ``example_inputs``: a dict of keyword inputs, a tensor, or a tuple of tensors.
    ``options`` are those of :class:`UnifiedExporter`. Returns an :class:`ExportReport`.
    """
    return UnifiedExporter(strategy, **options).export(model, example_inputs, path)


def _graphml_tools() -> tuple[Any, Any]:
    """The converter and validator that ``--with-graphml`` needs, or a clear refusal."""
    try:
        from modelexport.converter import onnx_to_graphml
        from modelexport.graphml import validate_graphml
    except ImportError as e:
        raise UserInputError("--with-graphml is not available: the ONNX→GraphML converter "
                             f"or validator cannot be imported ({e}); export without it") from e
    return onnx_to_graphml, validate_graphml


def _fold_in_place(target: Path, classes: Any, depth: int | None) -> str:
    """Replace the exported file by its folded model; what was folded, in words."""
    from modelexport.converter.functions import fold_modules

    folded = target.with_name(f".{target.name}.folding")
    try:
        result = fold_modules(target, folded, classes=tuple(classes), depth=depth)
        os.replace(folded, target)
    finally:
        folded.unlink(missing_ok=True)
    return (f"folded {result.calls} modules into {len(result.functions)} functions; main "
            f"graph {result.nodes_after} of {result.nodes_before} nodes "
            "(modelexport unfold gives back the unfolded model)")


def export_pretrained(source: str, path: str | os.PathLike[str], *,
                      input_text: str | None = None, input_shape: str | None = None,
                      strategy: str = "auto", with_graphml: bool = False,
                      layout: str = "auto", fold: bool = False,
                      fold_classes: tuple[str, ...] | list[str] = (),
                      fold_depth: int | None = None, **options: Any) -> ExportReport:
    """Load ``source`` (hub id or local directory), build its inputs, export it to ``path``.

    With ``fold``, the file written is the folded model (its modules as ONNX local
    functions, see :func:`modelexport.fold_modules`, with ``fold_classes`` and
    ``fold_depth``), after the tagged model was checked and verified.

    With ``with_graphml``, also writes ``<stem>_hierarchical_graph.graphml`` (and its
    ``.onnxdata`` sidecar) beside the ONNX, its yEd geometry placed by ``layout``, and
    validates it.
    """
    from modelexport.inputs import build_inputs, parse_shape
    from modelexport.loading import load_pretrained

    target = check_output_path(path)
    exporter = UnifiedExporter(strategy, **options)
    shape = parse_shape(input_shape) if input_shape else None
    if input_text is not None and shape is not None:
        raise UserInputError("give --input-text or --input-shape, not both")
    tools = _graphml_tools() if with_graphml else None

    step = options.get("progress") or (lambda text: None)
    start = time.perf_counter()
    step(f"loading {source}")
    loaded = load_pretrained(source)
    load_seconds = time.perf_counter() - start
    inputs = build_inputs(loaded.model, loaded.tokenizer, input_text, shape)
    report = exporter.export(loaded.model, inputs, target, notes=[loaded.note])
    report.timings["load"] = round(load_seconds, 4)
    if fold:
        start = time.perf_counter()
        step("folding modules into functions")
        report.notes.append(_fold_in_place(target, fold_classes, fold_depth))
        report.timings["fold"] = round(time.perf_counter() - start, 4)

    if tools is not None:
        onnx_to_graphml, validate_graphml = tools
        graphml = graphml_path_for(target)
        start = time.perf_counter()
        step(f"writing {graphml.name}")
        result = onnx_to_graphml(str(target), str(graphml), layout=layout)
        report.notes.append(f"GraphML layout: {result.layout_reason}")
        validate_graphml(str(graphml)).raise_if_invalid()
        report.timings["graphml"] = round(time.perf_counter() - start, 4)
        report.graphml_path = str(graphml)
        report.sidecar_path = str(result.sidecar)
    return report
