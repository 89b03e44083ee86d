"""A re-run submission finishes again and gets a fresh webhook delivery budget."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from emotionhub.jobs import executor
from emotionhub.jobs.models import AnalysisJob, JobStatus, Submission, WebhookStatus
from tests.conftest import png_bytes, upload

pytestmark = pytest.mark.django_db(transaction=True)


def test_rerun_reopens_the_submission_and_resets_its_webhook_attempts(alice):
    response = alice.submit(
        files=[upload("x.png", png_bytes())],
        analyzers="example",
        webhook_url="http://127.0.0.1:9/hook",
    )
    assert response.status_code == 202, response.content
    submission = Submission.objects.get()
    job = AnalysisJob.objects.get()
    executor.execute_jobs([str(job.pk)], worker="test-worker")
    submission.refresh_from_db()
    assert submission.finished_at is not None
    # As if every delivery of the first finish had failed.
    Submission.objects.filter(pk=submission.pk).update(
        webhook_status=WebhookStatus.FAILED, webhook_attempts=5, webhook_last_error="refused"
    )

    operator = Client()
    operator.force_login(User.objects.create_superuser("operator", password="pw"))
    changelist = "/admin/jobs/analysisjob/"
    operator.post(changelist, {"action": "rerun", "_selected_action": [str(job.pk)]})
    job.refresh_from_db()
    submission.refresh_from_db()
    assert job.status == JobStatus.QUEUED and submission.finished_at is None

    executor.execute_jobs([str(job.pk)], worker="test-worker")
    submission.refresh_from_db()
    assert submission.finished_at is not None
    assert (submission.webhook_status, submission.webhook_attempts) == (WebhookStatus.PENDING, 0)
    assert submission.webhook_last_error == ""
