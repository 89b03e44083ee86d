"""What every connector returns, and helpers they share.

A connector turns one source's config and cursor into a :class:`Batch` of
:class:`IncomingPost` items. It knows the upstream's format and pagination, and nothing of
the database: de-duplication, caps on what is stored and media downloads happen in
:mod:`emotionhub.social.ingest`.
"""

from __future__ import annotations

import dataclasses
import html
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, ClassVar

from emotionhub.core import jsonlimits
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
    # "preview" when the images are the upstream's thumbnail of a link or a video (a link
    # card), not a picture the author posted; "" otherwise.
    media_role: str = ""
    nsfw: bool = False
    # Imported feedback's mapped columns (rating, channel, language) and its row number.
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Batch:
    """Items newest first as the upstream gave them, and the cursor to store after them.

    ``left_out`` names items the connector saw and did not return (removed posts, NSFW
    posts a source skips, galleries still processing), as ``{"post", "code", "message"}``;
    ``notes`` are warnings about the run itself (a paging bound that was hit). Both end in
    the run's warnings, and left-out items count as fetched and skipped.
    """

    items: list[IncomingPost]
    cursor: dict[str, Any]
    http_status: int | None = None
    left_out: list[dict[str, str]] = dataclasses.field(default_factory=list)
    notes: list[dict[str, str]] = dataclasses.field(default_factory=list)


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
        self.images: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")
        elif tag == "img":
            self._image(dict(attrs))

    def handle_startendtag(self, tag, attrs):
        if tag == "img":
            self._image(dict(attrs))
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

    def parse_marked_section(self, i, report=1):
        # ``<![`` not followed by a known keyword (CDATA, if, endif…) makes the stdlib's
        # _markupbase raise AssertionError ("expected name token"); browsers show it as
        # text, and so do we.
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            self.handle_data(self.rawdata[i : i + 3])
            return i + 3

    def _image(self, attrs: dict[str, str | None]) -> None:
        src = (attrs.get("src") or "").strip()
        # 1x1 tracking pixels (feed analytics) are no picture of anything.
        if not src or attrs.get("width") in ("0", "1") or attrs.get("height") in ("0", "1"):
            return
        self.images.append(src)


def _parse_html(markup: str) -> _TextExtractor:
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # the stdlib parser on hostile input: never fail the feed for it
        parser.parts = [re.sub(r"<[^>]*>?", " ", html.unescape(markup))]
    return parser


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment (Mastodon content, feed summaries); never raises."""
    if "<" not in markup:
        return html.unescape(markup).strip()
    text = "".join(_parse_html(markup).parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return re.sub(r"\s*\n\s*", "\n", text).strip()


def html_image_urls(markup: str) -> list[str]:
    """``src`` of each ``<img>`` in an HTML fragment, in document order (tracking pixels
    left out); relative ones as written."""
    if "<img" not in markup.lower():
        return []
    return _parse_html(markup).images


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
        return jsonlimits.loads(fetched.body), fetched
    except (ValueError, UnicodeDecodeError):
        raise MalformedPayload(
            f"{url[:200]} did not answer with JSON", http_status=fetched.status
        ) from None
