"""Mastodon hashtag and account timelines through the public REST API.

``GET /api/v1/timelines/tag/:hashtag`` and ``GET /api/v1/accounts/:id/statuses`` return
statuses newest first. The first run takes the newest page; later runs walk forward with
``min_id`` (results immediately newer than the cursor), taking the next ``min_id`` from the
``Link: <…>; rel="prev"`` header, so nothing between runs is skipped when there are more
new statuses than one page holds: the rest come next run. Only the ``min_id`` parameter
of the Link URL is used; requests always go to the configured instance.

Ids are opaque strings: Mastodon's are numeric snowflakes, but GoToSocial (ULIDs), Pleroma
and Akkoma (flake ids) speak the same API with other ids. Nothing here parses or compares
them; the order is the server's (newest first within a page, pages newer along
``rel="prev"``), and the cursor is the newest id of the newest page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from emotionhub.core.http import SafeClient
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
)

PAGE_LIMIT = 40  # the API's maximum for statuses


# What an id or an account id may be: opaque, but safe in a URL path and a query.
OPAQUE_ID = r"[A-Za-z0-9_-]{1,64}"


def link_param(link_header: str, rel: str, param: str) -> str | None:
    """``param`` of the URL that ``Link`` gives for ``rel`` (RFC 8288)."""
    for part in link_header.split(","):
        match = re.match(r"\s*<([^>]*)>\s*;(.*)", part)
        if not match:
            continue
        rels = re.findall(r'rel="?([^";]+)"?', match.group(2))
        if rel in " ".join(rels).split():
            values = parse_qs(urlsplit(match.group(1)).query).get(param)
            return values[0] if values else None
    return None


class MastodonConnector(Connector):
    kind = "mastodon"

    @classmethod
    def clean_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        reject_unknown(config, {"instance", "hashtag", "account_id", "local", "exclude_replies"})
        instance = http_base_url(config, "instance", "https://mastodon.social")
        hashtag, account = config.get("hashtag"), config.get("account_id")
        if bool(hashtag) == bool(account):
            raise InvalidConfig("give exactly one of hashtag or account_id")
        out: dict[str, Any] = {"instance": instance}
        if hashtag:
            if not isinstance(hashtag, str) or not re.fullmatch(r"#?\w{1,100}", hashtag):
                raise InvalidConfig("hashtag must be letters, digits or _ (without spaces)")
            out["hashtag"] = hashtag.lstrip("#")
            out["local"] = bool(config.get("local", False))
        else:
            if not isinstance(account, str | int) or not re.fullmatch(OPAQUE_ID, str(account)):
                raise InvalidConfig("account_id must be the account's id (letters, digits, _ or -)")
            out["account_id"] = str(account)
            out["exclude_replies"] = bool(config.get("exclude_replies", False))
        return out

    def fetch(
        self, client: SafeClient, config: Mapping[str, Any], cursor: Mapping[str, Any], limit: int
    ) -> Batch:
        if "hashtag" in config:
            url = f"{config['instance']}/api/v1/timelines/tag/{quote(config['hashtag'])}"
            base_params: dict[str, str | int] = {"local": "true"} if config.get("local") else {}
        else:
            url = f"{config['instance']}/api/v1/accounts/{config['account_id']}/statuses"
            base_params = {"exclude_reblogs": "true"}
            if config.get("exclude_replies"):
                base_params["exclude_replies"] = "true"
        since = cursor.get("min_id")
        pages: list[list[IncomingPost]] = []  # oldest page first, each newest first
        status = None
        page_min_id = since
        taken = 0
        while taken < limit:
            wanted = min(PAGE_LIMIT, limit - taken)
            params = {**base_params, "limit": wanted}
            if page_min_id:
                params["min_id"] = page_min_id
            data, fetched = get_json(client, url, params)
            status = fetched.status
            expect(isinstance(data, list), "a Mastodon timeline must be a JSON array")
            page = [self._status(entry) for entry in data]
            if not page:
                break
            pages.append(page)
            taken += len(page)
            if not since or len(page) < wanted:
                break  # first run: the newest page only, no backfill; or caught up
            # The next newer page: the server's own Link, else the newest id of this page.
            page_min_id = (
                link_param(fetched.headers.get("Link", ""), "prev", "min_id") or page[0].external_id
            )
        items = [post for page in reversed(pages) for post in page]
        newest = pages[-1][0].external_id if pages else since
        return Batch(items, {"min_id": newest} if newest else dict(cursor), status)

    @staticmethod
    def _status(entry: Any) -> IncomingPost:
        try:
            expect(isinstance(entry, dict), "a status must be an object")
            status_id = entry["id"]
            expect(
                isinstance(status_id, str) and re.fullmatch(OPAQUE_ID, status_id) is not None,
                "status id must be a non-empty string of letters, digits, _ or -",
            )
            content = entry.get("content") or ""
            spoiler = entry.get("spoiler_text") or ""
            text = html_to_text(content)
            if spoiler:
                text = f"{spoiler}\n{text}".strip()
            account = entry.get("account") or {}
            images = [
                media.get("url") or media.get("preview_url")
                for media in entry.get("media_attachments") or []
                if isinstance(media, dict) and media.get("type") == "image"
            ]
            return IncomingPost(
                external_id=status_id,
                text=text,
                url=entry.get("url") or entry.get("uri") or "",
                author=str(account.get("acct") or ""),
                posted_at=parse_datetime(entry.get("created_at")),
                image_urls=[u for u in images if isinstance(u, str)],
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise MalformedPayload(f"unexpected Mastodon status: {exc!r}") from None
