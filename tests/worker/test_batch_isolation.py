"""One tenant's input that makes a plugin raise fails only that tenant's job, even when
micro-batching put other tenants' jobs in the same ``analyze`` call (a real worker)."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import override_settings

from emotionhub.jobs.models import AnalysisJob, JobStatus
from tests.conftest import TenantClient
from tests.worker.conftest import wait_for

pytestmark = [pytest.mark.services, pytest.mark.workers]
ANALYZERS = [*settings.EMOTIONHUB_ANALYZERS, "batch_crasher"]


@override_settings(EMOTIONHUB_ANALYZERS=ANALYZERS)
def test_exception_in_a_shared_batch_fails_only_the_item_that_raises(start_worker):
    alice, bob = TenantClient("alice"), TenantClient("bob")
    poisoned = alice.submit(
        texts=["breaks the plugin"],
        analyzers="batch_crasher",
        analyzer_settings=json.dumps({"batch_crasher": {"explode": True}}),
    )
    assert poisoned.status_code == 202, poisoned.json()
    fine = bob.submit(texts=["one", "two", "three"], analyzers="batch_crasher")
    assert fine.status_code == 202, fine.json()
    # Both submissions wait in the queue before the worker starts: its first message
    # claims the rest by micro-batching, so all four jobs share one analyze() call.
    start_worker("batcher", EMOTIONHUB_ANALYZERS=",".join(ANALYZERS))

    alices = AnalysisJob.objects.filter(tenant=alice.tenant)
    bobs = AnalysisJob.objects.filter(tenant=bob.tenant)

    def all_final():
        return not AnalysisJob.objects.filter(
            status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
        ).exists()

    wait_for(all_final, 60, message="every job to finish")
    for job in bobs:
        assert (job.status, job.attempts, job.error_code) == (JobStatus.SUCCEEDED, 1, "")
        result = job.results.get()
        assert result.payload == {"attempt": 1}
        assert result.batch_size == 4  # it did run beside alice's job
    (crashed,) = alices
    assert (crashed.status, crashed.quarantined) == (JobStatus.FAILED, True)
    assert crashed.error_code == "analyzer_crashed"
    assert "TypeError: slice indices must be integers" in crashed.error_message
    body = bob.client.get(f"/api/v1/submissions/{fine.json()['id']}").json()
    assert body["status"] == "succeeded"
