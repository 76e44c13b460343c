"""Run one benchmark stage in this (fresh) process and print its measurements as JSON.

    python -m bench.run_stage STAGE [--model NAME] [--src IN] [--dst OUT] [--other IN2]
                                    [--layout METHOD]
                                    [--dry] [--profile OUT.prof]

Set-up (imports, building the torch model and its inputs) happens before the clock
starts, and ends by flushing pending disk writes (``os.sync``); only the stage's own
call is timed. ``--dry`` does the same set-up and skips
the call, so the harness can subtract what the interpreter, the imports and the
set-up cost in memory. The last line on stdout is a JSON record:
``{"stage", "seconds", "hwm_kb", "rss_before_kb"}`` where ``hwm_kb`` is the process's
peak resident set (``VmHWM``) at exit and ``rss_before_kb`` its resident set just
before the timed call.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

STAGES = (
    "export",
    "export-baseline",
    "export-graphml",
    "import-onnx",
    "validate-graphml",
    "layout",
    "load-save",
    "lxml-parse",
    "lxml-xsd",
    "lxml-read",
    "make-onnx",
    "archive-add",
    "archive-restore",
    "compare",
    "make-variant",
    "fold",
    "unfold",
)


def _proc_status_kb(field: str) -> int:
    """A ``kB`` field of /proc/self/status (VmHWM, VmRSS); ru_maxrss where there is no /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _setup(args: argparse.Namespace) -> Callable[[], object]:
    """Do the stage's imports and set-up; return the call to time."""
    stage = args.stage
    if stage == "export":
        from bench.models import build_torch_model
        from modelexport import export_model

        model, inputs = build_torch_model(args.model)
        return lambda: export_model(model, inputs, args.dst, strategy=args.strategy)
    if stage == "export-baseline":
        import torch

        from bench.models import build_torch_model

        model, inputs = build_torch_model(args.model)

        def plain_export() -> None:
            # The exporter path htp uses: dynamo=True with the ONNX optimizer, no autograd.
            with torch.no_grad():
                program = torch.onnx.export(model, (), kwargs=inputs, dynamo=True, optimize=True)
            program.save(args.dst)

        return plain_export
    if stage == "export-graphml":
        from modelexport.converter import onnx_to_graphml

        # --layout: the yEd layout method; the converter's default when not given
        options = {"layout": args.layout} if args.layout else {}
        return lambda: onnx_to_graphml(args.src, args.dst, **options)
    if stage == "import-onnx":
        from modelexport.converter import graphml_to_onnx

        return lambda: graphml_to_onnx(args.src, args.dst)
    if stage == "validate-graphml":
        from modelexport.graphml import validate_graphml

        return lambda: validate_graphml(args.src)
    if stage == "layout":
        # The yEd geometry alone, as export-graphml computes it (auto), on the Document
        # read back from its GraphML: its share of export-graphml's time.
        from modelexport.graphml import read_graphml, yed

        doc = read_graphml(args.src)
        return lambda: yed.layout(doc)
    if stage == "load-save":
        return _load_save(args.src, args.dst)
    if stage in ("lxml-parse", "lxml-xsd"):
        return _xml_floor(args.src, validate=stage == "lxml-xsd")
    if stage == "lxml-read":
        return _xml_read(args.src)
    if stage == "make-onnx":
        return lambda: make_onnx(args.model, args.dst, strategy=args.strategy)
    if stage == "archive-add":
        # a fresh archive each run (set-up, untimed): --dst names the database file
        import shutil

        import modelexport.archive.ladybug_engine  # noqa: F401  (imports before the clock)
        from modelexport.archive import open_archive

        for path in Path(args.dst).parent.glob(Path(args.dst).name + "*"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()

        def add() -> None:
            with open_archive(args.dst) as archive:
                archive.add(args.src, name="model")

        return add
    if stage == "archive-restore":
        # --src names the database holding the model "model" (archive-add made it)
        import modelexport.archive.ladybug_engine  # noqa: F401  (imports before the clock)
        from modelexport.archive import open_archive

        def restore() -> None:
            with open_archive(args.src, create=False) as archive:
                archive.restore("model", args.dst)

        return restore
    if stage == "compare":
        # the module-aware diff of --src against --other, as `modelexport compare` makes it
        from modelexport.analysis.compare import compare_models

        return lambda: compare_models(args.src, args.other)
    if stage == "make-variant":
        return lambda: make_variant(args.src, args.dst)
    if stage == "fold":
        from modelexport.converter.functions import fold_modules

        return lambda: fold_modules(args.src, args.dst)
    if stage == "unfold":
        from modelexport.converter.functions import unfold_modules

        return lambda: unfold_modules(args.src, args.dst)
    raise SystemExit(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")


def make_variant(src: str, dst: str) -> None:
    """A copy of ``src`` with one element of one weight changed (compare's second model):
    the first float initializer with more than one element."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(src)
    tensor = next(t for t in model.graph.initializer
                  if t.data_type == onnx.TensorProto.FLOAT and int(np.prod(t.dims)) > 1)
    array = numpy_helper.to_array(tensor).copy()
    array.flat[0] += 1.0
    tensor.CopyFrom(numpy_helper.from_array(array, tensor.name))
    onnx.save(model, dst)


def _load_save(src: str, dst: str) -> Callable[[], object]:
    """onnx.load + onnx.save; a model with external data is saved with external data
    (one file, ``<dst>.data``), as protobuf cannot serialize one past 2 GB."""
    import onnx

    with_external = any(t.data_location == onnx.TensorProto.EXTERNAL
                        for t in onnx.load(src, load_external_data=False).graph.initializer)
    if not with_external:
        return lambda: onnx.save(onnx.load(src), dst)
    data = Path(dst).with_name(Path(dst).name + ".data")
    data.unlink(missing_ok=True)  # onnx appends to an existing data file
    return lambda: onnx.save(onnx.load(src), dst, save_as_external_data=True,
                             all_tensors_to_one_file=True, location=data.name)


def _xml_floor(src: str, *, validate: bool) -> Callable[[], object]:
    """The XML floor of a GraphML file: lxml parsing it into a tree (and XSD-validating
    the tree against the project schema, compiled here, before the clock)."""
    from lxml import etree

    from modelexport.schemas import schema_path

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    xsd = etree.XMLSchema(etree.parse(str(schema_path("project")), parser)) if validate else None

    def floor() -> None:
        tree = etree.parse(src, parser)
        if xsd is not None and not xsd.validate(tree):
            raise SystemExit(f"{src} does not validate: {xsd.error_log.last_error}")

    return floor


def _xml_read(src: str) -> Callable[[], object]:
    """The least a streaming lxml reader of the dialect does: ``iterparse`` of the file,
    each key, graph, node and edge read as it ends (every child's ``key`` and text),
    then freed. No checks, no Document: the floor of ``import-onnx``'s reading."""
    from lxml import etree

    from modelexport.graphml import format as fmt

    tags = tuple(f"{{{fmt.GRAPHML_NS}}}{t}" for t in ("key", "graph", "node", "edge"))

    def read() -> None:
        for _, el in etree.iterparse(src, events=("end",), tag=tags, resolve_entities=False,
                                     no_network=True, remove_comments=True):
            for child in el:
                child.get("key")
                child.text  # noqa: B018  (reading it is the work measured)
            el.clear(keep_tail=False)

    return read


def make_onnx(name: str, dst: str, *, strategy: str) -> None:
    """Write the model's ONNX file: synthetic, or a torch model tagged by modelexport."""
    from bench.models import MODELS

    spec = MODELS[name]
    # Written in place (external data must keep its name); info.json, written last,
    # marks the folder complete.
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    if spec.kind == "synthetic":
        import onnx

        from bench.synthetic import make_synthetic_model

        onnx.save(make_synthetic_model(spec.nodes), dst)
    elif spec.kind == "external":
        from bench.external import make_external_model

        make_external_model(dst)
    else:
        from bench.models import build_torch_model
        from modelexport import export_model

        model, inputs = build_torch_model(name)
        export_model(model, inputs, dst, strategy=strategy)
    import onnx

    proto = onnx.load(dst, load_external_data=False)
    folder = Path(dst).parent
    external = {entry.value for t in proto.graph.initializer for entry in t.external_data
                if entry.key == "location"}
    size = Path(dst).stat().st_size + sum((folder / name).stat().st_size for name in external)
    info = {"nodes": len(proto.graph.node), "size_bytes": size}
    (Path(dst).parent / "info.json").write_text(json.dumps(info))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run_stage", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--model", help="benchmark model name (torch stages, make-onnx)")
    parser.add_argument("--src", help="input file")
    parser.add_argument("--dst", help="output file")
    parser.add_argument("--other", help="the second input file (compare)")
    parser.add_argument("--strategy", default="htp", help="modelexport strategy (export stages)")
    parser.add_argument("--layout", help="export-graphml: the layout method (default: the "
                        "converter's default)")
    parser.add_argument("--dry", action="store_true", help="set up, then skip the timed call")
    parser.add_argument("--profile", help="write a cProfile of the timed call here")
    args = parser.parse_args(argv)

    work = _setup(args)
    # The disk starts idle: what earlier runs wrote (GraphML, sidecars, databases) is
    # flushed before the clock starts, so no run pays for another's writes. (A stage
    # that flushes its own writes, as the archive's checkpoints do, would otherwise
    # wait for the previous run's too.)
    if hasattr(os, "sync"):
        os.sync()
    rss_before = _proc_status_kb("VmRSS")
    seconds = 0.0
    if not args.dry:
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            start = time.perf_counter()
            profiler.runcall(work)
            seconds = time.perf_counter() - start
            profiler.dump_stats(args.profile)
        else:
            start = time.perf_counter()
            work()
            seconds = time.perf_counter() - start
    record = {"stage": args.stage, "seconds": seconds, "hwm_kb": _proc_status_kb("VmHWM"),
              "rss_before_kb": rss_before}
    sys.stdout.flush()
    print(json.dumps(record))


if __name__ == "__main__":
    main()
