"""``GET /api/v1/health``: database, broker and worker status, for probes and people."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Min, Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from emotionhub.celery import app as celery_app
from emotionhub.jobs.models import AnalysisJob, JobStatus, WorkerHeartbeat


def database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def broker_status() -> dict:
    transport = settings.CELERY_BROKER_URL.split("://", 1)[0]
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "transport": transport}
    except Exception as exc:
        return {"ok": False, "transport": transport, "error": f"{type(exc).__name__}: {exc}"}


def oldest_waiting_job_since(now):
    """When the longest-waiting due job was queued (None when nothing waits)."""
    return (
        AnalysisJob.objects.filter(status=JobStatus.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .aggregate(oldest=Min("enqueued_at"))["oldest"]
    )


def _is_stalled(worker: WorkerHeartbeat, waiting_since, now) -> bool:
    """Alive (it beats) but taking no work while jobs wait: a wedged task process.

    A worker that started no task within ``EMOTIONHUB_WORKER_STALL_SECONDS`` while a job
    has waited that long, and runs nothing with a live lease, is stalled; a healthy one
    takes at least the reconciler's task every ``CELERY_BEAT_RECONCILE_SECONDS``.
    """
    threshold = now - timedelta(seconds=settings.EMOTIONHUB_WORKER_STALL_SECONDS)
    if waiting_since is None or waiting_since > threshold:
        return False
    last_taken = max(filter(None, [worker.last_task_at, worker.started_at]))
    if last_taken > threshold:
        return False
    busy = AnalysisJob.objects.filter(
        status=JobStatus.RUNNING, worker=worker.hostname, lease_expires_at__gt=now
    )
    return not busy.exists()


def worker_status() -> dict:
    now = timezone.now()
    window = timedelta(seconds=3 * settings.EMOTIONHUB_WORKER_HEARTBEAT_SECONDS)
    try:
        alive = WorkerHeartbeat.objects.filter(last_seen_at__gte=now - window)
        waiting_since = oldest_waiting_job_since(now)
        workers = [
            {
                "hostname": w.hostname,
                "queues": w.queues,
                "cuda_available": w.cuda_available,
                "last_seen_at": w.last_seen_at.isoformat(),
                "last_task_at": w.last_task_at.isoformat() if w.last_task_at else None,
                "stalled": _is_stalled(w, waiting_since, now),
            }
            for w in alive.order_by("hostname")
        ]
    except Exception as exc:
        return {"ok": False, "count": 0, "workers": [], "error": str(exc)}
    working = [w for w in workers if not w["stalled"]]
    return {
        "ok": bool(working),
        "count": len(workers),
        "stalled": len(workers) - len(working),
        "oldest_waiting_job_since": waiting_since.isoformat() if waiting_since else None,
        "workers": workers,
    }


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.ChoiceField(choices=["ok", "degraded", "down"]),
                    "database": serializers.DictField(),
                    "broker": serializers.DictField(),
                    "workers": serializers.DictField(),
                },
            )
        }
    )
    def get(self, request):
        database, broker = database_status(), broker_status()
        workers = worker_status() if database["ok"] else {"ok": False, "count": 0, "workers": []}
        if not (database["ok"] and broker["ok"]):
            overall = "down"
        else:
            overall = "ok" if workers["ok"] else "degraded"
        body = {"status": overall, "database": database, "broker": broker, "workers": workers}
        return Response(body, status=503 if overall == "down" else 200)
