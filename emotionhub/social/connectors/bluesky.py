"""Bluesky post search through the ``app.bsky.feed.searchPosts`` XRPC method.

``GET /xrpc/app.bsky.feed.searchPosts?q=…&sort=latest`` answers ``{"cursor"?, "posts":
[PostView]}``, newest first by ``sortAt`` (the earlier of ``indexedAt`` and the record's
``createdAt``); ``since`` (inclusive) and ``until`` (exclusive) filter on that same time,
and ``cursor`` pages back. The AppView host is configurable (``service``) because some
require authentication for search.

The cursor is built so that no post is lost:

- ``hw``, the newest ``sortAt`` seen. A post indexed late has a ``sortAt`` (its createdAt)
  earlier than posts already seen, so each run searches from ``hw`` minus an overlap window
  (``overlap_seconds``, default 2 min), not from ``hw``; the repeats are recognised by the
  ``seen`` list (URIs within the window) and never returned twice.
- ``gaps``: ranges ``[since, until)`` not yet read (overlapping ones merged) because a
  run reached its post cap or its page bound before it got back to the previous run's
  posts (a burst). Later runs read them, newest first, after the new posts; a run notes
  when it hit a bound, and when more than ``MAX_GAPS`` ranges pile up the oldest is
  dropped with a note, never silently.

The first run takes the newest page(s) only: history before a source exists is no gap.
Every post in the overlap window is read again each run (search cannot filter on
indexedAt), so a query with more posts per window than ``MAX_PAGES`` pages hold cannot
finish its re-check: such runs note ``paging_bound``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
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
DEFAULT_OVERLAP_SECONDS = 120
MAX_PAGES = 20  # requests per run, over the new posts and the gaps together
MAX_GAPS = 10
MAX_SEEN = 1000
TICK = timedelta(milliseconds=1)


def iso(when: datetime) -> str:
    """The AppView's own datetime form: UTC, milliseconds, ``Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def sort_at(view: Mapping[str, Any]) -> datetime | None:
    """When search sorts and filters the post: the earlier of indexedAt and createdAt."""
    record = view.get("record")
    if not isinstance(record, dict):
        record = {}
    times = [parse_datetime(view.get("indexedAt")), parse_datetime(record.get("createdAt"))]
    known = [t for t in times if t is not None]
    return min(known) if known else None


@dataclasses.dataclass
class _Walk:
    """One run's reading: what it took and how many requests it may still make."""

    budget: int
    pages_left: int
    seen: dict[str, str]
    taken: list[IncomingPost] = dataclasses.field(default_factory=list)
    newest: datetime | None = None
    status: int | None = None


class BlueskyConnector(Connector):
    kind = "bluesky"

    @classmethod
    def clean_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        reject_unknown(config, {"q", "service", "lang", "overlap_seconds"})
        query = require_str(config, "q")
        if len(query) > 300:
            raise InvalidConfig("q must be at most 300 characters")
        out: dict[str, Any] = {
            "q": query,
            "service": http_base_url(config, "service", "https://public.api.bsky.app"),
        }
        if config.get("lang"):
            out["lang"] = require_str(config, "lang", pattern=r"[a-z]{2,3}(-[A-Za-z0-9]+)?")
        if "overlap_seconds" in config:
            overlap = config["overlap_seconds"]
            if (
                not isinstance(overlap, int)
                or isinstance(overlap, bool)
                or not (0 <= overlap <= 86400)
            ):
                raise InvalidConfig("overlap_seconds must be an integer from 0 to 86400")
            out["overlap_seconds"] = overlap
        return out

    def fetch(
        self, client: SafeClient, config: Mapping[str, Any], cursor: Mapping[str, Any], limit: int
    ) -> Batch:
        overlap = timedelta(seconds=config.get("overlap_seconds", DEFAULT_OVERLAP_SECONDS))
        # {"since": indexedAt} is the cursor of earlier versions: read it as the high-water.
        hw = parse_datetime(cursor.get("hw") or cursor.get("since"))
        seen = {u: t for u, t in (cursor.get("seen") or []) if isinstance(u, str)}
        gaps = [tuple(g) for g in cursor.get("gaps") or [] if isinstance(g, list | tuple)]
        walk = _Walk(budget=limit, pages_left=MAX_PAGES, seen=seen)
        notes: list[dict[str, str]] = []

        lower = hw - overlap if hw else None
        rest = self._read(client, config, walk, since=lower, until=None)
        # Then the ranges earlier runs left unread, newest first, with what budget is left.
        remaining = []
        for since, until in gaps:
            left = parse_datetime(until)
            if walk.budget > 0 and walk.pages_left > 0:
                left = self._read(client, config, walk, since=parse_datetime(since), until=left)
            if left is not None:
                remaining.append((since, iso(left)))
        if rest is not None and lower is not None:
            remaining.insert(0, (iso(lower), iso(rest)))
        gaps = _merged(remaining)
        if gaps and walk.pages_left <= 0:
            notes.append(_note("paging_bound", f"stopped after {MAX_PAGES} requests", gaps))
        elif gaps and walk.budget <= 0:
            notes.append(_note("post_cap", f"took the cap of {limit} posts", gaps))
        while len(gaps) > MAX_GAPS:
            since, until = gaps.pop()
            notes.append(
                {
                    "code": "gap_dropped",
                    "message": f"posts between {since} and {until} will not be fetched: "
                    f"more than {MAX_GAPS} ranges were waiting",
                }
            )

        new_hw = max((t for t in (hw, walk.newest) if t), default=None)
        keep_from = iso(new_hw - overlap) if new_hw else ""
        # Seen posts are kept while a later read may meet them again: inside the overlap
        # window or inside a range still to be read.
        recent = sorted(
            (
                (u, t)
                for u, t in walk.seen.items()
                if t >= keep_from or any(since <= t < until for since, until in gaps)
            ),
            key=lambda p: p[1],
        )[-MAX_SEEN:]
        new_cursor: dict[str, Any] = dict(cursor) if new_hw is None else {"hw": iso(new_hw)}
        if new_hw is not None:
            new_cursor["seen"] = [list(p) for p in recent]
            new_cursor["gaps"] = [list(g) for g in gaps]
        return Batch(walk.taken, new_cursor, walk.status, notes=notes)

    def _read(
        self,
        client: SafeClient,
        config: Mapping[str, Any],
        walk: _Walk,
        *,
        since: datetime | None,
        until: datetime | None,
    ) -> datetime | None:
        """Read ``[since, until)`` newest first into ``walk``; None when read to its end, else
        the exclusive ``until`` from which the rest is still to be read."""
        url = config["service"] + METHOD
        page_cursor = None
        oldest: datetime | None = None  # sortAt of the last post read (they come newest first)
        while True:
            if walk.budget <= 0 or walk.pages_left <= 0:
                # Everything newer than ``oldest`` is read; ties at its instant come again
                # and are recognised as seen.
                return oldest + TICK if oldest else until
            params: dict[str, str | int] = {
                "q": config["q"],
                "sort": "latest",
                # Full pages even near the cap: seen posts are skipped, requests are counted.
                "limit": PAGE_LIMIT,
            }
            if config.get("lang"):
                params["lang"] = config["lang"]
            if since:
                params["since"] = iso(since)
            if until:
                params["until"] = iso(until)
            if page_cursor:
                params["cursor"] = page_cursor
            data, fetched = get_json(client, url, params)
            walk.pages_left -= 1
            walk.status = fetched.status
            expect(isinstance(data, dict), "searchPosts must answer an object")
            posts = data.get("posts")
            expect(isinstance(posts, list), "searchPosts output needs a posts array")
            for view in posts:
                post, when = self._post(view)
                if when is not None and (walk.newest is None or when > walk.newest):
                    walk.newest = when
                if post.external_id in walk.seen:
                    oldest = when or oldest
                    continue
                if walk.budget <= 0:  # this post and those after it are left for later
                    edge = when or oldest
                    return edge + TICK if edge else until
                walk.taken.append(post)
                walk.budget -= 1
                walk.seen[post.external_id] = iso(when) if when else ""
                oldest = when or oldest
            page_cursor = data.get("cursor")
            if not posts or not page_cursor:
                return None
            expect(isinstance(page_cursor, str), "cursor must be a string")

    @staticmethod
    def _post(view: Any) -> tuple[IncomingPost, datetime | None]:
        try:
            expect(isinstance(view, dict), "a PostView must be an object")
            uri = view["uri"]
            expect(isinstance(uri, str) and uri.startswith("at://"), "post uri must be at://…")
            record = view.get("record") or {}
            author = view.get("author") or {}
            handle = str(author.get("handle") or "")
            rkey = uri.rsplit("/", 1)[-1]
            images = _images(view.get("embed"))
            return (
                IncomingPost(
                    external_id=uri,
                    text=str(record.get("text") or ""),
                    url=f"https://bsky.app/profile/{quote(handle)}/post/{quote(rkey)}"
                    if handle
                    else "",
                    author=handle,
                    posted_at=parse_datetime(record.get("createdAt") or view.get("indexedAt")),
                    image_urls=images,
                    media_role="photo" if images else "",
                ),
                sort_at(view),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise MalformedPayload(f"unexpected Bluesky post: {exc!r}") from None


def _merged(gaps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The ranges, newest first, with overlapping ones joined (the fixed-width UTC form
    compares as text)."""
    out: list[tuple[str, str]] = []
    for since, until in sorted(gaps, key=lambda g: g[1], reverse=True):
        if out and until >= out[-1][0]:
            out[-1] = (min(since, out[-1][0]), out[-1][1])
        else:
            out.append((since, until))
    return out


def _note(code: str, message: str, gaps: list) -> dict[str, str]:
    return {
        "code": code,
        "message": f"{message}; {len(gaps)} range(s) of older posts are read by the next runs",
    }


def _images(embed: Any) -> list[str]:
    """Full-size images of an ``images#view`` or ``gallery#view`` embed, alone or as the
    media of a ``recordWithMedia#view`` (a quote post with pictures)."""
    if not isinstance(embed, dict):
        return []
    kind = embed.get("$type", "")
    if kind == "app.bsky.embed.recordWithMedia#view":
        return _images(embed.get("media"))
    if kind == "app.bsky.embed.images#view":
        entries, small = embed.get("images"), "thumb"
    elif kind == "app.bsky.embed.gallery#view":
        entries, small = embed.get("items"), "thumbnail"
    else:
        return []
    urls = []
    for image in entries if isinstance(entries, list) else []:
        if isinstance(image, dict):
            url = image.get("fullsize") or image.get(small)
            if isinstance(url, str):
                urls.append(url)
    return urls
