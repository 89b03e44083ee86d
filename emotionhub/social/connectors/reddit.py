"""Reddit subreddit listings through the public JSON API (``/r/<sub>/new.json``).

A listing is ``{"kind": "Listing", "data": {"after", "children": [{"kind": "t3", "data":
{…}}]}}``, newest first. Each run walks back with ``after`` until it reaches the newest
post of the previous run (the cursor), the page runs out, or ``limit`` posts are in hand;
if more than ``limit`` arrived between runs, the older ones are not fetched.

What a post means is read the way Reddit shows it:

- a subreddit that does not exist answers with a redirect to the subreddit search (or a
  404): the run fails with ``source_not_found`` instead of succeeding with nothing forever;
- the text is the title and the rendered body (``selftext_html``), not the raw markdown;
  ``[removed]`` / ``[deleted]`` posts are left out;
- gallery images keep the gallery's order (``gallery_data``; ``media_metadata`` is an
  unordered map). A gallery still ``unprocessed`` is held back and the cursor stays before
  it, so a later run takes it with its images (after ``PENDING_GALLERY_SECONDS`` it is
  taken without them);
- the preview of a link or a video is a link card, not the author's photo: its media are
  marked ``preview``, or left out with ``preview_media: "skip"``;
- ``over_18`` is kept on the post; ``skip_nsfw: true`` leaves such posts out.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from emotionhub.core.http import FetchError, SafeClient
from emotionhub.social.connectors.base import (
    Batch,
    Connector,
    IncomingPost,
    InvalidConfig,
    MalformedPayload,
    expect,
    get_json,
    html_to_text,
    http_base_url,
    parse_datetime,
    reject_unknown,
    require_str,
)

PAGE_LIMIT = 100
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp")
REMOVED_BODIES = {"[removed]", "[deleted]"}
PENDING_GALLERY_SECONDS = 3600
PREVIEW_HINTS = {"link", "hosted:video", "rich:video"}


class SourceNotFound(FetchError):
    """The subreddit does not exist (or was banned): no run of this source can succeed."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__("source_not_found", message, http_status=http_status)


class _Pending(Exception):
    """A post whose media Reddit is still processing."""


class RedditConnector(Connector):
    kind = "reddit"

    @classmethod
    def clean_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        reject_unknown(config, {"subreddit", "base_url", "skip_nsfw", "preview_media"})
        subreddit = require_str(config, "subreddit", pattern=r"(r/)?[A-Za-z0-9_]{2,21}")
        preview = config.get("preview_media", "keep")
        if preview not in ("keep", "skip"):
            raise InvalidConfig('preview_media must be "keep" (marked preview) or "skip"')
        skip_nsfw = config.get("skip_nsfw", False)
        if not isinstance(skip_nsfw, bool):
            raise InvalidConfig("skip_nsfw must be true or false")
        out: dict[str, Any] = {
            "subreddit": subreddit.removeprefix("r/"),
            "base_url": http_base_url(config, "base_url", "https://www.reddit.com"),
        }
        # Defaults are left out, so existing sources keep the config they were saved with.
        if skip_nsfw:
            out["skip_nsfw"] = True
        if preview == "skip":
            out["preview_media"] = "skip"
        return out

    def fetch(
        self, client: SafeClient, config: Mapping[str, Any], cursor: Mapping[str, Any], limit: int
    ) -> Batch:
        subreddit = config["subreddit"]
        url = f"{config['base_url']}/r/{subreddit}/new.json"
        seen_name = cursor.get("newest")
        seen_created = float(cursor.get("newest_created_utc") or 0)
        items: list[IncomingPost] = []
        left_out: list[dict[str, str]] = []
        newest: tuple[float, str] | None = None
        oldest_pending: float | None = None
        after = None
        status = None
        reached_cursor = False
        while len(items) < limit and not reached_cursor:
            params: dict[str, str | int] = {
                "limit": min(PAGE_LIMIT, limit - len(items)),
                "raw_json": 1,
            }
            if after:
                params["after"] = after
            listing, status = _listing(client, url, params, subreddit)
            children = listing.get("children")
            if not isinstance(children, list):
                raise MalformedPayload("Listing data.children must be an array")
            for child in children:
                expect(isinstance(child, dict), "listing children must be objects")
                if child.get("kind") != "t3":
                    continue
                data = child.get("data")
                name, created = _identity(data)
                if name == seen_name or (seen_created and created < seen_created):
                    reached_cursor = True
                    break
                if newest is None or created > newest[0]:
                    newest = (created, name)
                try:
                    post, reason = self._link(data, config)
                except _Pending:
                    oldest_pending = min(created, oldest_pending or created)
                    left_out.append(_left_out(name, "media_pending", "gallery still processing"))
                    continue
                if reason:
                    left_out.append(_left_out(name, *reason))
                    continue
                items.append(post)
                if len(items) >= limit:
                    break
            after = listing.get("after")
            if not children or not after:
                break
            expect(isinstance(after, str), "Listing data.after must be a string or null")
        new_cursor = dict(cursor)
        if oldest_pending is not None:
            # Come back to the held-back gallery: the walk stops only below its time.
            new_cursor = {"newest": None, "newest_created_utc": oldest_pending}
        elif newest is not None:
            new_cursor = {"newest": newest[1], "newest_created_utc": newest[0]}
        return Batch(items, new_cursor, status, left_out=left_out)

    @staticmethod
    def _link(data: dict, config: Mapping[str, Any]) -> tuple[IncomingPost, tuple | None]:
        """The post, and (code, message) when it is to be left out."""
        try:
            name = data["name"]
            created = float(data["created_utc"])
            body = data.get("selftext") or ""
            if data.get("removed_by_category") or body.strip() in REMOVED_BODIES:
                return IncomingPost(name), ("removed_post", "removed or deleted on Reddit")
            nsfw = data.get("over_18") is True
            if nsfw and config.get("skip_nsfw"):
                return IncomingPost(name), ("nsfw_skipped", "NSFW, and the source skips NSFW")
            if isinstance(data.get("selftext_html"), str):
                body = html_to_text(data["selftext_html"])  # rendered: no markdown syntax
            text = "\n\n".join(part for part in (data.get("title") or "", body) if part)
            images, role = _images(data, time.time() - created)
            if role == "preview" and config.get("preview_media") == "skip":
                images, role = [], ""
            permalink = data.get("permalink") or ""
            return (
                IncomingPost(
                    external_id=name,
                    text=text.strip(),
                    url=f"https://www.reddit.com{permalink}" if permalink.startswith("/") else "",
                    author=str(data.get("author") or ""),
                    posted_at=parse_datetime(created),
                    image_urls=images,
                    media_role=role if images else "",
                    nsfw=nsfw,
                ),
                None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedPayload(f"unexpected Reddit post: {exc!r}") from None


def _listing(
    client: SafeClient, url: str, params: Mapping[str, str | int], subreddit: str
) -> tuple[dict, int]:
    """The listing's data; a subreddit that does not exist raises :class:`SourceNotFound`."""
    try:
        data, fetched = get_json(client, url, params)
    except FetchError as exc:
        if exc.http_status == 404:
            raise SourceNotFound(
                f"r/{subreddit} does not exist or was banned (HTTP 404)", http_status=404
            ) from None
        raise
    # Reddit sends an unknown subreddit to /subreddits/search.json?q=<name>.
    if not urlsplit(fetched.url).path.lower().startswith(f"/r/{subreddit.lower()}/"):
        raise SourceNotFound(
            f"r/{subreddit} does not exist: Reddit redirected to "
            f"{urlsplit(fetched.url).path[:200]}",
            http_status=fetched.status,
        )
    listing = data.get("data") if isinstance(data, dict) else None
    if not (isinstance(data, dict) and data.get("kind") == "Listing" and isinstance(listing, dict)):
        raise MalformedPayload("a Reddit listing must be {kind: Listing, data: {...}}")
    return listing, fetched.status


def _identity(data: Any) -> tuple[str, float]:
    try:
        expect(isinstance(data, dict), "a t3 child needs a data object")
        name = data["name"]
        expect(isinstance(name, str) and name.startswith("t3_"), "t3 name must be t3_…")
        return name, float(data["created_utc"])
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedPayload(f"unexpected Reddit post: {exc!r}") from None


def _left_out(name: str, code: str, message: str) -> dict[str, str]:
    return {"post": name, "code": code, "message": message}


def _gallery(data: dict, age_seconds: float) -> list[str]:
    """The gallery's pictures in ``gallery_data`` order; raises :class:`_Pending` while any
    is unprocessed (unless the post is older than the wait)."""
    metadata = data.get("media_metadata")
    order = (data.get("gallery_data") or {}).get("items") or []
    if not isinstance(metadata, dict):
        metadata = {}
    ids = [i.get("media_id") for i in order if isinstance(i, dict)] or list(metadata)
    urls = []
    for media_id in ids:
        meta = metadata.get(media_id)
        if not isinstance(meta, dict):
            continue
        if meta.get("status") in ("unprocessed", None) and "s" not in meta:
            if age_seconds < PENDING_GALLERY_SECONDS:
                raise _Pending(media_id)
            continue
        source = meta.get("s")
        if isinstance(source, dict):
            url = source.get("u") or source.get("gif")
            if isinstance(url, str):
                urls.append(url)
    if not urls and not metadata and order and age_seconds < PENDING_GALLERY_SECONDS:
        raise _Pending("media_metadata")
    return urls


def _images(data: dict, age_seconds: float) -> tuple[list[str], str]:
    """The post's images and their role: a direct image link or a gallery (``photo``), or
    the preview Reddit made of a link or a video (``preview``)."""
    urls: list[str] = []
    role = "photo"
    link = data.get("url_overridden_by_dest") or data.get("url") or ""
    if data.get("is_gallery"):
        urls = _gallery(data, age_seconds)
    elif data.get("post_hint") == "image" or link.lower().split("?")[0].endswith(IMAGE_SUFFIXES):
        urls.append(link)
    elif isinstance(data.get("preview"), dict):
        for image in data["preview"].get("images") or []:
            source = image.get("source") if isinstance(image, dict) else None
            if isinstance(source, dict) and isinstance(source.get("url"), str):
                urls.append(source["url"])
                break
        # A self post's preview is an image it embeds; anything else is a link card.
        if (
            data.get("is_video")
            or data.get("post_hint") in PREVIEW_HINTS
            or not data.get("is_self")
        ):
            role = "preview"
    urls = [u for u in urls if isinstance(u, str) and u.startswith(("http://", "https://"))]
    return urls, role if urls else ""
