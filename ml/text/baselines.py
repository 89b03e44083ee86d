"""VADER (vaderSentiment), the lexicon baseline the trained model must beat.

Standard VADER thresholds: compound >= 0.05 positive, <= -0.05 negative, else neutral.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np


@functools.cache
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_labels(texts: Sequence[str], threshold: float = 0.05) -> np.ndarray:
    """0 negative / 1 neutral / 2 positive for each text."""
    compound = np.array([_vader().polarity_scores(t)["compound"] for t in texts])
    return np.where(compound >= threshold, 2, np.where(compound <= -threshold, 0, 1))
