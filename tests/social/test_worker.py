"""Beat schedules a source's fetch on a real Celery worker; its posts' jobs run to the end."""

from __future__ import annotations

import pytest

from emotionhub.jobs.models import FINAL_STATUSES, AnalysisJob
from emotionhub.social import schedules
from emotionhub.social.models import Post, RunStatus
from tests.conftest import TenantClient
from tests.social.conftest import Reply, jpeg_bytes, make_source
from tests.worker.conftest import wait_for

pytestmark = [pytest.mark.services, pytest.mark.workers]

FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><guid>one</guid><title>Good morning</title><description>all is well</description>
  <enclosure url="{base}/sun.jpg" type="image/jpeg" length="1"/></item>
<item><guid>two</guid><title>Evening</title></item>
</channel></rss>"""


def test_a_scheduled_fetch_creates_posts_whose_jobs_finish(start_worker, upstream, monkeypatch):
    # The worker is another process: it gets the test-only address policy from the env.
    monkeypatch.setenv("EMOTIONHUB_FETCH_ALLOWED_NETWORKS", "127.0.0.1/32")
    upstream.routes["/feed"] = Reply(
        body=FEED.format(base=upstream.url), content_type="application/rss+xml"
    )
    upstream.routes["/sun.jpg"] = Reply(body=jpeg_bytes((40, 30)), content_type="image/jpeg")
    alice = TenantClient("alice")
    source = make_source(alice.tenant, "rss", {"url": upstream.url + "/feed"})
    schedules.sync_schedule(source, interval_seconds=1)

    worker = start_worker("social", concurrency=2)
    wait_for(lambda: Post.objects.filter(source=source).count() == 2, 60, message="two posts")
    jobs = AnalysisJob.objects.filter(media__source_post__source=source)
    assert jobs.count() == 5  # post one: image (example) + text (example, text_length); two: text
    wait_for(lambda: not jobs.exclude(status__in=FINAL_STATUSES).exists(), 90, message="final jobs")
    assert set(jobs.values_list("status", flat=True)) == {"succeeded"}, worker.tail()

    post = Post.objects.get(source=source, external_id="one")
    body = alice.client.get(f"/api/v1/posts/{post.pk}").json()
    assert body["status"] == "succeeded"
    media = {m["kind"]: m for m in body["media"]}
    assert media["image"]["results"][0]["payload"]["width"] == 40
    assert {r["analyzer"] for r in media["text"]["results"]} == {"example", "text_length"}
    assert body["summary"]["job_counts"] == {"succeeded": 3}

    # Beat keeps fetching every second: later runs find only duplicates.
    wait_for(lambda: source.runs.filter(duplicate=2).exists(), 30, message="a repeat run")
    first = source.runs.order_by("started_at").first()
    assert first.trigger == "schedule" and first.status == RunStatus.SUCCEEDED
    assert (first.new, first.media_stored) == (2, 1)
    assert Post.objects.filter(source=source).count() == 2
