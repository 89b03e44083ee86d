"""What in a result a reviewer can label: each face of an image, or the whole item.

Which results have targets comes from the analyzer contract: analyzers that produce
``faces`` have one target per face, those that produce ``sentiment`` one for the item. The
label vocabulary comes from the payload itself (a face's ``emotions`` keys), so a plugin
with other classes needs no change here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from emotionhub.analyzers.contract import SENTIMENT_LABELS
from emotionhub.analyzers.registry import analyzers_producing
from emotionhub.jobs.models import AnalysisResult
from emotionhub.review.models import POST_TARGET, face_target

FACE_LABELS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def face_analyzers() -> frozenset[str]:
    """Analyzers whose results have one target per face."""
    return analyzers_producing("faces")


def item_analyzers() -> frozenset[str]:
    """Analyzers whose results have one target for the whole item."""
    return analyzers_producing("sentiment") - face_analyzers()


def reviewable_analyzers() -> frozenset[str]:
    return face_analyzers() | item_analyzers()


@dataclasses.dataclass(frozen=True)
class Target:
    name: str  # "post" or "face:<i>"
    model_label: str
    choices: tuple[str, ...]
    probabilities: dict[str, float]
    box: tuple[float, float, float, float] | None = None  # x1, y1, x2, y2 in image pixels

    @property
    def face_index(self) -> int | None:
        return int(self.name.split(":", 1)[1]) if self.name.startswith("face:") else None


def _probabilities(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        return {}
    return {
        str(k): float(v)
        for k, v in value.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _box(value: Any) -> tuple[float, float, float, float] | None:
    if not (isinstance(value, list | tuple) and len(value) == 4):
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return None
    x1, y1, x2, y2 = (float(v) for v in value)
    return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None


def targets(result: AnalysisResult) -> list[Target]:
    """Reviewable targets of a result, in payload order; empty for other analyzers."""
    payload = result.payload if isinstance(result.payload, Mapping) else {}
    if result.analyzer in face_analyzers():
        out = []
        for i, face in enumerate(payload.get("faces") or []):  # images only, not video tracks
            if not isinstance(face, Mapping):
                continue
            probabilities = _probabilities(face.get("emotions"))
            choices = tuple(probabilities) or FACE_LABELS
            label = face.get("label") if isinstance(face.get("label"), str) else ""
            out.append(Target(face_target(i), label, choices, probabilities, _box(face.get("box"))))
        return out
    if result.analyzer in item_analyzers():
        probabilities = _probabilities(payload.get("sentiment"))
        label = payload.get("label") if isinstance(payload.get("label"), str) else ""
        return [Target(POST_TARGET, label, SENTIMENT_LABELS, probabilities)]
    return []


def target_named(result: AnalysisResult, name: str) -> Target | None:
    return next((t for t in targets(result) if t.name == name), None)
