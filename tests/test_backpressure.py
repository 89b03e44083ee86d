"""Back-pressure: a deep analysis backlog turns new submissions away with 503 and Retry-After."""

from __future__ import annotations

from emotionhub.jobs.models import AnalysisJob, JobStatus
from tests.conftest import png_bytes, upload
from tests.test_api_submissions import assert_error, row_counts


def _queue(client, count: int) -> None:
    for index in range(count):
        response = client.submit(texts=[f"post {index}"], analyzers="text_length")
        assert response.status_code == 202, response.content


def test_submissions_are_refused_while_the_backlog_is_over_the_limit(alice, bob, settings):
    settings.EMOTIONHUB_MAX_QUEUED_JOBS = 2
    settings.EMOTIONHUB_OVERLOADED_RETRY_AFTER_SECONDS = 45
    _queue(alice, 3)
    before = row_counts()
    files_before = sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())
    response = bob.submit(files=[upload("a.png", png_bytes())], analyzers="example")
    error = assert_error(response, 503, "overloaded")
    assert response["Retry-After"] == "45"
    assert error["details"] == {"max_queued_jobs": 2, "retry_after_seconds": 45}
    assert row_counts() == before
    assert sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()) == files_before


def test_work_is_accepted_again_once_the_backlog_drains(alice, settings):
    settings.EMOTIONHUB_MAX_QUEUED_JOBS = 2
    _queue(alice, 3)
    assert_error(alice.submit(texts=["one more"], analyzers="text_length"), 503, "overloaded")
    # Running and finished jobs are not backlog; only queued ones (waiting or retrying) are.
    first = AnalysisJob.objects.order_by("created_at").first()
    AnalysisJob.objects.filter(pk=first.pk).update(status=JobStatus.SUCCEEDED)
    assert alice.submit(texts=["one more"], analyzers="text_length").status_code == 202


def test_a_backlog_at_the_limit_still_accepts(alice, settings):
    settings.EMOTIONHUB_MAX_QUEUED_JOBS = 3
    _queue(alice, 3)
    assert alice.submit(texts=["fourth"], analyzers="text_length").status_code == 202


def test_zero_disables_the_check(alice, settings):
    settings.EMOTIONHUB_MAX_QUEUED_JOBS = 0
    _queue(alice, 3)


def test_one_tenants_backlog_does_not_turn_another_away(alice, bob, settings):
    """The break-test's case: alice's 50-text submission made bob's next one a 503."""
    settings.EMOTIONHUB_MAX_QUEUED_JOBS = 100
    settings.EMOTIONHUB_MAX_QUEUED_JOBS_PER_TENANT = 40
    burst = alice.submit(texts=[f"post {i}" for i in range(50)], analyzers="text_length")
    assert burst.status_code == 202  # accepted: she had nothing queued
    before = row_counts()
    error = assert_error(alice.submit(texts=["more"], analyzers="text_length"), 503, "overloaded")
    assert error["details"]["scope"] == "tenant"
    assert error["details"]["max_queued_jobs_per_tenant"] == 40
    assert row_counts() == before
    assert bob.submit(texts=["mine"], analyzers="text_length").status_code == 202


def test_the_global_limit_is_the_backstop_across_tenants(alice, bob, settings):
    settings.EMOTIONHUB_MAX_QUEUED_JOBS = 5
    settings.EMOTIONHUB_MAX_QUEUED_JOBS_PER_TENANT = 4
    _queue(alice, 4)
    _queue(bob, 2)
    error = assert_error(bob.submit(texts=["x"], analyzers="text_length"), 503, "overloaded")
    assert error["details"]["max_queued_jobs"] == 5


def test_default_share_is_below_the_global_limit():
    from django.conf import settings as django_settings

    share = django_settings.EMOTIONHUB_MAX_QUEUED_JOBS_PER_TENANT
    assert 0 < share < django_settings.EMOTIONHUB_MAX_QUEUED_JOBS
    # A day's default quota of single-analyzer items fits in a share.
    assert share >= django_settings.EMOTIONHUB_DAILY_ITEM_QUOTA
