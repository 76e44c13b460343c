"""``python -m bench.layout_quality``: how good and how costly the default layout is.

    python -m bench.layout_quality [--quick] [--repeat N] [--no-time] [--keep DIR]
                                   [--json OUT] [--refresh] [TARGET ...]

A TARGET is a model name (a bench model such as ``synth-100k``, a deep model such as
``llama-32``, or a sample such as ``t5-tiny``), an ``.onnx`` file, or a ``.graphml``
file (measured as it is: no timing). Without targets: every sample, the deep models
and the 1k and 100k synthetic graphs (``--quick``: the samples, ``llama-32`` and
``synth-1k``).

For each ONNX model it times ``export-graphml`` with the default layout against
``export-graphml --layout none`` (each run a fresh ``python -m bench.run_stage``
process, alternating, median of ``--repeat``), then reads the default GraphML's yEd
geometry back and measures it (tests/graphml/geometry.py): overlapping leaves, boxes
outside their group, edges through nodes, edges pointing upward, edges longer than
5 × the median (over all edges, and without the edges leaving constants), repeated
layers stacked in index order, alike layers drawn alike — each against its target
(issue 19, SPEC §8 and §10). It runs the ``graphml/layout.py`` of the checkout it is
run from.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.deep_models import DEEP_MODELS
from bench.harness import Measurement, StageError, measure_pair, ratio, run_stage
from bench.models import CACHE, MODELS, ROOT, cache_dir

sys.path.insert(0, str(ROOT / "tests" / "graphml"))
from geometry import Quality, quality, read_picture_file  # noqa: E402

SAMPLES = sorted(p.name for p in (ROOT / "samples").iterdir() if (p / "config.json").exists())
DEFAULT = [*SAMPLES, *DEEP_MODELS, "synth-1k", "synth-100k"]
QUICK = [*SAMPLES, "llama-32", "synth-1k"]
TIME_TARGET = 2.0  # SPEC §8: export-graphml ≤ 2 × export-graphml --layout none
PER_BOX_TARGET = 1.5  # SPEC §8: layout time per box at 100k ≤ 1.5 × per box at 1k


@dataclass
class Result:
    """One model: the two export-graphml timings and the default picture's quality."""

    name: str
    graphml: Path
    laid_out: Measurement | None
    unlaid: Measurement | None
    quality: Quality
    gml_bytes: int = 0  # the GraphML's size, read when measured (a temporary file goes)

    @property
    def layout_seconds(self) -> float:
        """export-graphml's time with the layout minus its time without."""
        if self.laid_out is None or self.unlaid is None:
            return math.nan
        return self.laid_out.seconds - self.unlaid.seconds

    @property
    def time_ratio(self) -> float:
        if self.laid_out is None or self.unlaid is None:
            return math.nan
        return ratio(self.laid_out.seconds, self.unlaid.seconds)

    @property
    def gml_mb(self) -> float:
        return self.gml_bytes / 2**20

    def to_json(self) -> dict:
        q = self.quality
        return {
            "model": self.name, "boxes": q.boxes, "edges": q.edges, "layout": q.layout,
            "graphml_mb": self.gml_mb,
            "export_graphml_s": self.laid_out.seconds if self.laid_out else None,
            "export_graphml_none_s": self.unlaid.seconds if self.unlaid else None,
            "layout_s": self.layout_seconds, "time_ratio": self.time_ratio,
            "work_mb": self.laid_out.work_mb if self.laid_out else None,
            "quality": [{"measure": m, "value": v, "target": t, "met": ok}
                        for m, v, t, ok in q.verdicts()],
            "long_all_median": q.long_all.median,
            "long_no_constants_median": q.long_no_constants.median,
        }


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def onnx_of(name: str, refresh: bool) -> Path:
    """The cached ONNX file of a bench model, deep model or sample (built when missing)."""
    if name in MODELS:
        folder = cache_dir(MODELS[name])
        if refresh or not (folder / "info.json").exists():
            _log(f"[{name}] building {folder / 'model.onnx'} ...")
            for f in folder.glob("*") if folder.exists() else ():
                f.unlink()
            run_stage("make-onnx", model=name, dst=str(folder / "model.onnx"))
        return folder / "model.onnx"
    if name in SAMPLES:
        path = CACHE / f"sample-{name}" / "model.onnx"
        if refresh or not path.exists():
            _log(f"[{name}] exporting samples/{name} to {path} ...")
            path.parent.mkdir(parents=True, exist_ok=True)
            import modelexport

            modelexport.export_pretrained(str(ROOT / "samples" / name), path, verify=False)
        return path
    known = ", ".join([*MODELS, *SAMPLES])
    raise SystemExit(f"no model named {name!r}: give an .onnx or .graphml file, or one of {known}")


def measure(target: str, out: Path, repeat: int, timed: bool, refresh: bool) -> Result:
    """Time and measure one target."""
    if target.endswith(".graphml"):
        path = Path(target)
        return Result(path.stem, path, None, None, quality(read_picture_file(path)),
                      path.stat().st_size)
    src = Path(target) if target.endswith(".onnx") else onnx_of(target, refresh)
    name = Path(target).stem if target.endswith(".onnx") else target
    laid_out = out / f"{name}.graphml"
    unlaid = out / f"{name}.none.graphml"
    measured = base = None
    if timed:
        _log(f"[{name}] export-graphml vs --layout none: {repeat} × each ...")
        measured, base = measure_pair("export-graphml", {"src": str(src), "dst": str(laid_out)},
                                      "export-graphml", {"src": str(src), "dst": str(unlaid),
                                                         "layout": "none"}, repeat)
        for m in (measured, base):
            if m.error:
                raise StageError(m.error)
    else:
        run_stage("export-graphml", src=str(src), dst=str(laid_out))
    _log(f"[{name}] measuring the picture ...")
    return Result(name, laid_out, measured, base, quality(read_picture_file(laid_out)),
                  laid_out.stat().st_size)


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None or math.isnan(value) else format(value, spec)


def _mark(ok: bool | None) -> str:
    return {True: "yes", False: "NO", None: "—"}[ok]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


def render(result: Result) -> str:
    """One model's table: its timings, then every quality measure against its target."""
    q = result.quality
    head = (f"{result.name}: {q.boxes:,} boxes, {q.edges:,} edges, layout {q.layout}, "
            f"GraphML {result.gml_mb:.1f} MB")
    rows = [["measure", "value", "target", "met"]]
    if result.laid_out is not None and result.unlaid is not None:
        ratio_ = result.time_ratio
        per_box = result.layout_seconds / q.boxes * 1e6 if q.boxes else math.nan
        rows += [
            ["export-graphml", f"{result.laid_out.seconds:.3f} s", "", ""],
            ["export-graphml --layout none", f"{result.unlaid.seconds:.3f} s", "", ""],
            ["layout (the difference)", f"{result.layout_seconds:.3f} s "
             f"({_fmt(per_box, '.1f')} µs/box)", "", ""],
            ["time ratio", f"{_fmt(ratio_, '.2f')} ×", f"≤ {TIME_TARGET:.2f} ×",
             _mark(None if math.isnan(ratio_) else ratio_ <= TIME_TARGET)],
            ["export-graphml peak memory", f"{_fmt(result.laid_out.work_mb, '.1f')} MB = "
             f"{_fmt(ratio(result.laid_out.work_mb, result.gml_mb), '.2f')} × GraphML", "", ""],
        ]
    rows += [[m, v, t, _mark(ok)] for m, v, t, ok in q.verdicts()]
    return "\n".join([head, *_table(rows)])


def render_summary(results: list[Result]) -> str:
    """One line per model: which targets it meets."""
    if not results:
        return ""
    names = [m for m, _v, _t, _ok in results[0].quality.verdicts()]
    short = ["overlap", "outside", "through", "upward", "long", "long-nc", "stacked", "alike",
             "labels"]
    assert len(names) == len(short), names  # a new verdict needs its column name here
    rows = [["model", "boxes", "ratio", *short]]
    for r in results:
        rows.append([r.name, f"{r.quality.boxes:,}", _fmt(r.time_ratio, ".2f"),
                     *[_mark(ok) for _m, _v, _t, ok in r.quality.verdicts()]])
    met = sum(ok for r in results for *_x, ok in r.quality.verdicts())
    total = sum(1 for r in results for _ in r.quality.verdicts())
    return "\n".join(["Summary (long-nc: long edges without constants' edges):", *_table(rows),
                      f"  quality targets met: {met}/{total}"])


def render_scaling(results: list[Result]) -> str:
    """Layout time per box at the largest synthetic graph over the smallest."""
    synth = sorted((r.quality.boxes, r.layout_seconds, r.name) for r in results
                   if r.name.startswith("synth-") and not math.isnan(r.layout_seconds))
    if len(synth) < 2:
        return ""
    (b0, t0, n0), (b1, t1, n1) = synth[0], synth[-1]
    per_box = ratio(t1 / b1, t0 / b0) if t0 > 0 else math.nan
    ok = None if math.isnan(per_box) else per_box <= PER_BOX_TARGET
    return (f"Layout time per box, {n1} / {n0}: {_fmt(per_box, '.2f')} "
            f"(target ≤ {PER_BOX_TARGET}; {t1:.3f} s / {b1:,} boxes vs {t0:.3f} s / {b0:,}): "
            f"{_mark(ok)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.layout_quality", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help="model names, .onnx or .graphml files (default: see above)")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--repeat", type=int, default=1,
                        help="timed runs of each export-graphml (median; default 1)")
    parser.add_argument("--no-time", action="store_true",
                        help="write the default GraphML once and measure it, without timing")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="write the GraphML files here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument("--refresh", action="store_true", help="rebuild the cached ONNX files")
    args = parser.parse_args(argv)

    targets = args.targets or (QUICK if args.quick else DEFAULT)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="modelexport-layout-") as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        for target in targets:
            try:
                result = measure(target, out, args.repeat, not args.no_time, args.refresh)
            except StageError as e:
                _log(f"[{target}] failed: {e}")
                continue
            results.append(result)
            print(render(result), flush=True)
            print(flush=True)
    print(render_summary(results))
    scaling = render_scaling(results)
    if scaling:
        print(scaling)
    if args.json:
        args.json.write_text(json.dumps([r.to_json() for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
