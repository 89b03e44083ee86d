"""What in a result a reviewer can label: each face of an image, each face track of a
video, or the whole item. A face or track can also be marked as not a face (a detector
false positive).

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
from emotionhub.review.models import (
    ADDED_PREFIX,
    POST_TARGET,
    ReviewLabel,
    face_target,
    track_target,
)

FACE_LABELS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
# What a reviewer picks for a box around something that is no face: it counts against the
# detector (precision), never as an expression class, and is left out of training crops.
NOT_A_FACE = "not_a_face"


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
    name: str  # "post", "face:<i>" or "track:<id>"
    model_label: str
    choices: tuple[str, ...]
    probabilities: dict[str, float]
    box: tuple[float, float, float, float] | None = None  # x1, y1, x2, y2 in image pixels
    # Video tracks: seconds seen (first, last) and keyframes ((t, box), ...) to show.
    span: tuple[float, float] | None = None
    keyframes: tuple[tuple[float, tuple[float, float, float, float]], ...] = ()

    @property
    def face_index(self) -> int | None:
        return int(self.name.split(":", 1)[1]) if self.name.startswith("face:") else None

    @property
    def is_face(self) -> bool:
        """A face of an image, a face track of a video or a face a reviewer added."""
        return self.name.startswith(("face:", "track:", ADDED_PREFIX))


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


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _track_target(track: Mapping) -> Target | None:
    track_id = track.get("track_id")
    if not isinstance(track_id, int) or isinstance(track_id, bool):
        return None
    probabilities = _probabilities(track.get("emotions"))
    label = _text(track.get("label"))
    first, last = _number(track.get("first_s")), _number(track.get("last_s"))
    frames: list[tuple[float, tuple[float, float, float, float]]] = []
    for frame in track.get("keyframes") or []:
        if isinstance(frame, Mapping):
            at, frame_box = _number(frame.get("t")), _box(frame.get("box"))
            if at is not None and frame_box is not None:
                frames.append((at, frame_box))
    box = _box(track.get("last_box"))
    if not frames and box is not None and last is not None:  # results from before keyframes
        frames.append((last, box))
    return Target(
        track_target(track_id),
        label,
        _face_choices(probabilities),
        probabilities,
        box,
        span=(first, last) if first is not None and last is not None else None,
        keyframes=tuple(frames),
    )


def _face_choices(probabilities: Mapping[str, float]) -> tuple[str, ...]:
    """The model's classes in a fixed order (FER2013's, then any others by name), so the
    keyboard's 1-9 always mean the same labels: PostgreSQL's jsonb does not keep the
    payload's key order (it sorts keys by length)."""
    known = [label for label in FACE_LABELS if label in probabilities]
    others = sorted(label for label in probabilities if label not in FACE_LABELS)
    return (*((known + others) or FACE_LABELS), NOT_A_FACE)


def targets(result: AnalysisResult) -> list[Target]:
    """Reviewable targets of a result, in payload order; empty for other analyzers."""
    payload = _mapping(result.payload)
    if result.analyzer in face_analyzers():
        out = []
        for track in payload.get("tracks") or []:  # a video
            target = _track_target(track) if isinstance(track, Mapping) else None
            if target is not None:
                out.append(target)
        for i, face in enumerate(payload.get("faces") or []):  # an image
            if not isinstance(face, Mapping):
                continue
            probabilities = _probabilities(face.get("emotions"))
            choices = _face_choices(probabilities)
            label = _text(face.get("label"))
            out.append(Target(face_target(i), label, choices, probabilities, _box(face.get("box"))))
        return out
    if result.analyzer in item_analyzers():
        probabilities = _probabilities(payload.get("sentiment"))
        label = _text(payload.get("label"))
        return [Target(POST_TARGET, label, SENTIMENT_LABELS, probabilities)]
    return []


def added_targets(result: AnalysisResult) -> list[Target]:
    """Faces reviewers drew on an image because the detector missed them; the model said
    nothing about them, so their model label is empty."""
    if result.analyzer not in face_analyzers() or result.media.kind != "image":
        return []
    rows = ReviewLabel.objects.filter(
        result=result, current=True, target__startswith=ADDED_PREFIX
    ).order_by("id")
    return [
        Target(row.target, "", (*FACE_LABELS, NOT_A_FACE), {}, _box(row.box))
        for row in rows
        if _box(row.box) is not None
    ]


def target_named(result: AnalysisResult, name: str) -> Target | None:
    found = targets(result) + (added_targets(result) if name.startswith(ADDED_PREFIX) else [])
    return next((t for t in found if t.name == name), None)


def context_faces(result: AnalysisResult) -> list[tuple[tuple[float, float, float, float], str]]:
    """Faces a whole-item result was built from (image_sentiment's faces component): boxes
    and their expression labels, drawn on the review page for context, not labelled."""
    payload = _mapping(result.payload)
    out = []
    for component in payload.get("components") or []:
        if not isinstance(component, Mapping) or component.get("name") != "faces":
            continue
        details = _mapping(component.get("details"))
        for face in details.get("faces") or []:
            box = _box(face.get("box")) if isinstance(face, Mapping) else None
            if box is not None:
                label = _text(face.get("label"))
                out.append((box, label))
    return out
