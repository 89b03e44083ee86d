"""A post's analysis at a glance: job statuses and one overall sentiment.

The rule is deliberately simple. Results of analyzers that produce ``sentiment`` (today
image_sentiment, one per image, and text_sentiment, the post text) are votes, each worth
``emotionhub.analyzers.contract.sentiment_polarity`` of its payload: ``score`` in [-1, 1],
or -1/0/1 from ``label``; ``scored: false`` (e.g. text in an unsupported language) does
not vote. The post's score is the mean of the votes, and its label follows
image_sentiment's default rule: >= 0.2 positive, <= -0.2 negative, neutral between. No
vote, no sentiment (``null``); every vote is listed in ``based_on``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from emotionhub.analyzers.contract import sentiment_polarity
from emotionhub.analyzers.registry import analyzers_producing
from emotionhub.jobs.documents import submission_status
from emotionhub.media.models import Media

LABEL_THRESHOLD = 0.2


def label_of(score: float) -> str:
    if score >= LABEL_THRESHOLD:
        return "positive"
    if score <= -LABEL_THRESHOLD:
        return "negative"
    return "neutral"


def summarise(media: Iterable[Media]) -> dict[str, Any]:
    """Needs each media's ``jobs`` and ``results`` (prefetch them)."""
    media = list(media)
    jobs = [job for item in media for job in item.jobs.all()]
    analyzers: dict[str, dict[str, Any]] = {}
    for job in jobs:
        entry = analyzers.setdefault(job.analyzer, {"jobs": Counter(), "results": 0})
        entry["jobs"][job.status] += 1
    votes = []
    voters = analyzers_producing("sentiment")
    for item in media:
        for result in item.results.all():
            analyzers.setdefault(result.analyzer, {"jobs": Counter(), "results": 0})
            analyzers[result.analyzer]["results"] += 1
            if result.analyzer in voters:
                polarity = sentiment_polarity(result.payload)
                if polarity is not None:
                    votes.append((result.analyzer, str(item.pk), polarity))
    return {
        "status": submission_status([job.status for job in jobs]),
        "job_counts": dict(Counter(job.status for job in jobs)),
        "analyzers": {
            name: {"jobs": dict(entry["jobs"]), "results": entry["results"]}
            for name, entry in sorted(analyzers.items())
        },
        "sentiment": _combine(votes),
    }


def _combine(votes: list[tuple[str, str, float]]) -> dict | None:
    if not votes:
        return None
    score = round(sum(polarity for *_, polarity in votes) / len(votes), 4)
    return {
        "label": label_of(score),
        "score": score,
        "based_on": [
            {"analyzer": analyzer, "media": media, "score": polarity}
            for analyzer, media, polarity in votes
        ],
    }
