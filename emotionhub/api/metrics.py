"""``GET /metrics`` for Prometheus: what the database knows about jobs, queues, ingestion and
webhooks, read at scrape time, so every web process answers the same.

Off unless ``EMOTIONHUB_METRICS_ENABLED``; with ``EMOTIONHUB_METRICS_TOKEN`` set, scrapers
send ``Authorization: Bearer <token>``. Worker-side counters (jobs run, inference time per
pool process) come from each worker's own exporter (``emotionhub.jobs.worker_metrics``).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from emotionhub.analyzers import registry as analyzer_registry
from emotionhub.jobs.models import AnalysisJob, AnalysisResult, JobStatus, Submission, WebhookStatus
from emotionhub.jobs.worker_metrics import INFERENCE_BUCKETS
from emotionhub.social.models import RunStatus, SourceRun

LATENCY_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)


def _queue_of(analyzer: str) -> str:
    try:
        return analyzer_registry.get_spec(analyzer).queue
    except Exception:  # not installed or not enabled here: its jobs wait all the same
        return "unknown"


def _histogram(name, documentation, labels, rows, buckets, value_of) -> HistogramMetricFamily:
    """rows: {label values: queryset of one group}; value_of(bound) -> Q for value <= bound."""
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for label_values, (queryset, total) in rows.items():
        counts = queryset.aggregate(
            **{f"le{i}": Count("pk", filter=value_of(b)) for i, b in enumerate(buckets)},
            n=Count("pk"),
        )
        cumulative = [(str(float(b)), counts[f"le{i}"]) for i, b in enumerate(buckets)]
        cumulative.append(("+Inf", counts["n"]))
        family.add_metric(list(label_values), cumulative, sum_value=total or 0.0)
    return family


class DatabaseCollector:
    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "emotionhub_jobs",
            "Analysis jobs by status and analyzer.",
            labels=["status", "analyzer"],
        )
        depth: dict[str, int] = {}
        for row in AnalysisJob.objects.values("status", "analyzer").annotate(n=Count("pk")):
            jobs.add_metric([row["status"], row["analyzer"]], row["n"])
            if row["status"] == JobStatus.QUEUED:
                queue = _queue_of(row["analyzer"])
                depth[queue] = depth.get(queue, 0) + row["n"]
        yield jobs
        queues = GaugeMetricFamily(
            "emotionhub_queue_depth", "Jobs waiting per queue (in the database).", labels=["queue"]
        )
        for queue in sorted(set(depth) | {"analysis_cpu", "analysis_gpu"}):
            queues.add_metric([queue], depth.get(queue, 0))
        yield queues

        latency = ExpressionWrapper(
            F("finished_at") - F("created_at"), output_field=DurationField()
        )
        finished = AnalysisJob.objects.filter(finished_at__isnull=False).annotate(latency=latency)
        rows = {}
        for analyzer in finished.values_list("analyzer", flat=True).distinct().order_by("analyzer"):
            group = finished.filter(analyzer=analyzer)
            total = group.aggregate(s=Sum(latency))["s"]
            rows[(analyzer,)] = (group, total.total_seconds() if total else 0.0)
        yield _histogram(
            "emotionhub_job_latency_seconds",
            "From submission to a final status, per analyzer.",
            ["analyzer"],
            rows,
            LATENCY_BUCKETS,
            lambda b: Q(latency__lte=dt.timedelta(seconds=b)),
        )

        per_device = {}
        results = AnalysisResult.objects.all()
        for analyzer, device in (
            results.values_list("analyzer", "device").distinct().order_by("analyzer", "device")
        ):
            stored = results.filter(analyzer=analyzer, device=device)
            seconds = (stored.aggregate(s=Sum("duration_ms"))["s"] or 0.0) / 1000
            per_device[(analyzer, device)] = (stored, seconds)
        yield _histogram(
            "emotionhub_inference_seconds",
            "Analyzer time per item, per analyzer and device (results stored).",
            ["analyzer", "device"],
            per_device,
            INFERENCE_BUCKETS,
            lambda b: Q(duration_ms__lte=b * 1000),
        )

        runs = GaugeMetricFamily(
            "emotionhub_ingestion_runs",
            "Social source runs by source kind and status.",
            labels=["kind", "status"],
        )
        errors = GaugeMetricFamily(
            "emotionhub_ingestion_errors",
            "Failed social source runs by source kind.",
            labels=["kind"],
        )
        failed: dict[str, int] = {}
        for row in SourceRun.objects.values("source__kind", "status").annotate(n=Count("pk")):
            runs.add_metric([row["source__kind"], row["status"]], row["n"])
            if row["status"] == RunStatus.FAILED:
                failed[row["source__kind"]] = failed.get(row["source__kind"], 0) + row["n"]
        for kind, n in sorted(failed.items()):
            errors.add_metric([kind], n)
        yield runs
        yield errors

        webhooks = GaugeMetricFamily(
            "emotionhub_webhook_delivery_failures",
            "Submissions whose webhook could not be delivered (attempts used up).",
        )
        webhooks.add_metric(
            [], Submission.objects.filter(webhook_status=WebhookStatus.FAILED).count()
        )
        yield webhooks


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.EMOTIONHUB_METRICS_ENABLED:
        raise Http404("Metrics are off (EMOTIONHUB_METRICS_ENABLED).")
    token = settings.EMOTIONHUB_METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.encode()):
            return HttpResponse(
                "metrics need Authorization: Bearer <token>\n",
                status=401,
                content_type="text/plain",
            )
    registry = CollectorRegistry()
    registry.register(DatabaseCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
