"""Dashboards on a fresh install's data (Django test client): one emotion scale for faces
and texts with a per-analyzer breakdown, which analyzers feed which chart, image text in
the top items, and a default range that starts at the first data."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from emotionhub.media.models import Media
from emotionhub.reporting import emotions
from emotionhub.reporting.models import Brand
from tests.reporting.conftest import (
    face,
    face_payload,
    image_sentiment_payload,
    make_media,
    make_result,
    make_reviewer,
    signed_in,
    striped_image,
    text_payload,
)

pytestmark = pytest.mark.django_db


def text_with_emotion(label: str) -> dict:
    payload = text_payload("positive", 0.8)
    payload["emotion_label"] = label
    return payload


@pytest.fixture
def dashboard(tenant_a):
    brand = Brand.objects.create(tenant=tenant_a, name="All")
    client = signed_in(make_reviewer(tenant_a, "cx"))
    return brand, client


def chart_data(html: str) -> dict:
    return json.loads(
        re.search(r'id="chart-data" type="application/json">(.*?)</script>', html).group(1)
    )


def test_faces_and_texts_share_one_emotion_scale(tenant_a, dashboard):
    brand, client = dashboard
    image = make_media(tenant_a, "image", image=striped_image())
    make_result(image, "facial_emotion", face_payload([face((10, 20, 60, 80), "happy", 0.9)]))
    for label in ("joy", "optimism", "sadness"):
        make_result(
            make_media(tenant_a, "text", text=f"a {label} text"),
            "text_sentiment",
            text_with_emotion(label),
        )
    html = client.get(f"/reporting/brands/{brand.pk}/").content.decode()

    counts: dict[str, int] = {}
    for row in chart_data(html)["emotions"]:
        counts[row["emotion"]] = counts.get(row["emotion"], 0) + row["count"]
    assert counts == {"joy": 3, "sadness": 1}  # happy, joy and optimism are one emotion
    assert set(counts) <= set(emotions.COMMON_EMOTIONS)

    breakdown = re.search(r'id="emotion-breakdown".*?</table>', html, re.S).group(0)
    rows = re.findall(
        r"<tr><td>(\w+)</td><td>(\w+)</td><td>(\w+)</td><td>(\w+)</td><td>(\d+)</td></tr>",
        breakdown,
    )
    assert sorted(rows) == [
        ("facial_emotion", "image", "happy", "joy", "1"),
        ("text_sentiment", "text", "joy", "joy", "1"),
        ("text_sentiment", "text", "optimism", "joy", "1"),
        ("text_sentiment", "text", "sadness", "sadness", "1"),
    ]
    fed = re.search(r'id="fed-emotions">(.*?)</p>', html, re.S).group(1)
    assert "<code>facial_emotion</code>, <code>text_sentiment</code>" in fed
    sentiment = re.search(r'id="fed-sentiment">(.*?)</p>', html, re.S).group(1)
    assert "<code>text_sentiment</code>" in sentiment and "facial_emotion" not in sentiment


def test_emotions_csv_and_api_use_the_common_scale(tenant_a, dashboard):
    brand, client = dashboard
    make_result(
        make_media(tenant_a, "image", image=striped_image()),
        "facial_emotion",
        face_payload([face((10, 20, 60, 80), "sad", 0.9)]),
    )
    make_result(
        make_media(tenant_a, "text", text="so sad"), "text_sentiment", text_with_emotion("sadness")
    )
    client.get(f"/reporting/brands/{brand.pk}/")  # fills the facts
    body = client.get(f"/reporting/brands/{brand.pk}/emotions.csv").content.decode()
    assert [line.split(",")[1:] for line in body.strip().splitlines()[1:]] == [["sadness", "2"]]


def test_top_items_show_the_text_read_in_an_image(tenant_a, dashboard):
    brand, client = dashboard
    image = make_media(tenant_a, "image", image=striped_image())
    payload = image_sentiment_payload("negative", -0.7, False)
    payload["components"] = [
        {
            "name": "ocr_text",
            "scored": True,
            "score": -0.7,
            "label": "negative",
            "weight": 1.0,
            "share": 1.0,
            "contribution": -0.7,
            "details": {
                "text": "I hate waiting in line",
                "text_truncated": False,
                "word_count": 5,
                "confidence": 91.0,
                "language": {"code": "en", "confidence": 0.9, "reliable": True},
            },
        }
    ]
    make_result(image, "image_sentiment", payload)
    html = client.get(f"/reporting/brands/{brand.pk}/").content.decode()
    negative = re.search(r'id="top-negative".*?</section>', html, re.S).group(0)
    assert "I hate waiting in line" in negative and "(no text)" not in negative
    assert f"/reporting/media/{image.pk}/image?size=240" in negative


def test_the_default_range_starts_at_the_first_data(tenant_a, dashboard):
    brand, client = dashboard
    media = make_media(tenant_a, "text", text="fine")
    make_result(media, "text_sentiment", text_payload("positive", 0.8))
    data = chart_data(client.get(f"/reporting/brands/{brand.pk}/").content.decode())
    today = timezone.now().astimezone(dt.UTC).date()
    assert data["granularity"] == "hour"  # a fresh install: today's results by the hour
    assert len(data["timeseries"]) == 24
    assert data["timeseries"][0]["bucket"].startswith(today.isoformat())
    assert sum(row["volume"] for row in data["timeseries"]) == 1


def test_an_older_first_result_starts_the_range_by_the_day(tenant_a, dashboard):
    brand, client = dashboard
    today = timezone.now().astimezone(dt.UTC).date()
    make_result(
        make_media(tenant_a, "text", text="fine"), "text_sentiment", text_payload("positive", 0.8)
    )
    older = make_media(tenant_a, "text", text="older")
    Media.objects.filter(pk=older.pk).update(created_at=timezone.now() - dt.timedelta(days=9))
    make_result(older, "text_sentiment", text_payload("negative", -0.8))
    data = chart_data(client.get(f"/reporting/brands/{brand.pk}/").content.decode())
    assert data["granularity"] == "day"
    assert len(data["timeseries"]) == 10
    # Asked for explicitly, a range is kept as given.
    data = chart_data(
        client.get(
            f"/reporting/brands/{brand.pk}/?start={today - dt.timedelta(days=29)}"
        ).content.decode()
    )
    assert len(data["timeseries"]) == 30
