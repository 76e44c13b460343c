"""The benchmark's arithmetic and its stage runner."""

from __future__ import annotations

import math

import onnx
import pytest

from bench.__main__ import Row, render, render_targets, scaling
from bench.harness import (
    Measurement,
    Sample,
    StageError,
    growth_exponent,
    linear_fit,
    median,
    ratio,
    run_stage,
)
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
    m = Measurement(
        "s", [Sample(1.0, 3_048, 0), Sample(2.0, 5_120, 0), Sample(3.0, 4_096, 0)], dry_hwm_kb=1_024
    )
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


def test_run_stage_times_only_the_stage_in_a_fresh_process_and_a_dry_run_skips_it(tmp_path):
    src = tmp_path / "m.onnx"
    onnx.save(make_synthetic_model(50), src)
    dry = run_stage("load-save", dry=True, src=str(src), dst=str(tmp_path / "dry.onnx"))
    assert dry.seconds == 0.0 and not (tmp_path / "dry.onnx").exists()  # set up, not run
    sample = run_stage("load-save", src=str(src), dst=str(tmp_path / "out.onnx"))
    assert onnx.load(str(tmp_path / "out.onnx")) == onnx.load(str(src))  # the stage ran
    assert sample.seconds > 0 and sample.hwm_kb >= sample.rss_before_kb > 0
    with pytest.raises(StageError, match="load-save failed"):
        run_stage("load-save", src=str(tmp_path / "missing.onnx"), dst=str(tmp_path / "x.onnx"))
    assert (tmp_path / "out.onnx").exists()


def test_the_converters_time_targets_bind_on_gpt2_and_the_external_model_only():
    rows = [
        _row("gpt2", "export-graphml", 500, 0.4, 1.0),
        _row("ext-2.5g", "import-onnx", 30, 0.8, 1.0),
        _row("synth-1k", "export-graphml", 1_000, 9.0, 1.0),
    ]
    text = render_targets(rows, scaling(rows))
    assert "converters / (onnx.load + onnx.save) ≤ 0.5 on gpt2: MET  export-graphml 0.40" in text
    assert "≤ 0.75 on ext-2.5g: MISSED  import-onnx 0.80" in text
    assert rows[2].met() == (None, None)


def test_weight_heavy_memory_is_held_to_a_tenth_of_the_model():
    row = _row("ext-2.5g", "export-graphml", 30, 1.0, 2.0)  # 1 MB of work, a 10 MB model
    assert row.mem_ratio == pytest.approx(0.1) and row.met() == (True, True)


def test_node_heavy_rows_are_held_to_the_xml_floors_and_the_graphml_size():
    row = _row("synth-100k", "validate-graphml", 100_000, 2.6, 1.0)  # 1 MB of work
    row.graphml_mb = 0.5
    row.floors = {"lxml-parse": Measurement("lxml-parse", [Sample(1.0, 0, 0)]),
                  "lxml-xsd": Measurement("lxml-xsd", [Sample(2.0, 0, 0)])}
    assert row.floor_ratio("lxml-xsd") == pytest.approx(1.3) and row.floor_met() is True
    assert row.gml_mem_ratio == pytest.approx(2.0) and row.met() == (None, False)
    text = render_targets([row], [])
    assert ("validate-graphml / lxml parse + XSD of the same GraphML ≤ 1.3 (node-heavy): "
            "MET  synth-100k 1.30") in text
    assert "every command (node-heavy): MISSED  synth-100k/validate-graphml 2.00" in text
    assert "≤1.30÷xsd" in render([row])


def test_the_xml_floors_run_as_stages_and_the_external_model_round_trips(tmp_path):
    from bench.external import make_external_model, tensor_digests
    from modelexport.converter import graphml_to_onnx, onnx_to_graphml

    src = tmp_path / "m.onnx"
    make_external_model(src, layers=3, width=64)
    onnx_to_graphml(src, tmp_path / "m.graphml")
    for floor in ("lxml-parse", "lxml-xsd", "lxml-read"):
        assert run_stage(floor, src=str(tmp_path / "m.graphml")).seconds > 0
    sample = run_stage("load-save", src=str(src), dst=str(tmp_path / "resaved.onnx"))
    assert sample.seconds > 0 and (tmp_path / "resaved.onnx.data").exists()
    graphml_to_onnx(tmp_path / "m.graphml", tmp_path / "back.onnx")
    assert tensor_digests(tmp_path / "back.onnx") == tensor_digests(src)
    assert len(tensor_digests(src)) == 6


def test_the_reading_floor_is_printed_for_node_heavy_graphs():
    from bench.__main__ import render_read_floor

    row = Row("synth-50k", "import-onnx", 50_000, 30.0, Measurement("s", [Sample(6.0, 0, 0)]),
              Measurement("b", [Sample(1.0, 0, 0)]))
    row.floors = {"lxml-parse": Measurement("lxml-parse", [Sample(4.0, 0, 0)]),
                  "lxml-read": Measurement("lxml-read", [Sample(5.0, 0, 0)])}
    text = render_read_floor([row])
    assert (
        "synth-50k: lxml-read 5.000 s = 1.25 × lxml-parse; import-onnx = 1.20 × lxml-read" in text
    )
    row.model = "synth-1k"  # not node-heavy: no line
    assert render_read_floor([row]) == ""
