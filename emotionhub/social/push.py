"""Posts that other systems push to a ``webhook`` source, signed with the source's secret.

A push carries three headers::

    X-EmotionHub-Timestamp: <unix seconds>
    X-EmotionHub-Nonce:     <16-128 of A-Z a-z 0-9 _ - .>
    X-EmotionHub-Signature: sha256=<hex HMAC-SHA256(push_secret, "<timestamp>.<nonce>.<body>")>

and a JSON body ``{"posts": [{"id", "text"?, "author"?, "url"?, "posted_at"?, "images"?:
[url]}]}``. A timestamp outside ``EMOTIONHUB_PUSH_TOLERANCE_SECONDS`` is refused, and each
nonce is accepted once (kept for twice the window), so a captured request cannot be
replayed. Checks run in that order, and the body is parsed only once it is authentic;
nothing is written before every check has passed. Post ids already stored are reported as
duplicates, so re-sending a post is harmless.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from emotionhub.core import jsonlimits
from emotionhub.core.errors import DomainError
from emotionhub.core.http import SafeClient
from emotionhub.social.connectors.base import IncomingPost, parse_datetime
from emotionhub.social.ingest import IngestStats, Limits, ingest
from emotionhub.social.models import PushNonce, RunStatus, RunTrigger, Source, SourceRun
from emotionhub.social.runs import save_run

TIMESTAMP_HEADER = "X-EmotionHub-Timestamp"
NONCE_HEADER = "X-EmotionHub-Nonce"
SIGNATURE_HEADER = "X-EmotionHub-Signature"
NONCE_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{16,128}")
POST_FIELDS = {"id", "text", "author", "url", "posted_at", "images"}


def sign(secret: str, timestamp: int | str, nonce: str, body: bytes) -> str:
    message = f"{timestamp}.{nonce}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(source: Source, headers: Mapping[str, str], body: bytes) -> str:
    """The request's nonce once the signature and timestamp are good; raises 401 otherwise."""
    timestamp, nonce = headers.get(TIMESTAMP_HEADER), headers.get(NONCE_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    if not (timestamp and nonce and signature):
        raise DomainError(
            "signature_missing",
            f"Send {TIMESTAMP_HEADER}, {NONCE_HEADER} and {SIGNATURE_HEADER}.",
            status=401,
        )
    if not hmac.compare_digest(sign(source.push_secret, timestamp, nonce, body), signature):
        raise DomainError(
            "invalid_signature",
            "The signature does not match HMAC-SHA256(secret, '<timestamp>.<nonce>.<body>').",
            status=401,
        )
    if not timestamp.isdigit():
        raise DomainError(
            "invalid_timestamp", f"{TIMESTAMP_HEADER} must be Unix seconds.", status=401
        )
    tolerance = settings.EMOTIONHUB_PUSH_TOLERANCE_SECONDS
    skew = abs(time.time() - int(timestamp))
    if skew > tolerance:
        raise DomainError(
            "stale_timestamp",
            f"The timestamp is {skew:.0f} s away from the server's clock; at most {tolerance}.",
            status=401,
        )
    if not NONCE_PATTERN.fullmatch(nonce):
        raise DomainError(
            "invalid_nonce", f"{NONCE_HEADER} must be 16-128 of A-Z a-z 0-9 _ - .", status=400
        )
    return nonce


def parse_posts(body: bytes) -> list[IncomingPost]:
    """The pushed posts; raises 400 with the first problem found."""
    try:
        data = jsonlimits.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise DomainError(
            "invalid_json", "The body is not valid JSON (or nests too deep).", status=400
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("posts"), list):
        raise DomainError("invalid_push", 'The body must be {"posts": [...]}.', status=400)
    posts = data["posts"]
    if not posts:
        raise DomainError("no_items", "posts is empty.", status=400)
    limit = settings.EMOTIONHUB_PUSH_MAX_POSTS
    if len(posts) > limit:
        raise DomainError("too_many_items", f"{len(posts)} posts; at most {limit}.", status=400)
    return [_post(index, entry) for index, entry in enumerate(posts)]


def _post(index: int, entry: Any) -> IncomingPost:
    def bad(message: str) -> DomainError:
        return DomainError(
            "invalid_push", f"posts[{index}]: {message}", status=400, details={"post": index}
        )

    if not isinstance(entry, dict):
        raise bad("must be an object")
    unknown = sorted(set(entry) - POST_FIELDS)
    if unknown:
        raise bad(f"unknown fields {unknown}; allowed {sorted(POST_FIELDS)}")
    external_id = entry.get("id")
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    if not isinstance(external_id, str) or not 0 < len(external_id) <= 255:
        raise bad("id must be a string of 1-255 characters")
    for field in ("text", "author", "url"):
        if not isinstance(entry.get(field, ""), str):
            raise bad(f"{field} must be a string")
    for field in ("id", "text", "author", "url"):
        # PostgreSQL text cannot hold U+0000: refused here, not a 500 at the INSERT.
        if "\x00" in str(entry.get(field, "")):
            raise bad(f"{field} contains a NUL character (U+0000)")
    url = entry.get("url", "")
    if url and not url.startswith(("http://", "https://")):
        raise bad("url must be http(s)")
    posted_at = None
    if entry.get("posted_at") is not None:
        posted_at = parse_datetime(entry["posted_at"])
        if posted_at is None:
            raise bad("posted_at must be an ISO 8601 date-time")
    images = entry.get("images", [])
    if not isinstance(images, list) or not all(
        isinstance(u, str) and u.startswith(("http://", "https://")) for u in images
    ):
        raise bad("images must be a list of http(s) URLs")
    if not (entry.get("text") or "").strip() and not images:
        raise bad("a post needs text or images")
    return IncomingPost(
        external_id=external_id,
        text=entry.get("text", ""),
        url=url,
        author=entry.get("author", ""),
        posted_at=posted_at,
        image_urls=images,
    )


def receive(
    source: Source, headers: Mapping[str, str], body: bytes
) -> tuple[SourceRun, IngestStats]:
    """Authenticate, validate and ingest one push; the run that records it."""
    nonce = verify(source, headers, body)
    if not source.enabled:
        raise DomainError("source_disabled", "This source is disabled.", status=403)
    items = parse_posts(body)
    now = timezone.now()
    window = datetime.timedelta(seconds=2 * settings.EMOTIONHUB_PUSH_TOLERANCE_SECONDS)
    try:
        with transaction.atomic():
            PushNonce.objects.filter(source=source, received_at__lt=now - window).delete()
            PushNonce.objects.create(source=source, nonce=nonce)
    except IntegrityError:
        raise DomainError(
            "replayed_nonce", "This nonce was already used; send each push once.", status=409
        ) from None
    run = SourceRun.objects.create(tenant=source.tenant, source=source, trigger=RunTrigger.PUSH)
    stats = IngestStats()
    try:
        with SafeClient() as client:
            ingest(
                source, items, client=client, limits=Limits.for_source(source), run=run, stats=stats
            )
    except DomainError as exc:
        save_run(run, stats, RunStatus.FAILED, exc.code, exc.message)
        raise
    except BaseException as exc:
        save_run(run, stats, RunStatus.FAILED, "internal_error", f"{type(exc).__name__}: {exc}")
        raise
    save_run(run, stats, RunStatus.SUCCEEDED)
    return run, stats
