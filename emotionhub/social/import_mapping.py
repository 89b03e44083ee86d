"""Which file column means what, checked before anything is written, and one row's post.

A mapping names, for each field, the column (CSV header) or key (JSON Lines) it comes
from: ``text`` is required; ``time``, ``author``, ``channel``, ``rating``, ``external_id``,
``language`` and ``image_url`` are optional. A row's external id is its ``external_id``
column, or else a hash of the whole row, so re-reading a row (a resumed import, the same
file uploaded again to the same source) finds the post it made instead of a second one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from emotionhub.social.connectors.base import IncomingPost, parse_datetime

FIELDS = ("text", "time", "author", "channel", "rating", "external_id", "language", "image_url")


class InvalidMapping(ValueError):
    """The mapping or the file's columns do not fit; the message names the field."""


def clean_mapping(mapping: Any) -> dict[str, str]:
    if isinstance(mapping, str):
        try:
            mapping = json.loads(mapping)
        except ValueError:
            raise InvalidMapping("mapping must be a JSON object") from None
    if not isinstance(mapping, dict):
        raise InvalidMapping("mapping must be a JSON object of field -> column")
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise InvalidMapping(f"unknown mapping fields: {', '.join(unknown)}; known: {FIELDS}")
    if not mapping.get("text"):
        raise InvalidMapping("mapping.text (the column holding the feedback text) is required")
    out = {}
    for field, column in mapping.items():
        if not isinstance(column, str) or not column.strip() or len(column) > 200:
            raise InvalidMapping(f"mapping.{field} must be a column name")
        out[field] = column.strip()
    return out


def check_columns(mapping: Mapping[str, str], columns: list[str] | None) -> None:
    """Every mapped column exists in the CSV header (JSON keys may vary by line)."""
    if columns is None:
        return
    missing = [f"{field} -> {col!r}" for field, col in mapping.items() if col not in columns]
    if missing:
        raise InvalidMapping(
            f"columns not in the file's header: {', '.join(missing)}; the header has "
            f"{', '.join(repr(c) for c in columns[:50])}"
        )


class RowProblem(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _value(row: Mapping[str, Any], mapping: Mapping[str, str], field: str) -> str:
    column = mapping.get(field)
    value = row.get(column) if column else None
    if value is None:
        return ""
    return (
        value
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, dict | list)
        else str(value)
    )


def row_post(number: int, row: Mapping[str, Any], mapping: Mapping[str, str]) -> IncomingPost:
    """The post of one row; raises :class:`RowProblem` for a row to skip."""
    text = _value(row, mapping, "text").strip()
    if not text:
        raise RowProblem("empty_text", f"no text in column {mapping['text']!r}")
    posted_at = None
    if raw_time := _value(row, mapping, "time").strip():
        number_like = re.fullmatch(r"\d{9,11}(\.\d+)?", raw_time)
        posted_at = parse_datetime(float(raw_time) if number_like else raw_time)
        if posted_at is None:
            raise RowProblem("invalid_time", f"{raw_time[:100]!r} is not ISO 8601 or Unix time")
    attributes: dict[str, Any] = {"row": number}
    if raw_rating := _value(row, mapping, "rating").strip():
        try:
            attributes["rating"] = float(raw_rating)
        except ValueError:
            raise RowProblem("invalid_rating", f"{raw_rating[:100]!r} is not a number") from None
    for field in ("channel", "language"):
        if value := _value(row, mapping, field).strip():
            attributes[field] = value[:100]
    images = []
    if image := _value(row, mapping, "image_url").strip():
        if not image.startswith(("http://", "https://")):
            raise RowProblem("invalid_image_url", f"{image[:100]!r} is not an http(s) URL")
        images.append(image)
    external_id = _value(row, mapping, "external_id").strip()
    if not external_id:
        canonical = json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
        digest = hashlib.sha256(canonical.encode(errors="surrogatepass")).hexdigest()
        external_id = "row:" + digest
    return IncomingPost(
        external_id=external_id,
        text=text,
        author=_value(row, mapping, "author").strip()[:255],
        posted_at=posted_at,
        image_urls=images,
        attributes=attributes,
    )
