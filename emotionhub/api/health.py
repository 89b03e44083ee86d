"""``GET /api/v1/health``: database, broker and worker status, for probes and people."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from emotionhub.celery import app as celery_app
from emotionhub.jobs.models import WorkerHeartbeat


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


def worker_status() -> dict:
    window = timedelta(seconds=3 * settings.EMOTIONHUB_WORKER_HEARTBEAT_SECONDS)
    try:
        alive = WorkerHeartbeat.objects.filter(last_seen_at__gte=timezone.now() - window)
        workers = [
            {
                "hostname": w.hostname,
                "queues": w.queues,
                "cuda_available": w.cuda_available,
                "last_seen_at": w.last_seen_at.isoformat(),
            }
            for w in alive.order_by("hostname")
        ]
    except Exception as exc:
        return {"ok": False, "count": 0, "workers": [], "error": str(exc)}
    return {"ok": bool(workers), "count": len(workers), "workers": workers}


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
