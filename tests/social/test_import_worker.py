"""A feedback import on a real worker that is SIGKILLed mid-import: a second worker
resumes it from the checkpoint (beat's resume_imports) and no row becomes two posts."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from emotionhub.social.models import FeedbackImport, Post
from tests.conftest import TenantClient
from tests.social.conftest import make_source
from tests.worker.conftest import wait_for

pytestmark = [pytest.mark.services, pytest.mark.workers]
ROWS = 400


def test_an_import_survives_its_worker_being_killed(start_worker):
    alice = TenantClient("alice")
    source = make_source(alice.tenant, "import", {}, analyzers=["text_length"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["ticket", "opened", "body"])
    for n in range(ROWS):  # no ids: every row is known by its hash
        writer.writerow([f"T-{n}", f"2026-10-{1 + n % 28:02d}T08:00:00Z", f"ticket text {n}"])
    env = {"EMOTIONHUB_IMPORT_BATCH_ROWS": "10", "EMOTIONHUB_IMPORT_LEASE_SECONDS": "3"}
    first = start_worker("import1", concurrency=1, **env)
    response = alice.client.post(
        "/api/v1/imports",
        {
            "file": SimpleUploadedFile("tickets.csv", out.getvalue().encode()),
            "mapping": json.dumps({"text": "body", "time": "opened"}),
            "source": str(source.pk),
        },
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    pk = response.json()["id"]
    wait_for(lambda: FeedbackImport.objects.get(pk=pk).rows_read >= 50, 120, message="50 rows read")
    first.kill()  # mid-import: posts of the unfinished batch may be committed already
    killed_at = FeedbackImport.objects.get(pk=pk)
    assert killed_at.status == "running" and killed_at.rows_read < ROWS

    start_worker("import2", concurrency=1, **env)
    done = wait_for(
        lambda: (f := FeedbackImport.objects.get(pk=pk)).status == "succeeded" and f,
        240,
        message="the import to finish",
    )
    assert done.attempts >= 2
    assert (done.rows_read, done.rows_created, done.rows_skipped) == (ROWS, ROWS, 0)
    texts = list(Post.objects.filter(source=source).values_list("text", flat=True))
    assert len(texts) == ROWS and len(set(texts)) == ROWS
