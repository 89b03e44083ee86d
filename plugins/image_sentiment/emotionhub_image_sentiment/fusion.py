"""The fusion rule: per-component scores in, one image-level score and label out.

Pure arithmetic on plain numbers (no models), so the rule can be tested exactly and
explained in one paragraph of the README. Every component (faces, OCR text, caption) has
a score in [-1, 1], read as P(positive) - P(negative), and an effective weight: its
configured weight times how much this instance of it can be trusted (face detection
quality, OCR confidence). The fused score is the weighted mean of the scored components.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

LABELS = ("negative", "neutral", "positive")
COMPONENT_NAMES = ("faces", "ocr_text", "caption")


@dataclasses.dataclass(frozen=True)
class Component:
    """One source of evidence. ``score`` is None when the source is present but was not
    scored (text in a language the model does not know); its weight is then 0."""

    name: str
    score: float | None
    weight: float
    details: Mapping[str, Any]

    def __post_init__(self) -> None:
        if self.name not in COMPONENT_NAMES:
            raise ValueError(f"unknown component {self.name!r}")
        if self.score is not None and not -1.0 <= self.score <= 1.0:
            raise ValueError(f"score {self.score} is outside [-1, 1]")
        if self.weight < 0 or (self.score is None and self.weight != 0):
            raise ValueError("weight must be >= 0, and 0 for an unscored component")


@dataclasses.dataclass(frozen=True)
class Fusion:
    score: float | None
    label: str | None
    disagreement: bool
    #: weight / total weight of each component (0 for unscored ones), by position
    shares: tuple[float, ...]
    #: share x score: the contributions add up to the fused score
    contributions: tuple[float, ...]


def label_of(score: float | None, threshold: float) -> str | None:
    """positive when score >= threshold, negative when <= -threshold, else neutral."""
    if score is None:
        return None
    if score >= threshold:
        return "positive"
    if score <= -threshold:
        return "negative"
    return "neutral"


def fuse(components: Sequence[Component], threshold: float, min_share: float) -> Fusion:
    """Weighted mean of the scored components, its label, and the disagreement flag.

    ``disagreement`` is true when, among the components carrying at least ``min_share``
    of the total weight, one is labelled positive and another negative. Neutral never
    disagrees with anything, and a component too weak to move the fused score much (a
    small, blurry background face next to a clear caption) cannot raise the flag.
    With no scored component, or a total weight of 0, the result is unscored (None).
    """
    total = sum(c.weight for c in components if c.score is not None)
    if total <= 0:
        zeros = tuple(0.0 for _ in components)
        return Fusion(None, None, False, zeros, zeros)
    shares = tuple(c.weight / total if c.score is not None else 0.0 for c in components)
    contributions = tuple(
        share * c.score if c.score is not None else 0.0
        for share, c in zip(shares, components, strict=True)
    )
    score = max(-1.0, min(1.0, sum(contributions)))
    strong = {
        label_of(c.score, threshold)
        for share, c in zip(shares, components, strict=True)
        if c.score is not None and share >= min_share
    }
    disagreement = {"positive", "negative"} <= strong
    return Fusion(score, label_of(score, threshold), disagreement, shares, contributions)
