"""A running job's partial result (a video's timeline so far) is stored by the worker's
reporter, shown on GET /jobs/{id} and the submission while the job runs, and cleared when
the result is stored or the job is claimed again."""

from __future__ import annotations

from emotionhub.analyzers.contract import Result
from emotionhub.jobs import executor, lifecycle
from emotionhub.jobs.models import AnalysisJob
from tests.conftest import png_bytes, upload

PARTIAL = {
    "seconds_done": 2,
    "frames_analyzed": 4,
    "timeline": [
        {"second": 0, "face_count": 1, "emotions": None, "label": None},
        {"second": 1, "face_count": 0, "emotions": None, "label": None},
    ],
}


def test_partial_result_while_running_then_cleared(alice):
    body = alice.submit(files=[upload("a.png", png_bytes())], analyzers="example").json()
    job = AnalysisJob.objects.get(media_id=body["items"][0]["id"])
    job = lifecycle.claim(job.pk, "worker-a")
    report = executor._partial_reporter(job)
    report(PARTIAL)
    report({**PARTIAL, "seconds_done": 3})  # within the write interval: not written
    shown = alice.client.get(f"/api/v1/jobs/{job.pk}").json()
    assert shown["status"] == "running" and shown["partial"] == PARTIAL
    submission = alice.client.get(f"/api/v1/submissions/{body['id']}").json()
    assert submission["items"][0]["jobs"][0]["partial"] == PARTIAL

    lifecycle.record_success(
        job,
        Result({"width": 64, "height": 48, "mean_brightness": 1.0}),
        model_version="stats-1",
        weights_sha256="",
        device="cpu",
        duration_ms=1.0,
    )
    job.refresh_from_db()
    assert job.partial_result is None
    assert alice.client.get(f"/api/v1/jobs/{job.pk}").json()["partial"] is None


def test_a_new_attempt_starts_without_the_old_partial(alice):
    body = alice.submit(files=[upload("a.png", png_bytes())], analyzers="example").json()
    job = AnalysisJob.objects.get(media_id=body["items"][0]["id"])
    job = lifecycle.claim(job.pk, "worker-a")
    executor._partial_reporter(job)(PARTIAL)
    # The worker died: its lease ran out and another worker takes the job.
    AnalysisJob.objects.filter(pk=job.pk).update(lease_expires_at="2000-01-01T00:00:00Z")
    again = lifecycle.claim(job.pk, "worker-b")
    assert again.attempts == 2 and again.partial_result is None
    # The first attempt's late report does not overwrite the new attempt's state.
    lifecycle.report_partial(job, PARTIAL)
    again.refresh_from_db()
    assert again.partial_result is None


def test_other_tenants_do_not_see_it(alice, bob):
    body = alice.submit(files=[upload("a.png", png_bytes())], analyzers="example").json()
    job = lifecycle.claim(AnalysisJob.objects.get(media_id=body["items"][0]["id"]).pk, "w")
    executor._partial_reporter(job)(PARTIAL)
    assert bob.client.get(f"/api/v1/jobs/{job.pk}").status_code == 404
