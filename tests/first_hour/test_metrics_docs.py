"""The Grafana dashboard in docs/ is valid JSON and charts only series EmotionHub exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXPORTED = {
    "emotionhub_jobs",
    "emotionhub_queue_depth",
    "emotionhub_job_latency_seconds_bucket",
    "emotionhub_inference_seconds_bucket",
    "emotionhub_ingestion_runs",
    "emotionhub_ingestion_errors",
    "emotionhub_webhook_delivery_failures",
    "emotionhub_worker_jobs_total",
    "emotionhub_worker_inference_seconds_bucket",
}


def test_grafana_dashboard_queries_exported_series():
    dashboard = json.loads((DOCS / "grafana-emotionhub.json").read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"emotionhub_[a-z_]+", target["expr"])
    }
    assert used and used <= EXPORTED, used - EXPORTED
