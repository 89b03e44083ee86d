"""Reddit subreddit listings through the public JSON API (``/r/<sub>/new.json``).

A listing is ``{"kind": "Listing", "data": {"after", "children": [{"kind": "t3", "data":
{…}}]}}``, newest first. Each run walks back with ``after`` until it reaches the newest
post of the previous run (the cursor), the page runs out, or ``limit`` posts are in hand;
if more than ``limit`` arrived between runs, the older ones are not fetched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emotionhub.core.http import SafeClient
from emotionhub.social.connectors.base import (
    Batch,
    Connector,
    IncomingPost,
    MalformedPayload,
    expect,
    get_json,
    http_base_url,
    parse_datetime,
    reject_unknown,
    require_str,
)

PAGE_LIMIT = 100
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp")


class RedditConnector(Connector):
    kind = "reddit"

    @classmethod
    def clean_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        reject_unknown(config, {"subreddit", "base_url"})
        subreddit = require_str(config, "subreddit", pattern=r"(r/)?[A-Za-z0-9_]{2,21}")
        return {
            "subreddit": subreddit.removeprefix("r/"),
            "base_url": http_base_url(config, "base_url", "https://www.reddit.com"),
        }

    def fetch(
        self, client: SafeClient, config: Mapping[str, Any], cursor: Mapping[str, Any], limit: int
    ) -> Batch:
        url = f"{config['base_url']}/r/{config['subreddit']}/new.json"
        seen_name = cursor.get("newest")
        seen_created = float(cursor.get("newest_created_utc") or 0)
        items: list[IncomingPost] = []
        newest: tuple[float, str] | None = None
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
            data, fetched = get_json(client, url, params)
            status = fetched.status
            listing = data.get("data") if isinstance(data, dict) else None
            expect(
                isinstance(data, dict)
                and data.get("kind") == "Listing"
                and isinstance(listing, dict),
                "a Reddit listing must be {kind: Listing, data: {...}}",
            )
            children = listing.get("children")
            expect(isinstance(children, list), "Listing data.children must be an array")
            for child in children:
                expect(isinstance(child, dict), "listing children must be objects")
                if child.get("kind") != "t3":
                    continue
                post, created = self._link(child.get("data"))
                if post.external_id == seen_name or (seen_created and created < seen_created):
                    reached_cursor = True
                    break
                if newest is None or created > newest[0]:
                    newest = (created, post.external_id)
                items.append(post)
                if len(items) >= limit:
                    break
            after = listing.get("after")
            if not children or not after:
                break
            expect(isinstance(after, str), "Listing data.after must be a string or null")
        new_cursor = dict(cursor)
        if newest is not None:
            new_cursor = {"newest": newest[1], "newest_created_utc": newest[0]}
        return Batch(items, new_cursor, status)

    @staticmethod
    def _link(data: Any) -> tuple[IncomingPost, float]:
        try:
            expect(isinstance(data, dict), "a t3 child needs a data object")
            name = data["name"]
            expect(isinstance(name, str) and name.startswith("t3_"), "t3 name must be t3_…")
            created = float(data["created_utc"])
            text = "\n\n".join(
                part for part in (data.get("title") or "", data.get("selftext") or "") if part
            )
            permalink = data.get("permalink") or ""
            return (
                IncomingPost(
                    external_id=name,
                    text=text.strip(),
                    url=f"https://www.reddit.com{permalink}" if permalink.startswith("/") else "",
                    author=str(data.get("author") or ""),
                    posted_at=parse_datetime(created),
                    image_urls=_images(data),
                ),
                created,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedPayload(f"unexpected Reddit post: {exc!r}") from None


def _images(data: dict) -> list[str]:
    """The post's image: a direct image link, its preview, or the pictures of a gallery."""
    urls: list[str] = []
    link = data.get("url_overridden_by_dest") or data.get("url") or ""
    if data.get("is_gallery") and isinstance(data.get("media_metadata"), dict):
        for meta in data["media_metadata"].values():
            source = meta.get("s") if isinstance(meta, dict) else None
            if isinstance(source, dict) and isinstance(source.get("u"), str):
                urls.append(source["u"])
    elif data.get("post_hint") == "image" or link.lower().endswith(IMAGE_SUFFIXES):
        urls.append(link)
    elif isinstance(data.get("preview"), dict):
        for image in data["preview"].get("images") or []:
            source = image.get("source") if isinstance(image, dict) else None
            if isinstance(source, dict) and isinstance(source.get("url"), str):
                urls.append(source["url"])
                break
    return [u for u in urls if isinstance(u, str) and u.startswith(("http://", "https://"))]
