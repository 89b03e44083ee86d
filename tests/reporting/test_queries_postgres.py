"""Dashboard aggregates on PostgreSQL, checked against the same numbers computed in Python
from the generated data (not from the fact table)."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import Counter, defaultdict

import pytest
from django.db import connection

from emotionhub.jobs.models import AnalysisResult
from emotionhub.media.models import Media
from emotionhub.reporting import facts, queries
from emotionhub.reporting.emotions import common_emotion
from emotionhub.reporting.models import Brand
from emotionhub.reporting.queries import ReportFilters
from emotionhub.social.models import Post
from tests.reporting.conftest import face, face_payload, make_source, text_payload

pytestmark = [pytest.mark.services, pytest.mark.django_db]
START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
EMOTIONS = ("happy", "sad", "angry")


def _label(score: float) -> str:
    return "positive" if score >= 0.2 else "negative" if score <= -0.2 else "neutral"


@pytest.fixture
def dataset(tenant_a, tenant_b):
    """~700 results; returns (brand, other sources, the records the expectations use)."""
    assert connection.vendor == "postgresql"
    rng = random.Random(6)
    ours = [make_source(tenant_a, n) for n in ("Alpha feed", "Beta feed", "Gamma feed")]
    theirs = make_source(tenant_b, "Other tenant")
    brand = Brand.objects.create(tenant=tenant_a, name="Brand", keywords=["Launch"])
    brand.sources.add(ours[0], ours[1])
    records, posts, media_rows, results = [], [], [], []
    for i in range(500):
        source = rng.choice([*ours, theirs])
        keyword = rng.random() < 0.2
        text = f"post {i}" + (" about the LAUNCH" if keyword else "")
        posted = START + dt.timedelta(minutes=rng.randrange(0, 10 * 24 * 60))
        post = Post(
            id=uuid.uuid4(),
            tenant=source.tenant,
            source=source,
            external_id=str(i),
            text=text,
            posted_at=posted,
        )
        posts.append(post)
        kind = rng.choice(["text", "image"])
        media = Media(
            id=uuid.uuid4(),
            tenant=source.tenant,
            kind=kind,
            text=text if kind == "text" else "",
            mime="text/plain",
            size=1,
            sha256=f"{i:064d}",
            source_post=post,
        )
        media_rows.append(media)
        analyzers = ["text_sentiment"] if kind == "text" else ["image_sentiment", "facial_emotion"]
        for analyzer in analyzers:
            versions = ["m1", "m2"] if rng.random() < 0.1 else ["m1"]
            for version in versions:
                score = round(rng.uniform(-1, 1), 3)
                emotion = rng.choice(EMOTIONS)
                if analyzer == "facial_emotion":
                    payload = face_payload([face((0, 0, 4, 4), emotion, 0.8)])
                elif analyzer == "text_sentiment":
                    payload = text_payload(_label(score), score)
                    emotion = "joy"
                else:
                    payload = {
                        "scored": True,
                        "label": _label(score),
                        "score": score,
                        "disagreement": False,
                        "components": [],
                        "face_count": 0,
                    }
                    emotion = ""
                results.append(
                    AnalysisResult(
                        tenant=source.tenant,
                        media=media,
                        analyzer=analyzer,
                        analyzer_version="1",
                        model_version=version,
                        payload=payload,
                        device="cpu",
                        duration_ms=1.0,
                    )
                )
                records.append(
                    {
                        "tenant": source.tenant_id,
                        "source": source.pk,
                        "text": text,
                        "kind": kind,
                        "at": posted,
                        "analyzer": analyzer,
                        "polarity": None if analyzer == "facial_emotion" else score,
                        "label": emotion if analyzer == "facial_emotion" else _label(score),
                        "emotion": emotion,
                        "media": media.pk,
                        "current": version == versions[-1],
                    }
                )
    Post.objects.bulk_create(posts)
    Media.objects.bulk_create(media_rows)
    for offset, result in enumerate(results):  # m2 is written after m1
        result.save()
        AnalysisResult.objects.filter(pk=result.pk).update(
            created_at=START + dt.timedelta(seconds=offset)
        )
    facts.sync(full=True)
    in_brand = [
        r
        for r in records
        if r["current"]
        and r["tenant"] == tenant_a.pk
        and (r["source"] in (ours[0].pk, ours[1].pk) or "launch" in r["text"].lower())
    ]
    return brand, ours, in_brand


def _expected_rows(records, key):
    groups = defaultdict(list)
    for r in records:
        groups[key(r)].append(r)
    out = {}
    for group, rows in groups.items():
        votes = [r["polarity"] for r in rows if r["polarity"] is not None]
        labels = Counter(r["label"] for r in rows if r["polarity"] is not None)
        out[group] = {
            "volume": len({r["media"] for r in rows}),
            "votes": len(votes),
            "sentiment": sum(votes) / len(votes) if votes else None,
            **{label: labels[label] for label in ("negative", "neutral", "positive")},
        }
    return out


def _check(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for key, want in expected.items():
        got = actual[key]
        for field, value in want.items():
            if field == "sentiment" and value is not None:
                assert got[field] == pytest.approx(value, abs=1e-4), (key, field)
            else:
                assert got[field] == value, (key, field)


def test_daily_timeseries_matches_python(dataset):
    brand, _, records = dataset
    filters = ReportFilters(brand, START.date(), START.date() + dt.timedelta(days=9))
    actual = {row["bucket"]: row for row in queries.timeseries(filters) if row["volume"]}
    expected = _expected_rows(
        records, lambda r: dt.datetime.combine(r["at"].date(), dt.time(), tzinfo=dt.UTC)
    )
    _check(actual, expected)
    assert sum(row["volume"] for row in actual.values()) == len({r["media"] for r in records})


def test_hourly_timeseries_with_filters_matches_python(dataset):
    brand, _, records = dataset
    day = START.date() + dt.timedelta(days=3)
    filters = ReportFilters(brand, day, day, "hour", analyzer="image_sentiment", kind="image")
    rows = queries.timeseries(filters)
    assert len(rows) == 24
    chosen = [
        r
        for r in records
        if r["at"].date() == day and r["analyzer"] == "image_sentiment" and r["kind"] == "image"
    ]
    expected = _expected_rows(chosen, lambda r: r["at"].replace(minute=0, second=0, microsecond=0))
    _check({row["bucket"]: row for row in rows if row["volume"]}, expected)


def test_distributions_match_python(dataset):
    brand, ours, records = dataset
    filters = ReportFilters(brand, START.date(), START.date() + dt.timedelta(days=9))
    by_source = {row["source"]: row for row in queries.by_source(filters)}
    _check(by_source, _expected_rows(records, lambda r: str(r["source"])))
    # The keyword brings in posts of a source outside the brand.
    assert str(ours[2].pk) in by_source
    by_kind = {row["kind"]: row for row in queries.by_kind(filters)}
    _check(by_kind, _expected_rows(records, lambda r: r["kind"]))
    emotions = {(row["bucket"], row["emotion"]): row["count"] for row in queries.emotions(filters)}
    expected = Counter(
        # the Emotions chart counts the common scale (reporting/emotions.py: happy -> joy)
        (
            dt.datetime.combine(r["at"].date(), dt.time(), tzinfo=dt.UTC),
            common_emotion(r["emotion"]),
        )
        for r in records
        if r["emotion"]
    )
    assert emotions == dict(expected)
    only_source = ReportFilters(brand, filters.start, filters.end, source_id=str(ours[1].pk))
    total = sum(row["volume"] for row in queries.timeseries(only_source))
    assert total == len({r["media"] for r in records if r["source"] == ours[1].pk})


def test_top_posts_match_python(dataset):
    brand, _, records = dataset
    filters = ReportFilters(brand, START.date(), START.date() + dt.timedelta(days=9))
    voted = [r for r in records if r["polarity"] is not None]
    best = sorted((r["polarity"] for r in voted if r["polarity"] > 0), reverse=True)[:5]
    worst = sorted(r["polarity"] for r in voted if r["polarity"] < 0)[:5]
    assert [row["polarity"] for row in queries.top_posts(filters, 1)] == best
    assert [row["polarity"] for row in queries.top_posts(filters, -1)] == worst
