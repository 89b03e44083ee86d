"""The Celery application: queues, reliability settings and the beat schedule.

Postgres is the source of truth for job state; messages carry job ids only, so a lost or
duplicated message is repaired by the reconciler and the conditional claim.
"""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "emotionhub.settings.local")
if os.environ.get("EMOTIONHUB_WORKER_METRICS_PORT") and not os.environ.get(
    "PROMETHEUS_MULTIPROC_DIR"
):
    # A worker exporting metrics (emotionhub/jobs/worker_metrics.py): pool processes write
    # their counters to files here. Set before anything imports prometheus_client.
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="emotionhub-metrics-")

QUEUE_INGEST = "ingest"
QUEUE_ANALYSIS_CPU = "analysis_cpu"
QUEUE_ANALYSIS_GPU = "analysis_gpu"
QUEUE_DEFAULT = "default"
QUEUES = (QUEUE_DEFAULT, QUEUE_INGEST, QUEUE_ANALYSIS_CPU, QUEUE_ANALYSIS_GPU)

app = Celery("emotionhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_queues=[Queue(name) for name in QUEUES],
    task_default_queue=QUEUE_DEFAULT,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_ignore_result=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    # A Redis restart or outage of any length: keep reconnecting (the default gives up
    # after 100 tries and the worker exits). Jobs whose messages Redis lost are re-sent by
    # the reconciler, which runs once beat reconnects too.
    broker_connection_retry=True,
    broker_connection_max_retries=None,
    # Running jobs finish and record their outcome in PostgreSQL while the broker is away;
    # the message is only a carrier, so cancelling them would just waste an attempt.
    worker_cancel_long_running_tasks_on_connection_loss=False,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule_periodic_tasks(sender: Celery, **_: object) -> None:
    from django.conf import settings

    sender.add_periodic_task(
        settings.CELERY_BEAT_RECONCILE_SECONDS,
        sender.signature("emotionhub.jobs.tasks.reconcile_jobs", queue=QUEUE_DEFAULT),
        name="reconcile stuck jobs",
    )
    sender.add_periodic_task(
        settings.CELERY_BEAT_RECONCILE_SECONDS,
        sender.signature("emotionhub.social.tasks.resume_imports", queue=QUEUE_INGEST),
        name="resume imports whose worker died",
    )
