"""Language identification, so non-English text is reported instead of guessed at.

The sentiment model was trained on English only. py3langid (a maintained fork of langid.py,
model shipped in the wheel, deterministic) labels the text; very short texts are too
ambiguous for any identifier, so they get ``reliable=False`` rather than a confident label.
"""

from __future__ import annotations

import dataclasses
import functools

from ml.text.preprocess import letters_only

MIN_LETTERS = 12  # below this, language ID is mostly noise
MIN_CONFIDENCE = 0.6


@dataclasses.dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1, or "und" when there are no words to judge
    confidence: float
    reliable: bool

    @property
    def is_english(self) -> bool:
        """English, or too little text to tell (then the model is tried anyway)."""
        return self.code in ("en", "und") or not self.reliable


@functools.cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> Language:
    """Best guess of the language of ``text`` with a normalised confidence in [0, 1]."""
    words = letters_only(text)
    letters = sum(ch.isalpha() for ch in words)
    if letters == 0:
        return Language("und", 0.0, False)
    code, prob = _identifier().classify(words)
    prob = float(prob)
    return Language(code, round(prob, 4), letters >= MIN_LETTERS and prob >= MIN_CONFIDENCE)
