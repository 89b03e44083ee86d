"""Faces -> one sentiment component: the facial_emotion result mapped to polarity.

Facial expressions are not sentiment classes, so the mapping is explicit and documented
(README "Faces"): happy is positive; surprise is only weakly positive (it is as often
shock as delight); neutral is 0; angry, disgust, fear and sad are negative. A face's
polarity is the expectation of that mapping under its calibrated probabilities, so an
unsure face lands near 0 instead of flipping between the extremes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emotionhub_image_sentiment.fusion import Component

FACE_POLARITY: Mapping[str, float] = {
    "happy": 1.0,
    "surprise": 0.25,
    "neutral": 0.0,
    "angry": -1.0,
    "disgust": -1.0,
    "fear": -1.0,
    "sad": -1.0,
}
#: The emotion classifiers see 48x48 px faces; smaller faces are upscaled and less reliable.
FULL_TRUST_FACE_PX = 48.0


def face_polarity(emotions: Mapping[str, float]) -> float:
    """Expected polarity in [-1, 1]: sum of P(emotion) x FACE_POLARITY[emotion]."""
    value = sum(p * FACE_POLARITY[name] for name, p in emotions.items())
    return max(-1.0, min(1.0, value))


def face_reliability(face: Mapping[str, Any]) -> float:
    """detection score x top-class confidence x size factor (1 from 48 px up), in [0, 1]."""
    x1, y1, x2, y2 = face["box"]
    size = min(1.0, max(0.0, min(x2 - x1, y2 - y1)) / FULL_TRUST_FACE_PX)
    return max(0.0, min(1.0, float(face["score"]))) * float(face["confidence"]) * size


def faces_component(facial: Mapping[str, Any], weight: float) -> Component | None:
    """The faces component of a facial_emotion image result, or None without faces.

    Each face's polarity is weighted by its reliability, so a large clear face outweighs
    small blurry ones in the background. The component's effective weight is ``weight``
    times the reliability of its most reliable face: the component is as trustworthy as
    the clearest face it has.
    """
    faces = facial["faces"]
    if not faces:
        return None
    rows = []
    for face in faces:
        rows.append((face, face_polarity(face["emotions"]), face_reliability(face)))
    total = sum(r for _, _, r in rows)
    if total > 0:
        score = sum(p * r for _, p, r in rows) / total
    else:  # every face degenerate (zero-size box): plain mean, and no weight below
        score = sum(p for _, p, _ in rows) / len(rows)
    best = max(r for _, _, r in rows)
    details = {
        "face_count": len(faces),
        "detector": facial["detector"],
        "model": facial["model"],
        "faces": [
            {
                "box": face["box"],
                "label": face["label"],
                "confidence": face["confidence"],
                "polarity": round(polarity, 4),
                "reliability": round(reliability, 4),
            }
            for face, polarity, reliability in rows
        ],
    }
    return Component("faces", max(-1.0, min(1.0, score)), weight * best, details)
