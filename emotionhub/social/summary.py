"""A post's analysis at a glance: job statuses and one overall sentiment.

The rule is deliberately simple. Results of ``image_sentiment`` (which already fuses each
image with its caption) and ``text_sentiment`` (the post text) count as sentiment votes.
A vote is a payload with ``label`` in negative/neutral/positive and optionally ``scores``
(or ``probabilities``): {class: probability}; the same may sit under ``overall`` or
``fused``. When any vote has scores, the overall scores are their mean and the label their
argmax; otherwise the most frequent label wins (ties: text first). No vote, no sentiment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from emotionhub.api.serializers import submission_status
from emotionhub.media.models import Media

SENTIMENT_ANALYZERS = ("text_sentiment", "image_sentiment")
CLASSES = ("negative", "neutral", "positive")


def _vote(payload: Any) -> tuple[str, dict[str, float] | None] | None:
    if not isinstance(payload, Mapping):
        return None
    for nested in ("overall", "fused"):
        if isinstance(payload.get(nested), Mapping) and "label" not in payload:
            return _vote(payload[nested])
    label = payload.get("label")
    if label not in CLASSES:
        return None
    scores = payload.get("scores", payload.get("probabilities"))
    if isinstance(scores, Mapping) and all(isinstance(scores.get(c), int | float) for c in CLASSES):
        return label, {c: float(scores[c]) for c in CLASSES}
    return label, None


def summarise(media: Iterable[Media]) -> dict[str, Any]:
    """Needs each media's ``jobs`` and ``results`` (prefetch them)."""
    media = list(media)
    jobs = [job for item in media for job in item.jobs.all()]
    analyzers: dict[str, dict[str, Any]] = {}
    for job in jobs:
        entry = analyzers.setdefault(job.analyzer, {"jobs": Counter(), "results": 0})
        entry["jobs"][job.status] += 1
    votes = []
    for item in media:
        for result in item.results.all():
            analyzers.setdefault(result.analyzer, {"jobs": Counter(), "results": 0})
            analyzers[result.analyzer]["results"] += 1
            if result.analyzer in SENTIMENT_ANALYZERS and (vote := _vote(result.payload)):
                votes.append((result.analyzer, str(item.pk), *vote))
    return {
        "status": submission_status([job.status for job in jobs]),
        "job_counts": dict(Counter(job.status for job in jobs)),
        "analyzers": {
            name: {"jobs": dict(entry["jobs"]), "results": entry["results"]}
            for name, entry in sorted(analyzers.items())
        },
        "sentiment": _combine(votes),
    }


def _combine(votes: list[tuple[str, str, str, dict[str, float] | None]]) -> dict | None:
    if not votes:
        return None
    based_on = [{"analyzer": analyzer, "media": media} for analyzer, media, _, _ in votes]
    scored = [scores for *_, scores in votes if scores]
    if scored:
        mean = {c: round(sum(s[c] for s in scored) / len(scored), 4) for c in CLASSES}
        return {"label": max(CLASSES, key=mean.__getitem__), "scores": mean, "based_on": based_on}
    order = sorted(votes, key=lambda v: SENTIMENT_ANALYZERS.index(v[0]))
    counts = Counter(label for _, _, label, _ in order)
    top = max(counts.values())
    label = next(label for _, _, label, _ in order if counts[label] == top)
    return {"label": label, "scores": None, "based_on": based_on}
