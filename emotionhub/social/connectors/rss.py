"""RSS and Atom feeds, fetched with the safe client and parsed by feedparser.

feedparser only ever sees bytes we downloaded: given a URL it would fetch by itself,
past the address policy. Conditional GET (ETag / Last-Modified) keeps unchanged feeds
cheap; the feed is one document, so every entry is returned and ingestion de-duplicates.
"""

from __future__ import annotations

import hashlib
from calendar import timegm
from collections.abc import Mapping
from typing import Any

import feedparser

from emotionhub.core.http import SafeClient, UnsafeUrl, check_url_shape, raise_for_status
from emotionhub.social.connectors.base import (
    Batch,
    Connector,
    IncomingPost,
    InvalidConfig,
    MalformedPayload,
    html_to_text,
    parse_datetime,
    reject_unknown,
    require_str,
)

MAX_ENTRIES = 500


class RssConnector(Connector):
    kind = "rss"

    @classmethod
    def clean_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        reject_unknown(config, {"url"})
        url = require_str(config, "url")
        try:
            check_url_shape(url)
        except UnsafeUrl as exc:
            raise InvalidConfig(f"url: {exc.message}") from None
        return {"url": url}

    def fetch(
        self, client: SafeClient, config: Mapping[str, Any], cursor: Mapping[str, Any], limit: int
    ) -> Batch:
        headers = {
            "Accept": "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.5"
        }
        if cursor.get("etag"):
            headers["If-None-Match"] = cursor["etag"]
        if cursor.get("last_modified"):
            headers["If-Modified-Since"] = cursor["last_modified"]
        fetched = client.get(config["url"], headers=headers)
        if fetched.status == 304:
            return Batch([], dict(cursor), 304)
        raise_for_status(fetched)
        feed = feedparser.parse(
            fetched.body,
            response_headers={"content-type": fetched.headers.get("Content-Type", "")},
            resolve_relative_uris=True,
            sanitize_html=True,
        )
        if not feed.get("version") and not feed.entries:
            reason = feed.get("bozo_exception")
            raise MalformedPayload(
                f"not an RSS or Atom feed ({reason or 'no feed elements'})",
                http_status=fetched.status,
            )
        items = [self._entry(entry) for entry in feed.entries[:MAX_ENTRIES]]
        new_cursor = {
            key: value
            for key, value in {
                "etag": fetched.headers.get("ETag"),
                "last_modified": fetched.headers.get("Last-Modified"),
            }.items()
            if value
        }
        return Batch([item for item in items if item], new_cursor, fetched.status)

    @staticmethod
    def _entry(entry: Mapping[str, Any]) -> IncomingPost | None:
        title = html_to_text(entry.get("title") or "")
        body = ""
        if entry.get("content"):
            body = html_to_text(entry["content"][0].get("value") or "")
        if not body:
            body = html_to_text(entry.get("summary") or "")
        link = entry.get("link") or ""
        external_id = entry.get("id") or link
        if not external_id:
            if not (title or body):
                return None
            external_id = "sha256:" + hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()
        parsed = entry.get("published_parsed") or entry.get("updated_parsed")
        posted_at = parse_datetime(timegm(parsed)) if parsed else None
        text = (
            f"{title}\n\n{body}" if title and body and not body.startswith(title) else body or title
        )
        return IncomingPost(
            external_id=str(external_id)[:255],
            text=text.strip(),
            url=link if link.startswith(("http://", "https://")) else "",
            author=str(entry.get("author") or "")[:255],
            posted_at=posted_at,
            image_urls=_images(entry),
        )


def _images(entry: Mapping[str, Any]) -> list[str]:
    """Image enclosures, Media RSS content and thumbnails, in that order, without repeats."""
    urls: list[str] = []
    for link in entry.get("links") or []:
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            urls.append(link.get("href"))
    for media in entry.get("media_content") or []:
        if media.get("medium") == "image" or str(media.get("type", "")).startswith("image/"):
            urls.append(media.get("url"))
    for thumb in entry.get("media_thumbnail") or []:
        urls.append(thumb.get("url"))
    return list(
        dict.fromkeys(
            u for u in urls if isinstance(u, str) and u.startswith(("http://", "https://"))
        )
    )
