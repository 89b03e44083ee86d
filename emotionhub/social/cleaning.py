"""Text from strangers made storable: PostgreSQL refuses what Python strings allow.

A ``text`` column rejects NUL (``\\x00``), and a lone surrogate (``\\ud800``, which JSON
``"\\ud800"`` escapes decode to) cannot be encoded as UTF-8 at all, so either one fails the
INSERT of the whole post. SQLite stores both, which is why the tests run on PostgreSQL.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(value: str) -> str:
    """``value`` without NUL bytes, each lone surrogate replaced by U+FFFD."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    return _SURROGATE.sub("\ufffd", value)


def storable(value: object) -> object:
    """:func:`storable_text` applied to every string inside a JSON-like value."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(k)): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value
