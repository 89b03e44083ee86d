"""Celery tasks. They take ids only and never raise for an analyzer's failure: retries
are scheduled by :mod:`emotionhub.jobs.lifecycle`, so the job row always says what
happened."""

from __future__ import annotations

import logging
import socket

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from emotionhub.jobs import lifecycle, reconciler, webhooks
from emotionhub.jobs.documents import submission_document
from emotionhub.jobs.executor import execute_jobs
from emotionhub.jobs.models import Submission, WebhookStatus

log = logging.getLogger(__name__)


@shared_task(name="emotionhub.jobs.tasks.run_jobs", bind=True)
def run_jobs(self, job_ids: list[str]) -> None:
    worker = self.request.hostname or socket.gethostname()
    execute_jobs(job_ids, worker=worker)


@shared_task(name="emotionhub.jobs.tasks.reconcile_jobs")
def reconcile_jobs() -> dict[str, int]:
    return reconciler.reconcile()


@shared_task(name="emotionhub.jobs.tasks.deliver_webhook", bind=True)
def deliver_webhook(self, submission_id: str) -> str:
    with transaction.atomic():
        submission = (
            Submission.objects.select_for_update()
            .select_related("tenant")
            .filter(pk=submission_id, webhook_status=WebhookStatus.PENDING)
            .first()
        )
        if submission is None:
            return "not pending"
        submission.webhook_attempts += 1
        submission.save(update_fields=["webhook_attempts"])
    payload = {
        "event": "submission.finished",
        "sent_at": timezone.now().isoformat(),
        "submission": submission_document(submission),
    }
    try:
        response = webhooks.post(
            submission.webhook_url,
            submission.tenant.webhook_secret,
            "submission.finished",
            payload,
        )
        error = "" if 200 <= response.status < 300 else f"HTTP {response.status}"
    except webhooks.FetchError as exc:
        error = f"{exc.code}: {exc.message}"
    if not error:
        Submission.objects.filter(pk=submission_id).update(
            webhook_status=WebhookStatus.DELIVERED, webhook_last_error=""
        )
        return "delivered"
    attempts = submission.webhook_attempts
    if attempts >= settings.EMOTIONHUB_WEBHOOK_MAX_ATTEMPTS:
        Submission.objects.filter(pk=submission_id).update(
            webhook_status=WebhookStatus.FAILED, webhook_last_error=error[:2000]
        )
        return "failed"
    Submission.objects.filter(pk=submission_id).update(webhook_last_error=error[:2000])
    self.apply_async(args=[submission_id], countdown=lifecycle.retry_delay(attempts))
    return "retrying"
