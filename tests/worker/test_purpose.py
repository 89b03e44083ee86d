"""The worker's purpose rule with real worker processes: face-emotion jobs queued before the
tenant's purpose became workplace are failed permanently, not retried; other jobs of the
same image run, and jobs of a tenant left undeclared are not failed (docs/responsible-use.md).
"""

from __future__ import annotations

import pytest

from emotionhub.accounts.models import AnalysisPurpose
from emotionhub.jobs.models import AnalysisJob, AnalysisResult, JobStatus, Submission
from tests.conftest import TenantClient, upload
from tests.responsible import ASTRONAUT
from tests.worker.conftest import wait_for

pytestmark = [pytest.mark.services, pytest.mark.workers]
FINISHED = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}


def submit_photo(client: TenantClient) -> dict:
    response = client.submit(
        files=[upload(ASTRONAUT.name, ASTRONAUT.read_bytes())], analyzers="facial_emotion,example"
    )
    assert response.status_code == 202, response.content
    return response.json()


def jobs_of(submission: dict) -> dict[str, AnalysisJob]:
    jobs = AnalysisJob.objects.filter(submission_id=submission["id"])
    return {job.analyzer: job for job in jobs}


def wait_finished(submission: dict, timeout: float = 180) -> dict[str, AnalysisJob]:
    def finished():
        jobs = jobs_of(submission)
        done = all(job.status in FINISHED for job in jobs.values())
        if done and Submission.objects.get(pk=submission["id"]).finished_at:
            return jobs
        return None

    return wait_for(finished, timeout, message=f"submission {submission['id']} to finish")


def set_purpose(client: TenantClient, purpose: str) -> None:
    client.tenant.purpose = purpose
    client.tenant.save(update_fields=["purpose"])


def test_face_job_queued_before_the_purpose_became_workplace_fails_without_retry(start_worker):
    # Both tenants were allowed when they submitted; no worker is running yet.
    acme = TenantClient("acme", purpose=AnalysisPurpose.CUSTOMER_FEEDBACK)
    legacy = TenantClient("legacy", purpose=AnalysisPurpose.CUSTOMER_FEEDBACK)
    refused = submit_photo(acme)
    kept = submit_photo(legacy)
    assert all(job.status == JobStatus.QUEUED for job in jobs_of(refused).values())
    set_purpose(acme, AnalysisPurpose.WORKPLACE)
    set_purpose(legacy, AnalysisPurpose.UNDECLARED)  # accepted before the rule: still runs

    start_worker("purpose", concurrency=1)
    jobs = wait_finished(refused)

    face = jobs["facial_emotion"]
    assert (face.status, face.error_code, face.quarantined) == (
        JobStatus.FAILED,
        "purpose_prohibited",
        False,
    )
    assert "Art. 5(1)(f)" in face.error_message
    assert face.attempts == 1 and face.next_attempt_at is None
    assert not AnalysisResult.objects.filter(job=face).exists()
    sibling = jobs["example"]
    assert sibling.status == JobStatus.SUCCEEDED and sibling.attempts == 1
    assert AnalysisResult.objects.filter(media_id=sibling.media_id).count() == 1
    assert AnalysisResult.objects.get(media_id=sibling.media_id).analyzer == "example"
    body = acme.client.get(f"/api/v1/submissions/{refused['id']}").json()
    assert body["status"] == "partial"

    legacy_jobs = wait_finished(kept)
    assert {name: job.status for name, job in legacy_jobs.items()} == {
        "facial_emotion": JobStatus.SUCCEEDED,
        "example": JobStatus.SUCCEEDED,
    }
    face_result = AnalysisResult.objects.get(job=legacy_jobs["facial_emotion"])
    assert face_result.payload["face_count"] >= 1

    # Still failed once the worker has had time to pick up any retry: one attempt only.
    face.refresh_from_db()
    assert (face.status, face.attempts) == (JobStatus.FAILED, 1)
