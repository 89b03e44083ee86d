"""Faults with real worker processes: SIGKILL mid-job, duplicate delivery, failing plugins."""

from __future__ import annotations

import json
import os
import signal

import pytest

from emotionhub.jobs.models import AnalysisJob, AnalysisResult, JobStatus
from emotionhub.jobs.tasks import run_jobs
from tests.conftest import TenantClient, png_bytes, upload
from tests.worker.conftest import wait_for

pytestmark = [pytest.mark.services, pytest.mark.workers]


def job_of(submission: dict, analyzer: str) -> AnalysisJob:
    media_ids = [item["id"] for item in submission["items"]]
    return AnalysisJob.objects.get(media_id__in=media_ids, analyzer=analyzer)


def wait_job(job: AnalysisJob, statuses, timeout: float = 60) -> AnalysisJob:
    def reached():
        job.refresh_from_db()
        return job if job.status in statuses else None

    return wait_for(reached, timeout, message=f"job {job.analyzer} to reach {statuses}")


@pytest.mark.parametrize("victim", ["whole worker", "pool child"])
def test_worker_killed_mid_job_still_finishes_with_one_result(start_worker, victim):
    first = start_worker("doomed")
    alice = TenantClient("alice")
    submission = alice.submit(
        texts=["slow one"], analyzers="slow", analyzer_settings='{"slow": {"seconds": 3}}'
    ).json()
    job = job_of(submission, "slow")
    wait_job(job, {JobStatus.RUNNING}, timeout=30)
    if victim == "whole worker":
        first.kill()
    else:
        for pid in first.pool_children():
            os.kill(pid, signal.SIGKILL)
    start_worker("rescuer")
    job = wait_job(job, {JobStatus.SUCCEEDED, JobStatus.FAILED}, timeout=60)
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 2
    assert AnalysisResult.objects.filter(media_id=job.media_id).count() == 1
    assert AnalysisResult.objects.get(media_id=job.media_id).payload == {"attempt": 2}


def test_same_message_delivered_twice_runs_once(start_worker):
    start_worker("pair", concurrency=2)
    alice = TenantClient("alice")
    submission = alice.submit(
        texts=["dup"], analyzers="slow", analyzer_settings='{"slow": {"seconds": 1.5}}'
    ).json()
    job = job_of(submission, "slow")
    # The API already sent one message; send the same ids twice more.
    run_jobs.apply_async(args=[[str(job.pk)]], queue="analysis_cpu")
    run_jobs.apply_async(args=[[str(job.pk)]], queue="analysis_cpu")
    job = wait_job(job, {JobStatus.SUCCEEDED})
    assert job.attempts == 1
    assert AnalysisResult.objects.filter(media_id=job.media_id).count() == 1


def test_permanent_transient_and_crashing_plugins(start_worker):
    start_worker("faults", concurrency=2)
    alice = TenantClient("alice")
    submission = alice.submit(
        files=[upload("a.png", png_bytes())],
        analyzers="example,flaky,broken,crasher",
        analyzer_settings='{"flaky": {"fail_times": 2}}',
    ).json()
    jobs = {name: job_of(submission, name) for name in ["example", "flaky", "broken", "crasher"]}
    for job in jobs.values():
        wait_job(job, {JobStatus.SUCCEEDED, JobStatus.FAILED})

    example, flaky, broken, crasher = (jobs[n] for n in ["example", "flaky", "broken", "crasher"])
    assert (example.status, example.attempts) == (JobStatus.SUCCEEDED, 1)

    assert (flaky.status, flaky.attempts, flaky.quarantined) == (JobStatus.SUCCEEDED, 3, False)
    assert flaky.error_code == "" and flaky.results.get().payload == {"attempt": 3}

    assert (broken.status, broken.attempts, broken.quarantined) == (JobStatus.FAILED, 1, False)
    assert broken.error_code == "unsupported_content"
    assert broken.error_message == "this input can never be analysed"

    assert (crasher.status, crasher.attempts, crasher.quarantined) == (JobStatus.FAILED, 3, True)
    assert crasher.error_code == "analyzer_crashed"
    assert "ZeroDivisionError: plugin bug: division by zero" in crasher.error_message
    assert "gave up after 3 attempts" in crasher.error_message

    body = alice.client.get(f"/api/v1/submissions/{submission['id']}").json()
    assert body["status"] == "partial"
    assert body["job_counts"] == {"succeeded": 2, "failed": 2}
    assert AnalysisResult.objects.count() == 2
    api_job = alice.client.get(f"/api/v1/jobs/{crasher.pk}").json()
    assert api_job["error"]["code"] == "analyzer_crashed" and api_job["quarantined"]


def test_plugin_that_kills_its_process_is_quarantined_and_others_finish(start_worker):
    start_worker("fragile", concurrency=1)
    alice = TenantClient("alice")
    doomed = alice.submit(
        texts=["boom"], analyzers="crasher", analyzer_settings='{"crasher": {"hard": true}}'
    ).json()
    fine = alice.submit(texts=["calm"], analyzers="text_length").json()
    crashed = wait_job(job_of(doomed, "crasher"), {JobStatus.FAILED}, timeout=90)
    assert crashed.attempts == 3 and crashed.quarantined
    assert crashed.error_code == "worker_lost"
    other = wait_job(job_of(fine, "text_length"), {JobStatus.SUCCEEDED}, timeout=30)
    assert other.results.get().payload == {"characters": 4}


def test_lost_broker_message_is_recovered_by_the_reconciler(start_worker, clean_broker):
    alice = TenantClient("alice")
    submission = alice.submit(texts=["lost"], analyzers="text_length").json()
    clean_broker.flushdb()  # the message is gone, as if Redis lost it
    job = job_of(submission, "text_length")
    assert job.status == JobStatus.QUEUED
    start_worker("recoverer")
    job = wait_job(job, {JobStatus.SUCCEEDED}, timeout=60)
    assert job.attempts == 1 and job.results.count() == 1


def test_failing_webhook_is_retried_then_marked_failed(start_worker, webhook_receiver):
    receiver = webhook_receiver(status=500)
    start_worker("hooks")
    alice = TenantClient("alice")
    submission = alice.submit(texts=["x"], analyzers="text_length", webhook_url=receiver.url).json()

    def webhook_state():
        body = alice.client.get(f"/api/v1/submissions/{submission['id']}").json()
        return body["webhook"] if body["webhook"]["status"] == "failed" else None

    state = wait_for(webhook_state, 60, message="webhook to be marked failed")
    assert state["attempts"] == 2 and state["last_error"] == "HTTP 500"
    assert len(receiver.received) == 2


def test_quarantined_job_is_listed_in_the_admin_and_its_rerun_runs(start_worker, tmp_path):
    """The poison-message path end to end for an operator: a job that failed on every
    attempt shows under the admin's quarantine filter, and "Re-run" (once the cause is
    fixed) queues it again with fresh attempts, after which it succeeds once."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    start_worker("operator")
    alice = TenantClient("alice")
    marker = tmp_path / "upstream-is-back"
    submission = alice.submit(
        texts=["needs upstream"],
        analyzers="flaky,text_length",
        analyzer_settings=json.dumps({"flaky": {"fail_while_missing": str(marker)}}),
    ).json()
    flaky = wait_job(job_of(submission, "flaky"), {JobStatus.FAILED}, timeout=60)
    assert (flaky.attempts, flaky.quarantined) == (3, True)
    assert flaky.error_code == "upstream_unavailable"
    healthy = wait_job(job_of(submission, "text_length"), {JobStatus.SUCCEEDED}, timeout=30)

    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw"))
    changelist = "/admin/jobs/analysisjob/"
    listed = admin.get(changelist, {"quarantined__exact": "1", "status__exact": "failed"})
    assert listed.status_code == 200
    assert str(flaky.pk) in listed.content.decode()
    assert str(healthy.pk) not in listed.content.decode()
    assert str(flaky.pk) not in admin.get(changelist, {"quarantined__exact": "0"}).content.decode()

    marker.write_text("fixed")
    response = admin.post(changelist, {"action": "rerun", "_selected_action": [str(flaky.pk)]})
    assert response.status_code == 302
    flaky.refresh_from_db()
    assert flaky.quarantined is False and flaky.error_code == ""
    assert alice.client.get(f"/api/v1/submissions/{submission['id']}").json()["finished_at"] is None

    flaky = wait_job(flaky, {JobStatus.SUCCEEDED, JobStatus.FAILED}, timeout=60)
    assert (flaky.status, flaky.attempts) == (JobStatus.SUCCEEDED, 1)
    assert AnalysisResult.objects.filter(job=flaky).count() == 1
    body = alice.client.get(f"/api/v1/submissions/{submission['id']}").json()
    assert body["status"] == "succeeded" and body["finished_at"] is not None
