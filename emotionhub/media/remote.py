"""Media named by URL in a submission, fetched through the social package's safe client.

The URL is chosen by the caller, so the fetch obeys the same address policy as social
ingestion (http(s) only; private, loopback and link-local addresses refused after DNS, on
every redirect hop), with bounded redirects, bytes and time. What arrives is an upload like
any other and is validated as one (type from the content, per-kind limits).

The URLs of one submission are fetched concurrently under one total deadline
(``EMOTIONHUB_URL_FETCH_DEADLINE_SECONDS``), so slow upstreams hold a web worker for at
most that long, not the fetch timeout once per URL.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from emotionhub.core.errors import DomainError
from emotionhub.core.http import FetchError, SafeClient


def fetch_limit() -> int:
    """Fetched bodies are held in memory, so a URL may bring at most an image's or a text's
    limit (the larger); longer videos are uploaded as files."""
    limits = settings.EMOTIONHUB_MAX_UPLOAD_BYTES
    return max(limits["image"], limits["text"])


def fetch_upload(client: SafeClient, url: str, *, field: str) -> SimpleUploadedFile:
    """The body at ``url`` as an upload; raises :class:`DomainError` when it cannot be had."""
    limit = fetch_limit()
    try:
        fetched = client.get(url, max_bytes=limit)
    except FetchError as exc:
        if exc.code == "unsafe_url":
            raise DomainError("unsafe_url", f"{field}: {exc.message}.", status=400) from None
        if exc.code == "response_too_large":
            raise DomainError(
                "file_too_large",
                f"{field}: {exc.message} (the limit for media fetched by URL is {limit}).",
                status=413,
                details={"limit": limit},
            ) from None
        raise DomainError(
            "fetch_failed",
            f"{field}: {exc.message}.",
            status=400,
            details={"reason": exc.code},
        ) from None
    if fetched.status != 200:
        raise DomainError(
            "fetch_failed",
            f"{field}: the server answered HTTP {fetched.status}.",
            status=400,
            details={"reason": "upstream_http_error", "http_status": fetched.status},
        )
    name = (urlsplit(fetched.url).path.rsplit("/", 1)[-1] or "download")[:100]
    return SimpleUploadedFile(name, fetched.body, content_type=fetched.content_type)


MAX_PARALLEL_FETCHES = 8


def fetch_uploads(
    urls: list[str], within: float | None = None
) -> list[tuple[str, SimpleUploadedFile]]:
    """``(field, upload)`` for each URL, in order; the first failure (by position) raises.
    ``within`` shortens the deadline to what the caller has left.

    Each fetch has its own client (a requests session is not shared across threads). A
    fetch still running at the deadline is abandoned; its own timeout ends its thread.
    """
    if not urls:
        return []
    deadline = settings.EMOTIONHUB_URL_FETCH_DEADLINE_SECONDS
    if within is not None:  # what is left of the submission's validation deadline
        deadline = max(min(deadline, within), 0.0)
    fields = [f"urls[{index}]" for index in range(len(urls))]
    pool = ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_FETCHES, len(urls)))
    try:
        futures = [
            pool.submit(_fetch_one, url, field) for url, field in zip(urls, fields, strict=True)
        ]
        _, pending = wait_for_futures(futures, timeout=deadline)
        for field, future in zip(fields, futures, strict=True):
            if future in pending:
                raise DomainError(
                    "fetch_failed",
                    f"{field}: not fetched within the {deadline:g} s allowed for a "
                    "submission's URLs.",
                    status=400,
                    details={"reason": "deadline", "deadline_seconds": deadline},
                )
            future.result()  # the first failure, in the order the URLs were given
        return [(field, future.result()) for field, future in zip(fields, futures, strict=True)]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _fetch_one(url: str, field: str) -> SimpleUploadedFile:
    with SafeClient() as client:
        return fetch_upload(client, url, field=field)
