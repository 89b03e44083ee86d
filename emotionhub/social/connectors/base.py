"""What every connector returns, and helpers they share.

A connector turns one source's config and cursor into a :class:`Batch` of
:class:`IncomingPost` items. It knows the upstream's format and pagination, and nothing of
the database: de-duplication, caps on what is stored and media downloads happen in
:mod:`emotionhub.social.ingest`.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, ClassVar

from emotionhub.core.http import Fetched, FetchError, SafeClient, raise_for_status


class InvalidConfig(ValueError):
    """The source's config is unusable; the message names the field."""


class MalformedPayload(FetchError):
    """The upstream answered, but not in the format its documentation gives."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__("malformed_payload", message, http_status=http_status)


@dataclasses.dataclass
class IncomingPost:
    external_id: str
    text: str = ""
    url: str = ""
    author: str = ""
    posted_at: datetime | None = None
    image_urls: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Batch:
    """Items newest first as the upstream gave them, and the cursor to store after them."""

    items: list[IncomingPost]
    cursor: dict[str, Any]
    http_status: int | None = None


class Connector(ABC):
    kind: ClassVar[str]

    @classmethod
    @abstractmethod
    def clean_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """The normalised config; raises :class:`InvalidConfig` on a bad one."""

    @abstractmethod
    def fetch(
        self, client: SafeClient, config: Mapping[str, Any], cursor: Mapping[str, Any], limit: int
    ) -> Batch:
        """Items new since ``cursor``, at most about ``limit`` of them."""


# --- shared helpers ------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    BREAKS = {"br", "p", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "tr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment (Mastodon content, feed summaries)."""
    if "<" not in markup:
        return html.unescape(markup).strip()
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return re.sub(r"\s*\n\s*", "\n", text).strip()


def parse_datetime(value: Any) -> datetime | None:
    """An ISO 8601 string or a Unix time as an aware datetime; None if unusable."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def require_str(config: Mapping[str, Any], key: str, *, pattern: str | None = None) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidConfig(f"{key} is required and must be a non-empty string")
    value = value.strip()
    if pattern and not re.fullmatch(pattern, value):
        raise InvalidConfig(f"{key} {value[:100]!r} is not valid")
    return value


def http_base_url(config: Mapping[str, Any], key: str, default: str) -> str:
    value = config.get(key, default)
    if not isinstance(value, str) or not re.fullmatch(r"https?://[^/?#\s]+/?", value):
        raise InvalidConfig(f"{key} must be an http(s) origin such as {default}")
    return value.rstrip("/")


def reject_unknown(config: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise InvalidConfig(
            f"unknown config keys: {', '.join(unknown)}; allowed: {sorted(allowed)}"
        )


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise MalformedPayload(message)


def get_json(
    client: SafeClient, url: str, params: Mapping[str, str | int] | None = None
) -> tuple[Any, Fetched]:
    """GET a JSON document; error statuses and non-JSON bodies raise the run's error."""
    fetched = client.get(url, params=params, headers={"Accept": "application/json"})
    raise_for_status(fetched)
    try:
        return json.loads(fetched.body), fetched
    except (ValueError, UnicodeDecodeError):
        raise MalformedPayload(
            f"{url[:200]} did not answer with JSON", http_status=fetched.status
        ) from None
