"""Prometheus metrics after a real worker ran a job: the worker's own exporter (prefork
pool, multiprocess files) and the web's /metrics (read from PostgreSQL) both count it."""

from __future__ import annotations

import socket

import pytest
import requests
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from emotionhub.social.models import RunStatus, Source, SourceRun
from tests.conftest import TenantClient, png_bytes, upload
from tests.worker.conftest import wait_for
from tests.worker.test_end_to_end import wait_submission_finished

pytestmark = [pytest.mark.services, pytest.mark.workers]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_worker_and_web_metrics_count_a_real_job(start_worker):
    port = free_port()
    start_worker("metrics", EMOTIONHUB_WORKER_METRICS_PORT=str(port))
    alice = TenantClient("alice")
    body = alice.submit(files=[upload("a.png", png_bytes())], analyzers="example").json()
    wait_submission_finished(alice, body["id"])
    source = Source.objects.create(tenant=alice.tenant, kind="rss", name="feed")
    SourceRun.objects.create(
        tenant=alice.tenant, source=source, trigger="schedule", status=RunStatus.FAILED
    )

    def worker_counts():
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        found = samples(text)
        key = ("emotionhub_worker_jobs_total", (("analyzer", "example"), ("outcome", "succeeded")))
        return found if found.get(key) == 1 else None

    found = wait_for(worker_counts, 20, message="the worker's job counter")
    count = found[
        ("emotionhub_worker_inference_seconds_count", (("analyzer", "example"), ("device", "cpu")))
    ]
    assert count == 1

    client = Client()
    with override_settings(EMOTIONHUB_METRICS_ENABLED=False):
        assert client.get("/metrics").status_code == 404
    with override_settings(EMOTIONHUB_METRICS_ENABLED=True, EMOTIONHUB_METRICS_TOKEN="s3cret"):
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
        answer = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/plain")
    web = samples(answer.content.decode())
    assert web[("emotionhub_jobs", (("analyzer", "example"), ("status", "succeeded")))] == 1
    assert web[("emotionhub_queue_depth", (("queue", "analysis_cpu"),))] == 0
    assert web[("emotionhub_job_latency_seconds_count", (("analyzer", "example"),))] == 1
    assert (
        web[("emotionhub_inference_seconds_count", (("analyzer", "example"), ("device", "cpu")))]
        == 1
    )
    assert web[("emotionhub_ingestion_runs", (("kind", "rss"), ("status", "failed")))] == 1
    assert web[("emotionhub_ingestion_errors", (("kind", "rss"),))] == 1
    assert web[("emotionhub_webhook_delivery_failures", ())] == 0
