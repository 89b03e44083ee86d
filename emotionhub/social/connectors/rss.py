"""RSS and Atom feeds, fetched with the safe client and parsed by feedparser.

feedparser only ever sees bytes we downloaded: given a URL it would fetch by itself,
past the address policy. Relative links, enclosures and images resolve as a reader would
resolve them: against ``xml:base`` (feedparser composes it) and then the URL the feed came
from after redirects. feedparser is not given that URL itself, since it would also rewrite
relative entry ids into URLs and so change the ids of posts already stored. Conditional
GET (ETag / Last-Modified) keeps unchanged feeds cheap; the feed is one document, so every
entry is returned and ingestion de-duplicates.
"""

from __future__ import annotations

import hashlib
import mimetypes
from calendar import timegm
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from emotionhub.core.http import SafeClient, UnsafeUrl, check_url_shape, raise_for_status
from emotionhub.social.connectors.base import (
    Batch,
    Connector,
    IncomingPost,
    InvalidConfig,
    MalformedPayload,
    html_image_urls,
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
        try:
            items = parse_feed(fetched.body, fetched.url, fetched.headers.get("Content-Type", ""))
        except MalformedPayload as exc:
            exc.http_status = fetched.status
            raise
        new_cursor = {
            key: value
            for key, value in {
                "etag": fetched.headers.get("ETag"),
                "last_modified": fetched.headers.get("Last-Modified"),
            }.items()
            if value
        }
        return Batch(items, new_cursor, fetched.status)


def parse_feed(body: bytes, url: str, content_type: str = "") -> list[IncomingPost]:
    """The entries of the feed document ``body`` downloaded from ``url`` (after redirects);
    raises :class:`MalformedPayload` if it is no feed."""
    feed = feedparser.parse(
        body,
        response_headers={"content-type": content_type},
        resolve_relative_uris=True,
        sanitize_html=True,
    )
    if not feed.get("version") and not feed.entries:
        reason = feed.get("bozo_exception")
        raise MalformedPayload(f"not an RSS or Atom feed ({reason or 'no feed elements'})")
    items = [_entry(entry, url) for entry in feed.entries[:MAX_ENTRIES]]
    return [item for item in items if item]


def _entry(entry: Mapping[str, Any], feed_url: str) -> IncomingPost | None:
    title = html_to_text(entry.get("title") or "")
    body = ""
    markup = [part.get("value") or "" for part in entry.get("content") or []]
    if markup:
        body = html_to_text(markup[0])
    if not body:
        body = html_to_text(entry.get("summary") or "")
    markup.append(entry.get("summary") or "")
    base = _base(entry, feed_url)
    link = entry.get("link") or ""
    link = urljoin(feed_url, link) if link else ""  # feedparser applied xml:base to it
    external_id = entry.get("id") or link
    if not external_id:
        if not (title or body):
            return None
        external_id = (
            "sha256:"
            + hashlib.sha256(f"{title}\n{body}".encode(errors="surrogatepass")).hexdigest()
        )
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    posted_at = parse_datetime(timegm(parsed)) if parsed else None
    text = f"{title}\n\n{body}" if title and body and not body.startswith(title) else body or title
    return IncomingPost(
        # Not cut here: ingest stores an id over the column's length as its hash, so two
        # long ids that differ only at the end stay two posts.
        external_id=str(external_id),
        text=text.strip(),
        url=link if link.startswith(("http://", "https://")) else "",
        author=str(entry.get("author") or "")[:255],
        posted_at=posted_at,
        image_urls=_images(entry, markup, feed_url, base),
    )


def _base(entry: Mapping[str, Any], feed_url: str) -> str:
    """The base URI of the entry's HTML: its ``xml:base`` (as feedparser composed it, possibly
    still relative) against the feed's own URL."""
    for part in [*(entry.get("content") or []), entry.get("summary_detail") or {}]:
        base = part.get("base") if isinstance(part, Mapping) else None
        if isinstance(base, str) and base:
            return urljoin(feed_url, base)
    return feed_url


def _maybe_image(url: str, declared: str) -> bool:
    """Media RSS makes ``type`` and ``medium`` optional: without them, anything whose name
    does not say it is another kind of file may be an image (the download checks it)."""
    if declared:
        return declared.startswith("image")
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed is None or guessed.startswith("image/")


def _images(entry: Mapping[str, Any], markup: list[str], feed_url: str, base: str) -> list[str]:
    """Image enclosures, Media RSS content and thumbnails, then images inside the entry's
    content and summary, in that order, absolute, without repeats."""
    urls: list[str] = []
    for link in entry.get("links") or []:
        href = link.get("href")
        if (
            link.get("rel") == "enclosure"
            and str(link.get("type", "")).startswith("image/")
            and isinstance(href, str)
        ):
            # Atom links carry xml:base already (feedparser); RSS enclosures are as written.
            urls.append(urljoin(feed_url, href))
    for media in entry.get("media_content") or []:
        url = media.get("url")
        declared = str(media.get("medium") or media.get("type") or "")
        if isinstance(url, str) and _maybe_image(url, declared):
            urls.append(url)
    for thumb in entry.get("media_thumbnail") or []:
        urls.append(thumb.get("url"))
    for fragment in markup:
        urls.extend(html_image_urls(fragment))
    absolute = (urljoin(base, u.strip()) for u in urls if isinstance(u, str) and u.strip())
    return list(dict.fromkeys(u for u in absolute if u.startswith(("http://", "https://"))))
