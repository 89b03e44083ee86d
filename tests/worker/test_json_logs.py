"""EMOTIONHUB_LOG_FORMAT=json on a real worker: every line is a JSON object, and the lines
about a job carry its job id, submission id and tenant (PostgreSQL + Redis)."""

from __future__ import annotations

import json

import pytest

from emotionhub.core.logs import logging_config
from tests.conftest import TenantClient, png_bytes, upload
from tests.worker.conftest import wait_for
from tests.worker.test_end_to_end import wait_submission_finished

pytestmark = [pytest.mark.services, pytest.mark.workers]


def test_worker_json_lines_name_the_job_submission_and_tenant(start_worker):
    worker = start_worker("jsonlog", EMOTIONHUB_LOG_FORMAT="json")
    alice = TenantClient("alice")
    body = alice.submit(files=[upload("a.png", png_bytes())], analyzers="example").json()
    wait_submission_finished(alice, body["id"])
    job_id = body["items"][0]["jobs"][0]["id"]

    def job_lines():
        worker.log.flush()
        lines = worker.log_path.read_text().splitlines()
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        return [e for e in entries if e.get("job_id") == job_id and "succeeded" in e["message"]]

    (done,) = wait_for(job_lines, 20, message="the job's log line")
    assert done["submission_id"] == body["id"]
    assert done["tenant_id"] == str(alice.tenant.pk)
    assert done["level"] == "INFO" and done["logger"] == "emotionhub.jobs.executor"
    assert done["time"].endswith("+00:00")
    # The worker's own JSON lines (Django logging) all parse; Celery's banner is plain text.
    for line in worker.log_path.read_text().splitlines():
        if line.startswith("{"):
            json.loads(line)


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="EMOTIONHUB_LOG_FORMAT must be one of plain, json"):
        logging_config("xml", "INFO")
