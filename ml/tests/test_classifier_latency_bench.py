"""Smoke test of bench/classifier_latency.py: it times real shipped models and reports the
budget verdict per model (timings themselves are not asserted)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

BENCH = Path(__file__).resolve().parents[2] / "bench" / "classifier_latency.py"


def test_bench_reports_every_model_at_both_batch_sizes(tmp_path: Path, capsys) -> None:
    spec = importlib.util.spec_from_file_location("classifier_latency", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    argv = ["--models", "mini_xception,ensemble_lite", "--faces", "16", "--rounds", "1"]
    assert bench.main([*argv, "--val", str(tmp_path / "absent.zip")]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["budget_ms"] == 5.0 and report["threads"] == 1
    assert set(report["results"]) == {"mini_xception", "ensemble_lite"}
    for result in report["results"].values():
        for batch in ("batch1", "batch16"):
            assert result[batch]["cpu_ms"] > 0 and result[batch]["wall_ms"] > 0
        assert result["within_budget"] == (result["batch16"]["cpu_ms"] <= 5.0)
