"""``python -m bench``: time and memory of each stage of the toolchain against its baseline.

See bench/README.md for what each column measures.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    Measurement,
    StageError,
    growth_exponent,
    measure_alone,
    measure_pair,
    ratio,
    run_stage,
)
from bench.models import CACHE, FULL, MODELS, QUICK, ModelSpec, cache_dir

STAGES = ("export", "export-graphml", "import-onnx", "validate-graphml", "layout", "layout-share",
          "archive-add", "archive-restore", "compare", "fold", "unfold")
CONVERTERS = ("export-graphml", "import-onnx")

# SPEC §8, per stage and model. Time: stage / (onnx.load + onnx.save). Memory: work MB
# over the model's size on weight-heavy models, over the GraphML file's size on
# node-heavy graphs. XML floors (node-heavy graphs): a converter's time over lxml
# parsing the same GraphML, validation's over lxml parsing + XSD-validating it.
EXPORT_TARGET = 1.10
CONVERTER_TIME_TARGETS = {"gpt2": 0.5, "ext-2.5g": 0.75}
WEIGHT_HEAVY = ("gpt2", "ext-2.5g")
WEIGHT_MEM_TARGET = 0.1  # × model size, converters
NODE_HEAVY = ("synth-50k", "synth-100k")
GRAPHML_MEM_TARGET = 1.5  # × GraphML size, every command
FLOOR_TARGETS = {"export-graphml": 1.5, "import-onnx": 1.5, "validate-graphml": 1.3}
# SPEC §8: archive add ≤ 2 × export-graphml, restore ≤ 2 × import-onnx (the baselines of
# those rows), set on GPT-2 and on the 100k-node synthetic graph.
ARCHIVE_TIME_TARGET = 2.0
ARCHIVE_TARGET_MODELS = ("gpt2", "synth-100k")
# SPEC §8: fold and unfold of a 124M-parameter model ≤ 1 × onnx load + save each.
FOLD_TIME_TARGETS = {"gpt2": 1.0}
LINEAR_TARGET = 1.5  # time per node at 100k nodes / at 1k nodes
# SPEC §8: compare of two 124M-parameter models ≤ 1 × load + save of one, peak memory
# ≤ 0.2 × one model. model -> (time, memory × model size)
COMPARE_TARGETS = {"gpt2": (1.0, 0.2)}
# SPEC §8: export-graphml ≤ 2 × export-graphml --layout none on every model (the
# layout-share row), and the layout's time per box at 100k ≤ 1.5 × per box at 1k.
LAYOUT_SHARE_TARGET = 2.0
LAYOUT_PER_BOX_TARGET = 1.5
# The XML floors of each GraphML, measured in the run. lxml-read (iterparse reading
# every element's data, nothing else) is not a SPEC target: it shows how much of a
# converter's time any lxml-based reader of the same file would spend.
FLOORS = ("lxml-parse", "lxml-xsd", "lxml-read")


@dataclass
class Row:
    model: str
    stage: str
    nodes: int
    size_mb: float
    measured: Measurement
    baseline: Measurement
    graphml_mb: float = math.nan
    floors: dict[str, Measurement] | None = None
    boxes: int = 0  # nodes of the written GraphML (leaves and groups): layout-share only

    @property
    def ratio(self) -> float:
        return ratio(self.measured.seconds, self.baseline.seconds)

    @property
    def mem_ratio(self) -> float:
        return ratio(self.measured.work_mb, self.size_mb)

    @property
    def gml_mem_ratio(self) -> float:
        return ratio(self.measured.work_mb, self.graphml_mb)

    @property
    def floor(self) -> str | None:
        """The XML floor this stage is held to: lxml's parse, or parse + XSD."""
        if self.stage in CONVERTERS:
            return "lxml-parse"
        return "lxml-xsd" if self.stage == "validate-graphml" else None

    def floor_ratio(self, floor: str) -> float:
        m = (self.floors or {}).get(floor)
        return ratio(self.measured.seconds, m.seconds) if m is not None else math.nan

    @property
    def us_per_node(self) -> float:
        if self.stage == "export":  # dominated by tracing the torch model, not by nodes
            return math.nan
        return ratio(self.measured.seconds, self.nodes) * 1e6

    @property
    def time_target(self) -> float | None:
        if self.stage == "export":
            return EXPORT_TARGET
        if self.stage == "layout-share":
            return LAYOUT_SHARE_TARGET
        if self.stage.startswith("archive-"):
            return ARCHIVE_TIME_TARGET if self.model in ARCHIVE_TARGET_MODELS else None
        if self.stage == "compare":
            return COMPARE_TARGETS[self.model][0] if self.model in COMPARE_TARGETS else None
        if self.stage in ("fold", "unfold"):
            return FOLD_TIME_TARGETS.get(self.model)
        return CONVERTER_TIME_TARGETS.get(self.model) if self.stage in CONVERTERS else None

    @property
    def mem_target(self) -> tuple[str, float] | None:
        """("size" or "gml", the bound) that this row's memory is held to, if any."""
        # the layout is a part of export-graphml, measured on its own: no command of its own
        if self.model in NODE_HEAVY and self.stage not in ("export", "layout", "layout-share"):
            return "gml", GRAPHML_MEM_TARGET
        if self.model in WEIGHT_HEAVY and self.stage in CONVERTERS:
            return "size", WEIGHT_MEM_TARGET
        if self.stage == "compare" and self.model in COMPARE_TARGETS:
            return "size", COMPARE_TARGETS[self.model][1]
        return None

    @property
    def floor_target(self) -> float | None:
        return FLOOR_TARGETS.get(self.stage) if self.model in NODE_HEAVY else None

    def met(self) -> tuple[bool | None, bool | None]:
        time_ok = None
        if self.time_target is not None and not math.isnan(self.ratio):
            time_ok = self.ratio <= self.time_target
        mem_ok = None
        if self.mem_target is not None:
            kind, bound = self.mem_target
            value = self.gml_mem_ratio if kind == "gml" else self.mem_ratio
            mem_ok = None if math.isnan(value) else value <= bound
        return time_ok, mem_ok

    def floor_met(self) -> bool | None:
        value = self.floor_ratio(self.floor) if self.floor else math.nan
        if self.floor_target is None or math.isnan(value):
            return None
        return value <= self.floor_target

    def to_json(self) -> dict:
        time_ok, mem_ok = self.met()
        return {
            "model": self.model, "stage": self.stage, "nodes": self.nodes, "size_mb": self.size_mb,
            "graphml_mb": self.graphml_mb, "ratio": self.ratio, "mem_ratio": self.mem_ratio,
            "gml_mem_ratio": self.gml_mem_ratio, "us_per_node": self.us_per_node,
            "floor_ratios": {f: self.floor_ratio(f) for f in FLOORS},
            "time_target_met": time_ok, "mem_target_met": mem_ok,
            "floor_target_met": self.floor_met(),
            "measured": self.measured.to_json(), "baseline": self.baseline.to_json(),
            "floors": {k: m.to_json() for k, m in (self.floors or {}).items()},
            "boxes": self.boxes,
        }


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _prepare(spec: ModelSpec, refresh: bool) -> tuple[Path, dict]:
    """The model's ONNX file (cached; a directory of its own so external data is counted)."""
    folder = cache_dir(spec)
    onnx_path = folder / "model.onnx"
    info_path = folder / "info.json"
    if refresh or not info_path.exists() or "size_bytes" not in json.loads(info_path.read_text()):
        _log(f"[{spec.name}] building {onnx_path.relative_to(CACHE.parent.parent)} ...")
        if folder.exists():
            for f in folder.iterdir():
                f.unlink()
        run_stage("make-onnx", model=spec.name, dst=str(onnx_path))
    return onnx_path, json.loads(info_path.read_text())


def bench_model(spec: ModelSpec, stages: list[str], repeat: int, refresh: bool, work: Path,
                profile_dir: Path | None = None, notes: list[str] | None = None) -> list[Row]:
    rows: list[Row] = []
    src, info = _prepare(spec, refresh)
    nodes, size_mb = info["nodes"], info["size_bytes"] / 2**20
    out = work / spec.name
    out.mkdir()

    def row(stage: str, options: dict, baseline: str, base_options: dict, size: float,
            label: str | None = None) -> Row:
        """Measure ``stage`` against ``baseline``; the row is named ``label`` (the stage)."""
        label = label or stage
        _log(f"[{spec.name}] {label}: {repeat} × (baseline, stage) ...")
        measured, base = measure_pair(stage, options, baseline, base_options, repeat)
        if profile_dir is not None and not measured.error:
            prof = profile_dir / f"{spec.name}.{label}.prof"
            _log(f"[{spec.name}] {label}: one more run under cProfile → {prof}")
            run_stage(stage, profile=str(prof), **options)
        rows.append(Row(spec.name, label, nodes, size, measured, base))
        for m in (measured, base):
            if m.error:
                _log(f"[{spec.name}]   {m.error}")
        return rows[-1]

    if "export" in stages and spec.is_torch and spec.export:
        exported = out / "export" / "model.onnx"
        exported.parent.mkdir()
        row("export", {"model": spec.name, "dst": str(exported)},
            "export-baseline", {"model": spec.name, "dst": str(out / "plain.onnx")}, size_mb)
    base_opts = {"src": str(src), "dst": str(out / "resaved.onnx")}
    graphml = out / "model.graphml"
    if {"export-graphml", "import-onnx", "validate-graphml", "layout"} & set(stages):
        row("export-graphml", {"src": str(src), "dst": str(graphml)}, "load-save", base_opts,
            size_mb)
    if "import-onnx" in stages and graphml.exists():
        row("import-onnx", {"src": str(graphml), "dst": str(out / "rebuilt.onnx")},
            "load-save", base_opts, size_mb)
        if spec.kind == "external" and notes is not None:
            notes.append(_compare_tensors(spec.name, src, out / "rebuilt.onnx"))
    if "validate-graphml" in stages and graphml.exists():
        row("validate-graphml", {"src": str(graphml)}, "load-save", base_opts, size_mb)
    if "layout" in stages and graphml.exists():
        row("layout", {"src": str(graphml)}, "load-save", base_opts, size_mb)
    if "layout-share" in stages:
        # export-graphml with its default layout against the same with --layout none
        laid_out = out / "laid-out.graphml"
        share = row("export-graphml", {"src": str(src), "dst": str(laid_out)}, "export-graphml",
                    {"src": str(src), "dst": str(out / "unlaid.graphml"), "layout": "none"},
                    size_mb, label="layout-share")
        if laid_out.exists():
            share.boxes = count_boxes(laid_out)
            share.graphml_mb = laid_out.stat().st_size / 2**20
    if {"archive-add", "archive-restore"} & set(stages):
        _bench_archive(spec, stages, src, out, row, size_mb, rows)
    if "compare" in stages:
        # the model against a copy with one weight changed (made once, untimed)
        variant = out / "variant" / "model.onnx"
        variant.parent.mkdir()
        run_stage("make-variant", src=str(src), dst=str(variant))
        row("compare", {"src": str(src), "other": str(variant)}, "load-save", base_opts, size_mb)
    if {"fold", "unfold"} & set(stages):
        _bench_fold(spec, stages, src, out, row, size_mb, base_opts)
    if graphml.exists():
        floors = {}
        for floor in FLOORS:  # the XML floors of this GraphML, in the same run
            _log(f"[{spec.name}] {floor}: {repeat} × ...")
            floors[floor] = measure_alone(floor, {"src": str(graphml)}, repeat)
            if floors[floor].error:
                _log(f"[{spec.name}]   {floors[floor].error}")
        graphml_mb = graphml.stat().st_size / 2**20
        for r in rows:
            if r.stage != "export":
                r.graphml_mb, r.floors = graphml_mb, floors
    return rows


def count_boxes(graphml: Path) -> int:
    """How many boxes (leaves and groups) a GraphML file holds: its ``<node`` elements,
    counted in the bytes as they stream by."""
    count, tail = 0, b""
    with open(graphml, "rb") as f:
        while chunk := f.read(1 << 22):
            data = tail + chunk
            count += data.count(b"<node ")
            tail = data[-5:]  # a match across chunks; "<node " cannot fit in 5 bytes
    return count


def layout_seconds(r: Row) -> float:
    """A layout-share row's layout time: export-graphml's with it minus without."""
    return r.measured.seconds - r.baseline.seconds


def layout_scaling(rows: list[Row]) -> dict | None:
    """The layout's time per box at the largest synthetic graph over the smallest."""
    points = sorted((r.boxes, layout_seconds(r), r.model) for r in rows
                    if r.stage == "layout-share" and r.model.startswith("synth-") and r.boxes
                    and not math.isnan(layout_seconds(r)))
    if len(points) < 2:
        return None
    (b0, t0, m0), (b1, t1, m1) = points[0], points[-1]
    per_box = ratio(t1 / b1, t0 / b0)
    binding = (m0, m1) == ("synth-1k", "synth-100k")
    return {"small": m0, "large": m1, "small_boxes": b0, "large_boxes": b1,
            "small_s": t0, "large_s": t1, "per_box_ratio": per_box,
            "met": per_box <= LAYOUT_PER_BOX_TARGET if binding and not math.isnan(per_box)
            else None}


def _compare_tensors(name: str, original: Path, rebuilt: Path) -> str:
    """Compare the rebuilt model's initializers with the original's, tensor by tensor."""
    from bench.external import tensor_digests

    if not rebuilt.exists():
        return f"{name}: no rebuilt model to compare"
    a, b = tensor_digests(original), tensor_digests(rebuilt)
    same = sum(1 for k, v in a.items() if b.get(k) == v)
    verdict = "identical" if same == len(a) == len(b) else "DIFFERENT"
    return (f"{name}: rebuilt tensors {verdict} to the original's: {same}/{len(a)} equal "
            f"(name, dtype, dims and SHA-256 of the bytes, each tensor read from its file)")


#: Per model: the archive's size on disk and the GraphML file's, for the memory check.
ARCHIVE_SIZES: dict[str, dict[str, float]] = {}


def _bench_archive(spec: ModelSpec, stages: list[str], src: Path, out: Path, row, size_mb: float,
                   rows: list[Row]) -> None:
    """archive add vs export-graphml, archive restore vs import-onnx, on the same model."""
    db, graphml = out / "archive" / "models.lbdb", out / "archive-base" / "model.graphml"
    db.parent.mkdir()
    graphml.parent.mkdir()
    if "archive-add" in stages:
        row("archive-add", {"src": str(src), "dst": str(db)},
            "export-graphml", {"src": str(src), "dst": str(graphml)}, size_mb)
    # the archive and GraphML restore reads (a dry run of archive-add empties the archive)
    run_stage("archive-add", src=str(src), dst=str(db))
    run_stage("export-graphml", src=str(src), dst=str(graphml))
    if "archive-restore" in stages:
        row("archive-restore", {"src": str(db), "dst": str(out / "restored.onnx")},
            "import-onnx", {"src": str(graphml), "dst": str(out / "imported.onnx")}, size_mb)
    store = db.with_name(db.name + ".tensors")
    mb = 2**20
    ARCHIVE_SIZES[spec.name] = {
        "db_mb": sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file()) / mb,
        "store_mb": sum(p.stat().st_size for p in store.rglob("*") if p.is_file()) / mb,
        "graphml_mb": graphml.stat().st_size / mb,
    }


#: Per model: the original and the folded file's sizes, and whether unfold gave back
#: the original bytes.
FOLD_SIZES: dict[str, dict[str, float | bool]] = {}


def _bench_fold(spec: ModelSpec, stages: list[str], src: Path, out: Path, row, size_mb: float,
                base_opts: dict) -> None:
    """fold and unfold, each against onnx load + save of the same model."""
    folded, unfolded = out / "folded.onnx", out / "unfolded.onnx"
    if "fold" in stages:
        row("fold", {"src": str(src), "dst": str(folded)}, "load-save", base_opts, size_mb)
    if not folded.exists():  # unfold alone: its input, made once, untimed
        run_stage("fold", src=str(src), dst=str(folded))
    if "unfold" in stages:
        row("unfold", {"src": str(folded), "dst": str(unfolded)}, "load-save", base_opts,
            size_mb)
    if not unfolded.exists():
        run_stage("unfold", src=str(folded), dst=str(unfolded))
    FOLD_SIZES[spec.name] = {
        "original_mb": src.stat().st_size / 2**20, "folded_mb": folded.stat().st_size / 2**20,
        "exact": _same_bytes(src, unfolded)}


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 22), fb.read(1 << 22)
            if x != y:
                return False
            if not x:
                return True


def render_fold(rows: list[Row]) -> str:
    """fold / unfold against load + save, the folded file's size, unfold's exactness."""
    lines = ["Fold (SPEC §8: fold and unfold ≤ 1 × onnx load + save on gpt2; the folded file "
             "no larger than the original):"]
    for model, sizes in FOLD_SIZES.items():
        times = ", ".join(f"{r.stage} {r.ratio:.2f} × load+save" for r in rows
                          if r.model == model and r.stage in ("fold", "unfold"))
        larger = "no larger" if sizes["folded_mb"] <= sizes["original_mb"] else "LARGER"
        lines.append(f"  {model}: {times or 'not timed'}; folded file {sizes['folded_mb']:.2f} "
                     f"MB vs original {sizes['original_mb']:.2f} MB ({larger}); unfold gives "
                     f"back the original bytes: {'yes' if sizes['exact'] else 'NO'}")
    return "\n".join(lines)


def _fmt(value: float, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return format(value, spec)


def _mark(ok: bool | None) -> str:
    return {True: "yes", False: "NO", None: "—"}[ok]


def render(rows: list[Row]) -> str:
    header = ["model", "stage", "nodes", "time s", "base s", "ratio", "target", "met",
              "parse s", "÷parse", "xsd s", "÷xsd", "target", "met",
              "work MB", "base MB", "size MB", "mem/size", "gml MB", "mem/gml", "target", "met",
              "µs/node"]
    lines = [header]
    for r in rows:
        time_ok, mem_ok = r.met()
        floor_ok = r.floor_met()
        if r.measured.error or r.baseline.error:
            time_ok = mem_ok = None
        floors = r.floors or {}
        mem_target = f"≤{r.mem_target[1]:.2f}×{r.mem_target[0]}" if r.mem_target else "—"
        lines.append([
            r.model, r.stage, str(r.nodes),
            _fmt(r.measured.seconds, ".3f"), _fmt(r.baseline.seconds, ".3f"), _fmt(r.ratio, ".2f"),
            f"≤{r.time_target:.2f}" if r.time_target else "—", _mark(time_ok),
            _fmt(floors["lxml-parse"].seconds if "lxml-parse" in floors else math.nan, ".3f"),
            _fmt(r.floor_ratio("lxml-parse"), ".2f"),
            _fmt(floors["lxml-xsd"].seconds if "lxml-xsd" in floors else math.nan, ".3f"),
            _fmt(r.floor_ratio("lxml-xsd"), ".2f"),
            f"≤{r.floor_target:.2f}÷{'xsd' if r.stage == 'validate-graphml' else 'parse'}"
            if r.floor_target else "—", _mark(floor_ok),
            _fmt(r.measured.work_mb, ".1f"), _fmt(r.baseline.work_mb, ".1f"),
            _fmt(r.size_mb, ".1f"),
            _fmt(r.mem_ratio, ".2f"), _fmt(r.graphml_mb, ".1f"), _fmt(r.gml_mem_ratio, ".2f"),
            mem_target, _mark(mem_ok), _fmt(r.us_per_node, ".1f"),
        ])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                  for i, (c, w) in enumerate(zip(line, widths, strict=True)))
        for line in lines
    ]
    text.insert(1, "-" * len(text[0]))
    return "\n".join(text)


def scaling(rows: list[Row]) -> list[dict]:
    """Per converter stage: time per node at the largest synthetic size over the smallest."""
    result = []
    for stage in ("export-graphml", "import-onnx", "validate-graphml"):
        points = sorted((r.nodes, r.measured.seconds) for r in rows
                        if r.stage == stage and r.model.startswith("synth-")
                        and not math.isnan(r.measured.seconds))
        if len(points) < 2:
            continue
        (n0, t0), (n1, t1) = points[0], points[-1]
        per_node = ratio(t1 / n1, t0 / n0)
        result.append({
            "stage": stage, "small": n0, "large": n1, "per_node_ratio": per_node,
            "exponent": growth_exponent([n for n, _ in points], [t for _, t in points]),
            "met": per_node <= LINEAR_TARGET if (n0, n1) == (1_000, 100_000) else None,
        })
    return result


def render_scaling(result: list[dict]) -> str:
    lines = ["Scaling on synthetic graphs (time per node, largest / smallest; target ≤ "
             f"{LINEAR_TARGET} for 100k / 1k; exponent of time ~ nodes^k over all sizes):"]
    for s in result:
        lines.append(f"  {s['stage']:<17} {s['large']:>7,} / {s['small']:,} nodes: "
                     f"{s['per_node_ratio']:.2f}  exponent {s['exponent']:.2f}  "
                     f"met: {_mark(s['met'])}")
    return "\n".join(lines)


def render_targets(rows: list[Row], scale: list[dict]) -> str:
    """One line per SPEC §8 target: the measured values behind it, and whether it is met."""
    def verdict(oks: list[bool | None]) -> str:
        known = [ok for ok in oks if ok is not None]
        return "not measured" if not known else ("MET" if all(known) else "MISSED")

    lines = ["SPEC §8 targets (this run):"]
    export = [r for r in rows if r.stage == "export" and not math.isnan(r.ratio)]
    lines.append(f"  tagging overhead, export / plain torch.onnx.export ≤ {EXPORT_TARGET}: "
                 + verdict([r.met()[0] for r in export]) + "  "
                 + ", ".join(f"{r.model} {r.ratio:.2f}" for r in export))
    for model, target in CONVERTER_TIME_TARGETS.items():
        binding = [r for r in rows if r.stage in CONVERTERS and r.model == model]
        lines.append(f"  converters / (onnx.load + onnx.save) ≤ {target} on {model}: "
                     + verdict([r.met()[0] for r in binding]) + "  "
                     + ", ".join(f"{r.stage} {r.ratio:.2f}" for r in binding))
    mem = [r for r in rows if r.stage in CONVERTERS and r.model in WEIGHT_HEAVY]
    lines.append(f"  converter peak memory ≤ {WEIGHT_MEM_TARGET} × model size (weight-heavy): "
                 + verdict([r.met()[1] for r in mem]) + "  "
                 + ", ".join(f"{r.model}/{r.stage} {r.mem_ratio:.3f}" for r in mem))
    heavy = [r for r in rows if r.model in NODE_HEAVY and r.stage != "export"]
    lines.append(f"  peak memory ≤ {GRAPHML_MEM_TARGET} × GraphML file, every command "
                 "(node-heavy): "
                 + verdict([r.met()[1] for r in heavy]) + "  "
                 + ", ".join(f"{r.model}/{r.stage} {r.gml_mem_ratio:.2f}" for r in heavy))
    for stage, target in FLOOR_TARGETS.items():
        floor = "lxml parse + XSD" if stage == "validate-graphml" else "lxml parse"
        these = [r for r in heavy if r.stage == stage]
        lines.append(f"  {stage} / {floor} of the same GraphML ≤ {target} (node-heavy): "
                     + verdict([r.floor_met() for r in these]) + "  "
                     + ", ".join(f"{r.model} {r.floor_ratio(r.floor):.2f}" for r in these))
    for model, (time_target, mem_target) in COMPARE_TARGETS.items():
        these = [r for r in rows if r.stage == "compare" and r.model == model]
        lines.append(f"  compare / (onnx.load + onnx.save of one) ≤ {time_target}, peak memory ≤ "
                     f"{mem_target} × model size, on {model}: "
                     + verdict([ok for r in these for ok in r.met()]) + "  "
                     + ", ".join(f"{r.ratio:.2f}, memory {r.mem_ratio:.3f}" for r in these))
    shares = [r for r in rows if r.stage == "layout-share" and not math.isnan(r.ratio)]
    lines.append("  layout: export-graphml / export-graphml --layout none ≤ "
                 f"{LAYOUT_SHARE_TARGET}, every model: "
                 + verdict([r.met()[0] for r in shares]) + "  "
                 + ", ".join(f"{r.model} {r.ratio:.2f}" for r in shares))
    per_box = layout_scaling(rows)
    lines.append(f"  layout time per box, 100k / 1k ≤ {LAYOUT_PER_BOX_TARGET}: "
                 + (verdict([per_box["met"]]) + f"  {per_box['large']} / {per_box['small']} "
                    f"{_fmt(per_box['per_box_ratio'], '.2f')} ({per_box['large_s']:.3f} s / "
                    f"{per_box['large_boxes']:,} boxes vs {per_box['small_s']:.3f} s / "
                    f"{per_box['small_boxes']:,})" if per_box else "not measured"))
    for model, target in FOLD_TIME_TARGETS.items():
        folds = [r for r in rows if r.stage in ("fold", "unfold") and r.model == model]
        lines.append(f"  fold, unfold / (onnx.load + onnx.save) ≤ {target} on {model}: "
                     + verdict([r.met()[0] for r in folds]) + "  "
                     + ", ".join(f"{r.stage} {r.ratio:.2f}" for r in folds))
    linear = [s for s in scale if s["stage"] in CONVERTERS]
    lines.append("  100k nodes both ways, time per node 100k / 1k ≤ 1.5: "
                 + verdict([s["met"] for s in linear]) + "  "
                 + ", ".join(f"{s['stage']} {s['per_node_ratio']:.2f}" for s in linear
                             if s["met"] is not None))
    return "\n".join(lines)


def render_read_floor(rows: list[Row]) -> str:
    """How far below the SPEC's parse floor a streaming reader can go: lxml-read over
    lxml-parse, and import-onnx over lxml-read, per node-heavy graph."""
    lines = ["Reading floor (node-heavy; lxml-read = iterparse reading every <data> key and "
             "text, nothing else):"]
    for r in rows:
        floors = r.floors or {}
        if r.stage != "import-onnx" or r.model not in NODE_HEAVY or "lxml-read" not in floors:
            continue
        read, parse = floors["lxml-read"].seconds, floors["lxml-parse"].seconds
        lines.append(f"  {r.model}: lxml-read {read:.3f} s = {ratio(read, parse):.2f} "
                     "× lxml-parse; "
                     f"import-onnx = {r.floor_ratio('lxml-read'):.2f} × lxml-read")
    return "\n".join(lines) if len(lines) > 1 else ""


def render_archive(rows: list[Row]) -> str:
    """The archive's size on disk, and its peak memory against the GraphML file."""
    lines = ["Archive (SPEC §8: add ≤ 2 × export-graphml, restore ≤ 2 × import-onnx; "
             "peak memory ≤ 1.5 × the GraphML file):"]
    for model, sizes in ARCHIVE_SIZES.items():
        mems = ", ".join(
            f"{r.stage} {r.measured.work_mb:.1f} MB = "
            f"{r.measured.work_mb / sizes['graphml_mb']:.2f} × GraphML"
            for r in rows if r.model == model and r.stage.startswith("archive-")
            and not math.isnan(r.measured.work_mb))
        lines.append(f"  {model}: database {sizes['db_mb']:.1f} MB + tensor store "
                     f"{sizes['store_mb']:.1f} MB (GraphML {sizes['graphml_mb']:.1f} MB); {mems}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--repeat", type=int, default=3,
                        help="repetitions per stage (median reported)")
    parser.add_argument("--models", nargs="+", choices=list(MODELS),
                        help="models to run (default: all but the deep models)")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument("--refresh", action="store_true", help="rebuild the cached model files")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="after measuring, run each stage once more under cProfile, "
                        "writing DIR/<model>.<stage>.prof")
    args = parser.parse_args(argv)

    names = args.models or (QUICK if args.quick else FULL)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="modelexport-bench-") as tmp:
        for name in names:
            try:
                rows += bench_model(MODELS[name], args.stages, args.repeat, args.refresh,
                                    Path(tmp), args.profile, notes)
            except StageError as e:
                _log(f"[{name}] could not prepare the model: {e}")
            finally:  # big outputs (the 2.5 GB model's three copies) go as soon as done
                shutil.rmtree(Path(tmp) / name, ignore_errors=True)
    print(render(rows))
    for note in notes:
        print()
        print(note)
    scale = scaling(rows)
    if scale:
        print()
        print(render_scaling(scale))
    read_floor = render_read_floor(rows)
    if read_floor:
        print()
        print(read_floor)
    print()
    print(render_targets(rows, scale))
    if ARCHIVE_SIZES:
        print()
        print(render_archive(rows))
    if FOLD_SIZES:
        print()
        print(render_fold(rows))
    if args.json:
        args.json.write_text(json.dumps({"rows": [r.to_json() for r in rows], "scaling": scale,
                                         "layout_scaling": layout_scaling(rows),
                                         "notes": notes, "repeat": args.repeat}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
