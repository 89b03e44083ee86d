"""Alerts: a sharp move from the baseline is shown, recorded once and sent (signed webhook,
e-mail); a steady brand raises nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core import mail

from emotionhub.jobs.webhooks import sign
from emotionhub.reporting import alerts, facts
from emotionhub.reporting.models import Alert, Brand
from tests.reporting.conftest import make_media, make_post, make_result, make_source, text_payload
from tests.worker.conftest import WebhookReceiver

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 4, 10, 12, 30, tzinfo=dt.UTC)


def add_posts(source, day_offset: int, count: int, score: float) -> None:
    for i in range(count):
        at = NOW - dt.timedelta(days=day_offset, hours=1, minutes=i)
        post = make_post(source, f"post {day_offset}-{i}", posted_at=at)
        media = make_media(source.tenant, "text", text=post.text, post=post)
        label = "positive" if score >= 0.2 else "negative" if score <= -0.2 else "neutral"
        make_result(media, "text_sentiment", text_payload(label, score))


@pytest.fixture
def brand(tenant_a):
    source = make_source(tenant_a, "Feed")
    brand = Brand.objects.create(
        tenant=tenant_a, name="Shop", baseline_days=3, min_volume=5, alert_emails=["cx@example.org"]
    )
    brand.sources.add(source)
    for day in (1, 2, 3):
        add_posts(source, day, 6, 0.5)  # a steady baseline: 6 a day, positive
    return brand, source


def test_steady_brand_raises_nothing(brand):
    brand, source = brand
    add_posts(source, 0, 6, 0.5)
    facts.sync()
    assert alerts.detect(brand, NOW) == []


def test_spike_and_sentiment_drop_are_detected_and_sent_once(brand):
    brand, source = brand
    add_posts(source, 0, 14, -0.6)  # more than twice the volume, and negative
    facts.sync()
    found = {(a.kind, a.direction): a for a in alerts.detect(brand, NOW)}
    assert set(found) == {("volume", "up"), ("sentiment", "down")}
    assert found[("volume", "up")].value == 14 and found[("volume", "up")].baseline == 6
    assert found[("sentiment", "down")].value == pytest.approx(-0.6)
    assert found[("sentiment", "down")].baseline == pytest.approx(0.5)

    receiver = WebhookReceiver(204)
    try:
        brand.alert_webhook_url = receiver.url
        brand.save()
        sent = alerts.deliver_due(NOW)
        assert len(sent) == 2
        assert alerts.deliver_due(NOW + dt.timedelta(minutes=10)) == []  # same hour: once
    finally:
        receiver.server.shutdown()
    assert len(receiver.received) == 2
    headers, body = receiver.received[0]
    timestamp = int(headers["X-EmotionHub-Timestamp"])
    assert headers["X-EmotionHub-Signature"] == sign(brand.tenant.webhook_secret, timestamp, body)
    assert json.loads(body)["event"] == "brand.alert"
    assert {json.loads(b)["alert"]["kind"] for _, b in receiver.received} == {"volume", "sentiment"}
    assert len(mail.outbox) == 2 and mail.outbox[0].to == ["cx@example.org"]
    assert set(Alert.objects.values_list("webhook_status", flat=True)) == {"delivered"}


def test_a_volume_drop_is_detected_and_failed_delivery_recorded(brand):
    brand, _ = brand
    facts.sync()  # nothing in the last 24 h
    kinds = [(a.kind, a.direction) for a in alerts.detect(brand, NOW)]
    assert kinds == [("volume", "down")]
    brand.alert_webhook_url = "http://127.0.0.1:9/unreachable"
    brand.save()
    (alert,) = alerts.deliver_due(NOW)
    alert.refresh_from_db()
    assert alert.webhook_status == "failed" and alert.webhook_error
