"""Dashboard speed on 100,000 results in PostgreSQL: fact-table queries vs. per-row ORM.

Loads ``--results`` analysis results (text_sentiment, image_sentiment and facial_emotion
payloads in the shapes the plugins write, spread over ``--days`` days, five sources, three
of them in the brand plus a keyword) into PostgreSQL, fills the fact table, then times:

* ``page``: ``GET /reporting/brands/<id>/`` for a signed-in member (sync check, every chart,
  alerts, template), the whole range and a filtered one;
* ``api``: ``GET /api/v1/brands/<id>/report`` with an API key;
* ``baseline``: the same aggregates computed the naive way, every result of the range
  loaded through the ORM with its media and post and summed in Python (checked to give the
  same numbers, exit status 1 if not).

Each timing is the median of ``--repeat`` runs after one warm-up; the ratio is baseline /
page. PostgreSQL is started like the test suite does (``scripts/testenv.py``) unless
``DATABASE_URL`` is set (then that database is used and must be empty)::

    .venv/bin/python bench/dashboard.py                      # 100,000 results
    .venv/bin/python bench/dashboard.py --results 20000 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
END = dt.datetime(2026, 6, 30, 23, 0, tzinfo=dt.UTC)
FACES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def _testenv():
    spec = importlib.util.spec_from_file_location("testenv", ROOT / "scripts" / "testenv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _label(score: float) -> str:
    return "positive" if score >= 0.2 else "negative" if score <= -0.2 else "neutral"


def _payload(rng: random.Random, analyzer: str) -> dict:
    score = round(rng.uniform(-1, 1), 4)
    if analyzer == "facial_emotion":
        faces = []
        for _ in range(rng.choice((1, 1, 2))):
            label = rng.choice(FACES)
            conf = round(rng.uniform(0.3, 0.99), 4)
            rest = (1 - conf) / 6
            faces.append(
                {
                    "box": [10.0, 10.0, 60.0, 70.0],
                    "score": 0.99,
                    "landmarks": None,
                    "emotions": {c: conf if c == label else rest for c in FACES},
                    "label": label,
                    "confidence": conf,
                    "uncertain": conf < 0.5,
                }
            )
        return {
            "faces": faces,
            "face_count": len(faces),
            "detector": "mtcnn",
            "model": "mini_xception",
            "image": {"width": 640, "height": 480},
        }
    if analyzer == "text_sentiment":
        return {
            "scored": True,
            "label": _label(score),
            "score": score,
            "confidence": 0.8,
            "uncertain": False,
            "sentiment": {"negative": 0.1, "neutral": 0.1, "positive": 0.8},
            "emotion_label": rng.choice(("anger", "joy", "optimism", "sadness")),
            "language": {"code": "en", "confidence": 0.99, "reliable": True},
        }
    return {
        "scored": True,
        "label": _label(score),
        "score": score,
        "disagreement": rng.random() < 0.1,
        "components": [],
        "face_count": 0,
    }


def load(count: int, days: int, seed: int = 0):
    """Tenant, brand, API key and ``count`` results (about 1.6 per post)."""
    from emotionhub.accounts.models import ApiKey, Tenant
    from emotionhub.jobs.models import AnalysisResult
    from emotionhub.media.models import Media
    from emotionhub.reporting.models import Brand
    from emotionhub.social.models import Post, Source

    rng = random.Random(seed)
    tenant = Tenant.objects.create(name="Bench", slug="bench")
    other = Tenant.objects.create(name="Other", slug="other")
    sources = [
        Source.objects.create(tenant=tenant, kind="webhook", name=f"source {i}") for i in range(5)
    ]
    foreign = Source.objects.create(tenant=other, kind="webhook", name="other tenant")
    brand = Brand.objects.create(tenant=tenant, name="Brand", keywords=["refund"])
    brand.sources.add(*sources[:3])
    _, raw_key = ApiKey.issue(tenant, "bench", ["read"])
    posts, media, results = [], [], []
    made = 0
    while made < count:
        source = foreign if rng.random() < 0.05 else rng.choice(sources)
        at = END - dt.timedelta(seconds=rng.randrange(0, days * 86400))
        text = f"post {made} " + ("asking for a refund" if rng.random() < 0.1 else "about things")
        post = Post(
            id=uuid.uuid4(),
            tenant_id=source.tenant_id,
            source=source,
            external_id=str(made),
            text=text,
            posted_at=at,
        )
        posts.append(post)
        kind = "image" if rng.random() < 0.4 else "text"
        item = Media(
            id=uuid.uuid4(),
            tenant_id=source.tenant_id,
            kind=kind,
            text=text if kind == "text" else "",
            mime="text/plain",
            size=1,
            sha256=uuid.uuid4().hex * 2,
            source_post=post,
        )
        media.append(item)
        analyzers = ("text_sentiment",) if kind == "text" else ("image_sentiment", "facial_emotion")
        for analyzer in analyzers:
            results.append(
                AnalysisResult(
                    tenant_id=source.tenant_id,
                    media=item,
                    analyzer=analyzer,
                    analyzer_version="1",
                    model_version="m1",
                    payload=_payload(rng, analyzer),
                    device="cpu",
                    duration_ms=1.0,
                )
            )
            made += 1
    for model, rows in ((Post, posts), (Media, media), (AnalysisResult, results)):
        for i in range(0, len(rows), 5000):
            model.objects.bulk_create(rows[i : i + 5000])
    return tenant, brand, raw_key


def baseline_report(filters) -> dict:
    """The naive way: every result of the range through the ORM, summed in Python."""
    from django.db.models import Q

    from emotionhub.jobs.models import AnalysisResult
    from emotionhub.reporting.facts import extract

    brand = filters.brand
    sources = set(brand.sources.values_list("pk", flat=True))
    keywords = [k.lower() for k in brand.keywords]
    results = (
        AnalysisResult.objects.filter(tenant_id=brand.tenant_id)
        .select_related("media", "media__source_post")
        .filter(
            Q(media__source_post__posted_at__gte=filters.start_at),
            Q(media__source_post__posted_at__lt=filters.end_at),
        )
    )
    day = defaultdict(lambda: {"media": set(), "votes": []})
    by_source = defaultdict(lambda: {"media": set(), "votes": []})
    for result in results.iterator(chunk_size=2000):
        post = result.media.source_post
        text = (post.text + " " + result.media.text).lower()
        if post.source_id not in sources and not any(k in text for k in keywords):
            continue
        fact = extract(result.analyzer, result.payload)
        bucket = post.posted_at.date()
        for group in (day[bucket], by_source[post.source_id]):
            group["media"].add(result.media_id)
            if fact["polarity"] is not None:
                group["votes"].append(fact["polarity"])

    def summary(groups):
        return {
            k: (
                len(v["media"]),
                len(v["votes"]),
                round(sum(v["votes"]) / len(v["votes"]), 4) if v["votes"] else None,
            )
            for k, v in groups.items()
        }

    return {"days": summary(day), "sources": summary(by_source)}


def fact_summary(filters) -> dict:
    from emotionhub.reporting import queries

    days = {
        r["bucket"].date(): (r["volume"], r["votes"], r["sentiment"])
        for r in queries.timeseries(filters)
        if r["volume"]
    }
    sources = {
        uuid.UUID(r["source"]): (r["volume"], r["votes"], r["sentiment"])
        for r in queries.by_source(filters)
    }
    return {"days": days, "sources": sources}


def same_numbers(naive: dict, ours: dict) -> bool:
    """Counts exactly; means to 1.5e-4 (both are rounded to 4 places from float sums)."""
    for part in ("days", "sources"):
        if naive[part].keys() != ours[part].keys():
            return False
        for key, (volume, votes, mean) in naive[part].items():
            other = ours[part][key]
            if (volume, votes) != other[:2] or (mean is None) != (other[2] is None):
                return False
            if mean is not None and abs(mean - other[2]) > 1.5e-4:
                return False
    return True


def timed(fn, repeat: int) -> tuple[float, object]:
    value = fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    server = None
    if not os.environ.get("DATABASE_URL"):
        testenv = _testenv()
        base = Path(tempfile.mkdtemp(prefix="emotionhub-bench-"))
        base.chmod(0o755)
        server = testenv.start_postgres(base)
        os.environ["DATABASE_URL"] = server.url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "emotionhub.settings.test")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.contrib.auth.models import User
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.test.utils import setup_test_environment

        from emotionhub.accounts.models import TenantMembership
        from emotionhub.reporting import facts
        from emotionhub.reporting.queries import ReportFilters

        setup_test_environment()
        settings.ALLOWED_HOSTS = ["testserver"]
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        tenant, brand, raw_key = load(args.results, args.days)
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        created = facts.sync(full=True)
        sync_s = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        user = User.objects.create_user("bench")
        TenantMembership.objects.create(user=user, tenant=tenant, scopes=["read"])
        client = Client()
        client.force_login(user)
        start = (END - dt.timedelta(days=args.days)).date()
        query = {"start": start.isoformat(), "end": END.date().isoformat()}
        page_url = f"/reporting/brands/{brand.pk}/"

        def get(url, params, **headers):
            def fetch():
                response = client.get(url, params, **headers)
                assert response.status_code == 200, response.status_code
                return response

            return fetch

        page_ms, _ = timed(get(page_url, query), args.repeat)
        filtered = {**query, "kind": "image", "analyzer": "image_sentiment"}
        filtered_ms, _ = timed(get(page_url, filtered), args.repeat)
        hourly = {
            "start": (END - dt.timedelta(days=6)).date().isoformat(),
            "end": END.date().isoformat(),
            "granularity": "hour",
        }
        hourly_ms, _ = timed(get(page_url, hourly), args.repeat)
        api_ms, _ = timed(
            get(
                f"/api/v1/brands/{brand.pk}/report", query, HTTP_AUTHORIZATION=f"Api-Key {raw_key}"
            ),
            args.repeat,
        )
        filters = ReportFilters(brand, start, END.date())
        baseline_ms, naive = timed(lambda: baseline_report(filters), max(1, args.repeat // 2))
        ours = fact_summary(filters)
        same = same_numbers(naive, ours)
        in_range = sum(v[0] for v in ours["days"].values())
        print(
            f"results loaded: {args.results} in {load_s:.1f}s; "
            f"facts filled: {created} in {sync_s:.1f}s"
        )
        print(f"brand items in range: {in_range} ({args.days} days)")
        print(f"page, whole range (day buckets):        {page_ms:8.1f} ms")
        print(f"page, image_sentiment on images:         {filtered_ms:8.1f} ms")
        print(f"page, 7 days by hour:                    {hourly_ms:8.1f} ms")
        print(f"API report, whole range:                 {api_ms:8.1f} ms")
        print(f"baseline (ORM per row, Python sums):     {baseline_ms:8.1f} ms")
        print(f"ratio baseline / page: {baseline_ms / page_ms:.1f}x; same numbers: {same}")
        print(
            json.dumps(
                {
                    "results": args.results,
                    "facts": created,
                    "page_ms": round(page_ms, 1),
                    "page_filtered_ms": round(filtered_ms, 1),
                    "page_hourly_ms": round(hourly_ms, 1),
                    "api_ms": round(api_ms, 1),
                    "baseline_ms": round(baseline_ms, 1),
                    "ratio": round(baseline_ms / page_ms, 2),
                    "same_numbers": same,
                }
            )
        )
        if not same:
            diff = {
                k: (naive["days"].get(k), ours["days"].get(k))
                for k in naive["days"]
                if naive["days"].get(k) != ours["days"].get(k)
            }
            print(f"MISMATCH (first 5 days): {list(diff.items())[:5]}", file=sys.stderr)
            return 1
        return 0
    finally:
        if server is not None:
            server.stop()
            testenv.remove_tree(base)


if __name__ == "__main__":
    sys.exit(main())
