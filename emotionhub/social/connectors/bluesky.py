"""Bluesky post search through the ``app.bsky.feed.searchPosts`` XRPC method.

``GET /xrpc/app.bsky.feed.searchPosts?q=…&sort=latest`` answers ``{"cursor"?, "posts":
[PostView]}``, newest first; ``cursor`` pages back. Each run passes ``since`` (the newest
``indexedAt`` seen before, inclusive: the one repeat is dropped as a duplicate) and walks
back until the results run out or ``limit`` posts are in hand. The AppView host is
configurable (``service``) because some require authentication for search.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from emotionhub.core.http import SafeClient
from emotionhub.social.connectors.base import (
    Batch,
    Connector,
    IncomingPost,
    InvalidConfig,
    MalformedPayload,
    expect,
    get_json,
    http_base_url,
    parse_datetime,
    reject_unknown,
    require_str,
)

PAGE_LIMIT = 100
METHOD = "/xrpc/app.bsky.feed.searchPosts"


class BlueskyConnector(Connector):
    kind = "bluesky"

    @classmethod
    def clean_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        reject_unknown(config, {"q", "service", "lang"})
        query = require_str(config, "q")
        if len(query) > 300:
            raise InvalidConfig("q must be at most 300 characters")
        out: dict[str, Any] = {
            "q": query,
            "service": http_base_url(config, "service", "https://public.api.bsky.app"),
        }
        if config.get("lang"):
            out["lang"] = require_str(config, "lang", pattern=r"[a-z]{2,3}(-[A-Za-z0-9]+)?")
        return out

    def fetch(
        self, client: SafeClient, config: Mapping[str, Any], cursor: Mapping[str, Any], limit: int
    ) -> Batch:
        url = config["service"] + METHOD
        since = cursor.get("since")
        items: list[IncomingPost] = []
        newest = since
        page_cursor = None
        status = None
        while len(items) < limit:
            params: dict[str, str | int] = {
                "q": config["q"],
                "sort": "latest",
                "limit": min(PAGE_LIMIT, limit - len(items)),
            }
            if config.get("lang"):
                params["lang"] = config["lang"]
            if since:
                params["since"] = since
            if page_cursor:
                params["cursor"] = page_cursor
            data, fetched = get_json(client, url, params)
            status = fetched.status
            expect(isinstance(data, dict), "searchPosts must answer an object")
            posts = data.get("posts")
            expect(isinstance(posts, list), "searchPosts output needs a posts array")
            for view in posts[: limit - len(items)]:
                post, indexed_at = self._post(view)
                items.append(post)
                if indexed_at and _later(indexed_at, newest):
                    newest = indexed_at
            page_cursor = data.get("cursor")
            if not posts or not page_cursor:
                break
            expect(isinstance(page_cursor, str), "cursor must be a string")
        return Batch(items, {"since": newest} if newest else dict(cursor), status)

    @staticmethod
    def _post(view: Any) -> tuple[IncomingPost, str | None]:
        try:
            expect(isinstance(view, dict), "a PostView must be an object")
            uri = view["uri"]
            expect(isinstance(uri, str) and uri.startswith("at://"), "post uri must be at://…")
            record = view.get("record") or {}
            author = view.get("author") or {}
            handle = str(author.get("handle") or "")
            rkey = uri.rsplit("/", 1)[-1]
            indexed_at = view.get("indexedAt")
            return (
                IncomingPost(
                    external_id=uri,
                    text=str(record.get("text") or ""),
                    url=f"https://bsky.app/profile/{quote(handle)}/post/{quote(rkey)}"
                    if handle
                    else "",
                    author=handle,
                    posted_at=parse_datetime(record.get("createdAt") or indexed_at),
                    image_urls=_images(view.get("embed")),
                ),
                indexed_at if isinstance(indexed_at, str) else None,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise MalformedPayload(f"unexpected Bluesky post: {exc!r}") from None


def _later(candidate: str, current: str | None) -> bool:
    if current is None:
        return parse_datetime(candidate) is not None
    new, old = parse_datetime(candidate), parse_datetime(current)
    return bool(new and (old is None or new > old))


def _images(embed: Any) -> list[str]:
    """Full-size images of an ``images#view`` embed, alone or inside ``recordWithMedia``."""
    if not isinstance(embed, dict):
        return []
    kind = embed.get("$type", "")
    if kind == "app.bsky.embed.recordWithMedia#view":
        return _images(embed.get("media"))
    if kind != "app.bsky.embed.images#view":
        return []
    return [
        image.get("fullsize") or image.get("thumb")
        for image in embed.get("images") or []
        if isinstance(image, dict) and isinstance(image.get("fullsize") or image.get("thumb"), str)
    ]
