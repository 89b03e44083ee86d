"""Normalise social-media text the way the sentiment model was trained to read it.

The encoder's WordPiece vocabulary has no emoji (they all become ``[UNK]``) and wastes
tokens on URLs, so emoji are spelled out as words (``😂`` -> ``face with tears of joy``),
URLs collapse to ``http`` and mentions to ``@user`` (as in TweetEval). Hashtags keep
their word (``#blessed`` -> ``blessed``), which is usually the sentiment-bearing part.
"""

from __future__ import annotations

import dataclasses
import re

import emoji

# Trailing punctuation ("see www.x.org!") stays in the sentence, not in the URL.
URL_RE = re.compile(r"(?:https?://|www\.)\S+?(?=[.,!?;:)\]]*(?:\s|$))", re.IGNORECASE)
MENTION_RE = re.compile(r"(?<![\w@])@\w{1,30}")
HASHTAG_RE = re.compile(r"(?<![\w#])#(\w+)")
SPACE_RE = re.compile(r"\s+")


@dataclasses.dataclass(frozen=True)
class NormalizedText:
    """The model's input and what was rewritten to get it (reported with results)."""

    text: str
    urls: int
    mentions: int
    hashtags: list[str]
    emoji: list[str]


def _spell_emoji(text: str, found: list[str]) -> str:
    def repl(chars: str, data: dict) -> str:
        found.append(chars)
        name = data["en"].strip(":").replace("_", " ")
        return f" {name} "

    return emoji.replace_emoji(text, replace=repl)


def normalize(text: str) -> NormalizedText:
    """Rewrite ``text`` for the model; never returns more text than it was given plus
    the spelled-out emoji."""
    urls = len(URL_RE.findall(text))
    text = URL_RE.sub(" http ", text)
    mentions = len(MENTION_RE.findall(text))
    text = MENTION_RE.sub("@user", text)
    hashtags = HASHTAG_RE.findall(text)
    text = HASHTAG_RE.sub(r"\1", text)
    found: list[str] = []
    text = _spell_emoji(text, found)
    text = SPACE_RE.sub(" ", text).strip()
    return NormalizedText(text=text, urls=urls, mentions=mentions, hashtags=hashtags, emoji=found)


def letters_only(text: str) -> str:
    """The words of ``text`` without URLs, mentions and emoji: what language ID should see."""
    text = URL_RE.sub(" ", text)
    text = MENTION_RE.sub(" ", text)
    text = HASHTAG_RE.sub(r"\1", text)
    text = emoji.replace_emoji(text, replace=" ")
    return SPACE_RE.sub(" ", text).strip()
