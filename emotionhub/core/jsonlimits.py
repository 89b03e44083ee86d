"""JSON parsing with a nesting limit, for every document that comes from outside.

``json.loads`` recurses once per level, so a body of ten thousand ``[`` raises
RecursionError (a 500, or Django's debug page in the quick start). Documents are scanned
for their depth first (regexes and string replaces, in C), and one nested
deeper than :data:`MAX_JSON_DEPTH` is refused as a :class:`JsonTooDeep`, which is a
``json.JSONDecodeError`` so every caller's existing "not valid JSON" handling applies.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Deeper than anything a client needs (analyzer settings are two or three levels).
MAX_JSON_DEPTH = 64
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_PAIRS = re.compile(r"\[\]|\{\}")


class JsonTooDeep(json.JSONDecodeError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"nested deeper than {limit} levels", "", 0)
        self.limit = limit

    def __str__(self) -> str:
        return f"JSON nested deeper than {self.limit} levels"


def check_depth(document: str | bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`JsonTooDeep` when ``document`` nests arrays/objects past ``limit``.

    Strings are blanked and everything but brackets dropped (regexes, in C). One pass of
    removing the adjacent ``[]``/``{}`` pairs peels exactly one level, so a document
    within the limit is empty after ``limit`` passes; one still peeling is deeper. What a
    malformed document leaves is walked bracket by bracket, so ``json`` never recurses
    past the limit on it either.
    """
    if isinstance(document, bytes | bytearray):
        document = bytes(document).decode("utf-8", "replace")
    if document.count("[") + document.count("{") <= limit:
        return
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", document))
    for _ in range(limit):
        brackets, removed = _PAIRS.subn("", brackets)
        if not brackets:
            return
        if not removed:
            break  # malformed: what is left never pairs up
    else:
        raise JsonTooDeep(limit)
    depth = 0
    for char in brackets:
        depth += 1 if char in "[{" else -1
        if depth > limit:
            raise JsonTooDeep(limit)


def loads(document: str | bytes, limit: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses documents nested deeper than ``limit``."""
    check_depth(document, limit)
    return json.loads(document)
