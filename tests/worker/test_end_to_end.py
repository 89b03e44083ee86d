"""Upload → real worker process → result visible through the API, on PostgreSQL + Redis."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading

import pytest
import requests

from emotionhub.jobs.models import AnalysisJob, AnalysisResult, JobStatus
from tests.conftest import TenantClient, png_bytes
from tests.worker.conftest import wait_for

pytestmark = [pytest.mark.services, pytest.mark.workers]


def wait_submission_finished(client: TenantClient, submission_id: str, timeout: float = 60):
    def finished():
        body = client.client.get(f"/api/v1/submissions/{submission_id}").json()
        return body if body["finished_at"] else None

    return wait_for(finished, timeout, message=f"submission {submission_id} to finish")


def test_upload_to_result_through_a_real_worker(live_server, start_worker):
    start_worker("e2e", concurrency=2)
    alice = TenantClient("alice")
    response = requests.post(
        f"{live_server.url}/api/v1/submissions",
        headers={"Authorization": f"Api-Key {alice.raw_key}"},
        files=[("file", ("face.png", png_bytes(size=(40, 30), color=(10, 20, 30)), "image/png"))],
        data={"text": "three little words", "analyzers": "example,text_length"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    body = wait_submission_finished(alice, response.json()["id"])
    assert body["status"] == "succeeded" and body["progress"] == 1.0
    by_kind = {item["kind"]: item for item in body["items"]}
    (image_result,) = by_kind["image"]["results"]
    assert image_result["payload"] == {"width": 40, "height": 30, "mean_brightness": 18.0}
    assert image_result["model_version"] == "stats-1" and image_result["device"] == "cpu"
    text_results = {r["analyzer"]: r["payload"] for r in by_kind["text"]["results"]}
    assert text_results == {"example": {"words": 3}, "text_length": {"characters": 18}}
    jobs = alice.client.get("/api/v1/jobs", {"status": "succeeded"}).json()
    assert jobs["count"] == 3 and all(job["attempts"] == 1 for job in jobs["results"])
    assert alice.client.get("/api/v1/results").json()["count"] == 3


def test_health_reports_database_broker_and_worker(client, start_worker):
    down = client.get("/api/v1/health").json()
    assert down["database"]["ok"] and down["broker"]["ok"]
    assert down["workers"]["count"] == 0 and down["status"] == "degraded"
    start_worker("healthy")
    up = client.get("/api/v1/health").json()
    assert up["status"] == "ok" and up["workers"]["count"] == 1
    assert up["database"]["vendor"] == "postgresql" and up["broker"]["transport"] == "redis"


def test_webhook_is_signed_and_sent_when_the_submission_finishes(start_worker, webhook_receiver):
    receiver = webhook_receiver(status=204)
    start_worker("hooks")
    alice = TenantClient("alice")
    submitted = alice.submit(
        texts=["hi there"], analyzers="text_length,broken", webhook_url=receiver.url
    ).json()
    wait_for(lambda: receiver.received, 60, message="webhook delivery")
    headers, body = receiver.received[0]
    signed = headers["X-EmotionHub-Timestamp"].encode() + b"." + body
    expected = hmac.new(alice.tenant.webhook_secret.encode(), signed, hashlib.sha256)
    assert headers["X-EmotionHub-Signature"] == "sha256=" + expected.hexdigest()
    payload = json.loads(body)
    assert payload["event"] == "submission.finished"
    assert payload["submission"]["id"] == submitted["id"]
    assert payload["submission"]["status"] == "partial"
    final = wait_submission_finished(alice, submitted["id"])
    wait_for(
        lambda: (
            alice.client.get(f"/api/v1/submissions/{submitted['id']}").json()["webhook"]["status"]
            == "delivered"
        ),
        10,
        message="webhook marked delivered",
    )
    assert final["job_counts"] == {"succeeded": 1, "failed": 1}
    assert len(receiver.received) == 1


def test_parallel_requests_with_one_idempotency_key_create_one_submission(live_server, db):
    alice = TenantClient("alice")
    results: list = []

    def post():
        response = requests.post(
            f"{live_server.url}/api/v1/submissions",
            headers={"Authorization": f"Api-Key {alice.raw_key}", "Idempotency-Key": "k-1"},
            data={"text": "same words", "analyzers": "text_length"},
            timeout=30,
        )
        results.append((response.status_code, response.json()["id"]))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(status for status, _ in results)
    assert statuses.count(202) == 1 and statuses.count(200) == 7, results
    assert len({submission_id for _, submission_id in results}) == 1
    assert AnalysisJob.objects.count() == 1
    assert AnalysisJob.objects.get().status == JobStatus.QUEUED
    assert AnalysisResult.objects.count() == 0


def test_photo_to_facial_emotions_through_a_real_worker(start_worker):
    """The flagship path: a real photo, the facial-emotion plugin in a worker process."""
    from pathlib import Path

    from django.core.files.uploadedfile import SimpleUploadedFile

    photo = Path(__file__).resolve().parents[2] / "docs" / "examples" / "astronaut.jpg"
    start_worker("faces")
    alice = TenantClient("alice")
    submitted = alice.submit(
        files=[SimpleUploadedFile("astronaut.jpg", photo.read_bytes())],
        analyzers="facial_emotion",
    ).json()
    body = wait_submission_finished(alice, submitted["id"], timeout=120)
    assert body["status"] == "succeeded", body
    (result,) = body["items"][0]["results"]
    assert result["payload"]["face_count"] == 1
    assert result["payload"]["faces"][0]["label"] == "happy"
    assert result["device"] == "cpu" and len(result["weights_sha256"]) == 64


def test_posts_to_text_sentiment_through_a_real_worker(start_worker):
    """Posts of one submission are scored as one batch by the transformers model in a
    worker process; an empty post fails alone with a clear code, the others succeed."""
    start_worker("texts")
    alice = TenantClient("alice")
    submitted = alice.submit(
        texts=[
            "Absolutely love the new store layout 😍 #happy",
            "Third time my order arrived broken. Never again @user",
            "Je déteste ce téléphone, il est vraiment nul et très lent",
        ],
        analyzers="text_sentiment",
    )
    assert submitted.status_code == 202, submitted.content
    body = wait_submission_finished(alice, submitted.json()["id"], timeout=120)
    assert body["status"] == "succeeded", body
    payloads = [item["results"][0]["payload"] for item in body["items"]]
    assert [p["label"] for p in payloads] == ["positive", "negative", None]
    assert payloads[2]["language"]["code"] == "fr" and not payloads[2]["scored"]
    results = AnalysisResult.objects.filter(analyzer="text_sentiment")
    assert results.count() == 3 and set(results.values_list("batch_size", flat=True)) == {3}


def test_photo_with_caption_to_fused_image_sentiment_through_a_real_worker(start_worker):
    """image_sentiment in a worker: a smiling face and a negative caption are fused into one
    score, each component's contribution is reported and the disagreement is flagged."""
    import shutil
    from pathlib import Path

    from django.core.files.uploadedfile import SimpleUploadedFile

    if not shutil.which("tesseract"):
        pytest.skip("tesseract-ocr is not installed (scripts/test.sh installs it)")
    photo = Path(__file__).resolve().parents[2] / "tests" / "data" / "photos" / "obama.jpg"
    start_worker("fusion")
    alice = TenantClient("alice")
    submitted = alice.submit(
        files=[SimpleUploadedFile("obama.jpg", photo.read_bytes())],
        caption="Worst event ever, terrible organisation and rude staff",
        analyzers="image_sentiment",
    )
    assert submitted.status_code == 202, submitted.content
    body = wait_submission_finished(alice, submitted.json()["id"], timeout=180)
    assert body["status"] == "succeeded", body
    (result,) = body["items"][0]["results"]
    payload = result["payload"]
    components = {c["name"]: c for c in payload["components"]}
    assert components["faces"]["label"] == "positive"
    assert components["caption"]["label"] == "negative"
    assert payload["disagreement"] is True
    total = sum(c["contribution"] for c in payload["components"] if c["scored"])
    assert total == pytest.approx(payload["score"], abs=1e-3)


def test_worker_micro_batches_jobs_from_several_submissions(start_worker):
    """Jobs of separate submissions that wait in the queue run as one analyzer batch, and
    the messages that arrive later for the already-taken jobs change nothing."""
    from pathlib import Path

    from django.core.files.uploadedfile import SimpleUploadedFile

    photos = sorted(
        (Path(__file__).resolve().parents[2] / "tests" / "data" / "photos").glob("*.jpg")
    )
    alice = TenantClient("alice")
    submission_ids = [
        alice.submit(
            files=[SimpleUploadedFile(photo.name, photo.read_bytes())],
            analyzers="facial_emotion",
        ).json()["id"]
        for photo in photos[:4]
    ]
    start_worker("batcher")  # one process: the first message finds the other jobs queued
    for submission_id in submission_ids:
        body = wait_submission_finished(alice, submission_id, timeout=120)
        assert body["status"] == "succeeded", body
        (result,) = body["items"][0]["results"]
        assert result["payload"]["face_count"] == 1
    results = AnalysisResult.objects.filter(analyzer="facial_emotion")
    assert results.count() == 4
    assert max(results.values_list("batch_size", flat=True)) >= 2
    assert sorted(AnalysisJob.objects.values_list("attempts", flat=True)) == [1, 1, 1, 1]


def submit_video(tmp_path) -> tuple[TenantClient, dict]:
    """A 12 s clip (a face for 6 s, then none) submitted to facial_emotion, sampled every
    0.25 s: the tenant's client and the submission's JSON."""
    pytest.importorskip("cv2")
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ml.tests.videos import photo, write_video

    clip = write_video(
        tmp_path / "clip.mp4", [(photo("obama.jpg"), 6.0), (photo("coffee.jpg"), 6.0)], fps=10
    )
    alice = TenantClient("alice")
    submitted = alice.submit(
        files=[SimpleUploadedFile("clip.mp4", clip.read_bytes())],
        analyzers="facial_emotion",
        analyzer_settings=json.dumps({"facial_emotion": {"sample_every_s": 0.25}}),
    ).json()
    return alice, submitted


def test_video_timeline_with_progress_through_a_real_worker(start_worker, tmp_path):
    """A video job reports progress while it runs and ends with a per-second timeline."""
    alice, submitted = submit_video(tmp_path)
    job_id = submitted["items"][0]["jobs"][0]["id"]
    start_worker("video")
    seen: list[float] = []

    def progress_seen():
        job = alice.client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] == "running":
            seen.append(job["progress"])
        return job["status"] in {"succeeded", "failed"} or None

    wait_for(progress_seen, timeout=120, interval=0.05, message="video job finished")
    assert any(0 < p < 1 for p in seen), seen
    body = wait_submission_finished(alice, submitted["id"], timeout=30)
    assert body["status"] == "succeeded", body
    (result,) = body["items"][0]["results"]
    payload = result["payload"]
    assert payload["video"]["frames_analyzed"] == 48 and payload["face_count"] == 1
    counts = [row["face_count"] for row in payload["timeline"]]
    assert counts == [1] * 6 + [0] * 6
    assert payload["tracks"][0]["label"] == "happy"


def test_a_running_video_job_shows_its_timeline_growing(start_worker, tmp_path):
    """A client polling a running video job through the API reads a partial timeline that
    grows and agrees with the final one (whole seconds done so far)."""
    alice, submitted = submit_video(tmp_path)
    job_id = submitted["items"][0]["jobs"][0]["id"]
    start_worker("video")
    partials: list[dict] = []

    def poll():
        job = alice.client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] == "running" and job["partial"]:
            partials.append(job["partial"])
        return job if job["status"] in {"succeeded", "failed"} else None

    job = wait_for(poll, timeout=120, interval=0.05, message="video job finished")
    assert job["status"] == "succeeded" and job["partial"] is None
    assert partials, "no partial timeline was seen while the job ran"
    final = AnalysisResult.objects.get(job_id=job_id).payload["timeline"]
    done = [p["seconds_done"] for p in partials]
    assert done == sorted(done) and 0 < done[0] < 12
    for partial in partials:
        assert [r["second"] for r in partial["timeline"]] == list(range(partial["seconds_done"]))
        assert partial["timeline"] == final[: partial["seconds_done"]]
    assert AnalysisJob.objects.get(pk=job_id).partial_result is None
