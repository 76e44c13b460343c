"""Measuring stages side by side with their baselines, and the arithmetic on the results.

Each measured call runs in a fresh ``python -m bench.run_stage`` subprocess, so peak
memory is that call's alone and no warm cache of one stage helps the next. A stage's
repetitions alternate with its baseline's (B, S, B, S, ...) so that noise from other
work on the machine falls on both alike.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def median(values: list[float]) -> float:
    """The median; NaN for no values."""
    return statistics.median(values) if values else math.nan


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when either is missing or the denominator is not positive."""
    if math.isnan(numerator) or math.isnan(denominator) or denominator <= 0:
        return math.nan
    return numerator / denominator


def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares ``y = a + b·x``; returns ``(a, b)``."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError("linear_fit needs at least two (x, y) pairs of equal count")
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("linear_fit needs at least two distinct x values")
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return my - b * mx, b


def growth_exponent(xs: list[float], ys: list[float]) -> float:
    """Slope of log y against log x: 1.0 is linear growth, 2.0 quadratic."""
    return linear_fit([math.log(x) for x in xs], [math.log(y) for y in ys])[1]


@dataclass
class Sample:
    """One subprocess run of a stage."""

    seconds: float
    hwm_kb: int
    rss_before_kb: int


@dataclass
class Measurement:
    """Repetitions of one stage, and the dry run that holds its set-up cost in memory."""

    stage: str
    samples: list[Sample] = field(default_factory=list)
    dry_hwm_kb: int = 0
    error: str | None = None

    @property
    def seconds(self) -> float:
        return median([s.seconds for s in self.samples])

    @property
    def work_mb(self) -> float:
        """Median peak RSS above the dry run's: the memory the stage's work needed."""
        if not self.samples:
            return math.nan
        return max(0.0, median([s.hwm_kb for s in self.samples]) - self.dry_hwm_kb) / 1024

    def to_json(self) -> dict:
        return {
            "stage": self.stage,
            "seconds": self.seconds,
            "work_mb": self.work_mb,
            "dry_hwm_kb": self.dry_hwm_kb,
            "samples": [s.__dict__ for s in self.samples],
            "error": self.error,
        }


class StageError(RuntimeError):
    """A stage's subprocess failed; the message carries the tail of its stderr."""


def run_stage(
    stage: str, *, dry: bool = False, profile: str | None = None, **options: str
) -> Sample:
    """Run one stage in a fresh interpreter and return what it measured."""
    cmd = [sys.executable, "-m", "bench.run_stage", stage]
    for key, value in options.items():
        if value is True:
            cmd.append(f"--{key}")
        elif value not in (None, False):
            cmd += [f"--{key}", str(value)]
    if dry:
        cmd.append("--dry")
    if profile:
        cmd += ["--profile", profile]
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise StageError(f"{stage} failed (exit {proc.returncode}): {tail}")
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    return Sample(record["seconds"], record["hwm_kb"], record["rss_before_kb"])


def measure_pair(stage: str, stage_options: dict, baseline: str, baseline_options: dict,
                 repeat: int) -> tuple[Measurement, Measurement]:
    """Measure a stage and its baseline, alternating repetitions, plus one dry run each."""
    measured = Measurement(stage)
    base = Measurement(baseline)
    for m, opts in ((base, baseline_options), (measured, stage_options)):
        try:
            m.dry_hwm_kb = run_stage(m.stage, dry=True, **opts).hwm_kb
        except StageError as e:
            m.error = str(e)
    for _ in range(repeat):
        for m, opts in ((base, baseline_options), (measured, stage_options)):
            if m.error:
                continue
            try:
                m.samples.append(run_stage(m.stage, **opts))
            except StageError as e:
                m.error = str(e)
    return measured, base


def measure_alone(stage: str, options: dict, repeat: int) -> Measurement:
    """Measure a stage with no baseline of its own (an XML floor), plus its dry run."""
    m = Measurement(stage)
    try:
        m.dry_hwm_kb = run_stage(stage, dry=True, **options).hwm_kb
        for _ in range(repeat):
            m.samples.append(run_stage(stage, **options))
    except StageError as e:
        m.error = str(e)
    return m
