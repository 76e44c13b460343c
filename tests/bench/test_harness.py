"""The benchmark's arithmetic and its stage runner."""

from __future__ import annotations

import math

import onnx
import pytest

from bench.__main__ import Row, render, render_targets, scaling
from bench.harness import Measurement, Sample, growth_exponent, linear_fit, median, ratio, run_stage
from bench.synthetic import make_synthetic_model


def test_median_of_odd_and_even_counts_and_of_nothing():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert math.isnan(median([]))


def test_ratio_is_nan_when_the_baseline_is_missing_or_zero():
    assert ratio(3.0, 2.0) == 1.5
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(math.nan, 1.0))


def test_linear_fit_recovers_intercept_and_slope():
    a, b = linear_fit([1_000, 10_000, 100_000], [0.5 + 2e-5 * n for n in (1_000, 10_000, 100_000)])
    assert a == pytest.approx(0.5) and b == pytest.approx(2e-5)


def test_linear_fit_refuses_a_single_point():
    with pytest.raises(ValueError):
        linear_fit([1.0], [1.0])


def test_growth_exponent_is_one_for_linear_and_two_for_quadratic_time():
    ns = [1_000, 10_000, 100_000]
    assert growth_exponent(ns, [3e-6 * n for n in ns]) == pytest.approx(1.0)
    assert growth_exponent(ns, [1e-9 * n * n for n in ns]) == pytest.approx(2.0)


def test_work_memory_is_the_median_peak_above_the_dry_run():
    m = Measurement("s", [Sample(1.0, 3_048, 0), Sample(2.0, 5_120, 0), Sample(3.0, 4_096, 0)], dry_hwm_kb=1_024)
    assert m.seconds == 2.0
    assert m.work_mb == 3.0


def _row(model, stage, nodes, seconds, base_seconds):
    return Row(model, stage, nodes, 10.0, Measurement(stage, [Sample(seconds, 2048, 0)], 1024),
               Measurement("load-save", [Sample(base_seconds, 2048, 0)], 1024))


def test_scaling_compares_time_per_node_at_100k_with_1k():
    rows = [_row("synth-1k", "export-graphml", 1_000, 0.01, 0.01),
            _row("synth-100k", "export-graphml", 100_000, 2.0, 1.0)]
    (s,) = scaling(rows)
    assert s["per_node_ratio"] == pytest.approx(2.0) and s["met"] is False
    table = render(rows)
    assert "export-graphml" in table and "2.00" in table


def test_run_stage_times_a_load_save_in_a_fresh_process(tmp_path):
    src = tmp_path / "m.onnx"
    onnx.save(make_synthetic_model(50), src)
    sample = run_stage("load-save", src=str(src), dst=str(tmp_path / "out.onnx"))
    assert sample.seconds > 0 and sample.hwm_kb >= sample.rss_before_kb > 0
    assert (tmp_path / "out.onnx").exists()


def test_the_target_summary_judges_the_converters_on_the_gpt2_row_only():
    rows = [_row("gpt2", "export-graphml", 500, 1.2, 1.0), _row("synth-1k", "export-graphml", 1_000, 9.0, 1.0)]
    text = render_targets(rows, scaling(rows))
    assert "export-graphml / (onnx.load + onnx.save) ≤ 1.5 on gpt2: MET  1.20" in text
    assert "(NO)" in render(rows)
