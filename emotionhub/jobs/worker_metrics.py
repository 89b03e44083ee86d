"""Metrics a worker exports itself: jobs run and inference time per analyzer and device.

Set ``EMOTIONHUB_WORKER_METRICS_PORT`` to serve them on that port from the worker's main
process (``/metrics``). Prefork pool processes write to prometheus-client's multiprocess
files (``PROMETHEUS_MULTIPROC_DIR``, a fresh temporary folder unless set: emotionhub.celery
sets it before anything imports prometheus_client), which the main process reads, so every
pool process is counted.
"""

from __future__ import annotations

import logging
import os

from celery.signals import worker_ready
from prometheus_client import Counter, Histogram

PORT_VARIABLE = "EMOTIONHUB_WORKER_METRICS_PORT"

log = logging.getLogger(__name__)
INFERENCE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

JOBS = Counter(
    "emotionhub_worker_jobs",
    "Jobs this worker ran, by analyzer and outcome (succeeded or the error code's kind).",
    ["analyzer", "outcome"],
)
INFERENCE = Histogram(
    "emotionhub_worker_inference_seconds",
    "Time the analyzer spent on one item, by analyzer and device.",
    ["analyzer", "device"],
    buckets=INFERENCE_BUCKETS,
)


def record(analyzer: str, device: str, succeeded: bool, seconds: float | None) -> None:
    JOBS.labels(analyzer, "succeeded" if succeeded else "failed").inc()
    if seconds is not None:
        INFERENCE.labels(analyzer, device).observe(seconds)


def serve_if_configured() -> int | None:
    """Start the exporter in this (the worker's main) process; returns the port."""
    port = int(os.environ.get(PORT_VARIABLE) or 0)
    if not port:
        return None
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    start_http_server(
        port, addr=os.environ.get("EMOTIONHUB_WORKER_METRICS_ADDR", "127.0.0.1"), registry=registry
    )
    log.info("worker metrics on port %s", port)
    return port


@worker_ready.connect
def _serve_when_ready(**_: object) -> None:
    try:
        serve_if_configured()
    except (OSError, ValueError):  # a taken port must not stop the worker from working
        log.exception("could not serve worker metrics on %s", os.environ.get(PORT_VARIABLE))
