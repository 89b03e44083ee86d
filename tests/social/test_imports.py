"""Bulk import of customer feedback: upload, validation before writing, rows to posts with
jobs, skipped rows with reasons, resume without duplicates, cancel."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from emotionhub.core.errors import DomainError
from emotionhub.jobs.models import AnalysisJob
from emotionhub.social import imports
from emotionhub.social.models import FeedbackImport, ImportStatus, Post, Source
from tests.social.conftest import Reply, jpeg_bytes, make_source

pytestmark = pytest.mark.django_db

MAPPING = {
    "text": "comment",
    "time": "submitted_at",
    "author": "respondent",
    "rating": "nps",
    "external_id": "response_id",
    "channel": "survey",
}


def survey_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, ["response_id", "submitted_at", "respondent", "nps", "survey", "comment"]
    )
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


ROWS = [
    {"response_id": "R1", "submitted_at": "2026-11-01T09:00:00Z", "respondent": "a",
     "nps": "9", "survey": "nps-q4", "comment": "Love the new app"},
    {"response_id": "R2", "submitted_at": "2026-11-01T09:05:00Z", "respondent": "b",
     "nps": "2", "survey": "nps-q4", "comment": ""},
    {"response_id": "R3", "submitted_at": "yesterday", "respondent": "c",
     "nps": "5", "survey": "nps-q4", "comment": "Okay I guess"},
    {"response_id": "R4", "submitted_at": "1793523600", "respondent": "d",
     "nps": "ten", "survey": "nps-q4", "comment": "Support was slow"},
    {"response_id": "R1", "submitted_at": "2026-11-01T09:00:00Z", "respondent": "a",
     "nps": "9", "survey": "nps-q4", "comment": "Love the new app (resent)"},
    {"response_id": "R5", "submitted_at": "1793523600", "respondent": "e",
     "nps": "0", "survey": "app-store", "comment": "Crashes on \\u0000 login\x00"},
]  # fmt: skip


@pytest.fixture
def source(alice):
    return make_source(alice.tenant, "import", {}, analyzers=["text_length"])


def upload(client, body: bytes, name="survey.csv", mapping=None, **fields):
    return client.post(
        "/api/v1/imports",
        {
            "file": SimpleUploadedFile(name, body, content_type="text/csv"),
            "mapping": json.dumps(MAPPING if mapping is None else mapping),
            **fields,
        },
        format="multipart",
    )


def test_a_csv_becomes_posts_with_jobs_and_skipped_rows_have_reasons(alice, source):
    response = upload(alice.client, survey_csv(ROWS), source=str(source.pk))
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["source"] == str(source.pk)
    assert imports.process_import(body["id"]) == ImportStatus.SUCCEEDED

    done = alice.client.get(f"/api/v1/imports/{body['id']}").json()
    assert (done["rows_read"], done["rows_created"], done["rows_skipped"]) == (6, 2, 4)
    posts = {p.external_id: p for p in Post.objects.filter(source=source)}
    assert sorted(posts) == ["R1", "R5"]
    first = posts["R1"]
    assert first.text == "Love the new app" and first.author == "a"
    assert first.posted_at.isoformat() == "2026-11-01T09:00:00+00:00"
    assert first.attributes == {"row": 1, "rating": 9.0, "channel": "nps-q4"}
    assert "\x00" not in posts["R5"].text
    jobs = AnalysisJob.objects.filter(submission__post__source=source)
    assert jobs.count() == len(posts) and {j.analyzer for j in jobs} == {"text_length"}

    skipped = alice.client.get(f"/api/v1/imports/{body['id']}/skipped.csv")
    assert skipped.status_code == 200 and skipped["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(b"".join(skipped.streaming_content).decode())))
    assert table[0] == ["row", "code", "message"]
    assert [(r[0], r[1]) for r in table[1:]] == [
        ("2", "empty_text"),
        ("3", "invalid_time"),
        ("4", "invalid_rating"),
        ("5", "duplicate"),
    ]


@pytest.mark.parametrize(
    ("body", "name", "mapping", "code"),
    [
        (b"comment\nhi\n", "a.csv", {"text": "missing"}, "invalid_mapping"),
        (b"comment\nhi\n", "a.csv", {"time": "comment"}, "invalid_mapping"),
        (b"comment\nhi\n", "a.csv", {"text": "comment", "mood": "x"}, "invalid_mapping"),
        (b"", "a.csv", {"text": "comment"}, "invalid_request"),  # DRF: an empty file
        (b"\n\n", "a.csv", {"text": "comment"}, "unreadable_file"),
        (b"not json\n", "a.jsonl", {"text": "comment"}, "unreadable_file"),
        (b"[1, 2]\n", "a.jsonl", {"text": "comment"}, "unreadable_file"),
        (b"comment\nhi\n", "a.xlsx", {"text": "comment"}, "invalid_import"),
    ],
)
def test_the_mapping_and_the_file_are_checked_before_anything_is_written(
    alice, body, name, mapping, code
):
    sources = Source.objects.count()
    response = upload(alice.client, body, name=name, mapping=mapping)
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == code
    assert FeedbackImport.objects.count() == 0 and Source.objects.count() == sources


def test_json_lines_with_an_image_url_and_a_new_import_source(alice, upstream, settings):
    settings.EMOTIONHUB_ANALYZERS = ["example", "text_length"]
    upstream.routes["/shot.jpg"] = Reply(body=jpeg_bytes((20, 10)), content_type="image/jpeg")
    lines = [
        {"id": 7, "review": "Five stars", "stars": 5, "lang": "en",
         "pic": upstream.url + "/shot.jpg"},
        {"id": 8, "review": {"nested": "text"}, "stars": None},
        "not an object",
        {"id": 9, "review": "no picture", "pic": "ftp://x/y.jpg"},
    ]  # fmt: skip
    body = "\n".join(json.dumps(line) for line in lines).encode() + b"\n\n"
    mapping = {"text": "review", "external_id": "id", "rating": "stars", "language": "lang",
               "image_url": "pic"}  # fmt: skip
    response = upload(alice.client, body, name="reviews.jsonl", mapping=mapping)
    assert response.status_code == 202, response.json()
    imported = FeedbackImport.objects.get(pk=response.json()["id"])
    assert imported.source.kind == "import" and imported.source.name == "reviews"
    imports.process_import(str(imported.pk))
    imported.refresh_from_db()
    assert (imported.rows_read, imported.rows_created, imported.rows_skipped) == (5, 2, 3)
    post = Post.objects.get(source=imported.source, external_id="7")
    assert post.attributes == {"row": 1, "rating": 5.0, "language": "en"}
    assert post.media.filter(kind="image").get().width == 20
    assert Post.objects.get(source=imported.source, external_id="8").text == '{"nested": "text"}'
    codes = dict(imported.skips.values_list("row", "code"))
    assert codes == {3: "invalid_json", 4: "invalid_image_url", 5: "empty_row"}


def test_a_worker_dying_between_posts_and_checkpoint_resumes_without_duplicates(
    alice, source, settings, monkeypatch
):
    settings.EMOTIONHUB_IMPORT_BATCH_ROWS = 3
    rows = [
        {"response_id": f"R{n}", "submitted_at": "", "respondent": "", "nps": "",
         "survey": "", "comment": f"comment {n}"}
        for n in range(10)
    ]  # fmt: skip
    response = upload(alice.client, survey_csv(rows), source=str(source.pk))
    import_id = response.json()["id"]
    real, calls = imports._checkpoint, []

    def dies_at_the_second_checkpoint(feedback, rows_read):
        calls.append(rows_read)
        if len(calls) == 2:
            raise SystemExit("worker killed")  # inside batch 2's transaction
        real(feedback, rows_read)

    monkeypatch.setattr(imports, "_checkpoint", dies_at_the_second_checkpoint)
    with pytest.raises(SystemExit):
        imports.process_import(import_id)
    monkeypatch.setattr(imports, "_checkpoint", real)
    dead = FeedbackImport.objects.get(pk=import_id)
    assert dead.status == "running" and dead.rows_read == 3
    assert Post.objects.filter(source=source).count() == 3  # batch 2 rolled back whole
    assert imports.process_import(import_id) == "not claimed"  # the lease still holds
    FeedbackImport.objects.filter(pk=import_id).update(lease_until=timezone.now())
    assert imports.resume_stalled() == 1  # what beat does; the broker is absent here
    assert imports.process_import(import_id) == ImportStatus.SUCCEEDED
    done = FeedbackImport.objects.get(pk=import_id)
    assert (done.rows_read, done.rows_created, done.rows_skipped, done.attempts) == (10, 10, 0, 2)
    assert Post.objects.filter(source=source).count() == 10
    assert AnalysisJob.objects.filter(submission__post__source=source).count() == 10


def test_cancel(alice, source, settings):
    settings.EMOTIONHUB_IMPORT_BATCH_ROWS = 2
    body = survey_csv([{**ROWS[0], "response_id": f"C{n}"} for n in range(5)])
    queued = upload(alice.client, body, source=str(source.pk)).json()
    cancelled = alice.client.post(f"/api/v1/imports/{queued['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert imports.process_import(queued["id"]) == "not claimed"
    running = upload(alice.client, body, source=str(source.pk)).json()
    FeedbackImport.objects.filter(pk=running["id"]).update(status="running")
    alice.client.post(f"/api/v1/imports/{running['id']}/cancel")
    assert imports.process_import(running["id"]) == ImportStatus.CANCELLED
    assert FeedbackImport.objects.get(pk=running["id"]).rows_read == 0
    assert Post.objects.filter(source=source).count() == 0


def test_imports_are_tenant_scoped(alice, bob, source):
    created = upload(alice.client, survey_csv(ROWS[:1]), source=str(source.pk)).json()
    assert bob.client.get(f"/api/v1/imports/{created['id']}").status_code == 404
    assert bob.client.get(f"/api/v1/imports/{created['id']}/skipped.csv").status_code == 404
    refused = upload(bob.client, survey_csv(ROWS[:1]), source=str(source.pk))
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_source"


def test_create_import_refuses_a_source_that_takes_no_imports(alice):
    """The admin form and the API both reach this check (the API checks first)."""
    pushed = make_source(alice.tenant, "webhook", {})
    csv_file = SimpleUploadedFile("survey.csv", survey_csv(ROWS[:1]), content_type="text/csv")
    with pytest.raises(DomainError) as refused:
        imports.create_import(alice.tenant, csv_file, MAPPING, source=pushed)
    assert (refused.value.code, refused.value.status) == ("invalid_source", 400)
    assert not FeedbackImport.objects.exists()


def test_the_admin_upload_form_checks_and_queues_like_the_api(admin_client, alice, source):
    page = admin_client.get("/admin/social/feedbackimport/add/")
    assert page.status_code == 200 and b"Import customer feedback" in page.content
    form = {
        "mapping": json.dumps({"text": "nope"}),
        "source": str(source.pk),
        "tenant": str(alice.tenant.pk),
    }
    body = survey_csv(ROWS[:2])
    refused = admin_client.post(
        "/admin/social/feedbackimport/add/",
        {**form, "file": SimpleUploadedFile("s.csv", body)},
    )
    assert refused.status_code == 200 and b"invalid_mapping" in refused.content
    assert not FeedbackImport.objects.exists()
    form["mapping"] = json.dumps(MAPPING)
    created = admin_client.post(
        "/admin/social/feedbackimport/add/",
        {**form, "file": SimpleUploadedFile("s.csv", body)},
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    imported = FeedbackImport.objects.get()
    assert imported.source == source and imported.tenant == alice.tenant
    assert imports.process_import(str(imported.pk)) == ImportStatus.SUCCEEDED
    page = admin_client.get(f"/admin/social/feedbackimport/{imported.pk}/change/")
    assert page.status_code == 200
